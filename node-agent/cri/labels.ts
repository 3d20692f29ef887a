// What the agent writes on sandboxes and containers so that containerd alone tells it, after a
// restart, which pod and container each one is, its restart count and how to stop it: the
// kubelet's own label and annotation names (pkg/kubelet/types and kuberuntime/labels.go).
import type { Container, Lifecycle, Pod } from "kubernetes-types/core/v1";
import type { Labels } from "./client.ts";

export const POD_NAME = "io.kubernetes.pod.name";
export const POD_NAMESPACE = "io.kubernetes.pod.namespace";
export const POD_UID = "io.kubernetes.pod.uid";
export const CONTAINER_NAME = "io.kubernetes.container.name";
/** Ours: "init" or "regular", so a status read without the pod spec knows which list it belongs to. */
export const CONTAINER_TYPE = "io.edgeplane.container.type";

export const RESTART_COUNT = "io.kubernetes.container.restartCount";
export const CONTAINER_HASH = "io.kubernetes.container.hash";
export const TERMINATION_MESSAGE_PATH = "io.kubernetes.container.terminationMessagePath";
export const TERMINATION_MESSAGE_POLICY = "io.kubernetes.container.terminationMessagePolicy";
export const TERMINATION_GRACE_PERIOD = "io.kubernetes.pod.terminationGracePeriod";
export const PRE_STOP_HANDLER = "io.kubernetes.container.preStopHandler";
/** Ours: the image as the pod spec names it. */
export const SPEC_IMAGE = "io.edgeplane.container.image";

export type ContainerType = "init" | "regular";

export function podLabels(pod: Pod): Labels {
  return {
    ...(pod.metadata?.labels ?? {}),
    [POD_NAME]: pod.metadata?.name ?? "",
    [POD_NAMESPACE]: pod.metadata?.namespace ?? "default",
    [POD_UID]: pod.metadata?.uid ?? "",
  };
}

export function containerLabels(pod: Pod, container: Container, type: ContainerType): Labels {
  return {
    [POD_NAME]: pod.metadata?.name ?? "",
    [POD_NAMESPACE]: pod.metadata?.namespace ?? "default",
    [POD_UID]: pod.metadata?.uid ?? "",
    [CONTAINER_NAME]: container.name,
    [CONTAINER_TYPE]: type,
  };
}

export function containerAnnotations(pod: Pod, container: Container, restartCount: number, hash: string): Labels {
  const annotations: Labels = {
    [CONTAINER_HASH]: hash,
    [RESTART_COUNT]: String(restartCount),
    [TERMINATION_MESSAGE_PATH]: container.terminationMessagePath ?? "/dev/termination-log",
    [TERMINATION_MESSAGE_POLICY]: container.terminationMessagePolicy ?? "File",
    [TERMINATION_GRACE_PERIOD]: String(pod.spec?.terminationGracePeriodSeconds ?? 30),
    [SPEC_IMAGE]: container.image ?? "",
  };
  if (container.lifecycle?.preStop) annotations[PRE_STOP_HANDLER] = JSON.stringify(container.lifecycle.preStop);
  return annotations;
}

export function restartCountOf(annotations: Labels): number {
  const count = Number(annotations[RESTART_COUNT]);
  return Number.isInteger(count) && count >= 0 ? count : 0;
}

export function preStopOf(annotations: Labels): Lifecycle["preStop"] | undefined {
  const text = annotations[PRE_STOP_HANDLER];
  if (!text) return undefined;
  try {
    return JSON.parse(text) as Lifecycle["preStop"];
  } catch {
    return undefined;
  }
}
