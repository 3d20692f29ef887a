// A pod spec in CRI's words, as the kubelet's kuberuntime writes it: the sandbox (metadata, labels,
// hostname, DNS, port mappings, host namespaces) and each container (command, args, env, working
// directory, mounts, resources as cgroup settings, security context with its seccomp profile).
import { createHash } from "node:crypto";
import { totalmem } from "node:os";
import { join } from "node:path";
import type { Container, Pod, SecurityContext, PodSecurityContext, SeccompProfile } from "kubernetes-types/core/v1";
import { parseQuantity } from "../../lib/k8s/quantity.ts";
import type { PodInputs } from "../runtime/runtime.ts";
import type { ContainerConfig, DNSConfig, LinuxContainerResources, LinuxContainerSecurityContext, Mount, MountPropagation, PodSandboxConfig, PortMapping, SecurityProfile } from "./client.ts";
import { containerAnnotations, containerLabels, podLabels, type ContainerType } from "./labels.ts";

/** A pod's configuration error: the container waits with CreateContainerConfigError and this message. */
export class ContainerConfigError extends Error {}

/** As format.Pod: "name_namespace(uid)". */
export function podDescription(pod: Pod): string {
  return `${pod.metadata?.name}_${pod.metadata?.namespace ?? "default"}(${pod.metadata?.uid})`;
}

/** The folder of the pod's container logs: <logs>/<namespace>_<name>_<uid>. */
export function podLogDirectory(logsDir: string, pod: Pod): string {
  return `${logsDir}/${pod.metadata?.namespace ?? "default"}_${pod.metadata?.name}_${pod.metadata?.uid}`;
}

