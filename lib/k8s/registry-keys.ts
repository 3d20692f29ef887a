// kube-apiserver's storage key scheme: where each resource's objects live under /registry/. The
// apiserver's storage layer builds keys with it; the store's pokes and the clients they wake use it
// to tell which resources a commit touched.

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
