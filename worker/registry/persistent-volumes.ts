// PersistentVolumes and PersistentVolumeClaims (core/v1) and StorageClasses (storage.k8s.io/v1):
// kube-apiserver's defaults and the validation of the fields the binder and provisioners use.
import { parseQuantity, QuantityError } from "../../lib/k8s/quantity.ts";
import type { StatusCause } from "../../lib/k8s/status.ts";
import { fieldErrors, goJson, goStringMap } from "./field-errors.ts";
import type { KubeObject } from "./types.ts";

const ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
const VOLUME_MODES = ["Block", "Filesystem"];
const PV_RECLAIM_POLICIES = ["Delete", "Recycle", "Retain"];
const CLASS_RECLAIM_POLICIES = ["Delete", "Retain"];
const BINDING_MODES = ["Immediate", "WaitForFirstConsumer"];
/** The spec fields of a PersistentVolume that name its volume source (PersistentVolumeSource). */
const PV_SOURCES = [
  "gcePersistentDisk", "awsElasticBlockStore", "hostPath", "glusterfs", "nfs", "rbd", "iscsi", "cinder", "cephfs", "fc", "flocker",
  "flexVolume", "azureFile", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "local",
  "storageos", "csi",
];

export function defaultPersistentVolume(pv: KubeObject): void {
  pv.spec ??= {};
  pv.spec.persistentVolumeReclaimPolicy ??= "Retain";
  pv.spec.volumeMode ??= "Filesystem";
  pv.status ??= {};
  pv.status.phase ??= "Pending";
}

export function defaultPersistentVolumeClaim(pvc: KubeObject): void {
  pvc.spec ??= {};
  pvc.spec.volumeMode ??= "Filesystem";
  pvc.status ??= {};
  pvc.status.phase ??= "Pending";
}

export function defaultStorageClass(sc: KubeObject): void {
  sc.reclaimPolicy ??= "Delete";
  sc.volumeBindingMode ??= "Immediate";
}

function validateAccessModes(field: string, modes: unknown, detail: string): StatusCause[] {
  if (!Array.isArray(modes) || modes.length === 0) return [fieldErrors.required(field, detail)];
  const causes = modes.filter((m) => !ACCESS_MODES.includes(m)).map((m) => fieldErrors.notSupported(field, String(m), ACCESS_MODES));
  if (modes.includes("ReadWriteOncePod") && modes.length > 1) causes.push(fieldErrors.forbidden(field, "may not use ReadWriteOncePod with other access modes"));
  return causes;
}

function validateVolumeMode(field: string, mode: unknown): StatusCause[] {
  return mode === undefined || VOLUME_MODES.includes(mode as string) ? [] : [fieldErrors.notSupported(field, String(mode), VOLUME_MODES)];
}

function validStorageQuantity(text: unknown): bigint | undefined {
  try {
    return typeof text === "string" || typeof text === "number" ? parseQuantity(text) : undefined;
  } catch (e) {
    if (e instanceof QuantityError) return undefined;
    throw e;
  }
}

