// policy/v1: PodDisruptionBudgets, a declaration only (evictions check them in subresources.ts).
import { declare, type ResourceDefinition } from "./types.ts";

export const policyResources: ResourceDefinition[] = [declare("policy/v1", "poddisruptionbudgets", { hasStatus: true })];
