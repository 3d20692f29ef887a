// autoscaling/v2 and v1: HorizontalPodAutoscaler is stored as v2 and served as v1 too, converted on the way
// in and out as kube-apiserver does (v1 knows only a CPU utilization target).
import { declare, type KubeObject, type ResourceDefinition } from "./types.ts";

const CPU_TARGET_ANNOTATIONS = ["autoscaling.alpha.kubernetes.io/metrics", "autoscaling.alpha.kubernetes.io/current-metrics", "autoscaling.alpha.kubernetes.io/conditions", "autoscaling.alpha.kubernetes.io/behavior"];

/** v2 (stored) → v1 (served). */
export function hpaV2ToV1(v2: KubeObject): KubeObject {
  const { spec = {}, status } = v2;
  const cpu = (spec.metrics ?? []).find((m: any) => m.type === "Resource" && m.resource?.name === "cpu" && m.resource?.target?.type === "Utilization");
  const v1: KubeObject = {
    ...v2, apiVersion: "autoscaling/v1",
    spec: { scaleTargetRef: spec.scaleTargetRef, minReplicas: spec.minReplicas, maxReplicas: spec.maxReplicas },
  };
  if (cpu) v1.spec.targetCPUUtilizationPercentage = cpu.resource.target.averageUtilization;
  if (status) {
    const current = (status.currentMetrics ?? []).find((m: any) => m.type === "Resource" && m.resource?.name === "cpu");
    v1.status = {
      observedGeneration: status.observedGeneration, lastScaleTime: status.lastScaleTime,
      currentReplicas: status.currentReplicas ?? 0, desiredReplicas: status.desiredReplicas ?? 0,
    };
    if (current?.resource?.current?.averageUtilization !== undefined) v1.status.currentCPUUtilizationPercentage = current.resource.current.averageUtilization;
  }
  return dropUndefined(v1);
}

/** v1 (received) → v2 (stored). */
export function hpaV1ToV2(v1: KubeObject): KubeObject {
  const { spec = {}, status } = v1;
  const annotations = { ...v1.metadata?.annotations };
  for (const a of CPU_TARGET_ANNOTATIONS) delete annotations[a];
  const v2: KubeObject = {
    ...v1, apiVersion: "autoscaling/v2",
    metadata: { ...v1.metadata, annotations: Object.keys(annotations).length ? annotations : undefined },
    spec: { scaleTargetRef: spec.scaleTargetRef, minReplicas: spec.minReplicas, maxReplicas: spec.maxReplicas },
  };
  if (spec.targetCPUUtilizationPercentage !== undefined) {
    v2.spec.metrics = [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: spec.targetCPUUtilizationPercentage } } }];
  }
  if (status) {
    v2.status = {
      observedGeneration: status.observedGeneration, lastScaleTime: status.lastScaleTime,
      currentReplicas: status.currentReplicas, desiredReplicas: status.desiredReplicas,
    };
    if (status.currentCPUUtilizationPercentage !== undefined) {
      v2.status.currentMetrics = [{ type: "Resource", resource: { name: "cpu", current: { averageUtilization: status.currentCPUUtilizationPercentage } } }];
    }
  }
  return dropUndefined(v2);
}

function dropUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

export const autoscalingResources: ResourceDefinition[] = [
  declare("autoscaling/v2", "horizontalpodautoscalers", { hasStatus: true }),
  // Stored as v2, like kube-apiserver.
  declare("autoscaling/v1", "horizontalpodautoscalers", { hasStatus: true, conversion: { toStorage: hpaV1ToV2, fromStorage: hpaV2ToV1 } }),
];
