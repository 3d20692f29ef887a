// What an admission plugin is given and may do (the chain itself is in index.ts).
import type { UserInfo } from "../context.ts";
import type { AdmissionOperation, KubeObject, ResourceDefinition } from "../registry/types.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { namespaceLister } from "../registry/listers.ts";

export type Operation = AdmissionOperation;

export interface AdmissionAttributes {
  env: Env;
  user: UserInfo;
  operation: Operation;
  def: ResourceDefinition;
  namespace?: string;
  subresource?: string;
  object?: KubeObject;
  oldObject?: KubeObject;
  dryRun: boolean;
  /** Warning headers for the answer. */
  warnings: string[];
  /** Store reads this request already made, by what was read (see readOnce). */
  reads: Map<string, Promise<unknown>>;
}

export interface AdmissionPlugin {
  name: string;
  mutate?(a: AdmissionAttributes): Promise<void> | void;
  validate?(a: AdmissionAttributes): Promise<void> | void;
  /** Gives back what validate took, when the write fails after it. */
  rollback?(a: AdmissionAttributes): Promise<void>;
  /** After an object is really gone from the store (quota usage goes down). */
  deleted?(a: AdmissionAttributes): Promise<void>;
}

/** A store read made once per request, however many plugins (or phases) ask for it. */
export function readOnce<T>(a: AdmissionAttributes, key: string, read: () => Promise<T>): Promise<T> {
  let value = a.reads.get(key) as Promise<T> | undefined;
  if (!value) {
    value = read();
    a.reads.set(key, value);
  }
  return value;
}

/** The request's namespace object (undefined when it has none, or it does not exist). */
export function namespaceOf(a: AdmissionAttributes): Promise<Record<string, any> | undefined> {
  return readOnce(a, "namespace", async () => (a.namespace ? namespaceLister(new ObjectStorage(a.env), a.namespace) : undefined));
}

/** Whether the write is of a pod itself (not a subresource such as status or binding). */
export function isPodWrite(a: AdmissionAttributes): boolean {
  return a.def.group === "" && a.def.resource === "pods" && !a.subresource;
}
