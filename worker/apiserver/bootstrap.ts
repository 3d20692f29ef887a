// What a new cluster has from the start: the namespaces kube-apiserver creates (default,
// kube-system, kube-public, kube-node-lease). Ensured once per isolate, before the first API call.
import { coreResources } from "../registry/core.ts";
import { RegistryStore } from "../registry/store.ts";
import { ObjectStorage } from "../storage/object-storage.ts";

const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];
const namespaces = coreResources.find((r) => r.resource === "namespaces")!;

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
}
