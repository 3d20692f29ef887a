// The garbage collector (kube-controller-manager 1.30): objects whose owners are all gone are
// deleted (background propagation); an owner deleted with propagationPolicy=Foreground keeps its
// `foregroundDeletion` finalizer until no dependent that blocks owner deletion is left; an owner
// deleted with propagationPolicy=Orphan has its references removed from its dependents, then its
// `orphan` finalizer. Whether an owner is gone is decided by uid against the API (a live read),
// as kube's absent-owner check does, never from the cache alone. Custom resources take part as
// owners and dependents: each established CRD's resource is watched while it is served.
import type { OwnerReference } from "kubernetes-types/meta/v1";
import { isNotFound, retryOnConflict, type ApiClient, type KubeObject } from "../../lib/client/index.ts";
import { builtin, resourceForKind, type ResourceNames } from "../../lib/k8s/resources.ts";
import { CUSTOM_RESOURCE_DEFINITIONS, customResourceForKind, servedCustomResources } from "./custom-resources.ts";
import { OWNER_INDEX, resourceId, type Controller, type Listers, type ReconcileContext } from "./framework.ts";

export const ORPHAN_FINALIZER = "orphan";
export const FOREGROUND_FINALIZER = "foregroundDeletion";

/**
 * The resources whose ownership graph is collected: the workloads and what they own (a
 * StatefulSet's claims when its retention policy says Delete), and what operators commonly hang
 * off custom resources. Leases and Events are left out: they change on
 * every heartbeat, and kube's own owners of them (nodes) are never deleted with dependents pending.
 */
export const COLLECTED: readonly ResourceNames[] = [
  builtin("v1", "pods"), builtin("v1", "replicationcontrollers"), builtin("v1", "services"), builtin("v1", "configmaps"),
  builtin("v1", "secrets"), builtin("v1", "serviceaccounts"), builtin("v1", "podtemplates"), builtin("v1", "persistentvolumeclaims"),
  builtin("apps/v1", "deployments"), builtin("apps/v1", "replicasets"), builtin("apps/v1", "daemonsets"),
  builtin("apps/v1", "statefulsets"), builtin("apps/v1", "controllerrevisions"),
  builtin("batch/v1", "jobs"), builtin("batch/v1", "cronjobs"),
  builtin("discovery.k8s.io/v1", "endpointslices"), builtin("policy/v1", "poddisruptionbudgets"),
];

/** The custom resources served now, from the CRDs in the cache. */
const customResources = (listers: Listers) => servedCustomResources(listers.of(CUSTOM_RESOURCE_DEFINITIONS).list());

/** Every resource in the graph whose cache is there to read: the built-in ones and the custom ones watched so far. */
function collected(listers: Listers): ResourceNames[] {
  return [...COLLECTED, ...customResources(listers).filter((r) => listers.has(r))];
}

// ---- keys: "<group>/<version>/<resource>|<namespace>/<name>" ----

