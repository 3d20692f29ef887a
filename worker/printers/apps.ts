// Table columns for the apps group: the workload controllers and their revisions.
// Absent replica counts read as the API default of 1, since kube prints objects after defaulting.
import type { ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet } from "kubernetes-types/apps/v1";
import {
  age,
  ageColumn,
  column,
  containerCells,
  containersColumn,
  formatLabels,
  imagesColumn,
  labelSelectorString,
  nameColumn,
  nameOf,
  podTemplateCells,
  podTemplateColumns,
  type TablePrinter,
} from "./table.ts";

const readyOfDesired = column("Ready", "string", "Ready pods out of the desired number.");

const deployment: TablePrinter<Deployment> = {
  columns: [
    nameColumn,
    readyOfDesired,
    column("Up-to-date", "string", "Pods running the latest pod template."),
    column("Available", "string", "Pods ready for at least minReadySeconds."),
    ageColumn,
    ...podTemplateColumns,
  ],
  cells(deployment, now) {
    const status = deployment.status ?? {};
    return [
      nameOf(deployment),
      `${status.readyReplicas ?? 0}/${deployment.spec?.replicas ?? 1}`,
      status.updatedReplicas ?? 0,
      status.availableReplicas ?? 0,
      age(deployment, now),
      ...containerCells(deployment.spec?.template?.spec?.containers),
      // Unlike the other workloads, an empty selector prints as nothing rather than <none>.
      labelSelectorString(deployment.spec?.selector) ?? "<invalid>",
    ];
  },
};

const replicaSet: TablePrinter<ReplicaSet> = {
  columns: [
    nameColumn,
    column("Desired", "integer", "How many pods the replica set should run."),
    column("Current", "integer", "How many pods the replica set runs."),
    column("Ready", "integer", "How many of its pods are ready."),
    ageColumn,
    ...podTemplateColumns,
  ],
  cells(rs, now) {
    return [
      nameOf(rs),
      rs.spec?.replicas ?? 1,
      rs.status?.replicas ?? 0,
      rs.status?.readyReplicas ?? 0,
      age(rs, now),
      ...podTemplateCells(rs.spec?.template, rs.spec?.selector),
    ];
  },
};

const daemonSet: TablePrinter<DaemonSet> = {
  columns: [
    nameColumn,
    column("Desired", "integer", "Nodes that should run the daemon pod."),
    column("Current", "integer", "Nodes that run at least one daemon pod."),
    column("Ready", "integer", "Nodes whose daemon pod is ready."),
    column("Up-to-date", "integer", "Nodes running the latest pod template."),
    column("Available", "integer", "Nodes whose daemon pod is available."),
    column("Node Selector", "string", "The labels a node needs to run the daemon pod."),
    ageColumn,
    ...podTemplateColumns,
  ],
  cells(ds, now) {
    const status = ds.status;
    return [
      nameOf(ds),
      status?.desiredNumberScheduled ?? 0,
      status?.currentNumberScheduled ?? 0,
      status?.numberReady ?? 0,
      status?.updatedNumberScheduled ?? 0,
      status?.numberAvailable ?? 0,
      formatLabels(ds.spec?.template?.spec?.nodeSelector),
      age(ds, now),
      ...podTemplateCells(ds.spec?.template, ds.spec?.selector),
    ];
  },
};

const statefulSet: TablePrinter<StatefulSet> = {
  columns: [nameColumn, readyOfDesired, ageColumn, containersColumn, imagesColumn],
  cells(sts, now) {
    return [
      nameOf(sts),
      `${sts.status?.readyReplicas ?? 0}/${sts.spec?.replicas ?? 1}`,
      age(sts, now),
      ...containerCells(sts.spec?.template?.spec?.containers),
    ];
  },
};

/** The controlling owner as lowercase "kind.group/name" ("daemonset.apps/fluentd"), or <none>. */
function controllerOf(revision: ControllerRevision): string {
  const owner = revision.metadata?.ownerReferences?.find((ref) => ref.controller);
  if (!owner) return "<none>";
  const slash = owner.apiVersion.indexOf("/");
  const group = slash === -1 ? "" : owner.apiVersion.slice(0, slash);
  if (!group && !owner.kind) return owner.name;
  return `${(group ? `${owner.kind}.${group}` : owner.kind).toLowerCase()}/${owner.name}`;
}

const controllerRevision: TablePrinter<ControllerRevision> = {
  columns: [
    nameColumn,
    column("Controller", "string", "The workload that owns this revision."),
    column("Revision", "string", "The revision number."),
    ageColumn,
  ],
  cells(revision, now) {
    return [nameOf(revision), controllerOf(revision), revision.revision ?? 0, age(revision, now)];
  },
};

export const appsPrinters: Record<string, TablePrinter> = {
  "apps/Deployment": deployment,
  "apps/ReplicaSet": replicaSet,
  "apps/DaemonSet": daemonSet,
  "apps/StatefulSet": statefulSet,
  "apps/ControllerRevision": controllerRevision,
};
