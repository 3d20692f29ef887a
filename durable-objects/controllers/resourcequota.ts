// The resourcequota controller (kube-controller-manager 1.30): a ResourceQuota's status.hard mirrors
// its spec.hard and status.used is recounted from what exists in its namespace — pods that are not
// finished (their requests and limits), Services, claims and object counts, `count/<resource>.<group>`
// for any resource — promptly when the objects it counts change and fully every 5 minutes (kube's
// resync), since admission (worker/admission/resource-quota.ts) only charges at write time.
import type { ResourceQuota } from "kubernetes-types/core/v1";
import type { ApiClient, KubeObject } from "../../lib/client/index.ts";
import { formatQuantity } from "../../lib/k8s/quantity.ts";
import { isBinary, LEGACY_COUNTS, podChargesQuota, quantity, quotaCounts, usageOf } from "../../lib/k8s/quota-usage.ts";
import { builtin, builtinResources, resourceForKind, type ResourceNames } from "../../lib/k8s/resources.ts";
import { keyOf, splitKey, type Controller, type Listers } from "./framework.ts";
import { PODS } from "./replicaset.ts";

export const RESOURCE_QUOTAS = builtin("v1", "resourcequotas");

/** kube's --resource-quota-sync-period. */
export const QUOTA_RESYNC_MS = 5 * 60_000;

/** What the controller watches to recount promptly (kube's replenishment): the objects whose usage is more than a count. */
const COUNTED = [PODS, builtin("v1", "services"), builtin("v1", "persistentvolumeclaims"), builtin("v1", "configmaps"), builtin("v1", "secrets"), builtin("v1", "replicationcontrollers")];

/** The resource a quota name counts: "pods", "count/deployments.apps", "requests.cpu" → pods. */
export function countedResource(name: string): { group: string; resource: string } | undefined {
  if (name.startsWith("count/")) {
    const [resource, ...group] = name.slice("count/".length).split(".");
    return { resource: resource!, group: group.join(".") };
  }
  if (LEGACY_COUNTS[name]) return { group: "", resource: name };
  if (/^(requests|limits)\.|^(cpu|memory)$/.test(name)) return { group: "", resource: "pods" };
  if (name === "services.nodeports" || name === "services.loadbalancers") return { group: "", resource: "services" };
  if (name === "requests.storage" || name.includes(".storageclass.storage.k8s.io/")) return { group: "", resource: "persistentvolumeclaims" };
  return undefined;
}

/** The sum of what `objects` charge to the quota, for the resources it limits (quota.CalculateUsage, masked to hard). */
export function usageFrom(quota: ResourceQuota, group: string, resource: string, objects: KubeObject[], now: number): Map<string, bigint> {
  const hard = Object.keys(quota.spec?.hard ?? {});
  const used = new Map<string, bigint>();
  for (const object of objects) {
    if (!group && resource === "pods" && !podChargesQuota(object, now)) continue;
    if (!quotaCounts(quota, group, resource, object)) continue;
    for (const [name, amount] of usageOf(group, resource, object)) {
      if (hard.includes(name)) used.set(name, (used.get(name) ?? 0n) + amount);
    }
  }
  return used;
}

/** The objects of a resource in a namespace: from the caches when a controller watches it, else through the API. */
async function objectsOf(names: ResourceNames, namespace: string, listers: Listers, client: ApiClient): Promise<KubeObject[]> {
  try {
    return listers.of<KubeObject>(names).list(namespace);
  } catch {
    return (await client.resource<KubeObject>(names).listAll(namespace)).items;
  }
}

/** The names of a resource by group and plural, built in or found through discovery (preferred version). */
async function resourceNamed(client: ApiClient, group: string, resource: string): Promise<ResourceNames | undefined> {
  const known = builtinResources.find((r) => r.group === group && r.resource === resource);
  if (known) return known;
  const groupInfo = group
    ? await client.json<{ preferredVersion?: { version: string } }>({ method: "GET", path: `/apis/${group}` }).catch(() => undefined)
    : { preferredVersion: { version: "v1" } };
  const version = groupInfo?.preferredVersion?.version;
  if (!version) return undefined;
  const path = group ? `/apis/${group}/${version}` : "/api/v1";
  const list = await client.json<{ resources?: { name: string; kind: string; namespaced: boolean }[] }>({ method: "GET", path }).catch(() => undefined);
  const found = list?.resources?.find((r) => r.name === resource);
  if (!found) return undefined;
  return resourceForKind(group ? `${group}/${version}` : "v1", found.kind) ?? { group, version, resource, kind: found.kind, singular: found.kind.toLowerCase(), namespaced: found.namespaced };
}

function sameUsage(before: Record<string, string> | undefined, after: Record<string, string>): boolean {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after)]);
  return [...keys].every((k) => before?.[k] !== undefined && after[k] !== undefined && quantity(before[k]) === quantity(after[k]));
}

/** The quotas of the changed object's namespace. */
function quotasOf(object: KubeObject, listers: Listers): string[] {
  return listers.of<ResourceQuota>(RESOURCE_QUOTAS).list(object.metadata?.namespace ?? "").map(keyOf);
}

export const resourceQuotaController: Controller = {
  name: "resourcequota-controller",
  watches: [
    { resource: RESOURCE_QUOTAS, keysFor: (quota) => [keyOf(quota)] },
    ...COUNTED.map((resource) => ({ resource, keysFor: quotasOf, metadataOnly: resource.resource === "configmaps" || resource.resource === "secrets" })),
  ],
  async reconcile(key, ctx) {
    const [namespace, name] = splitKey(key);
    const quota = ctx.listers.of<ResourceQuota>(RESOURCE_QUOTAS).get(namespace, name);
    if (!quota) return;
    const hard = quota.spec?.hard ?? {};
    const now = ctx.now();
    // Resources the quota limits, by what counts them; one listing serves all of one resource's names.
    const byResource = new Map<string, { group: string; resource: string }>();
    for (const resourceName of Object.keys(hard)) {
      const counted = countedResource(resourceName);
      if (counted) byResource.set(`${counted.group}/${counted.resource}`, counted);
    }
    // Names the controller cannot count keep what admission recorded (kube keeps a past observation too).
    const used: Record<string, string> = Object.fromEntries(Object.entries(quota.status?.used ?? {}).filter(([k]) => k in hard));
    for (const { group, resource } of byResource.values()) {
      const names = await resourceNamed(ctx.client, group, resource);
      if (!names?.namespaced) continue;
      const objects = await objectsOf(names, namespace, ctx.listers, ctx.client);
      const usage = usageFrom(quota, group, resource, objects, now);
      for (const [resourceName, counted] of Object.entries(hard).map(([k]) => [k, countedResource(k)] as const)) {
        if (counted?.group === group && counted.resource === resource) used[resourceName] = formatQuantity(usage.get(resourceName) ?? 0n, isBinary(resourceName));
      }
    }
    const hardChanged = JSON.stringify(quota.status?.hard ?? null) !== JSON.stringify(quota.spec?.hard ?? {});
    if (hardChanged || !quota.status?.used || !sameUsage(quota.status.used, used)) {
      await ctx.client.resource<ResourceQuota>(RESOURCE_QUOTAS).updateStatus(namespace, { ...quota, status: { hard: { ...hard }, used } });
    }
    return { requeueAfter: QUOTA_RESYNC_MS };
  },
};