/** ValidatePersistentVolume (and its update: the volume source is immutable). */
export function validatePersistentVolume(pv: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = pv.spec ?? {};
  const causes: StatusCause[] = [];
  causes.push(...validateAccessModes("spec.accessModes", spec.accessModes, ""));
  const capacity = spec.capacity as Record<string, unknown> | undefined;
  if (!capacity || Object.keys(capacity).length === 0) causes.push(fieldErrors.required("spec.capacity"));
  else if (!("storage" in capacity) || Object.keys(capacity).length > 1) causes.push(fieldErrors.notSupported("spec.capacity", goStringMap(capacity), ["storage"]));
  else if (validStorageQuantity(capacity.storage) === undefined) causes.push(fieldErrors.invalid("spec.capacity[storage]", String(capacity.storage), "must be a quantity"));
  const sources = PV_SOURCES.filter((s) => spec[s] !== undefined && spec[s] !== null);
  if (sources.length === 0) causes.push(fieldErrors.required("spec", "must specify a volume type"));
  if (sources.length > 1) causes.push(fieldErrors.forbidden(`spec.${sources[1]}`, "may not specify more than 1 volume type"));
  if (spec.hostPath && !spec.hostPath.path) causes.push(fieldErrors.required("spec.hostPath.path"));
  if (spec.local) {
    if (!spec.local.path) causes.push(fieldErrors.required("spec.local.path"));
    if (!spec.nodeAffinity) causes.push(fieldErrors.required("spec.nodeAffinity", "Local volume requires node affinity"));
  }
  if (spec.nodeAffinity && !spec.nodeAffinity.required) causes.push(fieldErrors.required("spec.nodeAffinity.required", "must have at least one node selector term"));
  if (!PV_RECLAIM_POLICIES.includes(spec.persistentVolumeReclaimPolicy)) causes.push(fieldErrors.notSupported("spec.persistentVolumeReclaimPolicy", spec.persistentVolumeReclaimPolicy, PV_RECLAIM_POLICIES));
  causes.push(...validateVolumeMode("spec.volumeMode", spec.volumeMode));
  if (old) {
    const source = (s: Record<string, any>) => canonicalJson(PV_SOURCES.map((k) => s[k] ?? null));
    if (source(spec) !== source(old.spec ?? {})) causes.push(fieldErrors.forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation"));
    if ((spec.volumeMode ?? "") !== (old.spec?.volumeMode ?? "")) causes.push(fieldErrors.invalid("spec.volumeMode", spec.volumeMode, "field is immutable"));
    if (old.spec?.nodeAffinity && canonicalJson(spec.nodeAffinity) !== canonicalJson(old.spec.nodeAffinity)) causes.push(fieldErrors.invalid("nodeAffinity", goJson(spec.nodeAffinity), "field is immutable"));
  }
  return causes;
}

/** JSON with object keys sorted, so equal values compare equal whatever order they were written in. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v));
}

/** A claim's spec with what an update may still set: volumeName and storageClassName, once each. */
function frozenClaimSpec(spec: Record<string, any>, old: Record<string, any>): string {
  const { volumeName, storageClassName, ...rest } = spec;
  return canonicalJson({
    ...rest,
    volumeName: old.volumeName ? volumeName : old.volumeName,
    storageClassName: old.storageClassName !== undefined ? storageClassName : old.storageClassName,
  });
}

/** ValidatePersistentVolumeClaim (and its update: the spec is immutable but for binding it). */
export function validatePersistentVolumeClaim(pvc: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = pvc.spec ?? {};
  const causes: StatusCause[] = [];
  causes.push(...validateAccessModes("spec.accessModes", spec.accessModes, "at least 1 access mode is required"));
  const storage = spec.resources?.requests?.storage;
  if (storage === undefined) causes.push(fieldErrors.required("spec.resources[storage]"));
  else {
    const quantity = validStorageQuantity(storage);
    if (quantity === undefined) causes.push(fieldErrors.invalid("spec.resources[storage]", String(storage), "must be a quantity"));
    else if (quantity <= 0n) causes.push(fieldErrors.invalid("spec.resources[storage]", String(storage), "must be greater than zero"));
  }
  causes.push(...validateVolumeMode("spec.volumeMode", spec.volumeMode));
  if (old && frozenClaimSpec(spec, old.spec ?? {}) !== frozenClaimSpec(old.spec ?? {}, old.spec ?? {})) {
    causes.push(fieldErrors.forbidden("spec", "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"));
  }
  return causes;
}

/** ValidateStorageClass (and its update: what provisions is immutable). */
export function validateStorageClass(sc: KubeObject, old?: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!sc.provisioner) causes.push(fieldErrors.required("provisioner"));
  if (!CLASS_RECLAIM_POLICIES.includes(sc.reclaimPolicy)) causes.push(fieldErrors.notSupported("reclaimPolicy", sc.reclaimPolicy, CLASS_RECLAIM_POLICIES));
  if (!BINDING_MODES.includes(sc.volumeBindingMode)) causes.push(fieldErrors.notSupported("volumeBindingMode", sc.volumeBindingMode, BINDING_MODES));
  if (old) {
    if (canonicalJson(sc.parameters ?? {}) !== canonicalJson(old.parameters ?? {})) causes.push(fieldErrors.forbidden("parameters", "updates to parameters are forbidden."));
    if (sc.provisioner !== old.provisioner) causes.push(fieldErrors.forbidden("provisioner", "updates to provisioner are forbidden."));
    if (sc.reclaimPolicy !== old.reclaimPolicy) causes.push(fieldErrors.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."));
    if (sc.volumeBindingMode !== old.volumeBindingMode) causes.push(fieldErrors.invalid("volumeBindingMode", sc.volumeBindingMode, "field is immutable"));
  }
  return causes;
}
