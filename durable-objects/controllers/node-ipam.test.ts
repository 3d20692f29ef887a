// Node IPAM: which pod CIDR each node gets from the cluster CIDR.
import type { Node } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { planAllocations } from "./node-ipam.ts";

function node(name: string, { cidr, created = "2026-01-01T00:00:00Z" }: { cidr?: string; created?: string } = {}): Node {
  return { metadata: { name, creationTimestamp: created }, spec: cidr ? { podCIDR: cidr, podCIDRs: [cidr] } : {} };
}

describe("planAllocations", () => {
  it.each([
    ["distinct /24s from the start of the range, oldest node first", "10.244.0.0/16", 24,
      [node("b", { created: "2026-01-02T00:00:00Z" }), node("a")], { a: "10.244.0.0/24", b: "10.244.1.0/24" }],
    ["skips the blocks nodes already hold", "10.244.0.0/16", 24,
      [node("old", { cidr: "10.244.0.0/24" }), node("other", { cidr: "10.244.2.0/24" }), node("new")], { new: "10.244.1.0/24" }],
    ["a deleted node's block is free again (the nodes that exist are what is in use)", "10.244.0.0/16", 24,
      [node("kept", { cidr: "10.244.1.0/24" }), node("new")], { new: "10.244.0.0/24" }],
    ["ignores CIDRs outside the range or of another size", "10.244.0.0/16", 24,
      [node("x", { cidr: "10.99.0.0/24" }), node("y", { cidr: "10.244.0.0/25" }), node("new")], { new: "10.244.0.0/24" }],
    ["other mask sizes and unaligned cluster CIDRs", "10.1.2.3/22", 26,
      [node("a"), node("b", { created: "2026-01-02T00:00:00Z" })], { a: "10.1.0.0/26", b: "10.1.0.64/26" }],
    ["none left: the node waits (undefined)", "10.0.0.0/30", 31,
      [node("a"), node("b", { created: "2026-01-02T00:00:00Z" }), node("c", { created: "2026-01-03T00:00:00Z" })], { a: "10.0.0.0/31", b: "10.0.0.2/31", c: undefined }],
  ])("%s", (_, cluster, mask, nodes, expected) => {
    expect(Object.fromEntries(planAllocations(nodes as Node[], cluster as string, mask as number))).toEqual(expected);
  });

  it("refuses a cluster CIDR that is not IPv4 or a mask that does not fit", () => {
    expect(() => planAllocations([node("a")], "fd00::/64", 24)).toThrow(/not an IPv4 CIDR/);
    expect(() => planAllocations([node("a")], "10.244.0.0/16", 8)).toThrow(/does not fit/);
  });
});
