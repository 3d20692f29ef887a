// apps/v1: the workload controllers' resources, declarations only.
import { defaultPodSpec } from "./pods.ts";
import { declare, type ResourceDefinition } from "./types.ts";

type Obj = Record<string, any>;

export function defaultTemplate(spec: Obj): void {
  if (spec.template?.spec) defaultPodSpec(spec.template.spec);
}

export const appsResources: ResourceDefinition[] = [
  declare("apps/v1", "deployments", {
    hasStatus: true, scalable: true,
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
  }),
  declare("apps/v1", "replicasets", {
    hasStatus: true, scalable: true,
    defaults(rs) {
      rs.spec ??= {};
      rs.spec.replicas ??= 1;
      defaultTemplate(rs.spec);
    },
  }),
  declare("apps/v1", "daemonsets", {
    hasStatus: true,
    defaults(ds) {
      ds.spec ??= {};
      ds.spec.updateStrategy ??= { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } };
      ds.spec.revisionHistoryLimit ??= 10;
      defaultTemplate(ds.spec);
    },
  }),
  declare("apps/v1", "statefulsets", {
    hasStatus: true, scalable: true,
    defaults(sts) {
      sts.spec ??= {};
      sts.spec.replicas ??= 1;
      sts.spec.podManagementPolicy ??= "OrderedReady";
      sts.spec.updateStrategy ??= { type: "RollingUpdate", rollingUpdate: { partition: 0 } };
      sts.spec.revisionHistoryLimit ??= 10;
      sts.spec.persistentVolumeClaimRetentionPolicy ??= { whenDeleted: "Retain", whenScaled: "Retain" };
      defaultTemplate(sts.spec);
    },
  }),
  declare("apps/v1", "controllerrevisions", { generation: false }),
];
