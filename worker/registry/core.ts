// core/v1 resources: what each declares beyond the generic store.
import { declare, type ResourceDefinition } from "./types.ts";
import { apiErrors, type StatusCause } from "../../lib/k8s/status.ts";
import { defaultPodSpec, podFields } from "./pods.ts";
import { validatePod, validatePodStatus, validatePodTemplate } from "./pod-validation.ts";
import { defaultPersistentVolume, defaultPersistentVolumeClaim, validatePersistentVolume, validatePersistentVolumeClaim } from "./persistent-volumes.ts";
import { defaultReplicationControllerSelector, validateReplicationController } from "./workload-validation.ts";
import { allocateServiceAddresses, DEFAULT_SERVICE_CIDR, heldAddresses, parseCidr, releaseAll, type Cidr } from "./services.ts";
import { toBase64 } from "../../lib/etcd/gateway-json.ts";
import { eventTTLSeconds } from "./object-leases.ts";

let cidrCache: { text: string; cidr: Cidr } | undefined;
export function serviceCidr(env: Env): Cidr {
  const text = env.SERVICE_CIDR || DEFAULT_SERVICE_CIDR;
  if (cidrCache?.text !== text) cidrCache = { text, cidr: parseCidr(text) };
  return cidrCache.cidr;
}

/** Namespaces kube-apiserver creates and never lets go. */
export const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];
const UNDELETABLE_NAMESPACES = ["default", "kube-system", "kube-public"];

export const coreResources: ResourceDefinition[] = [
  declare("v1", "namespaces", {
    hasStatus: true, generation: false,
    defaults(ns) {
      ns.spec ??= {};
      ns.spec.finalizers ??= ["kubernetes"];
      ns.status ??= {};
      ns.status.phase ??= "Active";
      ns.metadata!.labels = { ...ns.metadata!.labels, "kubernetes.io/metadata.name": ns.metadata!.name };
    },
    selectableFields: (ns) => ({ "status.phase": ns.status?.phase ?? "" }),
    deletion: {
      refuse: (ns) => (UNDELETABLE_NAMESPACES.includes(ns.metadata?.name) ? apiErrors.forbidden(`namespaces "${ns.metadata?.name}" is forbidden: this namespace may not be deleted`) : undefined),
      mark(ns) {
        ns.status = { ...ns.status, phase: "Terminating" };
      },
      // The namespace controller empties it, then drops the "kubernetes" finalizer (namespaces/finalize).
      pending: (ns) => (ns.spec?.finalizers ?? []).length > 0,
    },
  }),
  declare("v1", "pods", {
    hasStatus: true, generation: false,
    defaults(pod) {
      pod.spec ??= {};
      defaultPodSpec(pod.spec, { serviceAccount: !pod.metadata?.annotations?.["kubernetes.io/config.mirror"] });
      defaultHostNetworkPorts(pod.spec);
      pod.status ??= {};
      pod.status.phase ??= "Pending";
      pod.status.qosClass ??= qosClass(pod.spec);
    },
    validate: validatePod,
    validateStatus: validatePodStatus,
    selectableFields: podFields,
  }),
  declare("v1", "services", {
    hasStatus: true, generation: false,
    defaults(svc) {
      svc.spec ??= {};
      svc.spec.type ??= "ClusterIP";
      svc.spec.sessionAffinity ??= "None";
      svc.spec.ipFamilyPolicy ??= "SingleStack";
      svc.spec.ipFamilies ??= ["IPv4"];
      svc.spec.internalTrafficPolicy ??= "Cluster";
      if (svc.spec.type === "NodePort" || svc.spec.type === "LoadBalancer") svc.spec.externalTrafficPolicy ??= "Cluster";
      for (const port of svc.spec.ports ?? []) {
        port.protocol ??= "TCP";
        port.targetPort ??= port.port;
      }
      svc.status ??= { loadBalancer: {} };
    },
    allocate: (svc, storage) => allocateServiceAddresses(storage, svc, serviceCidr(storage.env)),
    release: (svc, storage) => releaseAll(storage, heldAddresses(svc)),
    keepOnUpdate(next, current) {
      next.spec ??= {};
      next.spec.clusterIP ??= current.spec?.clusterIP;
      next.spec.clusterIPs ??= current.spec?.clusterIPs;
      for (const port of next.spec.ports ?? []) {
        const before = (current.spec?.ports ?? []).find((p: any) => p.port === port.port && (p.protocol ?? "TCP") === (port.protocol ?? "TCP"));
        if (before?.nodePort && !port.nodePort && ["NodePort", "LoadBalancer"].includes(next.spec.type ?? current.spec?.type)) port.nodePort = before.nodePort;
      }
    },
    validate(svc, old) {
      if (old && old.spec?.clusterIP && svc.spec?.clusterIP !== old.spec.clusterIP) {
        return [{ reason: "FieldValueInvalid", field: "spec.clusterIPs[0]", message: `Invalid value: ${JSON.stringify(svc.spec?.clusterIP ?? "")}: may not change once set` }];
      }
      return [];
    },
  }),
  declare("v1", "endpoints", { generation: false }),
  declare("v1", "configmaps", { generation: false, validate: (cm) => validateDataMaps(cm, ["data", "binaryData"]) }),
  declare("v1", "secrets", {
    generation: false,
    defaults(secret) {
      secret.type ??= "Opaque";
      // stringData is write-only: merged into data (base64), over data's keys, as kube does.
      if (secret.stringData && typeof secret.stringData === "object") {
        const encoded = Object.entries(secret.stringData as Record<string, unknown>).map(([k, v]) => [k, toBase64(new TextEncoder().encode(String(v)))]);
        secret.data = { ...secret.data, ...Object.fromEntries(encoded) };
      }
      delete secret.stringData;
    },
    selectableFields: (secret) => ({ type: secret.type ?? "" }),
    validate: (secret) => validateDataMaps(secret, ["data"]),
  }),
  declare("v1", "serviceaccounts", { generation: false }),
  declare("v1", "nodes", {
    hasStatus: true, generation: false,
    selectableFields: (node) => ({ "spec.unschedulable": String(!!node.spec?.unschedulable) }),
  }),
  declare("v1", "events", {
    generation: false,
    // Events expire an hour (EVENT_TTL_SECONDS) after their last write, as kube-apiserver's --event-ttl.
    ttl: eventTTLSeconds,
    selectableFields: (ev) => ({
      "involvedObject.kind": ev.involvedObject?.kind ?? "", "involvedObject.namespace": ev.involvedObject?.namespace ?? "",
      "involvedObject.name": ev.involvedObject?.name ?? "", "involvedObject.uid": ev.involvedObject?.uid ?? "",
      "involvedObject.apiVersion": ev.involvedObject?.apiVersion ?? "", "involvedObject.resourceVersion": ev.involvedObject?.resourceVersion ?? "",
      "involvedObject.fieldPath": ev.involvedObject?.fieldPath ?? "", reason: ev.reason ?? "", reportingComponent: ev.reportingComponent ?? "",
      source: ev.source?.component ?? "", type: ev.type ?? "",
    }),
  }),
  declare("v1", "podtemplates", {
    generation: false,
    defaults(podTemplate) {
      if (podTemplate.template?.spec) defaultPodSpec(podTemplate.template.spec);
    },
    validate: validatePodTemplate,
  }),
  declare("v1", "limitranges", { generation: false }),
  // Binding claims to volumes is the PV binder's (durable-objects/controllers/persistentvolume-binder.ts).
  declare("v1", "persistentvolumeclaims", {
    hasStatus: true, generation: false, defaults: defaultPersistentVolumeClaim, validate: validatePersistentVolumeClaim,
  }),
  declare("v1", "persistentvolumes", {
    hasStatus: true, generation: false, defaults: defaultPersistentVolume, validate: validatePersistentVolume,
  }),
  declare("v1", "resourcequotas", { hasStatus: true, generation: false }),
  declare("v1", "replicationcontrollers", {
    hasStatus: true, scalable: true,
    defaults(rc) {
      rc.spec ??= {};
      defaultReplicationControllerSelector(rc);
      rc.spec.replicas ??= 1;
      if (rc.spec.template?.spec) defaultPodSpec(rc.spec.template.spec);
    },
    validate: validateReplicationController,
  }),
];

