// What a resource declares to be served by the one generic registry store: its names, scope,
// defaulting, validation, what an update may change, and selectable fields (its names come from lib/k8s/resources.ts).
import type { ApiError, StatusCause } from "../../lib/k8s/status.ts";
import { builtin, type ResourceNames } from "../../lib/k8s/resources.ts";
import type { UserInfo } from "../context.ts";
import type { TablePrinter } from "../printers/table.ts";
import type { ObjectStorage } from "../storage/object-storage.ts";

export type KubeObject = Record<string, any> & {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, any>;
};

/** A resource's names (from lib/k8s/resources.ts for built-ins) and its strategy. */
export interface ResourceDefinition extends ResourceNames {
  /** Its status may only be written through /status, and a main update keeps the old status. */
  hasStatus?: boolean;
  /** Served in this version but stored in another (kept under the same storage key). */
  conversion?: { toStorage(object: KubeObject): KubeObject; fromStorage(object: KubeObject): KubeObject };
  /** Serves /scale: an autoscaling/v1 Scale over spec.replicas, status.replicas and spec.selector. */
  scalable?: boolean;
  /** Where a custom resource keeps what /scale reads and writes (JSON paths such as ".spec.replicas"). */
  scalePaths?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
  /** Table columns, for kinds without a printer of their own (custom resources). */
  printer?: TablePrinter;
  /** The paths of fields its schema does not know (custom resources prune these on write). */
  unknownFields?(object: KubeObject): string[];
  /** Sent as a Warning with every answer about this resource, as kube warns of deprecated APIs. */
  deprecated?: string;
  /** A kind computed on each read, never stored (ComponentStatus, metrics.k8s.io): its objects now, for the request's namespace and selectors. */
  computed?(env: Env, request: ComputedRequest): Promise<KubeObject[]>;
  /** A review kind (create-only, nothing stored): answers a POST for the requesting user. */
  review?(env: Env, user: UserInfo, body: KubeObject): Promise<KubeObject>;
  /** A custom resource: the CRD that declares it, and its version's schema. */
  custom?: { crd: string; schema: Record<string, any> };
  /** Verbs beyond the standard set's absence, e.g. read-only or create-only resources. */
  verbs?: string[];
  /** Fills in defaults on create and update, as kube-apiserver's defaulting does. */
  defaults?(object: KubeObject): void;
  /** Field errors for a new or changed object. */
  validate?(object: KubeObject, old?: KubeObject): StatusCause[];
  /**
   * Field errors for a /status write, which keeps all but the status as stored: kube's status
   * strategies validate what may change there, not the whole object again. Without it, `validate` runs.
   */
  validateStatus?(object: KubeObject, old: KubeObject): StatusCause[];
  /** Field values for field selectors beyond metadata.name and metadata.namespace. */
  selectableFields?(object: KubeObject): Record<string, string>;
  /** Whether the object has a spec whose changes bump metadata.generation. */
  generation?: boolean;
  /** Top-level fields holding raw JSON (a RawExtension, as ControllerRevision.data) that the apiserver does not look into. */
  opaque?: string[];
  /** Claims what a new object needs from shared pools (service IPs, node ports); returns the keys to free if its create fails. */
  allocate?(object: KubeObject, storage: ObjectStorage): Promise<string[]>;
  /** Frees what a deleted object held. */
  release?(object: KubeObject, storage: ObjectStorage): Promise<void>;
  /**
   * Deletion beyond metadata.finalizers: `refuse` stops a delete (kube's system namespaces),
   * `mark` changes an object as its deletion starts (a Namespace turns Terminating), and `pending`
   * says what else still holds it (a Namespace's spec.finalizers); it goes once nothing does.
   */
  deletion?: { refuse?(object: KubeObject): ApiError | undefined; mark?(object: KubeObject): void; pending?(object: KubeObject): boolean };
  /** Seconds its objects live after their last write (Events: EVENT_TTL_SECONDS); they never expire without it. */
  ttl?(env: Env): number;
  /** Carries over what an update may not change or drop (e.g. a service's allocated addresses). */
  keepOnUpdate?(next: KubeObject, current: KubeObject): void;
}

/** What a get or list of a computed kind asks for: the objects of a namespace (all when absent), by name or selectors. */
export interface ComputedRequest {
  namespace?: string;
  name?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export type AdmissionOperation = "CREATE" | "UPDATE" | "DELETE";

/** What the registry store calls around a write: the admission chain (worker/admission/) implements it. */
export interface AdmissionHooks {
  mutate(operation: AdmissionOperation, object: KubeObject | undefined, old: KubeObject | undefined): Promise<void>;
  validate(operation: AdmissionOperation, object: KubeObject | undefined, old: KubeObject | undefined): Promise<void>;
  deleted(object: KubeObject): Promise<void>;
}

/** What a built-in resource declares: its names from the one table, plus its strategy. */
export type Strategy = Omit<ResourceDefinition, keyof ResourceNames>;

/** A built-in resource served by the generic store: `declare("apps/v1", "deployments", { defaults… })`. */
export function declare(groupVersion: string, resource: string, strategy: Strategy = {}): ResourceDefinition {
  return { ...builtin(groupVersion, resource), ...strategy };
}

export const STANDARD_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export function groupVersion(def: ResourceDefinition): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}
