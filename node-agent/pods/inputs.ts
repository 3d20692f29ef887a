// What the kubelet resolves for a pod before the runtime acts (PodInputs): each container's
// environment (envFrom, then env with valueFrom configMapKeyRef/secretKeyRef/fieldRef/
// resourceFieldRef and $(VAR) expansion), its volumes written on the host (emptyDir, configMap,
// secret, downwardAPI, projected with the service account token and kube-root-ca.crt, hostPath,
// persistentVolumeClaim as its bound volume's directory),
// and its resolv.conf and hosts files. A reference that cannot be resolved is a
// CreateContainerConfigError with the kubelet's message.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ConfigMap, Container, DownwardAPIVolumeFile, KeyToPath, ObjectFieldSelector, Pod, ResourceFieldSelector, Secret, Volume } from "kubernetes-types/core/v1";
import { parseQuantity } from "../../lib/k8s/quantity.ts";
import type { PodInputs, PreparedVolume } from "../runtime/runtime.ts";

/** Where the kubelet half reads what pods refer to (the API, through the node's credential). */
export interface ObjectSource {
  configMap(namespace: string, name: string): Promise<ConfigMap | undefined>;
  secret(namespace: string, name: string): Promise<Secret | undefined>;
  /** A service account token bound to the pod (TokenRequest). */
  serviceAccountToken(pod: Pod, audience: string | undefined, expirationSeconds: number): Promise<string>;
  /** The host directory of a claim's bound volume; throws until the claim is bound (the pod waits). */
  persistentVolumeClaimPath(namespace: string, claimName: string): Promise<string>;
}

/** Why a container cannot be configured: the kubelet reports it as CreateContainerConfigError. */
export class ContainerConfigError extends Error {}

export interface NodeFacts {
  nodeName: string;
  hostIPs: string[];
  podIPs: string[];
  /** Node allocatable: resourceFieldRef limits default to it. */
  allocatable: Record<string, string>;
  /** The cluster DNS server(s); none: ClusterFirst falls back to the host's resolv.conf, as the kubelet does. */
  clusterDNS: string[];
  clusterDomain: string;
  /** The host's /etc/resolv.conf. */
  hostResolvConf: string;
}

const decodeBase64 = (value: string) => Buffer.from(value, "base64");

// ---- env ----

/** A fieldRef's value (metadata.name, metadata.labels['k'], status.podIP, ...). */
export function fieldValue(pod: Pod, selector: ObjectFieldSelector, facts: Pick<NodeFacts, "hostIPs" | "podIPs">): string {
  const path = selector.fieldPath;
  const subscript = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
  if (subscript) return pod.metadata?.[subscript[1] as "labels" | "annotations"]?.[subscript[2]!] ?? "";
  switch (path) {
    case "metadata.name": return pod.metadata?.name ?? "";
    case "metadata.namespace": return pod.metadata?.namespace ?? "";
    case "metadata.uid": return pod.metadata?.uid ?? "";
    case "metadata.labels": return formatMap(pod.metadata?.labels);
    case "metadata.annotations": return formatMap(pod.metadata?.annotations);
    case "spec.nodeName": return pod.spec?.nodeName ?? "";
    case "spec.serviceAccountName": return pod.spec?.serviceAccountName ?? "";
    case "status.hostIP": return facts.hostIPs[0] ?? "";
    case "status.hostIPs": return facts.hostIPs.join(",");
    case "status.podIP": return facts.podIPs[0] ?? "";
    case "status.podIPs": return facts.podIPs.join(",");
    default: throw new ContainerConfigError(`unsupported fieldPath: ${path}`);
  }
}

/** labels and annotations as the downward API writes them: key="value" lines, sorted. */
function formatMap(map: Record<string, string> | undefined): string {
  return Object.keys(map ?? {}).sort().map((k) => `${k}=${JSON.stringify(map![k])}`).join("\n");
}

