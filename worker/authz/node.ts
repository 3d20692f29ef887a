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

/** How many candidate pods one page of a reference search reads. */
const SEARCH_PAGE = 8;

/**
 * Whether a pod of the namespace bound to the node refers to the object. The store searches the
 * pods' stored JSON for the node's name and the object's (quoted) name before any is sent or parsed,
 * a page of candidates at a time: the namespace may hold thousands of other nodes' pods, and the
 * node dozens of pods that all refer to its service account, of which one is enough.
 */
async function podOnNodeRefersTo(env: Env, namespace: string, node: string, resource: string, name: string): Promise<boolean> {
  const filter = new StoredTextFilter([`"nodeName":${JSON.stringify(node)}`, JSON.stringify(name)]);
  return builtinStore(new ObjectStorage(env), "v1", "pods").some(namespace, filter,
    (pod) => pod.spec?.nodeName === node && references(pod)[resource]!.has(name), SEARCH_PAGE);
}

/** The pod, if it is bound to the node. */
export async function podOnNode(env: Env, namespace: string, name: string, node: string): Promise<Record<string, any> | undefined> {
  const pod = await builtinStore(new ObjectStorage(env), "v1", "pods").find(namespace, name);
  return pod?.spec?.nodeName === node ? pod : undefined;
}

/** How long a reference, once found, answers the node's same check in this isolate. */
const GRAPH_FRESH_MS = 1000;
const GRAPH_MAX_ENTRIES = 10_000;
/** Per cluster, namespace, node, resource and name: when a pod bound to the node was last seen referring to it. */
const found = new Map<string, number>();

/**
 * Whether a pod bound to the node refers to the object: kube's node authorizer asks a graph its
 * informers keep; here the store is searched, and a reference found answers the node's same check
 * for a second (a node starting many pods asks once per pod). A reference not found is never
 * remembered, so a pod bound a moment ago is never refused.
 */
async function nodeRefersTo(env: Env, namespace: string, node: string, resource: string, name: string): Promise<boolean> {
  const key = `${env.CLUSTER_NAME}\0${namespace}\0${node}\0${resource}\0${name}`;
  const at = Date.now();
  if (at - (found.get(key) ?? -Infinity) <= GRAPH_FRESH_MS) return true;
  if (!(await podOnNodeRefersTo(env, namespace, node, resource, name))) return false;
  if (found.size >= GRAPH_MAX_ENTRIES) found.clear();
  found.set(key, Math.max(at, found.get(key) ?? at));
  return true;
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
