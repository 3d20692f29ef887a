// PATCH: the content type picks the patch kind; each applies to the current object, and a patch
// that cannot apply is a 422 (or 400 for a malformed patch) with nothing stored.
import { applyJsonPatch } from "../patch/json-patch.ts";
import { applyMergePatch } from "../patch/merge-patch.ts";
import { PatchError } from "../patch/patch-error.ts";
import { applyStrategicMergePatch, typeNameForKind } from "../patch/strategic-merge-patch.ts";
import { groupVersion } from "../registry/types.ts";
import type { KubeObject, ResourceDefinition } from "../registry/types.ts";
import { ApiError, apiErrors } from "../../lib/k8s/status.ts";

export const PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"];

export function applyPatch(contentType: string, current: KubeObject, patch: unknown, def: ResourceDefinition): KubeObject {
  try {
    switch (contentType) {
      case "application/json-patch+json":
        return applyJsonPatch(current, patch) as KubeObject;
      case "application/merge-patch+json":
        return applyMergePatch(current, patch) as KubeObject;
      case "application/strategic-merge-patch+json": {
        const typeName = typeNameForKind(groupVersion(def), def.kind);
        if (!typeName) throw apiErrors.unsupportedMediaType(PATCH_TYPES.filter((t) => !t.includes("strategic")));
        return applyStrategicMergePatch(current, patch, typeName) as KubeObject;
      }
      default:
        throw apiErrors.unsupportedMediaType(PATCH_TYPES);
    }
  } catch (e) {
    if (e instanceof ApiError) throw e;
    if (e instanceof PatchError) {
      // A patch that cannot apply is the client's to fix: kube's 500s for malformed directives become 400s here.
      const message = (e.detail ? `${e.message}: ${e.detail}` : e.message).slice(0, 300);
      if (e.code >= 500) throw apiErrors.badRequest(`the patch could not be applied: ${message}`);
      throw new ApiError(e.code, e.reason || "BadRequest", message);
    }
    throw e;
  }
}