/** A resourceFieldRef's value in units of its divisor, rounded up; unset limits are the node's allocatable. */
export function resourceValue(pod: Pod, selector: ResourceFieldSelector, defaultContainer: string | undefined, allocatable: Record<string, string>): string {
  const name = selector.containerName || defaultContainer;
  const container = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === name);
  if (!container) throw new ContainerConfigError(`container ${name ?? ""} not found in pod ${pod.metadata?.namespace}/${pod.metadata?.name}`);
  const [kind, resource] = selector.resource.split(/\.(.*)/) as [string, string];
  const fromSpec = (kind === "limits" ? container.resources?.limits : container.resources?.requests)?.[resource];
  const quantity = fromSpec ?? (kind === "limits" || resource === "cpu" ? allocatable[resource] : undefined) ?? "0";
  const divisor = parseQuantity(String(selector.divisor ?? "1"));
  const value = parseQuantity(String(quantity));
  return String((value + divisor - 1n) / divisor);
}

/** kube's $(VAR) expansion: defined names are replaced, $$ is a literal $, anything else stays as written. */
export function expand(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(/\$\$|\$\(([^)]*)\)/g, (match, name: string | undefined) => {
    if (match === "$$") return "$";
    return name !== undefined && vars.has(name) ? vars.get(name)! : match;
  });
}

async function configMapOrThrow(source: ObjectSource, namespace: string, name: string, optional: boolean | undefined): Promise<ConfigMap | undefined> {
  const object = await source.configMap(namespace, name);
  if (!object && !optional) throw new ContainerConfigError(`configmap "${name}" not found`);
  return object;
}

async function secretOrThrow(source: ObjectSource, namespace: string, name: string, optional: boolean | undefined): Promise<Secret | undefined> {
  const object = await source.secret(namespace, name);
  if (!object && !optional) throw new ContainerConfigError(`secret "${name}" not found`);
  return object;
}

/** One container's environment, as the kubelet builds it: envFrom first, then env in order. */
export async function containerEnv(pod: Pod, container: Container, source: ObjectSource, facts: NodeFacts): Promise<{ name: string; value: string }[]> {
  const namespace = pod.metadata?.namespace ?? "default";
  const vars = new Map<string, string>();
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? "";
    if (from.configMapRef) {
      const map = await configMapOrThrow(source, namespace, from.configMapRef.name ?? "", from.configMapRef.optional);
      for (const [k, v] of Object.entries(map?.data ?? {})) vars.set(prefix + k, v);
    }
    if (from.secretRef) {
      const secret = await secretOrThrow(source, namespace, from.secretRef.name ?? "", from.secretRef.optional);
      for (const [k, v] of Object.entries(secret?.data ?? {})) vars.set(prefix + k, decodeBase64(v).toString("utf8"));
    }
  }
  for (const env of container.env ?? []) {
    const from = env.valueFrom;
    if (!from) {
      vars.set(env.name, expand(env.value ?? "", vars));
    } else if (from.fieldRef) {
      vars.set(env.name, fieldValue(pod, from.fieldRef, facts));
    } else if (from.resourceFieldRef) {
      vars.set(env.name, resourceValue(pod, from.resourceFieldRef, container.name, facts.allocatable));
    } else if (from.configMapKeyRef) {
      const { name = "", key, optional } = from.configMapKeyRef;
      const map = await configMapOrThrow(source, namespace, name, optional);
      const value = map?.data?.[key] ?? (map?.binaryData?.[key] !== undefined ? decodeBase64(map.binaryData[key]!).toString("utf8") : undefined);
      if (value === undefined && !optional) throw new ContainerConfigError(`couldn't find key ${key} in ConfigMap ${namespace}/${name}`);
      if (value !== undefined) vars.set(env.name, value);
    } else if (from.secretKeyRef) {
      const { name = "", key, optional } = from.secretKeyRef;
      const secret = await secretOrThrow(source, namespace, name, optional);
      const value = secret?.data?.[key];
      if (value === undefined && !optional) throw new ContainerConfigError(`couldn't find key ${key} in Secret ${namespace}/${name}`);
      if (value !== undefined) vars.set(env.name, decodeBase64(value).toString("utf8"));
    }
  }
  return [...vars].map(([name, value]) => ({ name, value }));
}

