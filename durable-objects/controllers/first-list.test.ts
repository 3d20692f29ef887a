// A first list longer than one wake: the controller manager lists a page at a time over several
// wakes (each list's continue token kept in its SQLite), reconciles nothing until every cache is
// full, and goes on after a restart and after a token that expired meanwhile.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import type { ReplicaSet } from "kubernetes-types/apps/v1";
import type { ConfigMap, Pod, PodTemplateSpec } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { compactStore, freshNamespace, rawApi, testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import type { KubeControllerManager } from "./object.ts";
import { controllerManager, wakeControllerManager, wakeControllerManagerOnce } from "./testing.ts";

const client = testClient();
const replicaSets = client.resource<ReplicaSet>(builtin("apps/v1", "replicasets"));
const pods = client.resource<Pod>(builtin("v1", "pods"));
const configMaps = client.resource<ConfigMap>(builtin("v1", "configmaps"));

/** Wakes that yield at once (after one page of each list, or one pass of reconciles) and lists of 10. */
const smallWakes = () => runInDurableObject(controllerManager(), (object: KubeControllerManager) => {
  Object.assign(object["budget"], { wakeMs: 0, listPageSize: 10 });
});

describe("the controller manager's first list", () => {
  it("spans wakes with nothing reconciled until every cache is full, across a restart and an expired continue token", async () => {
    const ns = await freshNamespace(client, "kcm-list");
    const template: PodTemplateSpec = { metadata: { labels: { app: "big" } }, spec: { containers: [{ name: "c", image: "busybox" }] } };
    // A ReplicaSet of 30 whose 30 pods exist: reconciled against a partial pods cache, it would make more.
    const rs = await replicaSets.create(ns, { metadata: { name: "big" }, spec: { replicas: 30, selector: { matchLabels: { app: "big" } }, template } });
    const names = Array.from({ length: 30 }, (_, i) => `big-${String(i).padStart(2, "0")}`);
    for (const name of names) {
      await pods.create(ns, {
        metadata: { name, labels: { app: "big" }, ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "big", uid: rs.metadata!.uid!, controller: true, blockOwnerDeletion: true }] },
        spec: template.spec!,
      });
    }

    await smallWakes();
    const listingWakes: { listing: string[]; reconciled: number }[] = [];
    for (let wake = 1; wake <= 100; wake++) {
      await wakeControllerManagerOnce({ dropAlarm: true });
      const status = await controllerManager().status();
      if (!status.listing) break;
      listingWakes.push({ listing: status.listing, reconciled: status.reconciled });
      if (wake === 1) {
        // kubectl get componentstatuses says why nothing happens yet.
        const component = await rawApi("GET", "/api/v1/componentstatuses/controller-manager");
        expect(component.body.conditions).toEqual([expect.objectContaining({ type: "Healthy", status: "True", message: expect.stringMatching(/^ok \(caches still listing: .*\bpods\b/) })]);
        expect(status.listing).toContain("replicasets.apps");
      }
      // After the pods list's second page, every revision it or any cursor needs is compacted away: the list's token answers 410 and the list starts again.
      if (wake === 2) {
        // Two writes: a cursor at the newest revision before them needs the first, which goes too.
        await configMaps.create(ns, { metadata: { name: "later" } });
        const written = await configMaps.create(ns, { metadata: { name: "later-still" } });
        await compactStore(written.metadata!.resourceVersion!);
      }
      // A restart in the middle: the next wake goes on from the pages its SQLite has.
      if (wake === 4) {
        await evictDurableObject(controllerManager());
        await smallWakes();
      }
    }
    // Pods: pages 1 and 2, then (every cursor compacted away, so every cache relists) pages 1 and 2 again, then page 3.
    expect(listingWakes.length).toBeGreaterThanOrEqual(5);
    expect(listingWakes.slice(0, 4).map((w) => w.listing.includes("pods"))).toEqual([true, true, true, true]);
    expect(listingWakes[2]!.listing.length).toBeGreaterThan(listingWakes[1]!.listing.length);
    expect(listingWakes.every((w) => w.reconciled === 0)).toBe(true);

    await wakeControllerManager();
    const after = (await pods.list(ns)).items;
    expect(after.map((p) => p.metadata!.name).sort()).toEqual(names);
    expect(after.every((p) => !p.metadata!.deletionTimestamp)).toBe(true);
    expect((await replicaSets.get(ns, "big")).status).toMatchObject({ replicas: 30, fullyLabeledReplicas: 30, observedGeneration: rs.metadata!.generation });
    expect((await controllerManager().status()).listing).toBeUndefined();
  });
});
