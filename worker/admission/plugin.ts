// What an admission plugin is given and may do (the chain itself is in index.ts).
import type { UserInfo } from "../context.ts";
import type { KubeObject, ResourceDefinition } from "../registry/types.ts";

export type Operation = "CREATE" | "UPDATE" | "DELETE";

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

/** Whether the write is of a pod itself (not a subresource such as status or binding). */
export function isPodWrite(a: AdmissionAttributes): boolean {
  return a.def.group === "" && a.def.resource === "pods" && !a.subresource;
}
