// Table columns for the core ("") group, cell for cell as kube-apiserver prints them.
// Absent fields read as their API defaults, since kube prints objects after defaulting.
import type {
  ComponentStatus,
  ConfigMap,
  Container,
  ContainerStatus,
  Endpoints,
  Event,
  Namespace,
  Node,
  PersistentVolumeClaim,
  Pod,
  PodStatus,
  PodTemplate,
  ReplicationController,
  ResourceQuota,
  Secret,
  Service,
  ServiceAccount,
} from "kubernetes-types/core/v1";
import {
  age,
  ageColumn,
  column,
  compareStrings,
  containerCells,
  containersColumn,
  formatLabels,
  humanDuration,
  imagesColumn,
  nameColumn,
  nameOf,
  parseTime,
  podTemplateColumns,
  since,
  type TablePrinter,
} from "./table.ts";

/** The Pod.status.reason the node lifecycle controller sets on pods of an unreachable node. */
const NODE_LOST = "NodeLost";

const isSidecar = (container: Container | undefined) => container?.restartPolicy === "Always";

/** The later of a running latest time and a container's last termination time. */
function laterFinish(latest: number | undefined, status: ContainerStatus): number | undefined {
  const finished = parseTime(status.lastState?.terminated?.finishedAt);
  if (finished === undefined) return latest;
  return latest === undefined || finished > latest ? finished : latest;
}

function conditionTrue(status: PodStatus, type: string): boolean {
  const condition = status.conditions?.find((c) => c.type === type);
  return condition?.status === "True";
}

interface PodSummary {
  ready: number;
  total: number;
  reason: string;
  restarts: number;
  lastRestart: number | undefined;
}

/**
 * The Ready, Status and Restarts cells. While an init container is still to finish, the status is
 * its progress ("Init:1/3") or trouble ("Init:CrashLoopBackOff") and restarts count init
 * containers; afterwards the first app container with a waiting or terminated reason wins and
 * restarts count app containers and sidecars.
 */
