// Table columns for the smaller groups: coordination, discovery, events, policy, scheduling, rbac
// and autoscaling. Roles, ClusterRoles, LimitRanges and CRDs have no printer in kube either: they
// get the default Name and Created At table.
import type * as autoscalingV1 from "kubernetes-types/autoscaling/v1";
import type {
  HorizontalPodAutoscaler,
  MetricSpec,
  MetricStatus,
  MetricTarget,
  MetricValueStatus,
} from "kubernetes-types/autoscaling/v2";
import type { Lease } from "kubernetes-types/coordination/v1";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import type { Event as EventsV1Event } from "kubernetes-types/events/v1";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1";
import type { ClusterRoleBinding, RoleBinding, Subject } from "kubernetes-types/rbac/v1";
import type { PriorityClass } from "kubernetes-types/scheduling/v1";
import { eventPrinter } from "./core.ts";
import { age, ageColumn, column, nameColumn, nameOf, type TablePrinter } from "./table.ts";

const lease: TablePrinter<Lease> = {
  columns: [nameColumn, column("Holder", "string", "Who holds the lease."), ageColumn],
  cells(lease, now) {
    return [nameOf(lease), lease.spec?.holderIdentity ?? "", age(lease, now)];
  },
};

/** The first three items, a count of the rest, or <unset> for none. */
function firstThree(items: string[]): string {
  if (items.length === 0) return "<unset>";
  const shown = items.slice(0, 3).join(",");
  return items.length > 3 ? `${shown} + ${items.length - 3} more...` : shown;
}

const endpointSlice: TablePrinter<EndpointSlice> = {
  columns: [
    nameColumn,
    column("AddressType", "string", "IPv4, IPv6 or FQDN."),
    column("Ports", "string", "The slice's port numbers; * for all ports."),
    column("Endpoints", "string", "The endpoints' addresses."),
    ageColumn,
  ],
  cells(slice, now) {
    const ports = (slice.ports ?? []).map((p) => (p.port != null ? String(p.port) : (p.name ?? "*")));
    const addresses = (slice.endpoints ?? []).flatMap((e) => e.addresses ?? []);
    return [nameOf(slice), slice.addressType ?? "", firstThree(ports), firstThree(addresses), age(slice, now)];
  },
};

/** events.k8s.io Events print like core Events, through the fields they were renamed from. */
const eventsV1Event: TablePrinter<EventsV1Event> = {
  columns: eventPrinter.columns,
  cells(event, now) {
    return eventPrinter.cells(
      {
        metadata: event.metadata ?? {},
        involvedObject: event.regarding ?? {},
        type: event.type,
        reason: event.reason,
        message: event.note,
        firstTimestamp: event.deprecatedFirstTimestamp,
        lastTimestamp: event.deprecatedLastTimestamp,
        count: event.deprecatedCount,
        source: event.deprecatedSource,
        eventTime: event.eventTime,
        series: event.series,
        reportingComponent: event.reportingController,
        reportingInstance: event.reportingInstance,
      },
      now,
    );
  },
};

const podDisruptionBudget: TablePrinter<PodDisruptionBudget> = {
  columns: [
    nameColumn,
    column("Min Available", "string", "Pods that must stay available, as a number or percentage."),
    column("Max Unavailable", "string", "Pods that may be unavailable, as a number or percentage."),
    column("Allowed Disruptions", "integer", "How many pods may be evicted right now."),
    ageColumn,
  ],
  cells(pdb, now) {
    return [
      nameOf(pdb),
      pdb.spec?.minAvailable !== undefined ? String(pdb.spec.minAvailable) : "N/A",
      pdb.spec?.maxUnavailable !== undefined ? String(pdb.spec.maxUnavailable) : "N/A",
      pdb.status?.disruptionsAllowed ?? 0,
      age(pdb, now),
    ];
  },
};

const priorityClass: TablePrinter<PriorityClass> = {
  columns: [
    nameColumn,
    column("Value", "integer", "The priority pods of this class get."),
    column("Global-Default", "boolean", "Whether pods without a class get this one."),
    ageColumn,
    column("PreemptionPolicy", "string", "Whether pods of this class may preempt lower-priority pods."),
  ],
  cells(pc, now) {
    return [nameOf(pc), pc.value ?? 0, pc.globalDefault ?? false, age(pc, now), pc.preemptionPolicy ?? "PreemptLowerPriority"];
  },
};

/** The wide Users, Groups and ServiceAccounts cells, each a ", "-joined list. */
function subjectCells(subjects: Subject[] | undefined): [string, string, string] {
  const users: string[] = [];
  const groups: string[] = [];
  const serviceAccounts: string[] = [];
  for (const subject of subjects ?? []) {
    if (subject.kind === "User") users.push(subject.name);
    else if (subject.kind === "Group") groups.push(subject.name);
    else if (subject.kind === "ServiceAccount") serviceAccounts.push(`${subject.namespace ?? ""}/${subject.name}`);
  }
  return [users.join(", "), groups.join(", "), serviceAccounts.join(", ")];
}

function bindingPrinter(kind: string): TablePrinter<RoleBinding | ClusterRoleBinding> {
  return {
    columns: [
      nameColumn,
      column("Role", "string", "The role granted, as Kind/name."),
      ageColumn,
      column("Users", "string", `Users in the ${kind}.`, { priority: 1 }),
      column("Groups", "string", `Groups in the ${kind}.`, { priority: 1 }),
      column("ServiceAccounts", "string", `Service accounts in the ${kind}, as namespace/name.`, { priority: 1 }),
    ],
    cells(binding, now) {
      const role = binding.roleRef ?? { kind: "", name: "" };
      return [nameOf(binding), `${role.kind}/${role.name}`, age(binding, now), ...subjectCells(binding.subjects)];
    },
  };
}

