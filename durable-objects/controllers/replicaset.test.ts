// Which pods a ReplicaSet deletes first (controller.ActivePods' order) and which it counts.
import type { Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { deletionOrder, isPodActive, isPodAvailable } from "./replicaset.ts";

function pod(name: string, { node, phase = "Pending", readySince, created = "2026-01-01T00:00:00Z", restarts = 0 }: { node?: string; phase?: string; readySince?: string; created?: string; restarts?: number } = {}): Pod {
  return {
    metadata: { name, creationTimestamp: created },
    spec: { containers: [{ name: "c" }], ...(node ? { nodeName: node } : {}) },
    status: {
      phase,
      ...(readySince ? { conditions: [{ type: "Ready", status: "True", lastTransitionTime: readySince }] } : {}),
      containerStatuses: [{ name: "c", image: "i", imageID: "", ready: !!readySince, restartCount: restarts }],
    },
  };
}

describe("deletionOrder", () => {
  it.each([
    ["unscheduled before scheduled", pod("a"), pod("b", { node: "n" })],
    ["pending before running", pod("a", { node: "n" }), pod("b", { node: "n", phase: "Running" })],
    ["not ready before ready", pod("a", { node: "n", phase: "Running" }), pod("b", { node: "n", phase: "Running", readySince: "2026-01-01T00:00:00Z" })],
    ["ready for less time first", pod("a", { node: "n", phase: "Running", readySince: "2026-01-02T00:00:00Z" }), pod("b", { node: "n", phase: "Running", readySince: "2026-01-01T00:00:00Z" })],
    ["more restarts first", pod("a", { node: "n", restarts: 3 }), pod("b", { node: "n" })],
    ["newer before older", pod("a", { created: "2026-01-02T00:00:00Z" }), pod("b", { created: "2026-01-01T00:00:00Z" })],
  ])("%s", (_, first, second) => {
    expect([second, first].sort(deletionOrder).map((p) => p.metadata!.name)).toEqual(["a", "b"]);
  });
});

describe("what a ReplicaSet counts", () => {
  it("ignores finished and terminating pods, and counts availability after minReadySeconds", () => {
    expect(isPodActive(pod("a", { phase: "Succeeded" }))).toBe(false);
    expect(isPodActive({ ...pod("a"), metadata: { name: "a", deletionTimestamp: "2026-01-01T00:00:00Z" } })).toBe(false);
    expect(isPodActive(pod("a"))).toBe(true);
    const ready = pod("a", { phase: "Running", readySince: "2026-01-01T00:00:00Z" });
    const at = Date.parse("2026-01-01T00:00:05Z");
    expect(isPodAvailable(ready, 0, at)).toBe(true);
    expect(isPodAvailable(ready, 10, at)).toBe(false);
    expect(isPodAvailable(ready, 5, at)).toBe(true);
  });
});
