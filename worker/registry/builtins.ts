// The built-in resources' declarations by name, for code that reads or writes objects of a known
// kind (admission, authentication, authorization, bootstrap): one way to the data, the generic store.
import { admissionregistrationResources } from "./admissionregistration.ts";
import { appsResources } from "./apps.ts";
import { autoscalingResources } from "./autoscaling.ts";
import { batchResources } from "./batch.ts";
import { coordinationResources } from "./coordination.ts";
import { coreResources } from "./core.ts";
import { discoveryResources } from "./discovery.ts";
import { eventsResources } from "./events.ts";
import { networkingResources } from "./networking.ts";
import { policyResources } from "./policy.ts";
import { rbacResources } from "./rbac.ts";
import { schedulingResources } from "./scheduling.ts";
import { storageResources } from "./storage.ts";
import { RegistryStore } from "./store.ts";
import type { ResourceDefinition } from "./types.ts";
import type { ObjectStorage } from "../storage/object-storage.ts";
import { splitApiVersion } from "../../lib/k8s/resources.ts";

/** Every built-in kind the generic store serves, in discovery's order (core first). */
export const builtinDefinitions: ResourceDefinition[] = [
  ...coreResources, ...appsResources, ...batchResources, ...coordinationResources, ...discoveryResources, ...eventsResources,
  ...policyResources, ...schedulingResources, ...rbacResources, ...autoscalingResources, ...networkingResources,
  ...admissionregistrationResources, ...storageResources,
];

const byName = new Map(builtinDefinitions.map((def) => [`${def.group}/${def.version}/${def.resource}`, def]));

/** The declaration of a built-in resource: builtinDefinition("v1", "pods"). */
export function builtinDefinition(groupVersion: string, resource: string): ResourceDefinition {
  const [group, version] = splitApiVersion(groupVersion);
  const def = byName.get(`${group}/${version}/${resource}`);
  if (!def) throw new Error(`no built-in resource ${resource} in ${groupVersion}`);
  return def;
}

/** The generic store of a built-in resource: builtinStore(storage, "v1", "pods").get(ns, name). */
export function builtinStore(storage: ObjectStorage, groupVersion: string, resource: string): RegistryStore {
  return new RegistryStore(builtinDefinition(groupVersion, resource), storage);
}