/** A pod on the host network listens on the host's ports: hostPort defaults to containerPort. */
function defaultHostNetworkPorts(spec: Record<string, any>): void {
  if (!spec.hostNetwork) return;
  for (const c of [...(Array.isArray(spec.containers) ? spec.containers : []), ...(Array.isArray(spec.initContainers) ? spec.initContainers : [])]) {
    for (const port of Array.isArray(c?.ports) ? c.ports : []) if (port && !port.hostPort) port.hostPort = port.containerPort;
  }
}

function qosClass(spec: Record<string, any>): string {
  const containers = [...(spec.containers ?? []), ...(spec.initContainers ?? [])];
  let anySet = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) anySet = true;
    for (const r of ["cpu", "memory"]) {
      if (!lim[r] || (req[r] !== undefined && req[r] !== lim[r])) guaranteed = false;
    }
  }
  return guaranteed ? "Guaranteed" : anySet ? "Burstable" : "BestEffort";
}

/** ConfigMap and Secret data: maps of strings, at most 1 MiB together, as kube-apiserver allows. */
function validateDataMaps(object: Record<string, any>, fields: string[]): StatusCause[] {
  const causes: StatusCause[] = [];
  let total = 0;
  for (const field of fields) {
    const map = object[field];
    if (map === undefined || map === null) continue;
    if (typeof map !== "object" || Array.isArray(map)) {
      causes.push({ reason: "FieldValueInvalid", field, message: "Invalid value: must be a map of strings" });
      continue;
    }
    for (const [key, value] of Object.entries(map)) {
      if (typeof value !== "string") causes.push({ reason: "FieldValueInvalid", field: `${field}[${key}]`, message: "Invalid value: must be a string" });
      else total += key.length + value.length;
    }
  }
  if (total > 1024 * 1024) causes.push({ reason: "FieldValueTooLong", field: fields[0]!, message: `Too long: must have at most 1048576 bytes` });
  return causes;
}
