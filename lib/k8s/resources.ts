// The names of every built-in resource: group, version, kind, plural, singular, scope, short names
// and categories. The apiserver's registry declares its strategies over these entries and API
// clients build their URLs from them, so each name is written once.

export interface ResourceNames {
  /** "" for the core group. */
  group: string;
  version: string;
  kind: string;
  /** Plural, lower case: the URL segment. */
  resource: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
}

type Entry = [kind: string, resource: string, namespaced: boolean, extra?: { shortNames?: string[]; categories?: string[]; singular?: string }];

/** "apps/v1" → ["apps", "v1"]; "v1" → ["", "v1"]. */
export function splitApiVersion(apiVersion: string): [group: string, version: string] {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? ["", apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

function group(groupVersion: string, entries: Entry[]): ResourceNames[] {
  const [group, version] = splitApiVersion(groupVersion);
  return entries.map(([kind, resource, namespaced, extra]) => ({
    group, version, kind, resource, singular: extra?.singular ?? kind.toLowerCase(), namespaced,
    ...(extra?.shortNames ? { shortNames: extra.shortNames } : {}),
    ...(extra?.categories ? { categories: extra.categories } : {}),
  }));
}

const all = ["all"];

export const builtinResources: readonly ResourceNames[] = [
  ...group("v1", [
    ["Namespace", "namespaces", false, { shortNames: ["ns"] }],
    ["Pod", "pods", true, { shortNames: ["po"], categories: all }],
    ["Service", "services", true, { shortNames: ["svc"], categories: all }],
    ["Endpoints", "endpoints", true, { shortNames: ["ep"], singular: "endpoints" }],
    ["ConfigMap", "configmaps", true, { shortNames: ["cm"] }],
    ["Secret", "secrets", true],
    ["ServiceAccount", "serviceaccounts", true, { shortNames: ["sa"] }],
    ["Node", "nodes", false, { shortNames: ["no"] }],
    ["Event", "events", true, { shortNames: ["ev"] }],
    ["PodTemplate", "podtemplates", true],
    ["LimitRange", "limitranges", true, { shortNames: ["limits"] }],
    ["ResourceQuota", "resourcequotas", true, { shortNames: ["quota"] }],
    ["ReplicationController", "replicationcontrollers", true, { shortNames: ["rc"], categories: all }],
    ["ComponentStatus", "componentstatuses", false, { shortNames: ["cs"] }],
    ["PersistentVolumeClaim", "persistentvolumeclaims", true, { shortNames: ["pvc"] }],
    ["PersistentVolume", "persistentvolumes", false, { shortNames: ["pv"] }],
  ]),
  ...group("apps/v1", [
    ["Deployment", "deployments", true, { shortNames: ["deploy"], categories: all }],
    ["ReplicaSet", "replicasets", true, { shortNames: ["rs"], categories: all }],
    ["DaemonSet", "daemonsets", true, { shortNames: ["ds"], categories: all }],
    ["StatefulSet", "statefulsets", true, { shortNames: ["sts"], categories: all }],
    ["ControllerRevision", "controllerrevisions", true],
  ]),
  ...group("batch/v1", [
    ["Job", "jobs", true, { categories: all }],
    ["CronJob", "cronjobs", true, { shortNames: ["cj"], categories: all }],
  ]),
  ...group("autoscaling/v2", [["HorizontalPodAutoscaler", "horizontalpodautoscalers", true, { shortNames: ["hpa"], categories: all }]]),
  ...group("autoscaling/v1", [["HorizontalPodAutoscaler", "horizontalpodautoscalers", true, { shortNames: ["hpa"], categories: all }]]),
  ...group("coordination.k8s.io/v1", [["Lease", "leases", true]]),
  ...group("discovery.k8s.io/v1", [["EndpointSlice", "endpointslices", true]]),
  ...group("events.k8s.io/v1", [["Event", "events", true, { shortNames: ["ev"] }]]),
  ...group("policy/v1", [["PodDisruptionBudget", "poddisruptionbudgets", true, { shortNames: ["pdb"] }]]),
  ...group("scheduling.k8s.io/v1", [["PriorityClass", "priorityclasses", false, { shortNames: ["pc"] }]]),
  ...group("storage.k8s.io/v1", [["StorageClass", "storageclasses", false, { shortNames: ["sc"] }]]),
  ...group("rbac.authorization.k8s.io/v1", [
    ["Role", "roles", true],
    ["RoleBinding", "rolebindings", true],
    ["ClusterRole", "clusterroles", false],
    ["ClusterRoleBinding", "clusterrolebindings", false],
  ]),
  ...group("networking.k8s.io/v1", [
    ["Ingress", "ingresses", true, { shortNames: ["ing"] }],
    ["IngressClass", "ingressclasses", false],
    ["NetworkPolicy", "networkpolicies", true, { shortNames: ["netpol"] }],
  ]),
  ...group("admissionregistration.k8s.io/v1", [
    ["ValidatingAdmissionPolicy", "validatingadmissionpolicies", false, { categories: ["api-extensions"] }],
    ["ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", false, { categories: ["api-extensions"] }],
    ["MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false, { categories: ["api-extensions"] }],
    ["ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false, { categories: ["api-extensions"] }],
  ]),
  ...group("apiextensions.k8s.io/v1", [
    ["CustomResourceDefinition", "customresourcedefinitions", false, { shortNames: ["crd", "crds"], categories: ["api-extensions"] }],
  ]),
  ...(["v1", "v1beta1", "v1alpha1"] as const).flatMap((version) =>
    group(`authentication.k8s.io/${version}`, [["SelfSubjectReview", "selfsubjectreviews", false]])),
  ...group("authentication.k8s.io/v1", [["TokenReview", "tokenreviews", false]]),
  ...group("authorization.k8s.io/v1", [
    ["SubjectAccessReview", "subjectaccessreviews", false],
    ["SelfSubjectAccessReview", "selfsubjectaccessreviews", false],
    ["LocalSubjectAccessReview", "localsubjectaccessreviews", true],
    ["SelfSubjectRulesReview", "selfsubjectrulesreviews", false],
  ]),
];

const byResource = new Map(builtinResources.map((r) => [`${r.group}/${r.version}/${r.resource}`, r]));
const byKind = new Map<string, ResourceNames>();
for (const r of builtinResources) if (!byKind.has(`${r.group}/${r.version}/${r.kind}`)) byKind.set(`${r.group}/${r.version}/${r.kind}`, r);

/** The names of a built-in resource, as "deployments.apps/v1", "pods/v1" or by group, version and plural. */
export function builtin(groupVersion: string, resource: string): ResourceNames {
  const [group, version] = splitApiVersion(groupVersion);
  const found = byResource.get(`${group}/${version}/${resource}`);
  if (!found) throw new Error(`no built-in resource ${resource} in ${groupVersion}`);
  return found;
}

/** The resource that serves a kind in an apiVersion ("apps/v1", "v1"), if it is built in. */
export function resourceForKind(apiVersion: string, kind: string): ResourceNames | undefined {
  const [group, version] = splitApiVersion(apiVersion);
  return byKind.get(`${group}/${version}/${kind}`);
}

/** "apps/v1" for apps, "v1" for the core group. */
export function apiVersionOf(names: Pick<ResourceNames, "group" | "version">): string {
  return names.group ? `${names.group}/${names.version}` : names.version;
}
