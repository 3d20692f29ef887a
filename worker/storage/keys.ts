// kube-apiserver's storage key scheme, owned by the storage layer: where each resource's objects
// live under /registry/. A leaf module: the registry, admission and auth code build keys with it.
import { builtinResources } from "../../lib/k8s/resources.ts";

/** Resources kube-apiserver keeps under a name other than their plural (by "group/resource"). */
const STORED_UNDER: Record<string, string> = {
  "/services": "services/specs",
  "/nodes": "minions",
  "/replicationcontrollers": "controllers",
  // events.k8s.io/v1 Events are the same stored objects as core/v1 Events.
  "events.k8s.io/events": "events",
};

/** Groups whose resources kube-apiserver stores without the group in the key. */
const UNQUALIFIED_GROUPS = new Set([
  "apps", "batch", "autoscaling", "policy", "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io",
  "scheduling.k8s.io", "rbac.authorization.k8s.io", "networking.k8s.io", "storage.k8s.io", "node.k8s.io",
  "certificates.k8s.io", "admissionregistration.k8s.io", "flowcontrol.apiserver.k8s.io",
]);

/** The key segment after /registry/ for a resource: "pods", "minions", "example.com/widgets". */
export function storageSegment(group: string, resource: string): string {
  const stored = STORED_UNDER[`${group}/${resource}`];
  if (stored) return stored;
  return group && !UNQUALIFIED_GROUPS.has(group) ? `${group}/${resource}` : resource;
}

/** /registry/<segment>/ for all namespaces, /registry/<segment>/<ns>/ for one. */
export function resourcePrefix(group: string, resource: string, namespace?: string): string {
  const base = `/registry/${storageSegment(group, resource)}/`;
  return namespace ? `${base}${namespace}/` : base;
}

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