// ---- volumes ----

/** A file to write in a volume: its path inside the volume, its bytes and mode. */
interface VolumeFile {
  path: string;
  content: Buffer;
  mode: number;
}

/** The files of a configMap or secret (all keys, or the listed items), as the kubelet projects them. */
function keyFiles(entries: Record<string, Buffer>, items: KeyToPath[] | undefined, defaultMode: number, what: string, optional: boolean | undefined): VolumeFile[] {
  if (!items?.length) return Object.entries(entries).map(([key, content]) => ({ path: key, content, mode: defaultMode }));
  const files: VolumeFile[] = [];
  for (const item of items) {
    const content = entries[item.key];
    if (content === undefined) {
      if (optional) continue;
      throw new ContainerConfigError(`configuration of volume failed: couldn't find key ${item.key} in ${what}`);
    }
    files.push({ path: item.path, content, mode: item.mode ?? defaultMode });
  }
  return files;
}

function configMapEntries(map: ConfigMap | undefined): Record<string, Buffer> {
  return {
    ...Object.fromEntries(Object.entries(map?.data ?? {}).map(([k, v]) => [k, Buffer.from(v)])),
    ...Object.fromEntries(Object.entries(map?.binaryData ?? {}).map(([k, v]) => [k, decodeBase64(v)])),
  };
}

function secretEntries(secret: Secret | undefined): Record<string, Buffer> {
  return Object.fromEntries(Object.entries(secret?.data ?? {}).map(([k, v]) => [k, decodeBase64(v)]));
}

function downwardFiles(pod: Pod, items: DownwardAPIVolumeFile[] | undefined, defaultMode: number, facts: NodeFacts): VolumeFile[] {
  return (items ?? []).map((item) => {
    const value = item.fieldRef
      ? fieldValue(pod, item.fieldRef, facts)
      : item.resourceFieldRef ? resourceValue(pod, item.resourceFieldRef, undefined, facts.allocatable) : "";
    return { path: item.path, content: Buffer.from(value), mode: item.mode ?? defaultMode };
  });
}

/** The service account token's default lifetime in a projected volume (kube's: one hour). */
const TOKEN_SECONDS = 3600;

/** The files of one volume, or undefined for volumes that are directories (emptyDir, hostPath). */
async function volumeFiles(pod: Pod, volume: Volume, source: ObjectSource, facts: NodeFacts): Promise<VolumeFile[] | undefined> {
  const namespace = pod.metadata?.namespace ?? "default";
  if (volume.configMap) {
    const { name = "", items, optional, defaultMode = 0o644 } = volume.configMap;
    const map = await configMapOrThrow(source, namespace, name, optional);
    return keyFiles(configMapEntries(map), items, defaultMode, `ConfigMap ${namespace}/${name}`, optional);
  }
  if (volume.secret) {
    const { secretName = "", items, optional, defaultMode = 0o644 } = volume.secret;
    const secret = await secretOrThrow(source, namespace, secretName, optional);
    return keyFiles(secretEntries(secret), items, defaultMode, `Secret ${namespace}/${secretName}`, optional);
  }
  if (volume.downwardAPI) return downwardFiles(pod, volume.downwardAPI.items, volume.downwardAPI.defaultMode ?? 0o644, facts);
  if (volume.projected) {
    const defaultMode = volume.projected.defaultMode ?? 0o644;
    // The sources are read at once (a token request and a ConfigMap read need not wait for each other).
    const parts = await Promise.all((volume.projected.sources ?? []).map(async (part): Promise<VolumeFile[]> => {
      if (part.serviceAccountToken) {
        const { audience, expirationSeconds = TOKEN_SECONDS, path } = part.serviceAccountToken;
        return [{ path, content: Buffer.from(await source.serviceAccountToken(pod, audience, expirationSeconds)), mode: defaultMode }];
      }
      if (part.configMap) {
        const { name = "", items, optional } = part.configMap;
        const map = await configMapOrThrow(source, namespace, name, optional);
        return keyFiles(configMapEntries(map), items, defaultMode, `ConfigMap ${namespace}/${name}`, optional);
      }
      if (part.secret) {
        const { name = "", items, optional } = part.secret;
        const secret = await secretOrThrow(source, namespace, name, optional);
        return keyFiles(secretEntries(secret), items, defaultMode, `Secret ${namespace}/${name}`, optional);
      }
      return part.downwardAPI ? downwardFiles(pod, part.downwardAPI.items, defaultMode, facts) : [];
    }));
    const files = parts.flat();
    return files;
  }
  return undefined;
}

