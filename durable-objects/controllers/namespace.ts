// The namespace controller (kube-controller-manager 1.30): a namespace being deleted (Terminating)
// has everything in it deleted, every namespaced resource served, custom resources included; its
// status conditions say what failed and what is left; once it is empty, its `kubernetes`
// finalizer is removed through namespaces/finalize, which lets the apiserver delete it.
import type { Namespace, NamespaceCondition, Pod } from "kubernetes-types/core/v1";
import { isNotFound, retryOnConflict, type ApiClient, type KubeObject } from "../../lib/client/index.ts";
import { builtin, builtinResources, type ResourceNames } from "../../lib/k8s/resources.ts";
import { kubeTime } from "../../lib/k8s/time.ts";
import { splitKey, type Controller, type Listers, type ReconcileContext } from "./framework.ts";
import { CUSTOM_RESOURCE_DEFINITIONS, servedCustomResources } from "./custom-resources.ts";
import { COLLECTED } from "./garbage-collector.ts";

export const NAMESPACES = builtin("v1", "namespaces");
/** The finalizer this controller owns in a namespace's spec.finalizers. */
export const KUBERNETES_FINALIZER = "kubernetes";

/** The namespaced resources served built in that hold objects (not the reviews, which are only created). */
const BUILTIN_CONTENT: readonly ResourceNames[] = builtinResources.filter((r, i, all) =>
  r.namespaced && !r.kind.endsWith("Review")
  // One version per group and resource: the others are the same stored objects.
  && all.findIndex((o) => o.group === r.group && o.resource === r.resource) === i);

/** kube's GroupResource.String(): "pods", "deployments.apps". */
export const groupResource = (r: Pick<ResourceNames, "group" | "resource">) => (r.group ? `${r.resource}.${r.group}` : r.resource);

/** The served namespaced resources of the established CRDs: kube finds them through discovery. */
export function customContent(crds: KubeObject[]): ResourceNames[] {
  return servedCustomResources(crds).filter((r) => r.namespaced);
}

/** What deleting one resource's content in the namespace left. */
export interface ContentLeft {
  resource: ResourceNames;
  remaining: number;
  /** Finalizer → how many remaining objects carry it. */
  finalizers: Map<string, number>;
  /** Seconds until the remaining pods' grace periods end. */
  estimateSeconds: number;
  error?: string;
}

export interface DeletionOutcome {
  discoveryErrors: string[];
  content: ContentLeft[];
}

function condition(type: string, status: "True" | "False", reason: string, message: string): NamespaceCondition {
  return { type, status, reason, message };
}

