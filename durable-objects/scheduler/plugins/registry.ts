// The in-tree plugins by the names KubeSchedulerConfiguration uses.
import type { PluginFactory } from "../framework/interface.ts";
import { defaultBinder } from "./default-binder.ts";
import { defaultPreemption } from "./default-preemption.ts";
import { imageLocality } from "./image-locality.ts";
import { interPodAffinity } from "./inter-pod-affinity.ts";
import { nodeAffinity } from "./node-affinity.ts";
import { nodeName } from "./node-name.ts";
import { nodePorts } from "./node-ports.ts";
import { nodeResourcesBalancedAllocation } from "./node-resources-balanced-allocation.ts";
import { nodeResourcesFit } from "./node-resources-fit.ts";
import { nodeUnschedulable } from "./node-unschedulable.ts";
import { podTopologySpread } from "./pod-topology-spread.ts";
import { prioritySort } from "./priority-sort.ts";
import { schedulingGates } from "./scheduling-gates.ts";
import { taintToleration } from "./taint-toleration.ts";
import { volumeBinding } from "./volume-binding.ts";

export const IN_TREE_PLUGINS: Readonly<Record<string, PluginFactory>> = {
  PrioritySort: prioritySort,
  SchedulingGates: schedulingGates,
  NodeUnschedulable: nodeUnschedulable,
  NodeName: nodeName,
  TaintToleration: taintToleration,
  NodeAffinity: nodeAffinity,
  NodePorts: nodePorts,
  NodeResourcesFit: nodeResourcesFit,
  NodeResourcesBalancedAllocation: nodeResourcesBalancedAllocation,
  VolumeBinding: volumeBinding,
  PodTopologySpread: podTopologySpread,
  InterPodAffinity: interPodAffinity,
  ImageLocality: imageLocality,
  DefaultPreemption: defaultPreemption,
  DefaultBinder: defaultBinder,
};
