// What a new cluster has from the start: the namespaces kube-apiserver creates (default,
// kube-system, kube-public, kube-node-lease), the kubernetes service, and the default RBAC policy
// (cluster roles and their bindings). Ensured once per isolate, before the first API call.
import { SYSTEM_PRIORITY_CLASSES } from "../admission/pod-defaults.ts";
import { bootstrapClusterRoleBindings, bootstrapClusterRoles } from "../authz/bootstrap-policy.ts";
import { rbacResources } from "../registry/rbac.ts";
import { schedulingResources } from "../registry/scheduling.ts";
import { coreResources, serviceCidr } from "../registry/core.ts";
import { kubernetesServiceIP } from "../registry/services.ts";
import { RegistryStore } from "../registry/store.ts";
import { ObjectStorage } from "../storage/object-storage.ts";

const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];
const serviceAccounts = coreResources.find((r) => r.resource === "serviceaccounts")!;
const priorityClasses = schedulingResources.find((r) => r.resource === "priorityclasses")!;

/** Every namespace has a "default" service account (kube's serviceaccounts controller makes it). */
export async function createDefaultServiceAccount(env: Env, namespace: string): Promise<void> {
  const store = new RegistryStore(serviceAccounts, new ObjectStorage(env));
  if (await store.storage.get(store.key(namespace, "default"))) return;
  await store.create(namespace, { metadata: { name: "default" } }, { manager: "kube-controller-manager" }).catch((e) => {
    if (e?.code !== 409) throw e;
  });
}
const namespaces = coreResources.find((r) => r.resource === "namespaces")!;
const services = coreResources.find((r) => r.resource === "services")!;

let ensured: Promise<void> | undefined;

export function ensureBootstrapped(env: Env): Promise<void> {
  ensured ??= bootstrap(env).catch((e) => {
    ensured = undefined; // try again on the next request
    throw e;
  });
  return ensured;
}

async function bootstrap(env: Env): Promise<void> {
  const store = new RegistryStore(namespaces, new ObjectStorage(env));
  await Promise.all(SYSTEM_NAMESPACES.map(async (name) => {
    if (await store.storage.get(store.key(undefined, name))) return;
    await store.create(undefined, { metadata: { name } }).catch((e) => {
      if (e?.code !== 409) throw e;
    });
  }));
  await Promise.all(SYSTEM_NAMESPACES.map((name) => createDefaultServiceAccount(env, name)));
  const classes = new RegistryStore(priorityClasses, new ObjectStorage(env));
  await Promise.all(SYSTEM_PRIORITY_CLASSES.map(async ({ name, value, description }) => {
    if (await classes.storage.get(classes.key(undefined, name))) return;
    await classes.create(undefined, { metadata: { name }, value, description, preemptionPolicy: "PreemptLowerPriority" }, { manager: "kube-apiserver" }).catch((e) => {
      if (e?.code !== 409) throw e;
    });
  }));
  // The kubernetes service in default, at the first address of the service range.
  const svc = new RegistryStore(services, new ObjectStorage(env));
  if (!(await svc.storage.get(svc.key("default", "kubernetes")))) {
    await svc.create("default", {
      metadata: { name: "kubernetes", labels: { component: "apiserver", provider: "kubernetes" } },
      spec: { clusterIP: kubernetesServiceIP(serviceCidr(env)), ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: 6443 }] },
    }).catch((e) => {
      if (e?.code !== 409) throw e;
    });
  }
  // The default RBAC policy: what is missing is created (kube also reconciles changed defaults).
  const rbac = (kind: string) => new RegistryStore(rbacResources.find((r) => r.kind === kind)!, new ObjectStorage(env));
  for (const [store, objects] of [[rbac("ClusterRole"), bootstrapClusterRoles], [rbac("ClusterRoleBinding"), bootstrapClusterRoleBindings]] as const) {
    const { items } = await store.storage.list(store.prefix(), {});
    const present = new Set(items.map((stored) => stored.object.metadata?.name));
    await Promise.all(objects.filter((o) => !present.has(o.metadata!.name)).map((o) =>
      store.create(undefined, structuredClone(o) as Record<string, any>, { manager: "kube-apiserver" }).catch((e) => {
        if (e?.code !== 409) throw e;
      })));
  }
}
