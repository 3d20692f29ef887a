// StorageObjectInUseProtection: a PersistentVolumeClaim is created with the
// `kubernetes.io/pvc-protection` finalizer and a PersistentVolume with `kubernetes.io/pv-protection`,
// so deleting one that is still in use leaves it Terminating until the controller manager's
// pvc-protection / pv-protection controllers see it is no longer used and remove the finalizer.
import type { AdmissionPlugin } from "./plugin.ts";
import { PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER } from "../../lib/k8s/storage.ts";

const FINALIZER_OF: Record<string, string> = { persistentvolumeclaims: PVC_PROTECTION_FINALIZER, persistentvolumes: PV_PROTECTION_FINALIZER };

export const storageObjectInUseProtection: AdmissionPlugin = {
  name: "StorageObjectInUseProtection",
  mutate(a) {
    const finalizer = FINALIZER_OF[a.def.resource];
    if (a.operation !== "CREATE" || a.subresource || a.def.group !== "" || !finalizer || !a.object) return;
    const metadata = (a.object.metadata ??= {});
    if (!metadata.finalizers?.includes(finalizer)) metadata.finalizers = [...(metadata.finalizers ?? []), finalizer];
  },
};
