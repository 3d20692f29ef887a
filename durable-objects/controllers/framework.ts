// The shape every controller has (DESIGN.md): the resources it watches and how a change there maps
// to the keys it reconciles, and a reconcile function over informer caches that is idempotent and
// says when, if ever, to look again. The manager (object.ts) owns the informers and queues.
import type { ApiClient, KubeObject, Lister } from "../../lib/client/index.ts";
import type { EventRecorder } from "../../lib/client/event-recorder.ts";
import type { LabelSelector } from "kubernetes-types/meta/v1";
import type { ResourceNames } from "../../lib/k8s/resources.ts";
import type { ControllerSettings } from "./settings.ts";
import { labelSelectorFromObject, matchesLabels, type LabelSelectorObject } from "../../lib/k8s/selectors.ts";

/** The listers of every watched resource, shared by all controllers, by "group/version/resource". */
export interface Listers {
  of<T extends KubeObject>(resource: ResourceNames): Lister<T>;
  /** Whether some controller watches this resource now (dynamic watches come and go). */
  has(resource: ResourceNames): boolean;
}

export interface ReconcileContext {
  client: ApiClient;
  listers: Listers;
  /** Reports as this controller (its reportingController). */
  recorder: EventRecorder;
  now(): number;
  /** kube-controller-manager's flags, from the Worker's vars. */
  settings: ControllerSettings;
}

export interface ReconcileResult {
  /** Look at this key again after this many milliseconds (progress deadlines, minReadySeconds). */
  requeueAfter?: number;
}

export interface Watch {
  resource: ResourceNames;
  /** The keys ("namespace/name") to reconcile when this object changes. */
  keysFor(object: KubeObject, listers: Listers): string[];
  /** Reads only metadata: when every watch of a resource says so, its cache keeps only metadata. */
  metadataOnly?: boolean;
  /**
   * For a resource whose writes do not poke the manager (node Leases: heartbeats would wake it all
   * the time): its cache is caught up at most this often, not on every pass of every wake. Every
   * watch of the resource must say so.
   */
  catchUpEveryMs?: number;
}

/** The index every cache keeps: objects by their owners' uids (`lister.byIndex(OWNER_INDEX, uid)`). */
export const OWNER_INDEX = "owner";
/** Also kept by every cache: pods by `spec.nodeName` (`lister.byIndex(NODE_NAME_INDEX, node)`). */
export const NODE_NAME_INDEX = "nodeName";
/**
 * Also kept by every cache: objects no controller owns, by namespace (`lister.byIndex(ORPHAN_INDEX,
 * namespace)`), so a controller looking for orphans to adopt need not read the whole namespace.
 */
export const ORPHAN_INDEX = "orphan";

export function orphansByNamespace(object: KubeObject): string[] {
  return controllerRefOf(object) ? [] : [object.metadata?.namespace ?? ""];
}

export interface Controller {
  /** As kube names it: "replicaset-controller" is also its Events' reportingController. */
  name: string;
  watches: Watch[];
  /**
   * Watches that follow what the cluster serves (the garbage collector's custom resources): asked
   * after each catch-up; a resource newly named gets an informer, one no longer named loses it.
   */
  dynamicWatches?(listers: Listers): Watch[];
  reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult | void>;
}

export function resourceId(resource: ResourceNames): string {
  return `${resource.group}/${resource.version}/${resource.resource}`;
}

/** An object's "namespace/name" key. */
export function keyOf(object: KubeObject): string {
  return `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}

export function splitKey(key: string): [namespace: string, name: string] {
  const slash = key.indexOf("/");
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/** The owner reference with controller=true, if any. */
export function controllerRefOf(object: KubeObject) {
  return object.metadata?.ownerReferences?.find((ref) => ref.controller === true);
}

/** Whether a LabelSelector selects these labels; an invalid selector selects nothing. */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  try {
    return matchesLabels(labelSelectorFromObject(selector as LabelSelectorObject | undefined), labels);
  } catch {
    return false;
  }
}
