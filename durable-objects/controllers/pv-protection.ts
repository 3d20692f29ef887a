// The pv-protection controller (kube-controller-manager 1.30): a PersistentVolume being deleted
// keeps its `kubernetes.io/pv-protection` finalizer while it is Bound to a claim; once it is not
// (Released, Available, Failed), the finalizer goes and the volume with it. Volumes made without
// the finalizer get it.
import type { PersistentVolume } from "kubernetes-types/core/v1";
import { PV_PROTECTION_FINALIZER } from "../../lib/k8s/storage.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { keyOf, splitKey, type Controller } from "./framework.ts";
import { isDeletionCandidate, needsFinalizer, setFinalizer } from "./storage-protection.ts";

const VOLUMES = builtin("v1", "persistentvolumes");

export const pvProtectionController: Controller = {
  name: "pv-protection-controller",
  watches: [
    { resource: VOLUMES, keysFor: (pv) => (needsFinalizer(pv, PV_PROTECTION_FINALIZER) || isDeletionCandidate(pv, PV_PROTECTION_FINALIZER) ? [keyOf(pv)] : []) },
  ],
  async reconcile(key, ctx) {
    const [, name] = splitKey(key);
    const volume = ctx.listers.of<PersistentVolume>(VOLUMES).get(undefined, name);
    if (!volume) return;
    const api = ctx.client.resource(VOLUMES);
    if (isDeletionCandidate(volume, PV_PROTECTION_FINALIZER)) {
      if (volume.status?.phase === "Bound") return;
      await setFinalizer(api, volume, PV_PROTECTION_FINALIZER, false);
    } else if (needsFinalizer(volume, PV_PROTECTION_FINALIZER)) {
      await setFinalizer(api, volume, PV_PROTECTION_FINALIZER, true);
    }
  },
};
