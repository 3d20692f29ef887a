// ComponentStatus (`kubectl get componentstatuses`): each control-plane component's health, probed
// when asked and never stored, as kube-apiserver builds it. Only components this deployment runs
// are listed.
import type { ComponentStatus } from "kubernetes-types/core/v1";
import { MAIN_SHARD, storeObjectName } from "../../lib/shards.ts";
import { declare, type KubeObject } from "../registry/types.ts";

interface Probe {
  name: string;
  /** Resolves with a message when healthy; rejects with the error when not. */
  check(env: Env): Promise<string>;
}

const PROBES: Probe[] = [
  {
    name: "etcd-0",
    async check(env) {
      const store = env.STORE.get(env.STORE.idFromName(storeObjectName(env.CLUSTER_NAME, MAIN_SHARD)));
      const { header } = await store.status();
      return `ok (revision ${header.revision})`;
    },
  },
  {
    name: "scheduler",
    async check(env) {
      const status = await env.SCHEDULER.get(env.SCHEDULER.idFromName(env.CLUSTER_NAME)).status();
      if (status.error) throw new Error(`the last scheduling pass failed: ${status.error}`);
      return "ok";
    },
  },
  {
    name: "controller-manager",
    async check(env) {
      const status = await env.CONTROLLERS.get(env.CONTROLLERS.idFromName(env.CLUSTER_NAME)).status();
      if (status.error) throw new Error(`the last reconcile pass failed: ${status.error}`);
      // A first list of a large cluster spans wakes; nothing is reconciled until it is done.
      return status.listing?.length ? `ok (caches still listing: ${status.listing.join(", ")})` : "ok";
    },
  },
];

/** /readyz lines for the components besides the store: "[+]scheduler ok", or why not. */
export async function componentChecks(env: Env): Promise<{ ready: boolean; lines: string[] }> {
  const probes = PROBES.filter((p) => p.name !== "etcd-0");
  const results = await Promise.allSettled(probes.map((p) => p.check(env)));
  const lines = results.map((r, i) => (r.status === "fulfilled" ? `[+]${probes[i]!.name} ok` : `[-]${probes[i]!.name} failed: ${(r.reason as Error)?.message ?? r.reason}`));
  return { ready: results.every((r) => r.status === "fulfilled"), lines };
}

async function componentStatuses(env: Env): Promise<KubeObject[]> {
  return Promise.all(PROBES.map(async ({ name, check }): Promise<KubeObject> => {
    const condition = await check(env).then(
      (message) => ({ type: "Healthy", status: "True", message }),
      (e: unknown) => ({ type: "Healthy", status: "False", error: (e as Error)?.message ?? String(e) }),
    );
    const status: ComponentStatus = { kind: "ComponentStatus", apiVersion: "v1", metadata: { name }, conditions: [condition] };
    return status as KubeObject;
  }));
}

export const componentStatusResource = declare("v1", "componentstatuses", {
  verbs: ["get", "list"],
  computed: componentStatuses,
  deprecated: "v1 ComponentStatus is deprecated in v1.19+",
});
