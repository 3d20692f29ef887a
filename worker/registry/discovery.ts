// discovery.k8s.io/v1: EndpointSlices, a declaration only.
import { declare, type ResourceDefinition } from "./types.ts";

export const discoveryResources: ResourceDefinition[] = [declare("discovery.k8s.io/v1", "endpointslices", { generation: false })];
