// kube-apiserver's storage keys as the storage layer builds them: the per-resource prefixes (the
// scheme is in lib/k8s/registry-keys.ts, which the store's pokes share), object keys, and the
// prefixes named by encryption settings. A leaf module: registry, admission and auth use it.
import { builtinResources } from "../../lib/k8s/resources.ts";
import { resourcePrefix } from "../../lib/k8s/registry-keys.ts";

export { resourcePrefix, storageSegment } from "../../lib/k8s/registry-keys.ts";

/** The key of one object. */
export function objectKey(group: string, resource: string, namespace: string | undefined, name: string): string {
  return `${resourcePrefix(group, resource, namespace)}${name}`;
}

export const namespaceKey = (name: string) => objectKey("", "namespaces", undefined, name);

/**
 * Where a resource named as in kube's EncryptionConfiguration ("secrets", "deployments.apps",
 * a custom resource's "widgets.example.com") keeps its objects; undefined for no stored resource.
 */
export function prefixOfQualifiedResource(qualified: string): string | undefined {
  const dot = qualified.indexOf(".");
  const [resource, group] = dot < 0 ? [qualified, ""] : [qualified.slice(0, dot), qualified.slice(dot + 1)];
  if (!resource) return undefined;
  const builtin = builtinResources.find((r) => r.resource === resource && r.group === group);
  if (builtin) return builtin.kind.endsWith("Review") ? undefined : resourcePrefix(group, resource);
  // Custom resources keep their group in the key.
  if (group.includes(".") && !builtinResources.some((r) => r.group === group)) return resourcePrefix(group, resource);
  return undefined;
}