export function gcKey(resource: ResourceNames, object: KubeObject): string {
  return `${resourceId(resource)}|${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}

function parseGcKey(key: string, listers: Listers): { resource: ResourceNames | undefined; namespace: string; name: string } {
  const bar = key.indexOf("|");
  const id = key.slice(0, bar);
  // A custom resource's CRD may have gone since the key was queued.
  const resource = collected(listers).find((r) => resourceId(r) === id);
  const rest = key.slice(bar + 1);
  const slash = rest.indexOf("/");
  return { resource, namespace: rest.slice(0, slash), name: rest.slice(slash + 1) };
}

// ---- the graph ----

const isDeleting = (object: KubeObject) => !!object.metadata?.deletionTimestamp;
const hasFinalizer = (object: KubeObject, finalizer: string) => !!object.metadata?.finalizers?.includes(finalizer);

/** An owner being deleted in the foreground: its dependents go first. */
export const isDeletingDependents = (object: KubeObject) => isDeleting(object) && hasFinalizer(object, FOREGROUND_FINALIZER);

/** The collected objects that name this uid among their owners, with their resources. */
export function dependentsOf(uid: string, listers: Listers): { resource: ResourceNames; object: KubeObject }[] {
  return collected(listers).flatMap((resource) => listers.of(resource).byIndex(OWNER_INDEX, uid).map((object) => ({ resource, object })));
}

const referenceTo = (dependent: KubeObject, uid: string) => dependent.metadata?.ownerReferences?.find((ref) => ref.uid === uid);

/** Dependents that hold up their owner's foreground deletion (blockOwnerDeletion=true). */
export function blockingDependents<T extends { object: KubeObject }>(ownerUid: string, dependents: T[]): T[] {
  return dependents.filter(({ object }) => referenceTo(object, ownerUid)?.blockOwnerDeletion === true);
}

/** What an owner reference points at now: an owner that stays, one deleting its dependents first, or none with that uid. */
export type OwnerState = "solid" | "waitingForDependentsDeletion" | "dangling";

export type DependentDecision =
  | { action: "none" }
  /** Some owners stay: drop the references to those that are gone or deleting in the foreground. */
  | { action: "removeReferences"; uids: string[] }
  | { action: "delete"; propagationPolicy: "Foreground" | "Background" | "Orphan" };

/**
 * attemptToDeleteItem's decision for an object that is not itself being deleted, given the state
 * of each of its owners (by uid) and whether it has dependents of its own.
 */
export function decideForDependent(object: KubeObject, owners: Map<string, OwnerState>, hasDependents: boolean): DependentDecision {
  const refs = object.metadata?.ownerReferences ?? [];
  if (isDeleting(object) || refs.length === 0) return { action: "none" };
  const of = (state: OwnerState) => refs.filter((ref) => owners.get(ref.uid) === state).map((ref) => ref.uid);
  const solid = of("solid"), dangling = of("dangling"), waiting = of("waitingForDependentsDeletion");
  if (solid.length > 0) return dangling.length + waiting.length === 0 ? { action: "none" } : { action: "removeReferences", uids: [...dangling, ...waiting] };
  // An owner waits for this object: if it has dependents of its own, they go first too.
  if (waiting.length > 0 && hasDependents) return { action: "delete", propagationPolicy: "Foreground" };
  if (hasFinalizer(object, ORPHAN_FINALIZER)) return { action: "delete", propagationPolicy: "Orphan" };
  if (hasFinalizer(object, FOREGROUND_FINALIZER)) return { action: "delete", propagationPolicy: "Foreground" };
  return { action: "delete", propagationPolicy: "Background" };
}

// ---- reading owners ----

/** The resource and namespace an owner reference names, from the dependent's point of view; undefined for a kind not served here. */
function ownerLocation(dependent: KubeObject, ref: OwnerReference, listers: Listers): { resource: ResourceNames; namespace: string } | undefined {
  const resource = resourceForKind(ref.apiVersion, ref.kind) ?? customResourceForKind(customResources(listers), ref.apiVersion, ref.kind);
  if (!resource) return undefined;
  return { resource, namespace: resource.namespaced ? dependent.metadata?.namespace ?? "" : "" };
}

/** Each owner's state; the cache answers for owners it holds alive, the API (a live read by uid) for the rest. */
async function ownerStates(dependent: KubeObject, ctx: ReconcileContext): Promise<Map<string, OwnerState>> {
  const states = new Map<string, OwnerState>();
  for (const ref of dependent.metadata?.ownerReferences ?? []) {
    const where = ownerLocation(dependent, ref, ctx.listers);
    // An owner of a kind this cluster cannot resolve is left alone, as kube leaves it.
    if (!where) {
      states.set(ref.uid, "solid");
      continue;
    }
    const cached = ctx.listers.has(where.resource) ? ctx.listers.of(where.resource).get(where.namespace, ref.name) : undefined;
    if (cached?.metadata?.uid === ref.uid && !isDeleting(cached)) {
      states.set(ref.uid, "solid");
      continue;
    }
    const live = await ctx.client.resource(where.resource).get(where.namespace, ref.name).catch((e) => {
      if (isNotFound(e)) return undefined;
      throw e;
    });
    if (!live || live.metadata?.uid !== ref.uid) states.set(ref.uid, "dangling");
    else states.set(ref.uid, isDeletingDependents(live) ? "waitingForDependentsDeletion" : "solid");
  }
  return states;
}

// ---- writes ----

const ignoreNotFound = (e: unknown) => {
  if (isNotFound(e)) return undefined;
  throw e;
};

/** Rewrites an object's ownerReferences from a fresh read, with its resourceVersion as the precondition. */
function editOwnerReferences(client: ApiClient, resource: ResourceNames, object: KubeObject, edit: (refs: OwnerReference[]) => OwnerReference[]): Promise<unknown> {
  const api = client.resource(resource);
  const { namespace, name, uid } = object.metadata!;
  return retryOnConflict(async () => {
    const live = await api.get(namespace, name!);
    if (live.metadata?.uid !== uid) return;
    const refs = live.metadata?.ownerReferences ?? [];
    const next = edit(refs);
    if (next.length === refs.length) return;
    // None left: the field goes, as kube's omitempty leaves it.
    await api.patch(namespace, name!, { metadata: { uid, resourceVersion: live.metadata?.resourceVersion, ownerReferences: next.length ? next : null } }, "merge");
  }).catch(ignoreNotFound);
}

/** Drops a finalizer from a fresh read of the object, with its resourceVersion as the precondition. */
function removeFinalizer(client: ApiClient, resource: ResourceNames, object: KubeObject, finalizer: string): Promise<unknown> {
  const api = client.resource(resource);
  const { namespace, name, uid } = object.metadata!;
  return retryOnConflict(async () => {
    const live = await api.get(namespace, name!);
    if (live.metadata?.uid !== uid || !hasFinalizer(live, finalizer)) return;
    const finalizers = live.metadata!.finalizers!.filter((f) => f !== finalizer);
    await api.patch(namespace, name!, { metadata: { uid, resourceVersion: live.metadata?.resourceVersion, finalizers } }, "merge");
  }).catch(ignoreNotFound);
}

// ---- reconcile ----

/** Orphan propagation: every dependent lets go of the owner, then the owner's `orphan` finalizer goes. */
async function orphanDependents(resource: ResourceNames, owner: KubeObject, ctx: ReconcileContext): Promise<void> {
  const uid = owner.metadata!.uid!;
  for (const dependent of dependentsOf(uid, ctx.listers)) {
    await editOwnerReferences(ctx.client, dependent.resource, dependent.object, (refs) => refs.filter((ref) => ref.uid !== uid));
  }
  await removeFinalizer(ctx.client, resource, owner, ORPHAN_FINALIZER);
}

/**
 * Foreground propagation, the owner's side: its dependents are deleted as they are reconciled
 * (each sees this owner waiting); once none that blocks owner deletion is left, the finalizer goes.
 */
async function finishForegroundDeletion(resource: ResourceNames, owner: KubeObject, ctx: ReconcileContext): Promise<void> {
  if (blockingDependents(owner.metadata!.uid!, dependentsOf(owner.metadata!.uid!, ctx.listers)).length > 0) return;
  await removeFinalizer(ctx.client, resource, owner, FOREGROUND_FINALIZER);
}

async function collectDependent(resource: ResourceNames, object: KubeObject, ctx: ReconcileContext): Promise<void> {
  const owners = await ownerStates(object, ctx);
  const decision = decideForDependent(object, owners, dependentsOf(object.metadata!.uid!, ctx.listers).length > 0);
  if (decision.action === "removeReferences") {
    await editOwnerReferences(ctx.client, resource, object, (refs) => refs.filter((ref) => !decision.uids.includes(ref.uid)));
  } else if (decision.action === "delete") {
    const { namespace, name, uid } = object.metadata!;
    await ctx.client.resource(resource).delete(namespace, name!, { preconditions: { uid }, propagationPolicy: decision.propagationPolicy }).catch((e) => {
      // Gone already, or replaced by a namesake (the uid precondition failed).
      if (isNotFound(e) || (e as { code?: number })?.code === 409) return;
      throw e;
    });
  }
}

/**
 * The keys to look at when an object changes: the object itself when it has a propagation
 * finalizer or an owner the cache does not hold alive; its owners that are being deleted; and,
 * once it is gone or going, its dependents.
 */
function keysFor(resource: ResourceNames) {
  return (object: KubeObject, listers: Listers): string[] => {
    const keys: string[] = [];
    let look = hasFinalizer(object, ORPHAN_FINALIZER) || hasFinalizer(object, FOREGROUND_FINALIZER);
    for (const ref of object.metadata?.ownerReferences ?? []) {
      const where = ownerLocation(object, ref, listers);
      if (!where) continue;
      const owner = listers.has(where.resource) ? listers.of(where.resource).get(where.namespace, ref.name) : undefined;
      if (owner?.metadata?.uid !== ref.uid) look = true;
      else if (isDeleting(owner)) {
        keys.push(gcKey(where.resource, owner));
        look = true;
      }
    }
    if (look) keys.push(gcKey(resource, object));
    const current = listers.of(resource).get(object.metadata?.namespace, object.metadata?.name ?? "");
    if (!current || current.metadata?.uid !== object.metadata?.uid || isDeleting(current)) {
      for (const dependent of dependentsOf(object.metadata?.uid ?? "", listers)) keys.push(gcKey(dependent.resource, dependent.object));
    }
    return keys;
  };
}

export const garbageCollector: Controller = {
  name: "garbage-collector-controller",
  watches: [
    ...COLLECTED.map((resource) => ({ resource, keysFor: keysFor(resource), metadataOnly: true })),
    // Read for the custom resources they serve, as kube's garbage collector reads discovery.
    { resource: CUSTOM_RESOURCE_DEFINITIONS, keysFor: () => [] },
  ],
  dynamicWatches: (listers) => customResources(listers).map((resource) => ({ resource, keysFor: keysFor(resource), metadataOnly: true })),
  async reconcile(key, ctx) {
    const { resource, namespace, name } = parseGcKey(key, ctx.listers);
    if (!resource) return;
    const object = ctx.listers.of(resource).get(namespace, name);
    if (!object) return;
    if (isDeleting(object)) {
      if (hasFinalizer(object, ORPHAN_FINALIZER)) return orphanDependents(resource, object, ctx);
      if (hasFinalizer(object, FOREGROUND_FINALIZER)) return finishForegroundDeletion(resource, object, ctx);
      return;
    }
    await collectDependent(resource, object, ctx);
  },
};
