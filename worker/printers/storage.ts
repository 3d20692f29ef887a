// Table columns for storage: PersistentVolumes (core group) and StorageClasses, as kube prints them.
import type { PersistentVolume } from "kubernetes-types/core/v1";
import type { StorageClass } from "kubernetes-types/storage/v1";
import { accessModes } from "./core.ts";
import { age, ageColumn, column, nameColumn, nameOf, type TablePrinter } from "./table.ts";
import { ANN_IS_DEFAULT_CLASS } from "../../lib/k8s/storage.ts";

const persistentVolume: TablePrinter<PersistentVolume> = {
  columns: [
    nameColumn,
    column("Capacity", "string", "The volume's storage capacity."),
    column("Access Modes", "string", "The volume's access modes."),
    column("Reclaim Policy", "string", "What happens to the volume when its claim is released."),
    column("Status", "string", "The volume's phase: Pending, Available, Bound, Released or Failed, or Terminating."),
    column("Claim", "string", "The claim bound to the volume."),
    column("StorageClass", "string", "The volume's storage class."),
    column("VolumeAttributesClass", "string", "The volume's attributes class."),
    column("Reason", "string", "Why the volume is in its phase."),
    ageColumn,
    column("VolumeMode", "string", "Filesystem or Block.", { priority: 1 }),
  ],
  cells(pv, now) {
    const spec = pv.spec ?? {};
    const claim = spec.claimRef ? `${spec.claimRef.namespace ?? ""}/${spec.claimRef.name ?? ""}` : "";
    return [
      nameOf(pv),
      String(spec.capacity?.storage ?? "0"),
      accessModes(spec.accessModes),
      spec.persistentVolumeReclaimPolicy ?? "",
      pv.metadata?.deletionTimestamp ? "Terminating" : (pv.status?.phase ?? ""),
      claim,
      pv.metadata?.annotations?.["volume.beta.kubernetes.io/storage-class"] ?? spec.storageClassName ?? "",
      spec.volumeAttributesClassName ?? "<unset>",
      pv.status?.reason ?? "",
      age(pv, now),
      spec.volumeMode ?? "<unset>",
    ];
  },
};

const storageClass: TablePrinter<StorageClass> = {
  columns: [
    nameColumn,
    column("Provisioner", "string", "Who provisions the class's volumes."),
    column("ReclaimPolicy", "string", "What happens to a provisioned volume when its claim is released."),
    column("VolumeBindingMode", "string", "When claims of the class are bound: Immediate or WaitForFirstConsumer."),
    column("AllowVolumeExpansion", "string", "Whether claims of the class may grow."),
    ageColumn,
  ],
  cells(sc, now) {
    const isDefault = sc.metadata?.annotations?.[ANN_IS_DEFAULT_CLASS] === "true";
    return [
      `${nameOf(sc)}${isDefault ? " (default)" : ""}`,
      sc.provisioner ?? "",
      sc.reclaimPolicy ?? "Delete",
      sc.volumeBindingMode ?? "Immediate",
      String(sc.allowVolumeExpansion ?? false),
      age(sc, now),
    ];
  },
};

export const storagePrinters: Record<string, TablePrinter> = {
  "/PersistentVolume": persistentVolume,
  "storage.k8s.io/StorageClass": storageClass,
};
