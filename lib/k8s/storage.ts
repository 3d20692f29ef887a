// The names the PersistentVolume binder, the scheduler and provisioners agree on (kube's
// pv.kubernetes.io/… and volume.kubernetes.io/… annotations), and edgeplane's local-path
// StorageClass, which the node agent provisions as directories on the node a pod landed on.
import type { StorageClass } from "kubernetes-types/storage/v1";

/** On a claim whose binding the binder finished. */
export const ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed";
/** On a claim or volume the binder (not the user) bound to the other. */
export const ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller";
/** On a volume: the provisioner that made it (and so deletes it). */
export const ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by";
/** On a claim: the provisioner asked to make its volume (and the beta name kube still writes). */
export const ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner";
export const ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner";
/** On a claim of a WaitForFirstConsumer class: the node its first pod was scheduled to. */
export const ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node";
/** On a StorageClass: the class claims without one get. */
export const ANN_IS_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class";

/** On every claim and volume from creation (StorageObjectInUseProtection): held while a pod uses the claim / while the volume is bound. */
export const PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection";
export const PV_PROTECTION_FINALIZER = "kubernetes.io/pv-protection";

/** The provisioner of classes whose volumes are only ever made by hand (static local volumes). */
export const NO_PROVISIONER = "kubernetes.io/no-provisioner";

export const LOCAL_PATH_PROVISIONER = "edgeplane.dev/local-path";
/** On a local-path volume: the node whose directory it is (agents list their own volumes by it). */
export const LOCAL_PATH_NODE_LABEL = "edgeplane.dev/local-path-node";

/** The cluster's default class, made at start (worker/apiserver/bootstrap.ts). */
export const LOCAL_PATH_STORAGE_CLASS: StorageClass = {
  apiVersion: "storage.k8s.io/v1",
  kind: "StorageClass",
  metadata: { name: "local-path", annotations: { [ANN_IS_DEFAULT_CLASS]: "true" } },
  provisioner: LOCAL_PATH_PROVISIONER,
  reclaimPolicy: "Delete",
  volumeBindingMode: "WaitForFirstConsumer",
};
