// apps/v1: the workload controllers' resources, declarations only.
import { defaultPodSpec } from "./pods.ts";
import { declare, type ResourceDefinition } from "./types.ts";
import { validateDaemonSet, validateDeployment, validateReplicaSet, validateStatefulSet } from "./workload-validation.ts";

type Obj = Record<string, any>;

export function defaultTemplate(spec: Obj): void {
  if (spec.template?.spec) defaultPodSpec(spec.template.spec);
}

/** An object-valued field, created empty when absent (kube's defaulting of embedded structs); a value of another shape is left for validation. */
function struct(parent: Obj, field: string): Obj {
  if (parent[field] === undefined || parent[field] === null) parent[field] = {};
  const value = parent[field];
  return typeof value === "object" && !Array.isArray(value) ? value : {};
}

export const appsResources: ResourceDefinition[] = [
  declare("apps/v1", "deployments", {
    hasStatus: true, scalable: true,
    defaults(d) {
      d.spec ??= {};
      d.spec.replicas ??= 1;
      const strategy = struct(d.spec, "strategy");
      strategy.type ||= "RollingUpdate";
      if (strategy.type === "RollingUpdate") {
        const rollingUpdate = struct(strategy, "rollingUpdate");
        rollingUpdate.maxUnavailable ??= "25%";
        rollingUpdate.maxSurge ??= "25%";
      }
      d.spec.revisionHistoryLimit ??= 10;
      d.spec.progressDeadlineSeconds ??= 600;
      defaultTemplate(d.spec);
    },
    validate: validateDeployment,
  }),
  declare("apps/v1", "replicasets", {
    hasStatus: true, scalable: true,
    defaults(rs) {
      rs.spec ??= {};
      rs.spec.replicas ??= 1;
      defaultTemplate(rs.spec);
    },
    validate: validateReplicaSet,
  }),
  declare("apps/v1", "daemonsets", {
    hasStatus: true,
    defaults(ds) {
      ds.spec ??= {};
      const strategy = struct(ds.spec, "updateStrategy");
      strategy.type ||= "RollingUpdate";
      if (strategy.type === "RollingUpdate") {
        const rollingUpdate = struct(strategy, "rollingUpdate");
        rollingUpdate.maxUnavailable ??= 1;
        rollingUpdate.maxSurge ??= 0;
      }
      ds.spec.revisionHistoryLimit ??= 10;
      defaultTemplate(ds.spec);
    },
    validate: validateDaemonSet,
  }),
  declare("apps/v1", "statefulsets", {
    hasStatus: true, scalable: true,
    defaults(sts) {
      sts.spec ??= {};
      sts.spec.replicas ??= 1;
      sts.spec.podManagementPolicy ||= "OrderedReady";
      const strategy = struct(sts.spec, "updateStrategy");
      if (!strategy.type) {
        strategy.type = "RollingUpdate";
        strategy.rollingUpdate ??= {};
      }
      if (strategy.type === "RollingUpdate" && strategy.rollingUpdate) strategy.rollingUpdate.partition ??= 0;
      sts.spec.revisionHistoryLimit ??= 10;
      const retention = struct(sts.spec, "persistentVolumeClaimRetentionPolicy");
      retention.whenDeleted ||= "Retain";
      retention.whenScaled ||= "Retain";
      defaultTemplate(sts.spec);
    },
    validate: validateStatefulSet,
  }),
  declare("apps/v1", "controllerrevisions", { generation: false, opaque: ["data"] }),
];
