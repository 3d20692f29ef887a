// What an object charges to a ResourceQuota (kube's quota evaluators), shared by the ResourceQuota
// admission plugin (charged at create) and the resourcequota controller (recounted from what
// exists), so both count alike. Quantities are in thousandths, as parseQuantity gives them.
import { parseQuantity, QuantityError } from "./quantity.ts";

type Obj = { metadata?: Record<string, any>; spec?: Record<string, any>; status?: Record<string, any> };

const ONE = 1000n;

/** The short names kube gives some object counts (besides their `count/<resource>` name). */
export const LEGACY_COUNTS: Record<string, string> = {
  pods: "pods", services: "services", configmaps: "configmaps", secrets: "secrets", replicationcontrollers: "replicationcontrollers",
  resourcequotas: "resourcequotas", persistentvolumeclaims: "persistentvolumeclaims",
};

/** The compute resources a pod's containers must state when a quota limits them. */
export const POD_COMPUTE = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory", "requests.ephemeral-storage", "limits.ephemeral-storage"];

/** "count/deployments.apps", or "count/pods" for the core group. */
export function objectCountName(group: string, resource: string): string {
  return `count/${group ? `${resource}.${group}` : resource}`;
}

/** Memory and storage print in binary units (Mi, Gi), the rest in decimal. */
export function isBinary(resource: string): boolean {
  return resource.includes("memory") || resource.includes("storage");
}

export function quantity(value: unknown): bigint {
  try {
    return parseQuantity((value ?? "0") as string);
  } catch (e) {
    if (e instanceof QuantityError) return 0n;
    throw e;
  }
}

const STORAGE_CLASS_PREFIX = ".storageclass.storage.k8s.io/";

/** A pod whose phase is final, or whose deletion grace period is over, charges nothing (QuotaV1Pod). */
export function podChargesQuota(pod: Obj, now: number): boolean {
  if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") return false;
  const deletion = pod.metadata?.deletionTimestamp;
  const grace = pod.metadata?.deletionGracePeriodSeconds;
  return !(deletion && grace !== undefined && Date.parse(deletion) + grace * 1000 < now);
}

/** A pod's effective request or limit of one resource: containers and sidecars together, or the largest init container. */
function podAmount(spec: Record<string, any> | undefined, kind: "requests" | "limits", name: string): bigint {
  const amount = (c: Record<string, any>) => quantity(c.resources?.[kind]?.[name]);
  const inits: Record<string, any>[] = spec?.initContainers ?? [];
  const sidecars = inits.filter((c) => c.restartPolicy === "Always");
  const running = [...(spec?.containers ?? []), ...sidecars].reduce((sum: bigint, c) => sum + amount(c), 0n);
  const largestInit = inits.filter((c) => c.restartPolicy !== "Always").reduce((m: bigint, c) => (amount(c) > m ? amount(c) : m), 0n);
  const overhead = quantity(spec?.overhead?.[name]);
  return (running > largestInit ? running : largestInit) + overhead;
}

/** Extended resources and huge pages a pod's containers ask for: quota limits only their requests. */
function otherRequested(spec: Record<string, any> | undefined): string[] {
  const containers: Record<string, any>[] = [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])];
  const names = new Set(containers.flatMap((c) => Object.keys(c.resources?.requests ?? {})));
  return [...names].filter((name) => !["cpu", "memory", "ephemeral-storage"].includes(name));
}

function podUsage(pod: Obj, usage: Map<string, bigint>): void {
  for (const kind of ["requests", "limits"] as const) {
    for (const name of ["cpu", "memory", "ephemeral-storage"]) {
      const total = podAmount(pod.spec, kind, name);
      usage.set(`${kind}.${name}`, total);
      if (kind === "requests" && name !== "ephemeral-storage") usage.set(name, total);
    }
  }
  for (const name of otherRequested(pod.spec)) usage.set(`requests.${name}`, podAmount(pod.spec, "requests", name));
}

function serviceUsage(service: Obj, usage: Map<string, bigint>): void {
  const type = service.spec?.type;
  if (type === "NodePort" || type === "LoadBalancer") usage.set("services.nodeports", BigInt((service.spec?.ports ?? []).length) * ONE);
  if (type === "LoadBalancer") usage.set("services.loadbalancers", ONE);
}

function claimUsage(claim: Obj, usage: Map<string, bigint>): void {
  const storage = quantity(claim.spec?.resources?.requests?.storage);
  usage.set("requests.storage", storage);
  const storageClass = claim.spec?.storageClassName;
  if (storageClass) {
    usage.set(`${storageClass}${STORAGE_CLASS_PREFIX}requests.storage`, storage);
    usage.set(`${storageClass}${STORAGE_CLASS_PREFIX}persistentvolumeclaims`, ONE);
  }
}

/** What one object of `group`/`resource` charges: its counts, and the compute or storage it asks for. */
export function usageOf(group: string, resource: string, object: Obj): Map<string, bigint> {
  const usage = new Map<string, bigint>();
  usage.set(objectCountName(group, resource), ONE);
  if (group) return usage;
  if (LEGACY_COUNTS[resource]) usage.set(LEGACY_COUNTS[resource]!, ONE);
  if (resource === "pods") podUsage(object, usage);
  if (resource === "services") serviceUsage(object, usage);
  if (resource === "persistentvolumeclaims") claimUsage(object, usage);
  return usage;
}

/** Whether a pod is BestEffort: no container asks for or limits cpu or memory. */
function isBestEffort(pod: Obj): boolean {
  const containers: Record<string, any>[] = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  return containers.every((c) => ["requests", "limits"].every((k) => !c.resources?.[k]?.cpu && !c.resources?.[k]?.memory));
}

const SCOPES: Record<string, (pod: Obj) => boolean> = {
  Terminating: (pod) => typeof pod.spec?.activeDeadlineSeconds === "number",
  NotTerminating: (pod) => typeof pod.spec?.activeDeadlineSeconds !== "number",
  BestEffort: isBestEffort,
  NotBestEffort: (pod) => !isBestEffort(pod),
  PriorityClass: (pod) => !!pod.spec?.priorityClassName,
};

interface ScopeRequirement {
  scopeName: string;
  operator: string;
  values?: string[];
}

/** Whether a pod is in one scope requirement: PriorityClass by name (In, NotIn, Exists, DoesNotExist), the others by Exists. */
function podInScope(pod: Obj, { scopeName, operator, values = [] }: ScopeRequirement): boolean {
  if (scopeName === "PriorityClass" && (operator === "In" || operator === "NotIn")) {
    return values.includes(pod.spec?.priorityClassName ?? "") === (operator === "In");
  }
  const inScope = SCOPES[scopeName]?.(pod) ?? false;
  return operator === "DoesNotExist" ? !inScope : inScope;
}

/** A quota's scopes and its scopeSelector's requirements together. */
function quotaScopes(quota: Obj): ScopeRequirement[] {
  const listed = (quota.spec?.scopes ?? []).map((scopeName: string) => ({ scopeName, operator: "Exists" }));
  return [...listed, ...(quota.spec?.scopeSelector?.matchExpressions ?? [])];
}

/** Whether a quota counts this object: a quota with scopes counts only the pods in all of them. */
export function quotaCounts(quota: Obj, group: string, resource: string, object: Obj): boolean {
  const scopes = quotaScopes(quota);
  if (!scopes.length) return true;
  if (group || resource !== "pods") return false;
  return scopes.every((scope) => podInScope(object, scope));
}
