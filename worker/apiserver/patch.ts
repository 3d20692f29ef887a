// PATCH: the content type picks the patch kind; each is applied to the current object.
import type { KubeObject, ResourceDefinition } from "../registry/types.ts";
import { apiErrors } from "./status.ts";

export const PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"];

export function applyPatch(contentType: string, current: KubeObject, patch: unknown, def: ResourceDefinition): KubeObject {
  throw apiErrors.unsupportedMediaType(PATCH_TYPES.filter(() => contentType && def && current && patch));
}
