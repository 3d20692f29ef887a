// The ClusterRoles and ClusterRoleBindings kube-apiserver 1.30 creates at startup (its
// bootstrappolicy), as data. admin, edit and view carry only an aggregationRule: their rules are
// gathered from the system:aggregate-to-* roles by the clusterrole-aggregation controller.
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Subject } from "kubernetes-types/rbac/v1";

const BOOTSTRAP_LABELS = { "kubernetes.io/bootstrapping": "rbac-defaults" };
const AUTOUPDATE = { "rbac.authorization.kubernetes.io/autoupdate": "true" };

const READ = ["get", "list", "watch"];
const WRITE = ["create", "delete", "deletecollection", "patch", "update"];
const READ_WRITE = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const EVENT_WRITE = ["create", "patch", "update"];

function rule(apiGroups: string[], resources: string[], verbs: string[], resourceNames?: string[]): PolicyRule {
  return resourceNames ? { apiGroups, resources, resourceNames, verbs } : { apiGroups, resources, verbs };
}

function urls(nonResourceURLs: string[], verbs: string[]): PolicyRule {
  return { nonResourceURLs, verbs };
}

function clusterRole(name: string, rules: PolicyRule[], extra: { labels?: Record<string, string>; aggregateFrom?: string } = {}): ClusterRole {
  const role: ClusterRole = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name, labels: { ...BOOTSTRAP_LABELS, ...extra.labels }, annotations: { ...AUTOUPDATE } },
  };
  if (extra.aggregateFrom) role.aggregationRule = { clusterRoleSelectors: [{ matchLabels: { [extra.aggregateFrom]: "true" } }] };
  else role.rules = rules;
  return role;
}

const AGGREGATE_TO_ADMIN = "rbac.authorization.k8s.io/aggregate-to-admin";
const AGGREGATE_TO_EDIT = "rbac.authorization.k8s.io/aggregate-to-edit";
const AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view";

/** Lease, event and review rules the control-plane components share. */
const eventsRule = rule(["", "events.k8s.io"], ["events"], EVENT_WRITE);
const tokenReviews = rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]);
const subjectAccessReviews = rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]);
const leaderLease = (name: string) => [
  rule(["coordination.k8s.io"], ["leases"], ["create"]),
  rule(["coordination.k8s.io"], ["leases"], ["get", "update"], [name]),
];
const signerApprover = (signer: string) => [rule(["certificates.k8s.io"], ["signers"], ["approve"], [signer])];

