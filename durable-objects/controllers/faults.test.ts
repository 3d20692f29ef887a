// The controller manager under faults, against the real apiserver and store: its Durable Object
// aborted in the middle of a rollout (a wake cut off while the new ReplicaSet's pods are being
// created) finishes the rollout with no extra and no missing pods; and a burst of 1,000 pod status
// changes, written while wakes keep running, loses no update: the ReplicaSet's counts come out
// exact. The test plays the kubelet, marking pods Ready through the status subresource.
import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1";
import type { Pod } from "kubernetes-types/core/v1";
import type { Event as EventV1 } from "kubernetes-types/events/v1";
import { describe, expect, it } from "vitest";
import { freshNamespace, testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import type { KubeControllerManager } from "./object.ts";
import { wakeControllerManagerOnce } from "./testing.ts";

const client = testClient();
const deployments = client.resource<Deployment>(builtin("apps/v1", "deployments"));
const replicaSets = client.resource<ReplicaSet>(builtin("apps/v1", "replicasets"));
const pods = client.resource<Pod>(builtin("v1", "pods"));
const events = client.resource<EventV1>(builtin("events.k8s.io/v1", "events"));
const manager = () => env.CONTROLLERS.get(env.CONTROLLERS.idFromName(env.CLUSTER_NAME));

async function wake(): Promise<void> {
  await wakeControllerManagerOnce();
}

/** The Durable Object's instance thrown away at once, whatever it is doing (its storage stays). */
async function abortManager(): Promise<void> {
  await runInDurableObject(manager(), (_object: KubeControllerManager, state) => state.abort("fault injected by the test")).catch(() => undefined);
}

const active = (list: Pod[]) => list.filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase !== "Failed" && p.status?.phase !== "Succeeded");
const podsOf = async (ns: string, selector: string) => active((await pods.list(ns, { labelSelector: selector })).items);
const isReady = (pod: Pod) => pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;

/** What a kubelet reports for a pod whose readiness changed. */
function setReady(ns: string, name: string, ready: boolean): Promise<Pod> {
  const status = ready ? "True" : "False";
  return pods.patch(ns, name, { status: { phase: "Running", conditions: [{ type: "Ready", status, lastTransitionTime: new Date().toISOString() }] } }, "strategic", { subresource: "status" });
}

/** Runs `op` over `items`, `concurrency` at a time. */
async function each<T>(items: T[], concurrency: number, op: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await op(items[next++]!);
  }));
}

async function markAllReady(ns: string, selector: string): Promise<void> {
  await each((await podsOf(ns, selector)).filter((p) => !isReady(p)), 16, (p) => setReady(ns, p.metadata!.name!, true));
}

function webDeployment(replicas: number, image: string): Deployment {
  return {
    metadata: { name: "web" },
    spec: {
      replicas, selector: { matchLabels: { app: "web" } },
      // maxUnavailable 0: an old pod goes only once a new one is available, so the rollout takes many wakes.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "50%", maxUnavailable: 0 } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c", image }] } },
    },
  };
}

describe("the controller manager under faults", () => {
  it("aborted in the middle of a rollout, it finishes the rollout with no extra and no missing pods", async () => {
    const ns = await freshNamespace(client, "kcm-abort");
    const replicas = 40;
    const maxPods = replicas + replicas / 2;
    await deployments.create(ns, webDeployment(replicas, "busybox"));
    await wake();
    await markAllReady(ns, "app=web");
    await wake();
    expect((await deployments.get(ns, "web")).status).toMatchObject({ availableReplicas: replicas, updatedReplicas: replicas });

    await deployments.patch(ns, "web", { spec: { template: { spec: { containers: [{ name: "c", image: "busybox:1.36" }] } } } }, "strategic");
    const cutOff = wake().then(() => "finished", () => "aborted");
    // Abort once the new ReplicaSet has some of its pods but not all: mid-way through its creates.
    let seen = 0;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
      const fresh = (await replicaSets.list(ns)).items.find((rs) => rs.spec?.template?.spec?.containers[0]?.image === "busybox:1.36");
      seen = fresh ? (await podsOf(ns, `pod-template-hash=${fresh.metadata!.labels!["pod-template-hash"]}`)).length : 0;
      if (seen > 0) break;
    }
    await abortManager();
    expect(await cutOff).toBe("aborted");
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(replicas / 2);

    // The kubelet's part and the controllers' in turn, with a graceful restart half-way for good measure.
    let steps = 0;
    for (;;) {
      await wake();
      expect((await podsOf(ns, "app=web")).length).toBeLessThanOrEqual(maxPods);
      const d = await deployments.get(ns, "web");
      const done = d.status?.conditions?.find((c) => c.type === "Progressing")?.reason === "NewReplicaSetAvailable";
      if (done && d.status?.replicas === replicas) break;
      if (++steps === 3) await evictDurableObject(manager());
      expect(steps).toBeLessThan(20);
      await markAllReady(ns, "app=web");
    }
    const sets = (await replicaSets.list(ns)).items;
    expect(sets.map((rs) => `${rs.spec!.template!.spec!.containers[0]!.image}:${rs.spec!.replicas}:${rs.status!.replicas}`).sort()).toEqual(["busybox:0:0", "busybox:1.36:40:40"]);
    const fresh = sets.find((rs) => rs.spec!.replicas === replicas)!;
    const left = await podsOf(ns, "app=web");
    expect(left).toHaveLength(replicas);
    expect(left.every((p) => p.metadata!.ownerReferences![0]!.uid === fresh.metadata!.uid && p.spec!.containers[0]!.image === "busybox:1.36")).toBe(true);
    // Nothing of the new ReplicaSet was made twice and then taken back.
    const deletes = (await events.list(ns)).items.filter((e) => e.reason === "SuccessfulDelete" && e.regarding?.uid === fresh.metadata!.uid);
    expect(deletes).toEqual([]);
  });

  it("a burst of 1,000 pod status changes while wakes run loses no update: the ReplicaSet's counts are exact", async () => {
    const ns = await freshNamespace(client, "kcm-burst");
    const replicas = 200;
    await replicaSets.create(ns, {
      metadata: { name: "burst" },
      spec: { replicas, selector: { matchLabels: { app: "burst" } }, template: { metadata: { labels: { app: "burst" } }, spec: { containers: [{ name: "c", image: "busybox" }] } } },
    });
    await wake();
    const names = (await podsOf(ns, "app=burst")).map((p) => p.metadata!.name!);
    expect(names).toHaveLength(replicas);

    // Five readiness changes per pod, one after another; 32 pods' changes in flight at once. A pod
    // ends Ready when its index is not a multiple of 3.
    const changes = names.map((name, i) => ({ name, readiness: [true, false, true, false, i % 3 !== 0] }));
    expect(changes.reduce((n, c) => n + c.readiness.length, 0)).toBe(1_000);
    let writing = true;
    const wakes = (async () => {
      let count = 0;
      while (writing) {
        await wake();
        count++;
      }
      return count;
    })();
    await each(changes, 32, async ({ name, readiness }) => {
      for (const ready of readiness) await setReady(ns, name, ready);
    });
    writing = false;
    expect(await wakes).toBeGreaterThan(0);

    const expectedReady = names.filter((_, i) => i % 3 !== 0).length;
    expect((await podsOf(ns, "app=burst")).filter(isReady)).toHaveLength(expectedReady);
    // One wake after the burst catches up with every change.
    await wake();
    expect((await replicaSets.get(ns, "burst")).status).toMatchObject({ replicas, fullyLabeledReplicas: replicas, readyReplicas: expectedReady, availableReplicas: expectedReady });
  });
});
