// scheduling.k8s.io/v1: PriorityClasses, a declaration only.
import { declare, type ResourceDefinition } from "./types.ts";

export const schedulingResources: ResourceDefinition[] = [declare("scheduling.k8s.io/v1", "priorityclasses", { generation: false })];