/** The kubelet's folder name for each volume plugin, under pods/<uid>/volumes/. */
function pluginOf(volume: Volume): string {
  for (const [field, plugin] of [["emptyDir", "empty-dir"], ["configMap", "configmap"], ["secret", "secret"], ["downwardAPI", "downward-api"], ["projected", "projected"]] as const) {
    if (volume[field]) return `kubernetes.io~${plugin}`;
  }
  throw new ContainerConfigError(`volume "${volume.name}": only emptyDir, configMap, secret, downwardAPI, projected, hostPath and persistentVolumeClaim volumes are supported by this node`);
}

/** Writes each volume under `podDir` (hostPath volumes and claims' volumes are used where they are) and says where it is. */
export async function prepareVolumes(pod: Pod, podDir: string, source: ObjectSource, facts: NodeFacts): Promise<Record<string, PreparedVolume>> {
  const prepared = await Promise.all((pod.spec?.volumes ?? []).map(async (volume): Promise<[string, PreparedVolume]> => {
    if (volume.hostPath) {
      if (volume.hostPath.type === "DirectoryOrCreate") mkdirSync(volume.hostPath.path, { recursive: true });
      return [volume.name, { hostPath: volume.hostPath.path }];
    }
    if (volume.persistentVolumeClaim) {
      const { claimName, readOnly } = volume.persistentVolumeClaim;
      const path = await source.persistentVolumeClaimPath(pod.metadata?.namespace ?? "default", claimName);
      return [volume.name, { hostPath: path, ...(readOnly ? { readOnly: true } : {}) }];
    }
    const dir = join(podDir, "volumes", pluginOf(volume), volume.name);
    const files = await volumeFiles(pod, volume, source, facts);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    for (const file of files ?? []) {
      const path = join(dir, file.path);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, file.content, { mode: file.mode });
      chmodSync(path, file.mode);
    }
    return [volume.name, { hostPath: dir, ...(files ? { readOnly: true } : {}) }];
  }));
  return Object.fromEntries(prepared);
}

// ---- resolv.conf and hosts ----

