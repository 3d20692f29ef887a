// storage.k8s.io/v1: StorageClasses, which say how claims of a class get their volumes.
import { defaultStorageClass, validateStorageClass } from "./persistent-volumes.ts";
import { declare, type ResourceDefinition } from "./types.ts";

export const storageResources: ResourceDefinition[] = [
  declare("storage.k8s.io/v1", "storageclasses", { generation: false, defaults: defaultStorageClass, validate: validateStorageClass }),
];