/** A quantity as written, or <nil> where kube would print a missing one. */
const quantity = (q: string | number | undefined) => (q === undefined ? "<nil>" : String(q));

/** External and Object metrics: an average per pod "(avg)", or a single value. */
function valueTarget(target: MetricTarget | undefined, status: { current: MetricValueStatus } | undefined): string {
  if (target?.averageValue !== undefined) {
    const current = status?.current.averageValue !== undefined ? quantity(status.current.averageValue) : "<unknown>";
    return `${current}/${quantity(target.averageValue)} (avg)`;
  }
  const current = status ? quantity(status.current.value) : "<unknown>";
  return `${current}/${quantity(target?.value)}`;
}

/** Resource and ContainerResource metrics: "cpu: 40%/80%", or an average value per pod. */
function resourceTarget(name: string, target: MetricTarget | undefined, status: { current: MetricValueStatus } | undefined): string {
  if (target?.averageValue !== undefined) {
    const current = status ? quantity(status.current.averageValue) : "<unknown>";
    return `${name}: ${current}/${quantity(target.averageValue)}`;
  }
  const current = status?.current.averageUtilization;
  const wanted = target?.averageUtilization;
  return `${name}: ${current !== undefined ? `${current}%` : "<unknown>"}/${wanted !== undefined ? `${wanted}%` : "<auto>"}`;
}

/** One Targets entry; a metric's status is the one at the same index. */
function metricTarget(spec: MetricSpec, status: MetricStatus | undefined): string {
  switch (spec.type) {
    case "External":
      return valueTarget(spec.external?.target, status?.external);
    case "Object":
      return valueTarget(spec.object?.target, status?.object);
    case "Pods": {
      const current = status?.pods ? quantity(status.pods.current.averageValue) : "<unknown>";
      return `${current}/${quantity(spec.pods?.target.averageValue)}`;
    }
    case "Resource":
      return resourceTarget(spec.resource?.name ?? "", spec.resource?.target, status?.resource);
    case "ContainerResource":
      return resourceTarget(spec.containerResource?.name ?? "", spec.containerResource?.target, status?.containerResource);
    default:
      return "<unknown type>";
  }
}

/** Each metric's current value against its target, the first two and a count of the rest. */
function hpaTargets(specs: MetricSpec[], statuses: MetricStatus[]): string {
  if (specs.length === 0) return "<none>";
  const entries = specs.map((spec, i) => metricTarget(spec, statuses[i]));
  const shown = entries.slice(0, 2).join(", ");
  return entries.length > 2 ? `${shown} + ${entries.length - 2} more...` : shown;
}

/** autoscaling/v1 objects carry one CPU target; read it as the v2 metric it converts to. */
function hpaMetrics(hpa: HorizontalPodAutoscaler | autoscalingV1.HorizontalPodAutoscaler): [MetricSpec[], MetricStatus[]] {
  if (hpa.apiVersion !== "autoscaling/v1") {
    const v2 = hpa as HorizontalPodAutoscaler;
    return [v2.spec?.metrics ?? [], v2.status?.currentMetrics ?? []];
  }
  const v1 = hpa as autoscalingV1.HorizontalPodAutoscaler;
  const target = v1.spec?.targetCPUUtilizationPercentage;
  const current = v1.status?.currentCPUUtilizationPercentage;
  if (target === undefined) return [[], []];
  return [
    [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: target } } }],
    current === undefined ? [] : [{ type: "Resource", resource: { name: "cpu", current: { averageUtilization: current } } }],
  ];
}

const horizontalPodAutoscaler: TablePrinter<HorizontalPodAutoscaler | autoscalingV1.HorizontalPodAutoscaler> = {
  columns: [
    nameColumn,
    column("Reference", "string", "The scaled workload, as Kind/name."),
    column("Targets", "string", "Each metric's current value against its target."),
    column("MinPods", "string", "The fewest replicas the autoscaler scales to."),
    column("MaxPods", "string", "The most replicas the autoscaler scales to."),
    column("Replicas", "string", "The replicas the workload has now."),
    ageColumn,
  ],
  cells(hpa, now) {
    const ref = hpa.spec?.scaleTargetRef;
    return [
      nameOf(hpa),
      `${ref?.kind ?? ""}/${ref?.name ?? ""}`,
      hpaTargets(...hpaMetrics(hpa)),
      String(hpa.spec?.minReplicas ?? 1),
      hpa.spec?.maxReplicas ?? 0,
      hpa.status?.currentReplicas ?? 0,
      age(hpa, now),
    ];
  },
};

export const otherPrinters: Record<string, TablePrinter> = {
  "coordination.k8s.io/Lease": lease,
  "discovery.k8s.io/EndpointSlice": endpointSlice,
  "events.k8s.io/Event": eventsV1Event,
  "policy/PodDisruptionBudget": podDisruptionBudget,
  "scheduling.k8s.io/PriorityClass": priorityClass,
  "rbac.authorization.k8s.io/RoleBinding": bindingPrinter("role binding"),
  "rbac.authorization.k8s.io/ClusterRoleBinding": bindingPrinter("cluster role binding"),
  "autoscaling/HorizontalPodAutoscaler": horizontalPodAutoscaler,
};