interface ResolvConf {
  nameservers: string[];
  searches: string[];
  options: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], searches: [], options: [] };
  for (const line of text.split("\n")) {
    const [key, ...values] = line.replace(/[#;].*$/, "").trim().split(/\s+/);
    if (key === "nameserver" && values[0]) conf.nameservers.push(values[0]);
    else if (key === "search") conf.searches = values;
    else if (key === "options") conf.options.push(...values);
  }
  return conf;
}

/** Options by name, later ones replacing earlier (ndots:5 then ndots:2 is ndots:2). */
function mergeOptions(options: string[]): string[] {
  const byName = new Map<string, string>();
  for (const option of options) byName.set(option.split(":")[0]!, option);
  return [...byName.values()];
}

/** The pod's resolv.conf for its dnsPolicy and dnsConfig, as the kubelet's DNS configurer writes it. */
export function podResolvConf(pod: Pod, facts: Pick<NodeFacts, "clusterDNS" | "clusterDomain" | "hostResolvConf">): string {
  const spec = pod.spec ?? { containers: [] };
  let policy = spec.dnsPolicy ?? "ClusterFirst";
  if (policy === "ClusterFirst" && spec.hostNetwork) policy = "Default";
  if ((policy === "ClusterFirst" || policy === "ClusterFirstWithHostNet") && !facts.clusterDNS.length) policy = "Default";
  const host = parseResolvConf(facts.hostResolvConf);
  const namespace = pod.metadata?.namespace ?? "default";
  const domain = facts.clusterDomain;
  let conf: ResolvConf;
  if (policy === "None") conf = { nameservers: [], searches: [], options: [] };
  else if (policy === "Default") conf = host;
  else conf = { nameservers: facts.clusterDNS, searches: [`${namespace}.svc.${domain}`, `svc.${domain}`, domain, ...host.searches], options: ["ndots:5"] };
  const extra = spec.dnsConfig;
  const nameservers = [...conf.nameservers, ...(extra?.nameservers ?? [])].slice(0, 3);
  const searches = [...new Set([...conf.searches, ...(extra?.searches ?? [])])].slice(0, 32);
  const options = mergeOptions([...conf.options, ...(extra?.options ?? []).map((o) => (o.value !== undefined ? `${o.name}:${o.value}` : o.name ?? ""))]);
  return [
    ...(searches.length ? [`search ${searches.join(" ")}`] : []),
    ...nameservers.map((n) => `nameserver ${n}`),
    ...(options.length ? [`options ${options.join(" ")}`] : []),
    "",
  ].join("\n");
}

/** The kubelet-managed /etc/hosts: localhost lines, the pod's own name, then its hostAliases. */
export function podHosts(pod: Pod, podIPs: string[], clusterDomain: string): string {
  const spec = pod.spec ?? { containers: [] };
  const hostname = spec.hostname ?? pod.metadata?.name ?? "";
  const own = spec.subdomain
    ? `${hostname}.${spec.subdomain}.${pod.metadata?.namespace ?? "default"}.svc.${clusterDomain}\t${hostname}`
    : hostname;
  const lines = [
    "# Kubernetes-managed hosts file.",
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "fe00::0\tip6-mcastprefix",
    "fe00::1\tip6-allnodes",
    "fe00::2\tip6-allrouters",
    ...podIPs.map((ip) => `${ip}\t${own}`),
  ];
  if (spec.hostAliases?.length) {
    lines.push("", "# Entries added by HostAliases.");
    for (const alias of spec.hostAliases) lines.push(`${alias.ip}\t${(alias.hostnames ?? []).join("\t")}`);
  }
  return lines.join("\n") + "\n";
}

/** Every container's environment, by container name. */
export async function podEnv(pod: Pod, source: ObjectSource, facts: NodeFacts): Promise<PodInputs["env"]> {
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const envs = await Promise.all(containers.map((container) => containerEnv(pod, container, source, facts)));
  return Object.fromEntries(containers.map((container, i) => [container.name, envs[i]!]));
}

/**
 * The inputs again once the pod's addresses are known (they are not before its sandbox exists):
 * the env (status.podIP) and hosts; the volumes stay as written.
 */
export async function withPodIPs(inputs: PodInputs, pod: Pod, source: ObjectSource, facts: NodeFacts): Promise<PodInputs> {
  return { ...inputs, env: await podEnv(pod, source, facts), hosts: podHosts(pod, facts.podIPs, facts.clusterDomain) };
}

/** Everything the runtime needs for the pod: env per container, volumes on disk, resolv.conf and hosts. */
export async function resolvePodInputs(pod: Pod, podDir: string, source: ObjectSource, facts: NodeFacts): Promise<PodInputs> {
  const namespace = pod.metadata?.namespace ?? "default";
  const [env, volumes, pullSecrets] = await Promise.all([
    podEnv(pod, source, facts),
    prepareVolumes(pod, podDir, source, facts),
    Promise.all((pod.spec?.imagePullSecrets ?? []).map(async (ref) => {
      const config = (await source.secret(namespace, ref.name ?? ""))?.data?.[".dockerconfigjson"];
      return config ? [decodeBase64(config).toString("utf8")] : [];
    })).then((lists) => lists.flat()),
  ]);
  return {
    env,
    volumes,
    resolvConf: podResolvConf(pod, facts),
    hosts: podHosts(pod, facts.podIPs, facts.clusterDomain),
    ...(pullSecrets.length ? { pullSecrets } : {}),
  };
}
