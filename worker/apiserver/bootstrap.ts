// What a new cluster has from the start, as kube-apiserver's post-start hooks make it: the system
// namespaces with their default service accounts and the kubernetes Service (bootstrap-controller),
// the default RBAC policy (rbac/bootstrap-roles), the system priority classes
// (scheduling/bootstrap-system-priority-classes) and the default local-path StorageClass. They run
// once per isolate, before it serves its first request (worker/index.ts mounts them), and /readyz
// reports each.
import type { MiddlewareHandler } from "hono";
import { SYSTEM_PRIORITY_CLASSES } from "../admission/pod-defaults.ts";
import { bootstrapClusterRoleBindings, bootstrapClusterRoles } from "../authz/bootstrap-policy.ts";
import { builtinStore } from "../registry/builtins.ts";
import { serviceCidr, SYSTEM_NAMESPACES } from "../registry/core.ts";
import { clusterDNSServiceIP, kubernetesServiceIP } from "../registry/services.ts";
import type { RegistryStore } from "../registry/store.ts";
import type { KubeObject } from "../registry/types.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import type { AppEnv } from "../context.ts";
import { LOCAL_PATH_STORAGE_CLASS } from "../../lib/k8s/storage.ts";

/**
 * Creates what is missing (kube also reconciles changed defaults; we leave what users changed).
 * A few objects are looked up by name; a set that is most of its resource (the default cluster
 * roles) is read in one list, never the whole of an unbounded resource such as namespaces.
 */
async function ensure(store: RegistryStore, namespace: string | undefined, objects: readonly KubeObject[], { readAll = false } = {}): Promise<void> {
  const names = readAll
    ? (await store.all(namespace)).map((o) => o.metadata?.name)
    : (await Promise.all(objects.map((o) => store.find(namespace, o.metadata!.name)))).map((o) => o?.metadata?.name);
  const present = new Set(names);
  await Promise.all(objects.filter((o) => !present.has(o.metadata!.name)).map((o) =>
    store.create(namespace, structuredClone(o), { manager: "kube-apiserver" }).catch((e) => {
      if (e?.code !== 409) throw e;
    })));
}

const POST_START_HOOKS: { name: string; run(env: Env, storage: ObjectStorage): Promise<void> }[] = [
  {
    name: "bootstrap-controller",
    async run(env, storage) {
      // Their default service accounts are the serviceaccount controller's.
      await ensure(builtinStore(storage, "v1", "namespaces"), undefined, SYSTEM_NAMESPACES.map((name) => ({ metadata: { name } })));
      // The kubernetes service in default, at the first address of the service range.
      await ensure(builtinStore(storage, "v1", "services"), "default", [{
        metadata: { name: "kubernetes", labels: { component: "apiserver", provider: "kubernetes" } },
        spec: { clusterIP: kubernetesServiceIP(serviceCidr(env)), ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: 6443 }] },
      }]);
      // kube-dns in kube-system, at the tenth address as kubeadm makes it. Without a selector: each
      // node agent answers it itself (its service proxy leads the ClusterIP to its own DNS server).
      await ensure(builtinStore(storage, "v1", "services"), "kube-system", [{
        metadata: { name: "kube-dns", labels: { "k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS" } },
        spec: {
          clusterIP: clusterDNSServiceIP(serviceCidr(env)),
          ports: [{ name: "dns", port: 53, protocol: "UDP", targetPort: 53 }, { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 }],
        },
      }]);
    },
  },
  {
    name: "rbac/bootstrap-roles",
    async run(_env, storage) {
      await ensure(builtinStore(storage, "rbac.authorization.k8s.io/v1", "clusterroles"), undefined, bootstrapClusterRoles as readonly KubeObject[], { readAll: true });
      await ensure(builtinStore(storage, "rbac.authorization.k8s.io/v1", "clusterrolebindings"), undefined, bootstrapClusterRoleBindings as readonly KubeObject[], { readAll: true });
    },
  },
  {
    name: "scheduling/bootstrap-system-priority-classes",
    async run(_env, storage) {
      await ensure(builtinStore(storage, "scheduling.k8s.io/v1", "priorityclasses"), undefined,
        SYSTEM_PRIORITY_CLASSES.map(({ name, value, description }) => ({ metadata: { name }, value, description, preemptionPolicy: "PreemptLowerPriority" })));
    },
  },
  {
    // edgeplane's default class, as k3s ships its local-path one: node agents provision its claims.
    name: "storage/bootstrap-local-path-storage-class",
    async run(_env, storage) {
      await ensure(builtinStore(storage, "storage.k8s.io/v1", "storageclasses"), undefined, [LOCAL_PATH_STORAGE_CLASS as KubeObject]);
    },
  },
];

/**
 * The hooks that have completed in this isolate. A request that finds a hook not done runs it
 * itself (the hooks only create what is missing, so concurrent runs agree): sharing one request's
 * run in flight would make other requests wait on its store I/O, which workerd forbids.
 */
const done = new Set<string>();

function runHooks(env: Env): Promise<void>[] {
  const storage = new ObjectStorage(env);
  return POST_START_HOOKS.map(async (hook) => {
    if (done.has(hook.name)) return;
    await hook.run(env, storage);
    done.add(hook.name);
  });
}

/** Middleware: the cluster is seeded before this isolate serves anything that reads it. */
export const postStartHooks: MiddlewareHandler<AppEnv> = async (c, next) => {
  // Once every hook has run, a request pays nothing here.
  if (done.size < POST_START_HOOKS.length) await Promise.all(runHooks(c.env));
  await next();
};

/** /readyz lines for the hooks: "[+]poststarthook/rbac/bootstrap-roles ok", or why not. */
export async function postStartHookChecks(env: Env): Promise<{ ready: boolean; lines: string[] }> {
  const results = await Promise.allSettled(runHooks(env));
  const lines = results.map((r, i) => `[${r.status === "fulfilled" ? "+" : "-"}]poststarthook/${POST_START_HOOKS[i]!.name} ${r.status === "fulfilled" ? "ok" : "failed: reason withheld"}`);
  return { ready: results.every((r) => r.status === "fulfilled"), lines };
}