/** The conditions kube's namespace controller sets on a Terminating namespace, from what one pass found. */
export function deletionConditions(outcome: DeletionOutcome): NamespaceCondition[] {
  const failures = outcome.content.filter((c) => c.error);
  const remaining = outcome.content.filter((c) => c.remaining > 0).map((c) => `${groupResource(c.resource)} has ${c.remaining} resource instances`).sort();
  const finalizers = new Map<string, number>();
  for (const c of outcome.content) for (const [f, n] of c.finalizers) finalizers.set(f, (finalizers.get(f) ?? 0) + n);
  const finalizing = [...finalizers].map(([f, n]) => `${f} in ${n} resource instances`).sort();
  return [
    outcome.discoveryErrors.length
      ? condition("NamespaceDeletionDiscoveryFailure", "True", "DiscoveryFailed", `Discovery failed for some groups, ${outcome.discoveryErrors.length} failing: ${outcome.discoveryErrors.join(", ")}`)
      : condition("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered", "All resources successfully discovered"),
    condition("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions", "All legacy kube types successfully parsed"),
    failures.length
      ? condition("NamespaceDeletionContentFailure", "True", "ContentDeletionFailed", `Failed to delete all resource types, ${failures.length} remaining: ${failures.map((c) => c.error).join(", ")}`)
      : condition("NamespaceDeletionContentFailure", "False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
    remaining.length
      ? condition("NamespaceContentRemaining", "True", "SomeResourcesRemain", `Some resources are remaining: ${remaining.join(", ")}`)
      : condition("NamespaceContentRemaining", "False", "ContentRemoved", "All content successfully removed"),
    finalizing.length
      ? condition("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain", `Some content in the namespace has finalizers remaining: ${finalizing.join(", ")}`)
      : condition("NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
  ];
}

/** New conditions over old ones: a condition keeps its lastTransitionTime while its status stays. */
export function mergeConditions(old: NamespaceCondition[] | undefined, next: NamespaceCondition[], now: number): NamespaceCondition[] {
  const kept = (old ?? []).filter((c) => !next.some((n) => n.type === c.type));
  return [...kept, ...next.map((c) => {
    const before = old?.find((o) => o.type === c.type);
    return { ...c, lastTransitionTime: before?.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : kubeTime(now) };
  })];
}

const sameConditions = (a: NamespaceCondition[] | undefined, b: NamespaceCondition[]) => JSON.stringify(a ?? []) === JSON.stringify(b);

/** The longest grace period still running among the pods left (estimateGracefulTermination). */
function estimateSeconds(objects: KubeObject[], resource: ResourceNames, now: number): number {
  if (resource.group !== "" || resource.resource !== "pods") return 0;
  let longest = 0;
  for (const pod of objects as Pod[]) {
    if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed" || !pod.metadata?.deletionTimestamp) continue;
    longest = Math.max(longest, Math.ceil((Date.parse(pod.metadata.deletionTimestamp) - now) / 1000));
  }
  return longest;
}

/** Deletes one resource's objects in the namespace (a delete collection, background propagation) and counts what is left. */
async function deleteContent(client: ApiClient, resource: ResourceNames, namespace: string, now: number): Promise<ContentLeft> {
  const api = client.resource<KubeObject>(resource);
  const left: ContentLeft = { resource, remaining: 0, finalizers: new Map(), estimateSeconds: 0 };
  try {
    await api.deleteCollection(namespace, { propagationPolicy: "Background" });
    const objects = (await api.listAll(namespace)).items;
    left.remaining = objects.length;
    for (const object of objects) for (const f of object.metadata?.finalizers ?? []) left.finalizers.set(f, (left.finalizers.get(f) ?? 0) + 1);
    left.estimateSeconds = estimateSeconds(objects, resource, now);
  } catch (e) {
    // A resource that went away meanwhile (a CRD deleted) has nothing left to delete.
    if (!isNotFound(e)) left.error = (e as Error)?.message ?? String(e);
  }
  return left;
}

async function deleteAllContent(namespace: string, ctx: ReconcileContext): Promise<DeletionOutcome> {
  const discoveryErrors: string[] = [];
  const crds = await ctx.client.resource(CUSTOM_RESOURCE_DEFINITIONS).listAll(undefined).then((list) => list.items, (e) => {
    discoveryErrors.push(`${CUSTOM_RESOURCE_DEFINITIONS.group}/${CUSTOM_RESOURCE_DEFINITIONS.version}: ${(e as Error)?.message ?? e}`);
    return [];
  });
  const now = ctx.now();
  const content = await Promise.all([...BUILTIN_CONTENT, ...customContent(crds)].map((resource) => deleteContent(ctx.client, resource, namespace, now)));
  return { discoveryErrors, content };
}

/** namespaces/finalize without the `kubernetes` finalizer, from a fresh read. */
function finalize(client: ApiClient, namespace: Namespace): Promise<unknown> {
  const api = client.resource<Namespace>(NAMESPACES);
  const name = namespace.metadata!.name!;
  return retryOnConflict(async () => {
    const live = await api.get(undefined, name);
    if (live.metadata?.uid !== namespace.metadata?.uid || !live.spec?.finalizers?.includes(KUBERNETES_FINALIZER)) return;
    const finalizers = live.spec.finalizers.filter((f) => f !== KUBERNETES_FINALIZER);
    await api.subresource(undefined, name, "finalize", { method: "PUT", body: { ...live, spec: { ...live.spec, finalizers } } });
  }).catch((e) => {
    if (!isNotFound(e)) throw e;
  });
}

/** A change in a Terminating namespace (a pod gone, a finalizer dropped) may be the one its deletion waits for. */
function terminatingNamespaceOf(object: KubeObject, listers: Listers): string[] {
  const name = object.metadata?.namespace;
  const namespace = name ? listers.of<Namespace>(NAMESPACES).get(undefined, name) : undefined;
  return namespace?.metadata?.deletionTimestamp ? [`/${name}`] : [];
}

export const namespaceController: Controller = {
  name: "namespace-controller",
  watches: [
    { resource: NAMESPACES, keysFor: (ns) => [`/${ns.metadata?.name ?? ""}`] },
    // What the garbage collector caches anyway; custom resources are looked at again with the queue's back-off.
    ...COLLECTED.map((resource) => ({ resource, keysFor: terminatingNamespaceOf, metadataOnly: true })),
  ],
  async reconcile(key, ctx) {
    const [, name] = splitKey(key);
    const namespace = ctx.listers.of<Namespace>(NAMESPACES).get(undefined, name);
    if (!namespace?.metadata?.deletionTimestamp || !namespace.spec?.finalizers?.includes(KUBERNETES_FINALIZER)) return;
    const outcome = await deleteAllContent(name, ctx);
    const conditions = mergeConditions(namespace.status?.conditions, deletionConditions(outcome), ctx.now());
    if (!sameConditions(namespace.status?.conditions, conditions)) {
      await ctx.client.resource<Namespace>(NAMESPACES).updateStatus(undefined, { ...namespace, status: { ...namespace.status, conditions } }).catch((e) => {
        // A stale copy: the namespace's next change brings this key back.
        if (!isNotFound(e) && (e as { code?: number })?.code !== 409) throw e;
      });
    }
    const failed = outcome.content.find((c) => c.error);
    if (failed) throw new Error(failed.error);
    if (outcome.content.some((c) => c.remaining > 0)) {
      const estimate = Math.max(0, ...outcome.content.map((c) => c.estimateSeconds));
      if (estimate > 0) return { requeueAfter: estimate * 1000 };
      // Objects held by their finalizers: look again with the queue's back-off, as kube does.
      throw new Error(`some content remains in the namespace ${name}`);
    }
    await finalize(ctx.client, namespace);
    return undefined;
  },
};
