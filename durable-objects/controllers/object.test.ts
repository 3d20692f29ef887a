// The controller manager's Durable Object against the real apiserver: a Deployment gets one
// ReplicaSet with the pod-template-hash label and that ReplicaSet its pods; scaling deletes the
// extras, a new image makes a new ReplicaSet and scales the old one down, deleted pods come back,
// and a restart between wakes loses nothing and duplicates nothing.
import { env } from "cloudflare:workers";
import { evictDurableObject } from "cloudflare:test";
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1";
import type { Pod } from "kubernetes-types/core/v1";
import type { Event as EventV1 } from "kubernetes-types/events/v1";
import { describe, expect, it } from "vitest";
import { freshNamespace, testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { wakeControllerManager } from "./testing.ts";

const client = testClient();
const deployments = client.resource<Deployment>(builtin("apps/v1", "deployments"));
const replicaSets = client.resource<ReplicaSet>(builtin("apps/v1", "replicasets"));
const pods = client.resource<Pod>(builtin("v1", "pods"));
const events = client.resource<EventV1>(builtin("events.k8s.io/v1", "events"));
const manager = () => env.CONTROLLERS.get(env.CONTROLLERS.idFromName(env.CLUSTER_NAME));

/** One wake that starts after everything written so far (what the store's poke leads to). */
const wake = wakeControllerManager;

function deployment(name: string, replicas: number, image = "busybox"): Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      // Without a kubelet no pod becomes available: let the rollout replace them all at once.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "100%" } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "c", image }] } },
    },
  };
}

const active = (list: Pod[]) => list.filter((p) => !p.metadata?.deletionTimestamp);
const podsOf = async (ns: string, app: string) => active((await pods.list(ns, { labelSelector: `app=${app}` })).items);