/** resolv.conf text as CRI's DNSConfig: nameserver, search and options lines. */
export function parseResolvConf(text: string): DNSConfig {
  const dns: DNSConfig = { servers: [], searches: [], options: [] };
  for (const line of text.split("\n")) {
    const [keyword, ...values] = line.replace(/[#;].*$/, "").trim().split(/\s+/);
    if (keyword === "nameserver" && values[0]) dns.servers.push(values[0]);
    else if (keyword === "search") dns.searches = values;
    else if (keyword === "options") dns.options.push(...values);
  }
  return dns;
}

export function sandboxConfig(pod: Pod, inputs: PodInputs, attempt: number, logsDir: string): PodSandboxConfig {
  const spec = pod.spec ?? { containers: [] };
  const hostNetwork = spec.hostNetwork === true;
  const security = spec.securityContext;
  return {
    metadata: { name: pod.metadata?.name ?? "", uid: pod.metadata?.uid ?? "", namespace: pod.metadata?.namespace ?? "default", attempt },
    hostname: hostNetwork ? "" : podHostname(pod),
    log_directory: podLogDirectory(logsDir, pod),
    dns_config: inputs.resolvConf !== undefined ? parseResolvConf(inputs.resolvConf) : undefined,
    port_mappings: portMappings(pod),
    labels: podLabels(pod),
    annotations: pod.metadata?.annotations ?? {},
    linux: {
      security_context: {
        namespace_options: { network: hostNetwork ? "NODE" : "POD", pid: spec.hostPID ? "NODE" : "CONTAINER", ipc: spec.hostIPC ? "NODE" : "POD" },
        run_as_user: security?.runAsUser !== undefined ? { value: security.runAsUser } : undefined,
        run_as_group: security?.runAsGroup !== undefined ? { value: security.runAsGroup } : undefined,
        supplemental_groups: supplementalGroups(security),
        privileged: [...(spec.initContainers ?? []), ...spec.containers].some((c) => c.securityContext?.privileged === true),
        seccomp: seccompProfile(security?.seccompProfile),
      },
      sysctls: Object.fromEntries((security?.sysctls ?? []).map((s) => [s.name, s.value])),
    },
  };
}

/** The pod's hostname: spec.hostname, else its name, cut to 63 characters as a DNS label. */
function podHostname(pod: Pod): string {
  return (pod.spec?.hostname ?? pod.metadata?.name ?? "").slice(0, 63).replace(/[-.]+$/, "");
}

/** Every container port with a hostPort, as the sandbox's port mappings (portmap). */
function portMappings(pod: Pod): PortMapping[] {
  const mappings: PortMapping[] = [];
  for (const container of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    for (const port of container.ports ?? []) {
      if (!port.hostPort) continue;
      mappings.push({ protocol: (port.protocol ?? "TCP") as PortMapping["protocol"], container_port: port.containerPort, host_port: port.hostPort, host_ip: port.hostIP ?? "" });
    }
  }
  return mappings;
}

function supplementalGroups(security: PodSecurityContext | undefined): number[] {
  return [...(security?.fsGroup !== undefined ? [security.fsGroup] : []), ...(security?.supplementalGroups ?? [])];
}

/**
 * A hash of what the container spec says, keys sorted so the same spec always hashes the same; a
 * running container with another hash (a new image) is replaced.
 */
export function containerHash(container: Container): string {
  return createHash("sha256").update(canonicalJSON(container)).digest("hex").slice(0, 16);
}

function canonicalJSON(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJSON(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export interface ContainerConfigInputs {
  pod: Pod;
  container: Container;
  type: ContainerType;
  inputs: PodInputs;
  restartCount: number;
  /** The image reference the runtime resolved. */
  image: string;
  /** Extra mounts the agent made for this container (/etc/hosts, the termination message file). */
  extraMounts: Mount[];
}

export function containerConfig({ pod, container, type, inputs, restartCount, image, extraMounts }: ContainerConfigInputs): ContainerConfig {
  return {
    metadata: { name: container.name, attempt: restartCount },
    image: { image, user_specified_image: container.image ?? "" },
    command: container.command ?? [],
    args: container.args ?? [],
    working_dir: container.workingDir ?? "",
    envs: (inputs.env[container.name] ?? []).map((e) => ({ key: e.name, value: e.value })),
    mounts: [...volumeMounts(container, inputs), ...extraMounts.filter((m) => !container.volumeMounts?.some((v) => v.mountPath === m.container_path))],
    labels: containerLabels(pod, container, type),
    annotations: containerAnnotations(pod, container, restartCount, containerHash(container)),
    log_path: `${container.name}/${restartCount}.log`,
    stdin: container.stdin === true,
    stdin_once: container.stdinOnce === true,
    tty: container.tty === true,
    linux: { resources: linuxResources(pod, container), security_context: containerSecurityContext(pod, container) },
  };
}

const PROPAGATION: Record<string, MountPropagation> = {
  None: "PROPAGATION_PRIVATE",
  HostToContainer: "PROPAGATION_HOST_TO_CONTAINER",
  Bidirectional: "PROPAGATION_BIDIRECTIONAL",
};

function volumeMounts(container: Container, inputs: PodInputs): Mount[] {
  return (container.volumeMounts ?? []).map((mount) => {
    const volume = inputs.volumes[mount.name];
    if (!volume) throw new ContainerConfigError(`cannot find volume "${mount.name}" to mount into container "${container.name}"`);
    const subPath = mount.subPath ?? "";
    if (subPath.startsWith("/") || subPath.split("/").includes("..")) throw new ContainerConfigError(`invalid subpath "${subPath}" in container "${container.name}"`);
    return {
      container_path: mount.mountPath,
      host_path: subPath ? `${volume.hostPath}/${subPath}` : volume.hostPath,
      readonly: mount.readOnly === true || volume.readOnly === true,
      propagation: PROPAGATION[mount.mountPropagation ?? "None"] ?? "PROPAGATION_PRIVATE",
    };
  });
}

const CPU_PERIOD = 100_000;
const MIN_SHARES = 2;
const MIN_QUOTA = 1000;

/** Requests and limits as the kubelet's cgroup settings: shares from the CPU request, quota from the limit, memory limit, OOM score by QoS. */
export function linuxResources(pod: Pod, container: Container): LinuxContainerResources {
  const requests = container.resources?.requests ?? {};
  const limits = container.resources?.limits ?? {};
  const cpuRequest = milli(requests.cpu ?? limits.cpu);
  const cpuLimit = milli(limits.cpu);
  const memoryLimit = limits.memory !== undefined ? Number(parseQuantity(limits.memory) / 1000n) : 0;
  return {
    cpu_shares: cpuRequest === undefined ? MIN_SHARES : Math.max(MIN_SHARES, Math.floor((cpuRequest * 1024) / 1000)),
    ...(cpuLimit !== undefined ? { cpu_period: CPU_PERIOD, cpu_quota: Math.max(MIN_QUOTA, Math.floor((cpuLimit * CPU_PERIOD) / 1000)) } : {}),
    memory_limit_in_bytes: memoryLimit,
    oom_score_adj: oomScoreAdjust(pod, container),
  };
}

function milli(quantity: string | number | undefined): number | undefined {
  return quantity === undefined ? undefined : Number(parseQuantity(quantity));
}

/** The pod's QoS class as kube computes it from every container's requests and limits. */
export function qosClass(pod: Pod): "Guaranteed" | "Burstable" | "BestEffort" {
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  let anySet = false;
  let guaranteed = true;
  for (const container of containers) {
    const requests = container.resources?.requests ?? {};
    const limits = container.resources?.limits ?? {};
    for (const resource of ["cpu", "memory"]) {
      const request = requests[resource] ?? limits[resource];
      const limit = limits[resource];
      if (request !== undefined || limit !== undefined) anySet = true;
      if (limit === undefined || request === undefined || parseQuantity(request) !== parseQuantity(limit)) guaranteed = false;
    }
  }
  if (!anySet) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

/** The kubelet's OOM score policy: Guaranteed -997, BestEffort 1000, Burstable by memory request share. */
function oomScoreAdjust(pod: Pod, container: Container): number {
  const qos = qosClass(pod);
  if (qos === "Guaranteed") return -997;
  if (qos === "BestEffort") return 1000;
  const request = container.resources?.requests?.memory;
  const bytes = request !== undefined ? Number(parseQuantity(request) / 1000n) : 0;
  const score = 1000 - Math.floor((1000 * bytes) / totalmem());
  return Math.min(999, Math.max(2, score));
}

function containerSecurityContext(pod: Pod, container: Container): LinuxContainerSecurityContext {
  const podSecurity = pod.spec?.securityContext ?? {};
  const security: SecurityContext = container.securityContext ?? {};
  const runAsUser = security.runAsUser ?? podSecurity.runAsUser;
  const runAsGroup = security.runAsGroup ?? podSecurity.runAsGroup;
  return {
    capabilities: { add_capabilities: security.capabilities?.add ?? [], drop_capabilities: security.capabilities?.drop ?? [] },
    privileged: security.privileged === true,
    namespace_options: {
      network: pod.spec?.hostNetwork ? "NODE" : "POD",
      pid: pod.spec?.hostPID ? "NODE" : pod.spec?.shareProcessNamespace ? "POD" : "CONTAINER",
      ipc: pod.spec?.hostIPC ? "NODE" : "POD",
    },
    run_as_user: runAsUser !== undefined ? { value: runAsUser } : undefined,
    run_as_group: runAsGroup !== undefined ? { value: runAsGroup } : undefined,
    readonly_rootfs: security.readOnlyRootFilesystem === true,
    supplemental_groups: supplementalGroups(podSecurity),
    no_new_privs: security.allowPrivilegeEscalation === false,
    seccomp: seccompProfile(security.seccompProfile ?? podSecurity.seccompProfile),
  };
}

/** Where Localhost seccomp profiles are, as the kubelet's <root-dir>/seccomp. */
export const SECCOMP_PROFILE_ROOT = "/var/lib/kubelet/seccomp";

/**
 * The seccomp profile CRI runs a container (or the sandbox) with, as the kubelet picks it: the
 * container's own, else the pod's; without one Unconfined (the kubelet's --seccomp-default is off
 * by default); a Localhost profile is a file under SECCOMP_PROFILE_ROOT.
 */
export function seccompProfile(profile: SeccompProfile | undefined, root = SECCOMP_PROFILE_ROOT): SecurityProfile {
  if (profile?.type === "RuntimeDefault") return { profile_type: "RuntimeDefault" };
  if (profile?.type === "Localhost") return { profile_type: "Localhost", localhost_ref: join(root, profile.localhostProfile ?? "") };
  return { profile_type: "Unconfined" };
}

/**
 * runAsNonRoot as the kubelet checks it before creating a container: the user the container runs
 * as (its securityContext, the pod's, else the image's) must not be root.
 */
export function verifyRunAsNonRoot(pod: Pod, container: Container, imageUid: number | undefined, imageUsername: string): void {
  const podSecurity = pod.spec?.securityContext ?? {};
  const runAsNonRoot = container.securityContext?.runAsNonRoot ?? podSecurity.runAsNonRoot;
  if (!runAsNonRoot) return;
  const uid = container.securityContext?.runAsUser ?? podSecurity.runAsUser;
  const where = `(pod: "${podDescription(pod)}", container: ${container.name})`;
  if (uid !== undefined) {
    if (uid === 0) throw new ContainerConfigError(`container's runAsUser breaks non-root policy ${where}`);
    return;
  }
  if (imageUid !== undefined) {
    if (imageUid === 0) throw new ContainerConfigError(`container has runAsNonRoot and image will run as root ${where}`);
    return;
  }
  if (imageUsername) throw new ContainerConfigError(`container has runAsNonRoot and image has non-numeric user (${imageUsername}), cannot verify user is non-root ${where}`);
  // An image with no user runs as root.
  throw new ContainerConfigError(`container has runAsNonRoot and image will run as root ${where}`);
}
