// The ResourceQuota admission plugin: a create in a namespace with quotas is charged against each
// quota's status.used with compare-and-swap on the quota, so concurrent creates can never together
// pass a limit; a failed write gives its charge back and a deletion lowers the usage. Object
// counts are also never below what the store holds (kube's quota controller recounts the same way).
import { formatQuantity } from "../../lib/k8s/quantity.ts";
import { isBinary, LEGACY_COUNTS, POD_COMPUTE, quantity as q, quotaCounts, usageOf as chargeOf } from "../../lib/k8s/quota-usage.ts";
import { ApiError, apiErrors } from "../../lib/k8s/status.ts";
import { coreResources } from "../registry/core.ts";
import { resourceQuotaLister } from "../registry/listers.ts";
import { RegistryStore } from "../registry/store.ts";
import type { KubeObject } from "../registry/types.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import type { AdmissionAttributes, AdmissionPlugin } from "./plugin.ts";

const quotaDef = coreResources.find((r) => r.resource === "resourcequotas")!;

/** What an object adds to each quota resource (lib/k8s/quota-usage.ts, as the resourcequota controller counts). */
function usageOf(a: AdmissionAttributes, object: KubeObject): Map<string, bigint> {
  return chargeOf(a.def.group, a.def.resource, object);
}

/** Pods must state what a quota limits: `must specify limits.cpu for: c`. */
function missingResources(object: KubeObject, hard: Record<string, unknown>): string[] {
  const missing: string[] = [];
  for (const resource of Object.keys(hard).filter((r) => POD_COMPUTE.includes(r))) {
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
    if (!quotaCounts(listed, a.def.group, a.def.resource, object)) continue;
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
