// Pod defaulting and selectable fields, shared by pods and every pod template (deployments,
// jobs, …), as kube-apiserver's defaulting fills them in.

type Obj = Record<string, any>;

function defaultContainer(c: Obj): void {
  if (c === null || typeof c !== "object") return;
  c.terminationMessagePath ??= "/dev/termination-log";
  c.terminationMessagePolicy ??= "File";
  c.imagePullPolicy ??= imagePullPolicy(c.image);
  c.resources ??= {};
  for (const port of list(c.ports)) port.protocol ??= "TCP";
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) defaultProbe(probe);
  for (const handler of [c.lifecycle?.postStart, c.lifecycle?.preStop]) defaultHttpGet(handler?.httpGet);
}

/** Probe timings and thresholds left at zero take kube's defaults. */
function defaultProbe(probe: Obj | undefined): void {
  if (!probe || typeof probe !== "object") return;
  if (!probe.timeoutSeconds) probe.timeoutSeconds = 1;
  if (!probe.periodSeconds) probe.periodSeconds = 10;
  if (!probe.successThreshold) probe.successThreshold = 1;
  if (!probe.failureThreshold) probe.failureThreshold = 3;
  defaultHttpGet(probe.httpGet);
}

function defaultHttpGet(action: Obj | undefined): void {
  if (!action || typeof action !== "object") return;
  if (!action.path) action.path = "/";
  if (!action.scheme) action.scheme = "HTTP";
}

/** Items of a list field, skipping what is not an object (validation reports those). */
function list(value: unknown): Obj[] {
  return Array.isArray(value) ? value.filter((v) => v !== null && typeof v === "object") : [];
}

/** The volume sources a v1 Volume may name, in the order kube's validation looks at them. */
export const VOLUME_SOURCES = ["emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs", "iscsi", "glusterfs", "flocker",
  "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte", "downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume",
  "photonPersistentDisk", "portworxVolume", "azureDisk", "storageos", "projected", "scaleIO", "csi", "ephemeral"];

/** A volume that names no source is an emptyDir, as kube defaults it. */
function defaultVolume(volume: Obj): void {
  if (!VOLUME_SOURCES.some((source) => volume[source] !== undefined && volume[source] !== null)) volume.emptyDir = {};
}

/** Always for :latest or no tag, IfNotPresent otherwise (a digest counts as a tag). */
function imagePullPolicy(image: unknown): string {
  if (typeof image !== "string") return "IfNotPresent";
  if (image.includes("@")) return "IfNotPresent";
  const lastSegment = image.slice(image.lastIndexOf("/") + 1);
  const tag = lastSegment.includes(":") ? lastSegment.slice(lastSegment.indexOf(":") + 1) : "";
  return tag === "" || tag === "latest" ? "Always" : "IfNotPresent";
}

/** `serviceAccount: false` for a mirror pod, which runs under no account (NodeRestriction refuses one that names any). */
export function defaultPodSpec(spec: Obj, { serviceAccount = true } = {}): void {
  spec.restartPolicy ??= "Always";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= "ClusterFirst";
  spec.securityContext ??= {};
  spec.schedulerName ??= "default-scheduler";
  if (serviceAccount) {
    spec.serviceAccountName ??= spec.serviceAccount ?? "default";
    spec.serviceAccount ??= spec.serviceAccountName;
  }
  spec.enableServiceLinks ??= true;
  for (const c of list(spec.containers)) defaultContainer(c);
  for (const c of list(spec.initContainers)) defaultContainer(c);
  for (const c of list(spec.ephemeralContainers)) defaultContainer(c);
  for (const v of list(spec.volumes)) defaultVolume(v);
}

export function podFields(pod: Obj): Record<string, string> {
  return {
    "spec.nodeName": pod.spec?.nodeName ?? "",
    "spec.restartPolicy": pod.spec?.restartPolicy ?? "",
    "spec.schedulerName": pod.spec?.schedulerName ?? "",
    "spec.serviceAccountName": pod.spec?.serviceAccountName ?? "",
    "spec.hostNetwork": String(!!pod.spec?.hostNetwork),
    "status.phase": pod.status?.phase ?? "",
    "status.podIP": pod.status?.podIP ?? "",
    "status.nominatedNodeName": pod.status?.nominatedNodeName ?? "",
  };
}
