// Leader election on a Lease against the real apiserver, with a hand-moved clock: acquire, renew,
// another candidate waiting out the lease duration, takeover, release, and a race decided by conflict.
import type { Lease } from "kubernetes-types/coordination/v1";
import { describe, expect, it } from "vitest";
import { builtin } from "../k8s/resources.ts";
import { isAlreadyExists } from "./api-client.ts";
import { LeaderLease } from "./leader-lease.ts";
import { manualClock, testClient } from "./testing.ts";

const client = testClient();
const leases = client.resource<Lease>(builtin("coordination.k8s.io/v1", "leases"));

async function kubeSystem(): Promise<void> {
  await client.resource(builtin("v1", "namespaces")).create(undefined, { metadata: { name: "kube-system" } }).catch((e: unknown) => {
    if (!isAlreadyExists(e)) throw e;
  });
}

describe("LeaderLease", () => {
  it("acquires and renews; another candidate waits out the lease duration, then takes over", async () => {
    await kubeSystem();
    const clock = manualClock(Date.UTC(2026, 0, 1));
    const t0 = clock.now();
    const a = new LeaderLease(client, { name: "kube-scheduler", identity: "host-a_1", now: clock.now });
    const b = new LeaderLease(client, { name: "kube-scheduler", identity: "host-b_2", now: clock.now });

    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(a.isLeader).toBe(true);
    const acquired = await leases.get("kube-system", "kube-scheduler");
    expect(acquired.spec).toEqual({
      holderIdentity: "host-a_1", leaseDurationSeconds: 15, leaseTransitions: 0,
      acquireTime: "2026-01-01T00:00:00.000000Z", renewTime: "2026-01-01T00:00:00.000000Z",
    });

    clock.advance(1000);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.advance(4000);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    const renewed = (await leases.get("kube-system", "kube-scheduler")).spec!;
    expect(renewed).toMatchObject({ holderIdentity: "host-a_1", acquireTime: "2026-01-01T00:00:00.000000Z", renewTime: "2026-01-01T00:00:05.000000Z", leaseTransitions: 0 });

    // b saw the renewal at 6 s, so the lease is a's until 21 s even though a stopped renewing at 5 s.
    clock.set(t0 + 6000);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.set(t0 + 20_999);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect(b.isLeader).toBe(false);
    clock.set(t0 + 21_000);
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect((await leases.get("kube-system", "kube-scheduler")).spec).toMatchObject({
      holderIdentity: "host-b_2", leaseTransitions: 1, acquireTime: "2026-01-01T00:00:21.000000Z", renewTime: "2026-01-01T00:00:21.000000Z",
    });

    // a is back, but the lease is b's now.
    clock.advance(1000);
    expect(await a.tryAcquireOrRenew()).toBe(false);
    expect(a.isLeader).toBe(false);

    // b releases it: a takes it at once.
    expect(await b.release()).toBe(true);
    expect(b.isLeader).toBe(false);
    expect((await leases.get("kube-system", "kube-scheduler")).spec).toMatchObject({ holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 1 });
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect((await leases.get("kube-system", "kube-scheduler")).spec).toMatchObject({ holderIdentity: "host-a_1", leaseTransitions: 2, leaseDurationSeconds: 15 });
    expect(await b.release()).toBe(false); // not b's to release
  });

  it("lets exactly one of two candidates racing for an expired lease win", async () => {
    await kubeSystem();
    const clock = manualClock();
    const candidate = (identity: string) => new LeaderLease(client, { name: "kube-controller-manager", identity, now: clock.now });
    const gone = candidate("host-gone_0");
    expect(await gone.tryAcquireOrRenew()).toBe(true);
    const c = candidate("host-c_3");
    const d = candidate("host-d_4");
    expect(await c.tryAcquireOrRenew()).toBe(false);
    expect(await d.tryAcquireOrRenew()).toBe(false);
    clock.advance(15_000);
    const results = await Promise.all([c.tryAcquireOrRenew(), d.tryAcquireOrRenew()]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results[0] ? "host-c_3" : "host-d_4";
    expect((await leases.get("kube-system", "kube-controller-manager")).spec).toMatchObject({ holderIdentity: winner, leaseTransitions: 1 });

    // What `kubectl get lease -n kube-system` lists: both components' holders.
    const holders = Object.fromEntries((await leases.list("kube-system")).items.map((l) => [l.metadata!.name, l.spec!.holderIdentity]));
    expect(holders).toMatchObject({ "kube-scheduler": "host-a_1", "kube-controller-manager": winner });
  });
});
