// Which nodes get a route to their pods: the routes themselves are made and removed against the
// kernel in the cri e2e suite (test/e2e/node-agent-cri.test.ts, two nodes in two network namespaces).
import type { Node } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { routeTo } from "./routes.ts";

function node(podCIDR: string | undefined, internalIP: string | undefined, labels: Record<string, string> = {}): Node {
  return {
    metadata: { name: "n", labels },
    spec: podCIDR ? { podCIDR } : {},
    status: { addresses: [...(internalIP ? [{ type: "InternalIP", address: internalIP }] : []), { type: "Hostname", address: "n" }] },
  };
}

const own = new Set(["192.0.2.2", "127.0.0.1"]);

describe("routes to other nodes' pods", () => {
  it("go to a node's podCIDR via its InternalIP", () => {
    expect(routeTo(node("10.244.3.0/24", "192.0.2.7"), own)).toEqual({ destination: "10.244.3.0/24", via: "192.0.2.7" });
  });

  it("wait for the node IPAM controller's podCIDR and for the node's InternalIP", () => {
    expect(routeTo(node(undefined, "192.0.2.7"), own)).toBeUndefined();
    expect(routeTo(node("10.244.3.0/24", undefined), own)).toBeUndefined();
  });

  it("skip hollow nodes and nodes at this host's own address", () => {
    expect(routeTo(node("10.244.3.0/24", "192.0.2.7", { "node.edgeplane.dev/simulated": "true" }), own)).toBeUndefined();
    expect(routeTo(node("10.244.3.0/24", "192.0.2.2"), own)).toBeUndefined();
  });
});
