// apps/v1, batch/v1 and the other groups' resources: declarations only.
import { hpaV1ToV2, hpaV2ToV1 } from "./autoscaling.ts";
import { coreToEventsV1, eventsV1ToCore } from "./events.ts";
import { defaultPodSpec } from "./pods.ts";
import type { ResourceDefinition } from "./types.ts";

type Obj = Record<string, any>;

function defaultTemplate(spec: Obj): void {
  if (spec.template?.spec) defaultPodSpec(spec.template.spec);
}

export const appsResources: ResourceDefinition[] = [
  {
    group: "apps", version: "v1", kind: "Deployment", resource: "deployments", singular: "deployment", namespaced: true, scalable: true,
    shortNames: ["deploy"], categories: ["all"], hasStatus: true,
    defaults(d) {
      d.spec ??= {};
      d.spec.replicas ??= 1;
      d.spec.strategy ??= { type: "RollingUpdate" };
      if (d.spec.strategy.type === "RollingUpdate") {
        d.spec.strategy.rollingUpdate ??= {};
        d.spec.strategy.rollingUpdate.maxUnavailable ??= "25%";
        d.spec.strategy.rollingUpdate.maxSurge ??= "25%";
      }
      d.spec.revisionHistoryLimit ??= 10;
      d.spec.progressDeadlineSeconds ??= 600;
      defaultTemplate(d.spec);
    },
  },
  {
    group: "apps", version: "v1", kind: "ReplicaSet", resource: "replicasets", singular: "replicaset", namespaced: true, scalable: true,
    shortNames: ["rs"], categories: ["all"], hasStatus: true,
    defaults(rs) {
      rs.spec ??= {};
      rs.spec.replicas ??= 1;
      defaultTemplate(rs.spec);
    },
  },
  {
    group: "apps", version: "v1", kind: "DaemonSet", resource: "daemonsets", singular: "daemonset", namespaced: true,
    shortNames: ["ds"], categories: ["all"], hasStatus: true,
    defaults(ds) {
      ds.spec ??= {};
      ds.spec.updateStrategy ??= { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } };
      ds.spec.revisionHistoryLimit ??= 10;
      defaultTemplate(ds.spec);
    },
  },
  {
    group: "apps", version: "v1", kind: "StatefulSet", resource: "statefulsets", singular: "statefulset", namespaced: true, scalable: true,
    shortNames: ["sts"], categories: ["all"], hasStatus: true,
    defaults(sts) {
      sts.spec ??= {};
      sts.spec.replicas ??= 1;
      sts.spec.podManagementPolicy ??= "OrderedReady";
      sts.spec.updateStrategy ??= { type: "RollingUpdate", rollingUpdate: { partition: 0 } };
      sts.spec.revisionHistoryLimit ??= 10;
      sts.spec.persistentVolumeClaimRetentionPolicy ??= { whenDeleted: "Retain", whenScaled: "Retain" };
      defaultTemplate(sts.spec);
    },
  },
  { group: "apps", version: "v1", kind: "ControllerRevision", resource: "controllerrevisions", singular: "controllerrevision", namespaced: true, generation: false },
  {
    group: "batch", version: "v1", kind: "Job", resource: "jobs", singular: "job", namespaced: true, categories: ["all"], hasStatus: true,
    defaults(job) {
      job.spec ??= {};
      job.spec.parallelism ??= 1;
      job.spec.backoffLimit ??= 6;
      job.spec.completionMode ??= "NonIndexed";
      job.spec.suspend ??= false;
      if (job.spec.completions === undefined && job.spec.parallelism === 1) job.spec.completions = 1;
      if (job.spec.template?.spec) {
        job.spec.template.spec.restartPolicy ??= "Never";
        defaultPodSpec(job.spec.template.spec);
      }
    },
  },
  {
    group: "batch", version: "v1", kind: "CronJob", resource: "cronjobs", singular: "cronjob", namespaced: true, shortNames: ["cj"],
    categories: ["all"], hasStatus: true,
    defaults(cj) {
      cj.spec ??= {};
      cj.spec.concurrencyPolicy ??= "Allow";
      cj.spec.suspend ??= false;
      cj.spec.successfulJobsHistoryLimit ??= 3;
      cj.spec.failedJobsHistoryLimit ??= 1;
      const podSpec = cj.spec.jobTemplate?.spec?.template?.spec;
      if (podSpec) defaultPodSpec(podSpec);
    },
  },
  { group: "coordination.k8s.io", version: "v1", kind: "Lease", resource: "leases", singular: "lease", namespaced: true, generation: false },
  { group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice", resource: "endpointslices", singular: "endpointslice", namespaced: true, generation: false },
  {
    group: "events.k8s.io", version: "v1", kind: "Event", resource: "events", singular: "event", namespaced: true, shortNames: ["ev"], generation: false,
    // The same stored objects as core/v1 events.
    storagePrefix: "events", conversion: { toStorage: eventsV1ToCore, fromStorage: coreToEventsV1 },
    selectableFields: (ev) => ({
      "regarding.kind": ev.regarding?.kind ?? "", "regarding.namespace": ev.regarding?.namespace ?? "", "regarding.name": ev.regarding?.name ?? "",
      "regarding.uid": ev.regarding?.uid ?? "", reason: ev.reason ?? "", reportingController: ev.reportingController ?? "", type: ev.type ?? "",
    }),
  },
  { group: "policy", version: "v1", kind: "PodDisruptionBudget", resource: "poddisruptionbudgets", singular: "poddisruptionbudget", namespaced: true, shortNames: ["pdb"], hasStatus: true },
  { group: "scheduling.k8s.io", version: "v1", kind: "PriorityClass", resource: "priorityclasses", singular: "priorityclass", namespaced: false, shortNames: ["pc"], generation: false },
  ...(["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"] as const).map((kind): ResourceDefinition => ({
    group: "rbac.authorization.k8s.io", version: "v1", kind, resource: `${kind.toLowerCase()}s`, singular: kind.toLowerCase(),
    namespaced: !kind.startsWith("Cluster"), generation: false,
  })),
  ...(["v2", "v1"] as const).map((version): ResourceDefinition => ({
    group: "autoscaling", version, kind: "HorizontalPodAutoscaler", resource: "horizontalpodautoscalers", singular: "horizontalpodautoscaler",
    namespaced: true, shortNames: ["hpa"], categories: ["all"], hasStatus: true,
    // Stored as v2, like kube-apiserver.
    conversion: version === "v1" ? { toStorage: hpaV1ToV2, fromStorage: hpaV2ToV1 } : undefined,
  })),
];
