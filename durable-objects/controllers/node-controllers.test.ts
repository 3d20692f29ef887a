// The node controllers in the controller manager's Durable Object against the real apiserver: a
// node whose kubelet went silent turns Ready=Unknown and tainted in one wake and a repeated wake
// changes nothing; every node gets its own pod CIDR and a deleted node's CIDR goes to the next.
import { env } from "cloudflare:workers";
import type { Lease } from "kubernetes-types/coordination/v1";
import type { Node } from "kubernetes-types/core/v1";
import type { Event as EventV1 } from "kubernetes-types/events/v1";
import { describe, expect, it } from "vitest";
import { testClient } from "../../lib/client/testing.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { wakeControllerManager } from "./testing.ts";

const client = testClient();
const nodes = client.resource<Node>(builtin("v1", "nodes"));
const leases = client.resource<Lease>(builtin("coordination.k8s.io/v1", "leases"));
const events = client.resource<EventV1>(builtin("events.k8s.io/v1", "events"));
const manager = () => env.CONTROLLERS.get(env.CONTROLLERS.idFromName(env.CLUSTER_NAME));

const wake = wakeControllerManager;

/** A registered node whose kubelet last posted `secondsAgo` ago, with a Lease renewed then. */
async function node(name: string, secondsAgo: number): Promise<void> {
  const then = new Date(Date.now() - secondsAgo * 1000);
  await nodes.create(undefined, { metadata: { name } });
  await nodes.patch(undefined, name, {
    status: { conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", lastHeartbeatTime: then.toISOString(), lastTransitionTime: then.toISOString() }] },
  }, "merge", { subresource: "status" });
  await leases.create("kube-node-lease", { metadata: { name }, spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: then.toISOString().replace("Z", "000Z") } });
}

const ready = (n: Node) => n.status?.conditions?.find((c) => c.type === "Ready");
const taintKeys = (n: Node) => (n.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`).sort();

describe("the node controllers in the controller manager", () => {
  it("marks a silent node Unknown and tainted once, leaves a live one alone, and gives each a pod CIDR", async () => {
    await node("silent-1", 120);
    await node("live-1", 0);
    await wake();
    const silent = await nodes.get(undefined, "silent-1");
    expect(ready(silent)).toMatchObject({ status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status." });
    expect(taintKeys(silent)).toEqual(["node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"]);
    const live = await nodes.get(undefined, "live-1");
    expect(ready(live)?.status).toBe("True");
    expect(live.spec?.taints ?? []).toEqual([]);
    expect(silent.spec?.podCIDR).toMatch(/^10\.244\.\d+\.0\/24$/);
    expect(live.spec?.podCIDRs).toEqual([live.spec?.podCIDR]);
    expect(live.spec?.podCIDR).not.toBe(silent.spec?.podCIDR);
    const notReady = (await events.list("default")).items.filter((e) => e.reason === "NodeNotReady" && e.regarding?.name === "silent-1");
    expect(notReady.map((e) => [e.reportingController, e.note])).toEqual([["node-controller", "Node silent-1 status is now: NodeNotReady"]]);

    // A late or repeated wake finds nothing to do.
    await wake();
    expect((await nodes.get(undefined, "silent-1")).metadata?.resourceVersion).toBe(silent.metadata?.resourceVersion);
    expect((await nodes.get(undefined, "live-1")).metadata?.resourceVersion).toBe(live.metadata?.resourceVersion);

    // The silent node's kubelet comes back: Ready again, the taints go.
    const now = new Date().toISOString();
    await nodes.patch(undefined, "silent-1", { status: { conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", lastHeartbeatTime: now, lastTransitionTime: now }] } }, "strategic", { subresource: "status" });
    await wake();
    expect((await nodes.get(undefined, "silent-1")).spec?.taints ?? []).toEqual([]);

    // A deleted node's CIDR is free for the next node.
    await nodes.delete(undefined, "live-1");
    await node("live-2", 0);
    await wake();
    expect((await nodes.get(undefined, "live-2")).spec?.podCIDR).toBe(live.spec?.podCIDR);
  });
});