describe("the controller manager object", () => {
  it("gives a Deployment one ReplicaSet with the hash label and that ReplicaSet its pods; scaling down deletes the extras", async () => {
    const ns = await freshNamespace(client, "kcm");
    await deployments.create(ns, deployment("web", 3));
    await wake();
    const sets = (await replicaSets.list(ns)).items;
    expect(sets).toHaveLength(1);
    const rs = sets[0]!;
    const hash = rs.metadata!.labels!["pod-template-hash"]!;
    expect(hash).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
    expect(rs.metadata!.name).toBe(`web-${hash}`);
    expect(rs.metadata!.annotations!["deployment.kubernetes.io/revision"]).toBe("1");
    expect(rs.spec!.replicas).toBe(3);
    const owned = await podsOf(ns, "web");
    expect(owned).toHaveLength(3);
    for (const pod of owned) {
      expect(pod.metadata!.name).toMatch(new RegExp(`^web-${hash}-[a-z0-9]{5}$`));
      expect(pod.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: "ReplicaSet", name: rs.metadata!.name, uid: rs.metadata!.uid, controller: true })]);
      expect(pod.metadata!.labels).toMatchObject({ app: "web", "pod-template-hash": hash });
    }
    const d = await deployments.get(ns, "web");
    expect(d.metadata!.annotations!["deployment.kubernetes.io/revision"]).toBe("1");
    expect(d.status).toMatchObject({ observedGeneration: d.metadata!.generation, replicas: 3, updatedReplicas: 3, availableReplicas: 0 });
    expect(d.status!.conditions!.find((c) => c.type === "Progressing")).toMatchObject({ status: "True" });
    const rsStatus = (await replicaSets.get(ns, rs.metadata!.name!)).status;
    expect(rsStatus).toMatchObject({ replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 0, availableReplicas: 0, observedGeneration: rs.metadata!.generation });
    const reasons = (await events.list(ns)).items.map((e) => `${e.reportingController} ${e.reason}`);
    expect(reasons).toEqual(expect.arrayContaining(["deployment-controller ScalingReplicaSet", "replicaset-controller SuccessfulCreate"]));
    expect(reasons.filter((r) => r.endsWith("SuccessfulCreate"))).toHaveLength(3);

    await deployments.patch(ns, "web", { spec: { replicas: 1 } }, "merge");
    await wake();
    expect(await podsOf(ns, "web")).toHaveLength(1);
    expect((await replicaSets.get(ns, rs.metadata!.name!)).spec!.replicas).toBe(1);
    const deletes = (await events.list(ns)).items.filter((e) => e.reason === "SuccessfulDelete");
    expect(deletes.map((e) => e.note)).toEqual(expect.arrayContaining([expect.stringMatching(/^Deleted pod: web-/)]));
    expect((await deployments.get(ns, "web")).status).toMatchObject({ replicas: 1, updatedReplicas: 1 });
  });

  it("a new image makes a new ReplicaSet and scales the old one down; deleted pods come back", async () => {
    const ns = await freshNamespace(client, "kcm-roll");
    await deployments.create(ns, deployment("api", 2));
    await wake();
    const [first] = (await replicaSets.list(ns)).items;
    await deployments.patch(ns, "api", { spec: { template: { spec: { containers: [{ name: "c", image: "busybox:1.36" }] } } } }, "strategic");
    await wake();
    const sets = (await replicaSets.list(ns)).items;
    expect(sets).toHaveLength(2);
    const second = sets.find((rs) => rs.metadata!.uid !== first!.metadata!.uid)!;
    expect(second.metadata!.labels!["pod-template-hash"]).not.toBe(first!.metadata!.labels!["pod-template-hash"]);
    expect(second.metadata!.annotations!["deployment.kubernetes.io/revision"]).toBe("2");
    expect(second.spec!.replicas).toBe(2);
    expect((await replicaSets.get(ns, first!.metadata!.name!)).spec!.replicas).toBe(0);
    const running = await podsOf(ns, "api");
    expect(running.map((p) => p.spec!.containers[0]!.image)).toEqual(["busybox:1.36", "busybox:1.36"]);
    expect((await deployments.get(ns, "api")).metadata!.annotations!["deployment.kubernetes.io/revision"]).toBe("2");

    await pods.delete(ns, running[0]!.metadata!.name!);
    await wake();
    const after = await podsOf(ns, "api");
    expect(after).toHaveLength(2);
    expect(after.map((p) => p.metadata!.name)).not.toContain(running[0]!.metadata!.name);
  });

  it("reports the rollout complete once its pods are ready (as a kubelet would mark them), and Recreate replaces all at once", async () => {
    const ns = await freshNamespace(client, "kcm-ready");
    const d = deployment("cache", 2);
    await deployments.create(ns, { ...d, spec: { ...d.spec!, strategy: { type: "Recreate" } } });
    await wake();
    const progressing = (await deployments.get(ns, "cache")).status!.conditions!;
    expect(progressing).toContainEqual(expect.objectContaining({ type: "Available", status: "False", reason: "MinimumReplicasUnavailable" }));
    const now = new Date().toISOString();
    for (const pod of await podsOf(ns, "cache")) {
      await pods.patch(ns, pod.metadata!.name!, { status: { phase: "Running", conditions: [{ type: "Ready", status: "True", lastTransitionTime: now }] } }, "strategic", { subresource: "status" });
    }
    await wake();
    const done = await deployments.get(ns, "cache");
    expect(done.status).toMatchObject({ replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 });
    expect(done.status!.conditions).toContainEqual(expect.objectContaining({ type: "Available", status: "True", reason: "MinimumReplicasAvailable" }));
    expect(done.status!.conditions).toContainEqual(expect.objectContaining({ type: "Progressing", status: "True", reason: "NewReplicaSetAvailable" }));

    await deployments.patch(ns, "cache", { spec: { template: { metadata: { annotations: { rev: "2" } } } } }, "merge");
    await wake();
    const sets = (await replicaSets.list(ns)).items;
    expect(sets.map((rs) => rs.spec!.replicas).sort()).toEqual([0, 2]);
    const pending = await podsOf(ns, "cache");
    expect(pending).toHaveLength(2);
    expect(pending.every((p) => p.metadata!.annotations?.rev === "2")).toBe(true);
  });

  it("adopts a matching orphan and releases a pod that stops matching", async () => {
    const ns = await freshNamespace(client, "kcm-adopt");
    await pods.create(ns, { metadata: { name: "orphan", labels: { app: "solo" } }, spec: { containers: [{ name: "c", image: "busybox" }] } });
    await replicaSets.create(ns, {
      metadata: { name: "solo" },
      spec: { replicas: 2, selector: { matchLabels: { app: "solo" } }, template: { metadata: { labels: { app: "solo" } }, spec: { containers: [{ name: "c", image: "busybox" }] } } },
    });
    await wake();
    const rs = await replicaSets.get(ns, "solo");
    const owned = await podsOf(ns, "solo");
    expect(owned).toHaveLength(2);
    expect((await pods.get(ns, "orphan")).metadata!.ownerReferences).toEqual([expect.objectContaining({ uid: rs.metadata!.uid, controller: true })]);
    await pods.patch(ns, "orphan", { metadata: { labels: { app: "elsewhere" } } }, "merge");
    await wake();
    expect((await pods.get(ns, "orphan")).metadata!.ownerReferences ?? []).toEqual([]);
    expect(await podsOf(ns, "solo")).toHaveLength(2);
  });

  it("a restart between wakes loses nothing and creates nothing twice", async () => {
    const ns = await freshNamespace(client, "kcm-restart");
    await deployments.create(ns, deployment("db", 2));
    await wake();
    expect(await podsOf(ns, "db")).toHaveLength(2);
    await evictDurableObject(manager());
    await deployments.patch(ns, "db", { spec: { replicas: 4 } }, "merge");
    await wake();
    expect(await podsOf(ns, "db")).toHaveLength(4);
    expect((await replicaSets.list(ns)).items).toHaveLength(1);
    await evictDurableObject(manager());
    await wake();
    expect(await podsOf(ns, "db")).toHaveLength(4);
    const lease = await client.resource(builtin("coordination.k8s.io/v1", "leases")).get("kube-system", "kube-controller-manager");
    expect((lease as { spec?: { holderIdentity?: string } }).spec?.holderIdentity).toMatch(/^kube-controller-manager-/);
    expect((await manager().status()).error).toBeUndefined();
  });
});
