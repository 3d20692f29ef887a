// What a resource declares to be served by the one generic registry store: its names, scope,
// storage prefix, defaulting, validation, what an update may change, and selectable fields.
import type { StatusCause } from "../../lib/k8s/status.ts";
import type { UserInfo } from "../context.ts";
import type { TablePrinter } from "../printers/table.ts";
import type { ObjectStorage } from "../storage/object-storage.ts";

export type KubeObject = Record<string, any> & {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, any>;
};

export interface ResourceDefinition {
  group: string;
  version: string;
  kind: string;
  /** Plural, lower case: the URL segment. */
  resource: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  /** Storage key segment after /registry/ (kube keeps most built-ins without their group). */
  storagePrefix?: string;
  /** Its status may only be written through /status, and a main update keeps the old status. */
  hasStatus?: boolean;
  /** Served in this version but stored in another (kept under the same storagePrefix). */
  conversion?: { toStorage(object: KubeObject): KubeObject; fromStorage(object: KubeObject): KubeObject };
  /** Serves /scale: an autoscaling/v1 Scale over spec.replicas, status.replicas and spec.selector. */
  scalable?: boolean;
  /** Where a custom resource keeps what /scale reads and writes (JSON paths such as ".spec.replicas"). */
  scalePaths?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
  /** Table columns, for kinds without a printer of their own (custom resources). */
  printer?: TablePrinter;
  /** The paths of fields its schema does not know (custom resources prune these on write). */
  unknownFields?(object: KubeObject): string[];
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
  /** Field values for field selectors beyond metadata.name and metadata.namespace. */
  selectableFields?(object: KubeObject): Record<string, string>;
  /** Whether the object has a spec whose changes bump metadata.generation. */
  generation?: boolean;
  /** Claims what a new object needs from shared pools (service IPs, node ports); returns the keys to free if its create fails. */
  allocate?(object: KubeObject, storage: ObjectStorage): Promise<string[]>;
  /** Frees what a deleted object held. */
  release?(object: KubeObject, storage: ObjectStorage): Promise<void>;
  /** Carries over what an update may not change or drop (e.g. a service's allocated addresses). */
  keepOnUpdate?(next: KubeObject, current: KubeObject): void;
}

export const STANDARD_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export function groupVersion(def: ResourceDefinition): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}
