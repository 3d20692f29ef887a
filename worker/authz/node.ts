// The Node authorizer: a node (user system:node:<name> in system:nodes) may read the secrets,
// configmaps, persistent volume claims and service account tokens only of pods bound to it, and
// otherwise what kube's system:node rules allow (its writes are narrowed further by the
// NodeRestriction admission plugin). Anyone else gets no opinion here.
import type { PolicyRule } from "kubernetes-types/rbac/v1";
import { ObjectStorage } from "../storage/object-storage.ts";
import { StoredTextFilter } from "../storage/stored-text-filter.ts";
import type { RequestAttributes } from "./attributes.ts";
import { bootstrapClusterRoles } from "./bootstrap-policy.ts";
import { ruleAllows, type Decision } from "./rbac.ts";
import { builtinStore } from "../registry/builtins.ts";

const NODE_USER = /^system:node:(.+)$/;
/** Resources a node reaches only through the pods bound to it. */
const GRAPH_RESOURCES = new Set(["secrets", "configmaps", "persistentvolumeclaims", "serviceaccounts"]);

const nodeRules: PolicyRule[] = (bootstrapClusterRoles.find((r) => r.metadata?.name === "system:node")?.rules ?? [])
  // Secrets, configmaps and claims are the graph's to grant, not the role's.
  .filter((rule) => !(rule.resources ?? []).some((r) => ["secrets", "configmaps", "persistentvolumeclaims"].includes(r)));

export function nodeName(user: { name: string; groups: string[] }): string | undefined {
  if (!user.groups.includes("system:nodes")) return undefined;
  return NODE_USER.exec(user.name)?.[1];
}

/** What a pod refers to, by resource: volumes, env, envFrom, image pull secrets, its service account. */
function references(pod: Record<string, any>): Record<string, Set<string>> {
  const refs: Record<string, Set<string>> = { secrets: new Set(), configmaps: new Set(), persistentvolumeclaims: new Set(), serviceaccounts: new Set() };
  const spec = pod.spec ?? {};
  if (spec.serviceAccountName) refs.serviceaccounts!.add(spec.serviceAccountName);
  for (const s of spec.imagePullSecrets ?? []) if (s.name) refs.secrets!.add(s.name);
  for (const v of spec.volumes ?? []) {
    if (v.secret?.secretName) refs.secrets!.add(v.secret.secretName);
    if (v.configMap?.name) refs.configmaps!.add(v.configMap.name);
    if (v.persistentVolumeClaim?.claimName) refs.persistentvolumeclaims!.add(v.persistentVolumeClaim.claimName);
    for (const source of v.projected?.sources ?? []) {
      if (source.secret?.name) refs.secrets!.add(source.secret.name);
      if (source.configMap?.name) refs.configmaps!.add(source.configMap.name);
    }
    for (const key of ["cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "storageos", "iscsi", "azureFile", "csi"]) {
      const ref = v[key]?.secretRef?.name ?? v[key]?.nodePublishSecretRef?.name ?? v[key]?.secretName;
      if (ref) refs.secrets!.add(ref);
    }
  }
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])]) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef?.name) refs.secrets!.add(e.valueFrom.secretKeyRef.name);
      if (e.valueFrom?.configMapKeyRef?.name) refs.configmaps!.add(e.valueFrom.configMapKeyRef.name);
    }
    for (const e of c.envFrom ?? []) {
      if (e.secretRef?.name) refs.secrets!.add(e.secretRef.name);
      if (e.configMapRef?.name) refs.configmaps!.add(e.configMapRef.name);
    }
  }
  return refs;
}

/**
 * The pods of a namespace bound to a node. Their stored JSON is searched before any is parsed: the
 * namespace may hold thousands of other nodes' pods.
 */
async function podsOnNode(env: Env, namespace: string, node: string): Promise<Record<string, any>[]> {
  const filter = new StoredTextFilter([`"nodeName":${JSON.stringify(node)}`]);
  const pods = await builtinStore(new ObjectStorage(env), "v1", "pods").all(namespace, filter);
  return pods.filter((p) => p.spec?.nodeName === node);
}

/** The pod, if it is bound to the node. */
export async function podOnNode(env: Env, namespace: string, name: string, node: string): Promise<Record<string, any> | undefined> {
  const pod = await builtinStore(new ObjectStorage(env), "v1", "pods").find(namespace, name);
  return pod?.spec?.nodeName === node ? pod : undefined;
}

/** How long a node's pods, once read, answer its graph checks in this isolate. */
const GRAPH_FRESH_MS = 1000;
const GRAPH_MAX_ENTRIES = 1000;
/** Per cluster, namespace and node: the node's pods there, as read at `at` (settled reads only). */
const graphs = new Map<string, { pods: Record<string, any>[]; at: number }>();

/**
 * Whether a pod bound to the node refers to the object: kube's node authorizer asks a graph its
 * informers keep; here the node's pods of the namespace are read and serve the node's next checks
 * for a second (a node starting many pods asks once per pod). Only a reference found allows from
 * that copy: one not found is looked up again, so a pod bound a moment ago is never refused.
 */
async function nodeRefersTo(env: Env, namespace: string, node: string, resource: string, name: string): Promise<boolean> {
  const key = `${env.CLUSTER_NAME}\0${namespace}\0${node}`;
  const refers = (pods: Record<string, any>[]) => pods.some((pod) => references(pod)[resource]!.has(name));
  const copy = graphs.get(key);
  if (copy && Date.now() - copy.at <= GRAPH_FRESH_MS && refers(copy.pods)) return true;
  const at = Date.now();
  const pods = await podsOnNode(env, namespace, node);
  if (graphs.size >= GRAPH_MAX_ENTRIES) graphs.clear();
  if (!graphs.get(key) || graphs.get(key)!.at <= at) graphs.set(key, { pods, at });
  return refers(pods);
}

/** The node's decision, or undefined when the user is not a node. */
export async function authorizeNode(env: Env, attrs: RequestAttributes): Promise<Decision | undefined> {
  const node = nodeName(attrs.user);
  if (!node) return undefined;
  const resource = attrs.resource ?? "";
  if (attrs.resourceRequest && !attrs.apiGroup && GRAPH_RESOURCES.has(resource)) {
    const isToken = resource === "serviceaccounts" && attrs.subresource === "token" && attrs.verb === "create";
    const isRead = !attrs.subresource && ["get", "list", "watch"].includes(attrs.verb) && resource !== "serviceaccounts";
    if (!(isToken || isRead) || !attrs.name || !attrs.namespace) {
      return { allowed: false, reason: `can only ${resource === "serviceaccounts" ? "create tokens for individual service accounts" : `read individual ${resource}`} referenced by pods bound to the node` };
    }
    if (await nodeRefersTo(env, attrs.namespace, node, resource, attrs.name)) return { allowed: true, reason: "" };
    return { allowed: false, reason: `no relationship found between node '${node}' and this object` };
  }
  if (nodeRules.some((rule) => ruleAllows(attrs, rule))) return { allowed: true, reason: "" };
  return { allowed: false, reason: "" };
}