function summarizePod(pod: Pod): PodSummary {
  const spec = pod.spec;
  const status = pod.status ?? {};
  const initContainers = spec?.initContainers ?? [];
  const initByName = new Map(initContainers.map((c) => [c.name, c]));

  let reason = status.reason || status.phase || "";
  if (status.conditions?.some((c) => c.type === "PodScheduled" && c.reason === "SchedulingGated")) {
    reason = "SchedulingGated";
  }

  let total = (spec?.containers?.length ?? 0) + initContainers.filter(isSidecar).length;
  let ready = 0;
  let restarts = 0;
  let lastRestart: number | undefined;
  let sidecarRestarts = 0;
  let lastSidecarRestart: number | undefined;

  let initializing = false;
  const initStatuses = status.initContainerStatuses ?? [];
  for (const [i, container] of initStatuses.entries()) {
    restarts += container.restartCount ?? 0;
    lastRestart = laterFinish(lastRestart, container);
    const sidecar = isSidecar(initByName.get(container.name));
    if (sidecar) {
      sidecarRestarts += container.restartCount ?? 0;
      lastSidecarRestart = laterFinish(lastSidecarRestart, container);
    }
    const terminated = container.state?.terminated;
    const waiting = container.state?.waiting;
    if (terminated && terminated.exitCode === 0) continue;
    if (sidecar && container.started) {
      if (container.ready) ready++;
      continue;
    }
    if (terminated) {
      if (terminated.reason) reason = `Init:${terminated.reason}`;
      else if (terminated.signal) reason = `Init:Signal:${terminated.signal}`;
      else reason = `Init:ExitCode:${terminated.exitCode}`;
    } else if (waiting?.reason && waiting.reason !== "PodInitializing") {
      reason = `Init:${waiting.reason}`;
    } else {
      reason = `Init:${i}/${initContainers.length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(status, "Initialized")) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const statuses = status.containerStatuses ?? [];
    // Backwards, so the first container's reason is the one left standing.
    for (let i = statuses.length - 1; i >= 0; i--) {
      const container = statuses[i]!;
      restarts += container.restartCount ?? 0;
      lastRestart = laterFinish(lastRestart, container);
      const { waiting, terminated, running } = container.state ?? {};
      if (waiting?.reason) {
        reason = waiting.reason;
      } else if (terminated?.reason) {
        reason = terminated.reason;
      } else if (terminated) {
        reason = terminated.signal ? `Signal:${terminated.signal}` : `ExitCode:${terminated.exitCode}`;
      } else if (container.ready && running) {
        hasRunning = true;
        ready++;
      }
    }
    // A finished container beside a running one does not make the pod Completed.
    if (reason === "Completed" && hasRunning) {
      reason = conditionTrue(status, "Ready") ? "Running" : "NotReady";
    }
  }

  if (pod.metadata?.deletionTimestamp) {
    if (status.reason === NODE_LOST) reason = "Unknown";
    else if (status.phase !== "Succeeded" && status.phase !== "Failed") reason = "Terminating";
  }
  return { ready, total, reason, restarts, lastRestart };
}

function readinessGates(pod: Pod): string {
  const gates = pod.spec?.readinessGates ?? [];
  if (gates.length === 0) return "<none>";
  const conditions = pod.status?.conditions ?? [];
  const passed = gates.filter((gate) => conditions.find((c) => c.type === gate.conditionType)?.status === "True");
  return `${passed.length}/${gates.length}`;
}

const pod: TablePrinter<Pod> = {
  columns: [
    nameColumn,
    column("Ready", "string", "Ready containers out of all the pod's containers."),
    column("Status", "string", "The pod's phase, or the reason its containers are not running."),
    column("Restarts", "string", "Container restarts, and how long ago the latest one was."),
    ageColumn,
    column("IP", "string", "The pod's primary IP address.", { priority: 1 }),
    column("Node", "string", "The node the pod is bound to.", { priority: 1 }),
    column("Nominated Node", "string", "The node preemption made room on for this pod.", { priority: 1 }),
    column("Readiness Gates", "string", "Readiness gates whose conditions are true, out of all gates.", { priority: 1 }),
  ],
  cells(pod, now) {
    const { ready, total, reason, restarts, lastRestart } = summarizePod(pod);
    const restartsCell =
      restarts !== 0 && lastRestart !== undefined
        ? `${restarts} (${humanDuration(now.getTime() - lastRestart)} ago)`
        : String(restarts);
    // A PodIP that disagrees with PodIPs wins, as in kube's v1 conversion.
    const ip = pod.status?.podIP || pod.status?.podIPs?.[0]?.ip;
    return [
      nameOf(pod),
      `${ready}/${total}`,
      reason,
      restartsCell,
      age(pod, now),
      ip || "<none>",
      pod.spec?.nodeName || "<none>",
      pod.status?.nominatedNodeName || "<none>",
      readinessGates(pod),
    ];
  },
  conditions(pod) {
    switch (pod.status?.phase) {
      case "Succeeded":
        return [{ type: "Completed", status: "True", reason: "Succeeded", message: "The pod finished successfully." }];
      case "Failed":
        return [{ type: "Completed", status: "True", reason: "Failed", message: "The pod finished with a failure." }];
      default:
        return undefined;
    }
  },
};

const podTemplate: TablePrinter<PodTemplate> = {
  columns: [
    nameColumn,
    { ...containersColumn, priority: 0 },
    { ...imagesColumn, priority: 0 },
    column("Pod Labels", "string", "The labels of the template's pods."),
  ],
  cells(template) {
    return [nameOf(template), ...containerCells(template.template?.spec?.containers), formatLabels(template.template?.metadata?.labels)];
  },
};

/** The node-role.kubernetes.io/<role> label keys and the older kubernetes.io/role=<role> label, sorted. */
function nodeRoles(node: Node): string {
  const roles = new Set<string>();
  for (const [key, value] of Object.entries(node.metadata?.labels ?? {})) {
    if (key.startsWith("node-role.kubernetes.io/")) {
      const role = key.slice("node-role.kubernetes.io/".length);
      if (role) roles.add(role);
    } else if (key === "kubernetes.io/role" && value) {
      roles.add(value);
    }
  }
  return roles.size === 0 ? "<none>" : [...roles].sort(compareStrings).join(",");
}

function nodeAddress(node: Node, type: string): string {
  return node.status?.addresses?.find((a) => a.type === type)?.address ?? "<none>";
}

const node: TablePrinter<Node> = {
  columns: [
    nameColumn,
    column("Status", "string", "Whether the node is Ready, and SchedulingDisabled when cordoned."),
    column("Roles", "string", "The node's roles, from its node-role labels."),
    ageColumn,
    column("Version", "string", "The kubelet's version."),
    column("Internal-IP", "string", "The node's first internal address.", { priority: 1 }),
    column("External-IP", "string", "The node's first external address.", { priority: 1 }),
    column("OS-Image", "string", "The operating system image the node reports.", { priority: 1 }),
    column("Kernel-Version", "string", "The kernel version the node reports.", { priority: 1 }),
    column("Container-Runtime", "string", "The container runtime and its version.", { priority: 1 }),
  ],
  cells(node, now) {
    const readyConditions = (node.status?.conditions ?? []).filter((c) => c.type === "Ready");
    const ready = readyConditions.at(-1);
    const status = [ready ? (ready.status === "True" ? "Ready" : "NotReady") : "Unknown"];
    if (node.spec?.unschedulable) status.push("SchedulingDisabled");
    const info = node.status?.nodeInfo;
    return [
      nameOf(node),
      status.join(","),
      nodeRoles(node),
      age(node, now),
      info?.kubeletVersion ?? "",
      nodeAddress(node, "InternalIP"),
      nodeAddress(node, "ExternalIP"),
      info?.osImage || "<unknown>",
      info?.kernelVersion || "<unknown>",
      info?.containerRuntimeVersion || "<unknown>",
    ];
  },
};

const namespace: TablePrinter<Namespace> = {
  columns: [nameColumn, column("Status", "string", "The namespace's phase: Active or Terminating."), ageColumn],
  cells(ns, now) {
    return [nameOf(ns), ns.status?.phase ?? "Active", age(ns, now)];
  },
};

/** Load-balancer ingress points (IP, else hostname), deduplicated and sorted. */
function loadBalancerIngress(service: Service): string[] {
  const points = new Set<string>();
  for (const ingress of service.status?.loadBalancer?.ingress ?? []) {
    const point = ingress.ip || ingress.hostname;
    if (point) points.add(point);
  }
  return [...points].sort(compareStrings);
}

function serviceExternalIP(service: Service, type: string): string {
  const externalIPs = service.spec?.externalIPs ?? [];
  switch (type) {
    case "ClusterIP":
    case "NodePort":
      return externalIPs.length > 0 ? externalIPs.join(",") : "<none>";
    case "LoadBalancer": {
      const all = [...loadBalancerIngress(service), ...externalIPs];
      return all.length > 0 ? all.join(",") : "<pending>";
    }
    case "ExternalName":
      return service.spec?.externalName ?? "";
    default:
      return "<unknown>";
  }
}

const service: TablePrinter<Service> = {
  columns: [
    nameColumn,
    column("Type", "string", "How the service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName."),
    column("Cluster-IP", "string", "The service's virtual IP inside the cluster."),
    column("External-IP", "string", "Addresses the service is reachable on from outside the cluster."),
    column("Port(s)", "string", "The service's ports, with node ports where allocated."),
    ageColumn,
    column("Selector", "string", "The labels of the pods behind the service.", { priority: 1 }),
  ],
  cells(service, now) {
    const spec = service.spec ?? {};
    const type = spec.type ?? "ClusterIP";
    const ports = (spec.ports ?? []).map((p) => {
      const protocol = p.protocol ?? "TCP";
      return p.nodePort ? `${p.port}:${p.nodePort}/${protocol}` : `${p.port}/${protocol}`;
    });
    return [
      nameOf(service),
      type,
      spec.clusterIPs?.[0] || spec.clusterIP || "<none>",
      serviceExternalIP(service, type),
      ports.length > 0 ? ports.join(",") : "<none>",
      age(service, now),
      formatLabels(spec.selector),
    ];
  },
};

function hostPort(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Ready addresses as ip:port (bare IPs for port-less subsets), the first three and a count of the rest. */
function endpointAddresses(endpoints: Endpoints): string {
  const subsets = endpoints.subsets ?? [];
  if (subsets.length === 0) return "<none>";
  const shown: string[] = [];
  let count = 0;
  for (const subset of subsets) {
    const addresses = subset.addresses ?? [];
    const entries = subset.ports?.length
      ? subset.ports.flatMap((port) => addresses.map((a) => hostPort(a.ip, port.port)))
      : addresses.map((a) => a.ip);
    count += entries.length;
    shown.push(...entries.slice(0, 3 - shown.length));
  }
  return count > 3 ? `${shown.join(",")} + ${count - 3} more...` : shown.join(",");
}

const endpoints: TablePrinter<Endpoints> = {
  columns: [nameColumn, column("Endpoints", "string", "The ready addresses behind the service."), ageColumn],
  cells(endpoints, now) {
    return [nameOf(endpoints), endpointAddresses(endpoints), age(endpoints, now)];
  },
};

const configMap: TablePrinter<ConfigMap> = {
  columns: [nameColumn, column("Data", "string", "How many keys the config map holds, text and binary."), ageColumn],
  cells(cm, now) {
    return [nameOf(cm), Object.keys(cm.data ?? {}).length + Object.keys(cm.binaryData ?? {}).length, age(cm, now)];
  },
};

const secret: TablePrinter<Secret> = {
  columns: [
    nameColumn,
    column("Type", "string", "The secret's type, such as Opaque or kubernetes.io/tls."),
    column("Data", "string", "How many keys the secret holds."),
    ageColumn,
  ],
  cells(secret, now) {
    return [nameOf(secret), secret.type || "Opaque", Object.keys(secret.data ?? {}).length, age(secret, now)];
  },
};

const serviceAccount: TablePrinter<ServiceAccount> = {
  columns: [nameColumn, column("Secrets", "string", "How many secrets the service account lists."), ageColumn],
  cells(sa, now) {
    return [nameOf(sa), sa.secrets?.length ?? 0, age(sa, now)];
  },
};

/** Event.source, falling back to the reporting controller and instance newer clients set instead. */
function eventSource(event: Event): string {
  const component = event.source?.component || event.reportingComponent || "";
  const instance = event.source?.host || event.reportingInstance || "";
  return instance ? `${component}, ${instance}` : component;
}

/** Event columns put Last Seen first and the event's own name last, among the wide columns. */
export const eventPrinter: TablePrinter<Event> = {
  columns: [
    column("Last Seen", "string", "How long ago the event last happened."),
    column("Type", "string", "Normal or Warning."),
    column("Reason", "string", "A short, machine-readable cause of the event."),
    column("Object", "string", "The object the event is about, as kind/name."),
    column("Subobject", "string", "The part of the object the event is about, such as a container.", { priority: 1 }),
    column("Source", "string", "The component that reported the event, and its host.", { priority: 1 }),
    column("Message", "string", "What happened, for humans."),
    column("First Seen", "string", "How long ago the event first happened.", { priority: 1 }),
    column("Count", "string", "How many times the event happened.", { priority: 1 }),
    { ...nameColumn, priority: 1 },
  ],
  cells(event, now) {
    const firstSeen = event.firstTimestamp ? since(event.firstTimestamp, now) : since(event.eventTime, now);
    let lastSeen = event.lastTimestamp ? since(event.lastTimestamp, now) : firstSeen;
    let count = event.count ?? 0;
    if (event.series) {
      lastSeen = since(event.series.lastObservedTime, now);
      count = event.series.count ?? 0;
    } else if (count === 0) {
      // Events written through events.k8s.io leave the count unset for a single occurrence.
      count = 1;
    }
    const involved = event.involvedObject ?? {};
    const kind = (involved.kind ?? "").toLowerCase();
    return [
      lastSeen,
      event.type ?? "",
      event.reason ?? "",
      involved.name ? `${kind}/${involved.name}` : kind,
      involved.fieldPath ?? "",
      eventSource(event),
      (event.message ?? "").trim(),
      firstSeen,
      count,
      nameOf(event),
    ];
  },
};

const replicationController: TablePrinter<ReplicationController> = {
  columns: [
    nameColumn,
    column("Desired", "integer", "How many pods the controller should run."),
    column("Current", "integer", "How many pods the controller runs."),
    column("Ready", "integer", "How many of its pods are ready."),
    ageColumn,
    ...podTemplateColumns,
  ],
  cells(rc, now) {
    return [
      nameOf(rc),
      rc.spec?.replicas ?? 1,
      rc.status?.replicas ?? 0,
      rc.status?.readyReplicas ?? 0,
      age(rc, now),
      ...containerCells(rc.spec?.template?.spec?.containers),
      formatLabels(rc.spec?.selector),
    ];
  },
};

/** Per resource, "name: used/hard", requests and limits apart, in resource-name order. */
function quotaUsage(quota: ResourceQuota): [string, string] {
  const hard = quota.status?.hard ?? {};
  const used = quota.status?.used ?? {};
  const requests: string[] = [];
  const limits: string[] = [];
  for (const resource of Object.keys(hard).sort(compareStrings)) {
    const entry = `${resource}: ${used[resource] ?? "0"}/${hard[resource]}`;
    (resource.startsWith("limits.") ? limits : requests).push(entry);
  }
  return [requests.join(", "), limits.join(", ")];
}

const resourceQuota: TablePrinter<ResourceQuota> = {
  columns: [
    nameColumn,
    column("Request", "string", "Usage against the hard limits on requests and object counts."),
    column("Limit", "string", "Usage against the hard limits on container limits."),
    ageColumn,
  ],
  cells(quota, now) {
    return [nameOf(quota), ...quotaUsage(quota), age(quota, now)];
  },
};

/** Access modes in kube's fixed order and short forms. */
export function accessModes(modes: string[] | undefined): string {
  const short: [string, string][] = [
    ["ReadWriteOnce", "RWO"],
    ["ReadOnlyMany", "ROX"],
    ["ReadWriteMany", "RWX"],
    ["ReadWriteOncePod", "RWOP"],
  ];
  return short.filter(([mode]) => modes?.includes(mode)).map(([, s]) => s).join(",");
}

const persistentVolumeClaim: TablePrinter<PersistentVolumeClaim> = {
  columns: [
    nameColumn,
    column("Status", "string", "The claim's phase: Pending, Bound or Lost, or Terminating."),
    column("Volume", "string", "The persistent volume bound to the claim."),
    column("Capacity", "string", "The bound volume's storage capacity."),
    column("Access Modes", "string", "The bound volume's access modes."),
    column("StorageClass", "string", "The storage class the claim asks for."),
    column("VolumeAttributesClass", "string", "The volume attributes class the claim asks for."),
    ageColumn,
    column("VolumeMode", "string", "Filesystem or Block.", { priority: 1 }),
  ],
  cells(pvc, now) {
    const spec = pvc.spec ?? {};
    const bound = Boolean(spec.volumeName);
    // The beta annotation predates spec.storageClassName and still takes precedence.
    const storageClass = pvc.metadata?.annotations?.["volume.beta.kubernetes.io/storage-class"] ?? spec.storageClassName ?? "";
    return [
      nameOf(pvc),
      pvc.metadata?.deletionTimestamp ? "Terminating" : (pvc.status?.phase ?? ""),
      spec.volumeName ?? "",
      bound ? String(pvc.status?.capacity?.storage ?? "0") : "",
      bound ? accessModes(pvc.status?.accessModes) : "",
      storageClass,
      spec.volumeAttributesClassName ?? "<unset>",
      age(pvc, now),
      spec.volumeMode ?? "Filesystem",
    ];
  },
};

/** kubectl get componentstatuses: the Healthy condition as a status, its message and error. */
const componentStatus: TablePrinter<ComponentStatus> = {
  columns: [
    nameColumn,
    column("Status", "string", "Status of the component conditions"),
    column("Message", "string", "Message of the component conditions"),
    column("Error", "string", "Error of the component conditions"),
  ],
  cells(cs) {
    const healthy = cs.conditions?.find((c) => c.type === "Healthy");
    const status = healthy?.status === "True" ? "Healthy" : healthy?.status === "False" ? "Unhealthy" : "Unknown";
    return [nameOf(cs), status, healthy?.message ?? "", healthy?.error ?? ""];
  },
};

export const corePrinters: Record<string, TablePrinter> = {
  "/ComponentStatus": componentStatus,
  "/Pod": pod,
  "/PodTemplate": podTemplate,
  "/Node": node,
  "/Namespace": namespace,
  "/Service": service,
  "/Endpoints": endpoints,
  "/ConfigMap": configMap,
  "/Secret": secret,
  "/ServiceAccount": serviceAccount,
  "/Event": eventPrinter,
  "/ReplicationController": replicationController,
  "/ResourceQuota": resourceQuota,
  "/PersistentVolumeClaim": persistentVolumeClaim,
};
