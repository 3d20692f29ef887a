// coordination.k8s.io/v1: Leases (leader election, node heartbeats), a declaration only.
import { declare, type ResourceDefinition } from "./types.ts";

export const coordinationResources: ResourceDefinition[] = [declare("coordination.k8s.io/v1", "leases", { generation: false })];
