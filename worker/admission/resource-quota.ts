// The ResourceQuota admission plugin: a create in a namespace with quotas is charged against each
// quota's status.used with compare-and-swap on the quota, so concurrent creates can never together
// pass a limit; a failed write gives its charge back and a deletion lowers the usage. Object
// counts are also never below what the store holds (kube's quota controller recounts the same way).
import { formatQuantity, parseQuantity, QuantityError } from "../../lib/k8s/quantity.ts";
import { ApiError, apiErrors } from "../../lib/k8s/status.ts";
import { coreResources } from "../registry/core.ts";
import { resourceQuotaLister } from "../registry/listers.ts";
import { RegistryStore } from "../registry/store.ts";
import type { KubeObject } from "../registry/types.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import type { AdmissionAttributes, AdmissionPlugin } from "./plugin.ts";

const quotaDef = coreResources.find((r) => r.resource === "resourcequotas")!;
/** The short names kube gives some object counts. */
const LEGACY_COUNTS: Record<string, string> = {
  pods: "pods", services: "services", configmaps: "configmaps", secrets: "secrets", replicationcontrollers: "replicationcontrollers",
  resourcequotas: "resourcequotas", persistentvolumeclaims: "persistentvolumeclaims",
};
const COMPUTE = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory", "requests.ephemeral-storage", "limits.ephemeral-storage"];

function isBinary(resource: string): boolean {
  return resource.includes("memory") || resource.includes("storage");
}

function q(value: unknown): bigint {
  try {
    return parseQuantity(value as string);
  } catch (e) {
    if (e instanceof QuantityError) return 0n;
    throw e;
  }
}

/** What an object adds to each quota resource: its counts, and for a pod its requests and limits. */
function usageOf(a: AdmissionAttributes, object: KubeObject): Map<string, bigint> {
  const usage = new Map<string, bigint>();
  const { group, resource } = a.def;
  usage.set(`count/${group ? `${resource}.${group}` : resource}`, 1000n);
  if (!group && LEGACY_COUNTS[resource]) usage.set(LEGACY_COUNTS[resource]!, 1000n);
  if (!group && resource === "services") {
    const type = object.spec?.type;
    if (type === "NodePort" || type === "LoadBalancer") usage.set("services.nodeports", BigInt((object.spec?.ports ?? []).length) * 1000n);
    if (type === "LoadBalancer") usage.set("services.loadbalancers", 1000n);
  }
  if (!group && resource === "pods") {
    const containers: Record<string, any>[] = object.spec?.containers ?? [];
    for (const kind of ["requests", "limits"] as const) {
      for (const name of ["cpu", "memory", "ephemeral-storage"]) {
        const total = containers.reduce((sum, c) => sum + q(c.resources?.[kind]?.[name] ?? "0"), 0n);
        usage.set(`${kind}.${name}`, total);
        if (kind === "requests" && name !== "ephemeral-storage") usage.set(name, total);
      }
    }
  }
  return usage;
}

/** Pods must state what a quota limits: `must specify limits.cpu for: c`. */
function missingResources(object: KubeObject, hard: Record<string, unknown>): string[] {
  const missing: string[] = [];
  for (const resource of Object.keys(hard).filter((r) => COMPUTE.includes(r))) {
    const [kind, name] = resource.includes(".") ? resource.split(".") as [string, string] : ["requests", resource];
    const lacking = ((object.spec?.containers ?? []) as Record<string, any>[]).filter((c) => c.resources?.[kind]?.[name] === undefined).map((c) => c.name);
    if (lacking.length) missing.push(`${resource} for: ${lacking.join(",")}`);
  }
  return missing;
}

/** Adds `sign` × usage to every quota of the namespace that tracks it; refuses what would pass a limit. */
async function charge(a: AdmissionAttributes, object: KubeObject, sign: 1n | -1n): Promise<void> {
  if (!a.def.namespaced || !a.namespace) return;
  const store = new RegistryStore(quotaDef, new ObjectStorage(a.env));
  const items = await resourceQuotaLister(store.storage, a.namespace);
  if (!items.length) return;
  const usage = usageOf(a, object);
  // The store's count of this resource, read once whichever quotas track it.
  let count: Promise<number> | undefined;
  for (const listed of items) {
    const name = listed.metadata!.name as string;
    const hard: Record<string, unknown> = listed.spec?.hard ?? {};
    const tracked = [...usage.keys()].filter((r) => r in hard);
    if (!tracked.length) continue;
    if (sign > 0n && a.def.resource === "pods" && !a.def.group) {
      const missing = missingResources(object, hard);
      if (missing.length) throw apiErrors.forbidden(`${a.def.resource} "${object.metadata?.name ?? ""}" is forbidden: failed quota: ${name}: must specify ${missing.join("; ")}`);
    }
    const counted = new Map<string, bigint>();
    if (sign > 0n) {
      // Counts never go below what the store holds, whatever was recorded.
      for (const resource of tracked.filter((r) => r === LEGACY_COUNTS[a.def.resource] || r.startsWith("count/"))) {
        count ??= countOf(a, store.storage);
        counted.set(resource, BigInt(await count) * 1000n);
      }
    }
    await store.guaranteedUpdate(a.namespace, name, { subresource: "status", manager: "resourcequota-controller" }, (quota) => {
      const used: Record<string, string> = { ...quota.status?.used };
      const exceeded: string[] = [];
      for (const resource of tracked) {
        const before = [q(used[resource] ?? "0"), counted.get(resource) ?? 0n].reduce((x, y) => (x > y ? x : y));
        let after = before + sign * usage.get(resource)!;
        if (after < 0n) after = 0n;
        if (sign > 0n && after > q(hard[resource])) exceeded.push(resource);
        used[resource] = formatQuantity(after, isBinary(resource));
      }
      if (exceeded.length) {
        const list = (f: (r: string) => string) => exceeded.map((r) => `${r}=${f(r)}`).join(",");
        throw new ApiError(403, "Forbidden",
          `${a.def.resource} "${object.metadata?.name ?? ""}" is forbidden: exceeded quota: ${name}, requested: ${list((r) => formatQuantity(usage.get(r)!, isBinary(r)))}, used: ${list((r) => quota.status?.used?.[r] ?? "0")}, limited: ${list((r) => String(hard[r]))}`,
          { name: object.metadata?.name, kind: a.def.resource });
      }
      return { ...quota, status: { ...quota.status, hard: { ...quota.spec?.hard }, used } };
    });
  }
}

/** How many objects of the request's resource the namespace holds now. */
async function countOf(a: AdmissionAttributes, storage: ObjectStorage): Promise<number> {
  const page = await storage.list(new RegistryStore(a.def, storage).prefix(a.namespace), { limit: 1 });
  return page.items.length + Math.max(0, page.remaining);
}

export const resourceQuota: AdmissionPlugin = {
  name: "ResourceQuota",
  async validate(a) {
    if (a.operation !== "CREATE" || a.subresource || !a.object || a.dryRun) return;
    await charge(a, a.object, 1n);
  },
  async rollback(a) {
    if (a.operation === "CREATE" && a.object && !a.dryRun) await charge(a, a.object, -1n);
  },
  async deleted(a) {
    if (a.oldObject && !a.subresource) await charge(a, a.oldObject, -1n);
  },
};
