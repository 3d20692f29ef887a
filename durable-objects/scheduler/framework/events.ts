// Cluster events (framework.ClusterEvent) and which of them a plugin registers for: a pod rejected by
// a plugin is retried only on an event that plugin says could make it schedulable.

/** framework.ActionType bits. */
export const ActionType = {
  Add: 1,
  Delete: 2,
  UpdateNodeAllocatable: 4,
  UpdateNodeLabel: 8,
  UpdateNodeTaint: 16,
  UpdateNodeCondition: 32,
  UpdateNodeAnnotation: 64,
  Update: 4 | 8 | 16 | 32 | 64,
  All: 127,
} as const;

export type EventResource = "Pod" | "Node" | "PersistentVolume" | "PersistentVolumeClaim" | "StorageClass" | "CSINode" | "*";

export interface ClusterEvent {
  readonly resource: EventResource;
  readonly actionType: number;
  /** The name kube's metrics and logs use (e.g. "NodeAdd"). */
  readonly label: string;
}

const event = (resource: EventResource, actionType: number, label: string): ClusterEvent => ({ resource, actionType, label });

/** The events the scheduler's own event handlers raise (internal/queue/events.go). */
export const Events = {
  AssignedPodAdd: event("Pod", ActionType.Add, "AssignedPodAdd"),
  AssignedPodUpdate: event("Pod", ActionType.Update, "AssignedPodUpdate"),
  AssignedPodDelete: event("Pod", ActionType.Delete, "AssignedPodDelete"),
  NodeAdd: event("Node", ActionType.Add, "NodeAdd"),
  NodeSpecUnschedulableChange: event("Node", ActionType.UpdateNodeTaint, "NodeSpecUnschedulableChange"),
  NodeAllocatableChange: event("Node", ActionType.UpdateNodeAllocatable, "NodeAllocatableChange"),
  NodeLabelChange: event("Node", ActionType.UpdateNodeLabel, "NodeLabelChange"),
  NodeTaintChange: event("Node", ActionType.UpdateNodeTaint, "NodeTaintChange"),
  NodeConditionChange: event("Node", ActionType.UpdateNodeCondition, "NodeConditionChange"),
  NodeAnnotationChange: event("Node", ActionType.UpdateNodeAnnotation, "NodeAnnotationChange"),
  PvAdd: event("PersistentVolume", ActionType.Add, "PvAdd"),
  PvUpdate: event("PersistentVolume", ActionType.Update, "PvUpdate"),
  PvcAdd: event("PersistentVolumeClaim", ActionType.Add, "PvcAdd"),
  PvcUpdate: event("PersistentVolumeClaim", ActionType.Update, "PvcUpdate"),
  StorageClassAdd: event("StorageClass", ActionType.Add, "StorageClassAdd"),
  StorageClassUpdate: event("StorageClass", ActionType.Update, "StorageClassUpdate"),
  /** A pod waited in the unschedulable pool past its time (5 minutes): it is retried whatever failed. */
  UnschedulableTimeout: event("*", ActionType.All, "UnschedulableTimeout"),
} as const;

export const isWildCard = (e: ClusterEvent): boolean => e.resource === "*" && e.actionType === ActionType.All;

/** A registered event matches an incoming one: same resource and overlapping actions, or a wildcard on either side. */
export function eventMatches(registered: ClusterEvent, incoming: ClusterEvent): boolean {
  return isWildCard(incoming) || isWildCard(registered) || (registered.resource === incoming.resource && (registered.actionType & incoming.actionType) !== 0);
}