export const bootstrapClusterRoles: readonly ClusterRole[] = [
  clusterRole("admin", [], { aggregateFrom: AGGREGATE_TO_ADMIN }),
  clusterRole("cluster-admin", [rule(["*"], ["*"], ["*"]), urls(["*"], ["*"])]),
  clusterRole("edit", [], { aggregateFrom: AGGREGATE_TO_EDIT, labels: { [AGGREGATE_TO_ADMIN]: "true" } }),
  clusterRole("system:aggregate-to-admin", [
    rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    rule(["rbac.authorization.k8s.io"], ["rolebindings", "roles"], READ_WRITE),
  ], { labels: { [AGGREGATE_TO_ADMIN]: "true" } }),
  clusterRole("system:aggregate-to-edit", [
    rule([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"], READ),
    rule([""], ["serviceaccounts"], ["impersonate"]),
    rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], WRITE),
    rule([""], ["pods/eviction"], ["create"]),
    rule([""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers", "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"], WRITE),
    rule([""], ["serviceaccounts/token"], ["create"]),
    rule(["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"], WRITE),
    rule(["autoscaling"], ["horizontalpodautoscalers"], WRITE),
    rule(["batch"], ["cronjobs", "jobs"], WRITE),
    rule(["extensions"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "ingresses", "networkpolicies", "replicasets", "replicasets/scale", "replicationcontrollers/scale"], WRITE),
    rule(["policy"], ["poddisruptionbudgets"], WRITE),
    rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], WRITE),
    rule(["coordination.k8s.io"], ["leases"], READ_WRITE),
  ], { labels: { [AGGREGATE_TO_EDIT]: "true" } }),
  clusterRole("system:aggregate-to-view", [
    rule([""], ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status"], READ),
    rule([""], ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status", "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"], READ),
    // Read access to namespaces at namespace scope reads *this* namespace: it tells a user which namespaces it can use.
    rule([""], ["namespaces"], READ),
    rule(["discovery.k8s.io"], ["endpointslices"], READ),
    rule(["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"], READ),
    rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
    rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
    rule(["extensions"], ["daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status", "ingresses", "ingresses/status", "networkpolicies", "replicasets", "replicasets/scale", "replicasets/status", "replicationcontrollers/scale"], READ),
    rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
    rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], READ),
  ], { labels: { [AGGREGATE_TO_VIEW]: "true" } }),
  // metrics-server's role, installed with it in kube; here the apiserver serves metrics.k8s.io itself.
  clusterRole("system:aggregated-metrics-reader", [rule(["metrics.k8s.io"], ["pods", "nodes"], READ)], {
    labels: { [AGGREGATE_TO_ADMIN]: "true", [AGGREGATE_TO_EDIT]: "true", [AGGREGATE_TO_VIEW]: "true" },
  }),
  clusterRole("system:auth-delegator", [tokenReviews, subjectAccessReviews]),
  clusterRole("system:basic-user", [
    rule(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
    rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
  ]),
  clusterRole("system:certificates.k8s.io:certificatesigningrequests:nodeclient", [rule(["certificates.k8s.io"], ["certificatesigningrequests/nodeclient"], ["create"])]),
  clusterRole("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", [rule(["certificates.k8s.io"], ["certificatesigningrequests/selfnodeclient"], ["create"])]),
  clusterRole("system:certificates.k8s.io:kube-apiserver-client-approver", signerApprover("kubernetes.io/kube-apiserver-client")),
  clusterRole("system:certificates.k8s.io:kube-apiserver-client-kubelet-approver", signerApprover("kubernetes.io/kube-apiserver-client-kubelet")),
  clusterRole("system:certificates.k8s.io:kubelet-serving-approver", signerApprover("kubernetes.io/kubelet-serving")),
  clusterRole("system:certificates.k8s.io:legacy-unknown-approver", signerApprover("kubernetes.io/legacy-unknown")),
  clusterRole("system:discovery", [
    urls(["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], ["get"]),
  ]),
  clusterRole("system:heapster", [
    rule([""], ["events", "namespaces", "nodes", "pods"], READ),
    rule(["extensions"], ["deployments"], READ),
  ]),
  clusterRole("system:kube-aggregator", [rule([""], ["endpoints", "services"], READ)]),
  clusterRole("system:kube-controller-manager", [
    eventsRule,
    ...leaderLease("kube-controller-manager"),
    // The controller manager mints each controller's own service account and token from these.
    rule([""], ["secrets", "serviceaccounts"], ["create"]),
    rule([""], ["secrets"], ["delete"]),
    rule([""], ["configmaps", "namespaces", "secrets", "serviceaccounts"], ["get"]),
    rule([""], ["secrets", "serviceaccounts"], ["update"]),
    tokenReviews,
    subjectAccessReviews,
    rule(["*"], ["*"], ["list", "watch"]),
    rule([""], ["serviceaccounts/token"], ["create"]),
  ]),
  // kube-controller-manager's per-controller roles (bootstrappolicy's controller_policy.go). kube
  // binds each to its controller's service account; ours run as system:kube-controller-manager.
  clusterRole("system:controller:clusterrole-aggregation-controller", [
    rule(["rbac.authorization.k8s.io"], ["clusterroles"], ["escalate", "get", "list", "patch", "update", "watch"]),
  ]),
  clusterRole("system:controller:deployment-controller", [
    rule(["apps", "extensions"], ["deployments"], ["get", "list", "update", "watch"]),
    rule(["apps", "extensions"], ["deployments/status"], ["update"]),
    rule(["apps", "extensions"], ["deployments/finalizers"], ["update"]),
    rule(["apps", "extensions"], ["replicasets"], ["create", "delete", "get", "list", "patch", "update", "watch"]),
    rule([""], ["pods"], ["get", "list", "update", "watch"]),
    eventsRule,
  ]),
  clusterRole("system:controller:generic-garbage-collector", [
    rule(["*"], ["*"], ["delete", "get", "list", "patch", "update", "watch"]),
    eventsRule,
  ]),
  clusterRole("system:controller:namespace-controller", [
    rule([""], ["namespaces"], ["delete", "get", "list", "watch"]),
    rule([""], ["namespaces/finalize", "namespaces/status"], ["update"]),
    rule(["*"], ["*"], ["delete", "deletecollection", "get", "list"]),
  ]),
  clusterRole("system:controller:root-ca-cert-publisher", [
    rule([""], ["configmaps"], ["create", "update"]),
    eventsRule,
  ]),
  clusterRole("system:controller:service-account-controller", [
    rule([""], ["serviceaccounts"], ["create"]),
    eventsRule,
  ]),
  clusterRole("system:controller:replicaset-controller", [
    rule(["apps", "extensions"], ["replicasets"], ["get", "list", "update", "watch"]),
    rule(["apps", "extensions"], ["replicasets/status"], ["update"]),
    rule(["apps", "extensions"], ["replicasets/finalizers"], ["update"]),
    rule([""], ["pods"], ["create", "delete", "list", "patch", "watch"]),
    eventsRule,
  ]),
  // The workload controllers' roles (controller_policy.go).
  clusterRole("system:controller:cronjob-controller", [
    rule(["batch"], ["cronjobs"], ["get", "list", "update", "watch"]),
    rule(["batch"], ["jobs"], ["create", "delete", "get", "list", "patch", "update", "watch"]),
    rule(["batch"], ["cronjobs/status"], ["update"]),
    rule(["batch"], ["cronjobs/finalizers"], ["update"]),
    rule([""], ["pods"], ["delete", "list"]),
    eventsRule,
  ]),
  clusterRole("system:controller:daemon-set-controller", [
    rule(["apps", "extensions"], ["daemonsets"], ["get", "list", "watch"]),
    rule(["apps", "extensions"], ["daemonsets/status"], ["update"]),
    rule(["apps", "extensions"], ["daemonsets/finalizers"], ["update"]),
    rule([""], ["nodes"], ["list", "watch"]),
    rule([""], ["pods"], ["create", "delete", "list", "patch", "watch"]),
    rule([""], ["pods/binding"], ["create"]),
    rule(["apps"], ["controllerrevisions"], ["create", "delete", "get", "list", "patch", "update", "watch"]),
    eventsRule,
  ]),
  clusterRole("system:controller:job-controller", [
    rule(["batch"], ["jobs"], ["get", "list", "patch", "update", "watch"]),
    rule(["batch"], ["jobs/status"], ["update"]),
    rule(["batch"], ["jobs/finalizers"], ["update"]),
    rule([""], ["pods"], ["create", "delete", "list", "patch", "watch"]),
    eventsRule,
  ]),
  clusterRole("system:controller:statefulset-controller", [
    rule([""], ["pods"], ["list", "watch"]),
    rule(["apps"], ["statefulsets"], ["list", "watch"]),
    rule(["apps"], ["statefulsets"], ["get"]),
    rule(["apps"], ["statefulsets/status"], ["update"]),
    rule(["apps"], ["statefulsets/finalizers"], ["update"]),
    rule([""], ["pods"], ["create", "delete", "get", "patch", "update"]),
    rule(["apps"], ["controllerrevisions"], ["create", "delete", "get", "list", "patch", "update", "watch"]),
    rule([""], ["persistentvolumeclaims"], ["create", "get"]),
    rule([""], ["persistentvolumeclaims"], ["delete", "update"]),
    eventsRule,
  ]),
  clusterRole("system:controller:ttl-after-finished-controller", [
    rule(["batch"], ["jobs"], ["delete", "get", "list", "watch"]),
    eventsRule,
  ]),
  clusterRole("system:controller:endpoint-controller", [
    rule([""], ["pods", "services"], ["get", "list", "watch"]),
    rule([""], ["endpoints"], ["create", "delete", "get", "list", "update"]),
    rule([""], ["endpoints/restricted"], ["create"]),
    eventsRule,
  ]),
  clusterRole("system:controller:endpointslice-controller", [
    rule([""], ["nodes", "pods", "services"], ["get", "list", "watch"]),
    rule([""], ["services/finalizers"], ["update"]),
    rule(["discovery.k8s.io"], ["endpointslices"], ["create", "delete", "get", "list", "update"]),
    eventsRule,
  ]),
  clusterRole("system:controller:node-controller", [
    rule([""], ["nodes"], ["delete", "get", "list", "patch", "update"]),
    rule([""], ["nodes/status"], ["patch", "update"]),
    rule([""], ["pods/status"], ["patch", "update"]),
    rule([""], ["pods"], ["delete", "get", "list"]),
    eventsRule,
  ]),
  clusterRole("system:controller:pvc-protection-controller", [
    rule([""], ["persistentvolumeclaims"], ["get", "list", "watch", "update"]),
    rule([""], ["pods"], ["list", "watch", "get"]),
    eventsRule,
  ]),
  clusterRole("system:controller:pv-protection-controller", [
    rule([""], ["persistentvolumes"], ["get", "list", "watch", "update"]),
    eventsRule,
  ]),
  clusterRole("system:controller:persistent-volume-binder", [
    rule([""], ["persistentvolumes"], ["create", "delete", "get", "list", "update", "watch"]),
    rule([""], ["persistentvolumes/status"], ["update"]),
    rule([""], ["persistentvolumeclaims"], ["get", "list", "update", "watch"]),
    rule([""], ["persistentvolumeclaims/status"], ["update"]),
    rule([""], ["pods"], ["create", "delete", "get", "list", "watch"]),
    rule(["storage.k8s.io"], ["storageclasses"], READ),
    rule([""], ["endpoints", "services"], ["create", "delete", "get"]),
    rule([""], ["secrets"], ["get"]),
    rule([""], ["nodes"], ["get", "list"]),
    eventsRule,
  ]),
  clusterRole("system:controller:pod-garbage-collector", [
    rule([""], ["pods"], ["delete", "list", "watch"]),
    rule([""], ["nodes"], ["get", "list"]),
    rule([""], ["pods/status"], ["patch"]),
  ]),
  clusterRole("system:controller:replication-controller", [
    rule([""], ["replicationcontrollers"], ["get", "list", "update", "watch"]),
    rule([""], ["replicationcontrollers/status"], ["update"]),
    rule([""], ["replicationcontrollers/finalizers"], ["update"]),
    rule([""], ["pods"], ["create", "delete", "list", "patch", "watch"]),
    eventsRule,
  ]),
  clusterRole("system:controller:disruption-controller", [
    rule(["apps", "extensions"], ["deployments"], ["get", "list", "watch"]),
    rule(["apps", "extensions"], ["replicasets"], ["get", "list", "watch"]),
    rule([""], ["replicationcontrollers"], ["get", "list", "watch"]),
    rule(["policy"], ["poddisruptionbudgets"], ["get", "list", "watch"]),
    rule(["apps"], ["statefulsets"], ["get", "list", "watch"]),
    rule(["policy"], ["poddisruptionbudgets/status"], ["update"]),
    rule(["*"], ["*/scale"], ["get"]),
    rule([""], ["pods/status"], ["patch", "update"]),
    eventsRule,
  ]),
  clusterRole("system:controller:resourcequota-controller", [
    // Quota counts anything, so it may list and watch everything.
    rule(["*"], ["*"], ["list", "watch"]),
    rule([""], ["resourcequotas/status"], ["update"]),
    eventsRule,
  ]),
  clusterRole("system:controller:horizontal-pod-autoscaler", [
    rule(["autoscaling"], ["horizontalpodautoscalers"], ["get", "list", "watch"]),
    rule(["autoscaling"], ["horizontalpodautoscalers/status"], ["update"]),
    rule(["*"], ["*/scale"], ["get", "update"]),
    rule([""], ["pods"], ["list"]),
    rule(["metrics.k8s.io"], ["pods"], ["list"]),
    rule(["custom.metrics.k8s.io"], ["*"], ["get", "list"]),
    rule(["external.metrics.k8s.io"], ["*"], ["get", "list"]),
    eventsRule,
  ]),
  clusterRole("system:kube-dns", [rule([""], ["endpoints", "services"], ["list", "watch"])]),
  clusterRole("system:kube-scheduler", [
    eventsRule,
    ...leaderLease("kube-scheduler"),
    rule([""], ["nodes"], READ),
    rule([""], ["pods"], ["delete", "get", "list", "watch"]),
    rule([""], ["bindings", "pods/binding"], ["create"]),
    rule([""], ["pods/status"], ["patch", "update"]),
    rule([""], ["replicationcontrollers", "services"], READ),
    rule(["apps", "extensions"], ["replicasets"], READ),
    rule(["apps"], ["statefulsets"], READ),
    rule(["policy"], ["poddisruptionbudgets"], READ),
    rule([""], ["persistentvolumeclaims", "persistentvolumes"], READ),
    tokenReviews,
    subjectAccessReviews,
    rule(["storage.k8s.io"], ["csinodes"], READ),
    rule([""], ["namespaces"], READ),
    rule(["storage.k8s.io"], ["csidrivers"], READ),
    rule(["storage.k8s.io"], ["csistoragecapacities"], READ),
  ]),
  clusterRole("system:kubelet-api-admin", [
    rule([""], ["nodes"], READ),
    rule([""], ["nodes"], ["proxy"]),
    rule([""], ["nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats"], ["*"]),
  ]),
  clusterRole("system:monitoring", [
    urls(["/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/metrics/slis", "/readyz", "/readyz/*"], ["get"]),
  ]),
  // Bound to no one: the Node authorizer grants each node its own objects instead.
  clusterRole("system:node", [
    tokenReviews,
    rule(["authorization.k8s.io"], ["localsubjectaccessreviews", "subjectaccessreviews"], ["create"]),
    rule([""], ["services"], READ),
    rule([""], ["nodes"], ["create", "get", "list", "watch"]),
    rule([""], ["nodes/status"], ["patch", "update"]),
    rule([""], ["nodes"], ["patch", "update"]),
    rule([""], ["events"], EVENT_WRITE),
    rule([""], ["pods"], READ),
    rule([""], ["pods"], ["create", "delete"]),
    rule([""], ["pods/status"], ["patch", "update"]),
    rule([""], ["pods/eviction"], ["create"]),
    rule([""], ["configmaps", "secrets"], READ),
    rule([""], ["persistentvolumeclaims", "persistentvolumes"], ["get"]),
    rule([""], ["endpoints"], ["get"]),
    rule(["certificates.k8s.io"], ["certificatesigningrequests"], ["create", "get", "list", "watch"]),
    rule(["coordination.k8s.io"], ["leases"], ["create", "delete", "get", "patch", "update"]),
    rule(["storage.k8s.io"], ["volumeattachments"], ["get"]),
    rule([""], ["serviceaccounts/token"], ["create"]),
    rule([""], ["persistentvolumeclaims/status"], ["get", "patch", "update"]),
    rule(["storage.k8s.io"], ["csidrivers"], READ),
    rule(["storage.k8s.io"], ["csinodes"], ["create", "delete", "get", "patch", "update"]),
    rule(["node.k8s.io"], ["runtimeclasses"], READ),
  ]),
  clusterRole("system:node-bootstrapper", [rule(["certificates.k8s.io"], ["certificatesigningrequests"], ["create", "get", "list", "watch"])]),
  // edgeplane's join: a bootstrap token may ask for a node's own credential (nodes/token) and nothing else.
  clusterRole("edgeplane:node-bootstrapper", [rule([""], ["nodes/token"], ["create"])]),
  // edgeplane's local-path provisioner runs in each node agent (k3s runs it with its own account):
  // a node makes and deletes the volumes of its own claims (NodeRestriction narrows it to those).
  clusterRole("edgeplane:local-path-provisioner", [
    rule([""], ["persistentvolumes"], ["create", "delete", "get", "list", "watch"]),
    rule(["storage.k8s.io"], ["storageclasses"], ["get"]),
  ]),
  // edgeplane's service proxy and cluster DNS run in each node agent with the node's credential
  // (kube runs kube-proxy as system:kube-proxy): what system:node-proxier has beyond system:node.
  clusterRole("edgeplane:node-proxier", [rule(["discovery.k8s.io"], ["endpointslices"], ["list", "watch"])]),
  clusterRole("system:node-problem-detector", [
    rule([""], ["nodes"], ["get"]),
    rule([""], ["nodes/status"], ["patch"]),
    eventsRule,
  ]),
  clusterRole("system:node-proxier", [
    rule([""], ["endpoints", "services"], ["list", "watch"]),
    rule([""], ["nodes"], READ),
    eventsRule,
    rule(["discovery.k8s.io"], ["endpointslices"], ["list", "watch"]),
  ]),
  clusterRole("system:persistent-volume-provisioner", [
    rule([""], ["persistentvolumes"], ["create", "delete", "get", "list", "watch"]),
    rule([""], ["persistentvolumeclaims"], ["get", "list", "update", "watch"]),
    rule(["storage.k8s.io"], ["storageclasses"], READ),
    rule([""], ["events"], ["watch"]),
    eventsRule,
  ]),
  clusterRole("system:public-info-viewer", [urls(["/healthz", "/livez", "/readyz", "/version", "/version/"], ["get"])]),
  clusterRole("system:service-account-issuer-discovery", [urls(["/.well-known/openid-configuration", "/openid/v1/jwks"], ["get"])]),
  clusterRole("system:volume-scheduler", [
    rule([""], ["persistentvolumes"], ["get", "list", "patch", "update", "watch"]),
    rule(["storage.k8s.io"], ["storageclasses"], READ),
    rule([""], ["persistentvolumeclaims"], ["get", "list", "patch", "update", "watch"]),
  ]),
  clusterRole("view", [], { aggregateFrom: AGGREGATE_TO_VIEW, labels: { [AGGREGATE_TO_EDIT]: "true" } }),
];

const group = (name: string): Subject => ({ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name });
const user = (name: string): Subject => ({ apiGroup: "rbac.authorization.k8s.io", kind: "User", name });
const serviceAccount = (namespace: string, name: string): Subject => ({ kind: "ServiceAccount", name, namespace });

function clusterRoleBinding(name: string, subjects: Subject[]): ClusterRoleBinding {
  const binding: ClusterRoleBinding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name, labels: { ...BOOTSTRAP_LABELS }, annotations: { ...AUTOUPDATE } },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
  };
  if (subjects.length > 0) binding.subjects = subjects;
  return binding;
}

export const bootstrapClusterRoleBindings: readonly ClusterRoleBinding[] = [
  clusterRoleBinding("cluster-admin", [group("system:masters")]),
  clusterRoleBinding("system:basic-user", [group("system:authenticated")]),
  clusterRoleBinding("system:discovery", [group("system:authenticated")]),
  clusterRoleBinding("system:kube-controller-manager", [user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:clusterrole-aggregation-controller", [serviceAccount("kube-system", "clusterrole-aggregation-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:deployment-controller", [serviceAccount("kube-system", "deployment-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:generic-garbage-collector", [serviceAccount("kube-system", "generic-garbage-collector"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:namespace-controller", [serviceAccount("kube-system", "namespace-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:root-ca-cert-publisher", [serviceAccount("kube-system", "root-ca-cert-publisher"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:service-account-controller", [serviceAccount("kube-system", "service-account-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:replicaset-controller", [serviceAccount("kube-system", "replicaset-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:cronjob-controller", [serviceAccount("kube-system", "cronjob-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:daemon-set-controller", [serviceAccount("kube-system", "daemon-set-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:job-controller", [serviceAccount("kube-system", "job-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:statefulset-controller", [serviceAccount("kube-system", "statefulset-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:ttl-after-finished-controller", [serviceAccount("kube-system", "ttl-after-finished-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:endpoint-controller", [serviceAccount("kube-system", "endpoint-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:endpointslice-controller", [serviceAccount("kube-system", "endpointslice-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:node-controller", [serviceAccount("kube-system", "node-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:persistent-volume-binder", [serviceAccount("kube-system", "persistent-volume-binder"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:pvc-protection-controller", [serviceAccount("kube-system", "pvc-protection-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:pv-protection-controller", [serviceAccount("kube-system", "pv-protection-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:pod-garbage-collector", [serviceAccount("kube-system", "pod-garbage-collector"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:replication-controller", [serviceAccount("kube-system", "replication-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:disruption-controller", [serviceAccount("kube-system", "disruption-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:resourcequota-controller", [serviceAccount("kube-system", "resourcequota-controller"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:controller:horizontal-pod-autoscaler", [serviceAccount("kube-system", "horizontal-pod-autoscaler"), user("system:kube-controller-manager")]),
  clusterRoleBinding("system:kube-dns", [{ kind: "ServiceAccount", name: "kube-dns", namespace: "kube-system" }]),
  clusterRoleBinding("system:kube-scheduler", [user("system:kube-scheduler")]),
  clusterRoleBinding("system:monitoring", [group("system:monitoring")]),
  // Kept without subjects, as kube keeps it: nodes are authorized by the Node authorizer.
  clusterRoleBinding("system:node", []),
  clusterRoleBinding("edgeplane:node-bootstrapper", [group("system:bootstrappers")]),
  clusterRoleBinding("edgeplane:local-path-provisioner", [group("system:nodes")]),
  clusterRoleBinding("system:node-proxier", [user("system:kube-proxy")]),
  clusterRoleBinding("edgeplane:node-proxier", [group("system:nodes")]),
  clusterRoleBinding("system:public-info-viewer", [group("system:authenticated"), group("system:unauthenticated")]),
  clusterRoleBinding("system:service-account-issuer-discovery", [group("system:serviceaccounts")]),
  clusterRoleBinding("system:volume-scheduler", [user("system:kube-scheduler")]),
];
