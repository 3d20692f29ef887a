// A hollow node's made-up figures: a tenth of the CPU request and half the memory request by
// default, or what the pod's annotations say (for all containers, or per container), stable over
// time with CPU time growing at the rate; the node adds its own 50m and 256 MiB.
import type { Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { simulatedHost, simulatedHostNanoCores, simulatedPodUsage, simulatedRates } from "./simulated.ts";

const pod = (annotations: Record<string, string>, containers: Pod["spec"] extends infer S ? S extends { containers: infer C } ? C : never : never): Pod => ({
  metadata: { name: "p", namespace: "ns", uid: "u1", annotations }, spec: { containers },
});

describe("simulated usage", () => {
  it("defaults to a tenth of the CPU request and half the memory request, or small figures without requests", () => {
    const p = pod({}, [
      { name: "a", resources: { requests: { cpu: "500m", memory: "128Mi" } } },
      { name: "b", resources: { limits: { memory: "1Gi" } } },
      { name: "c" },
    ]);
    expect(simulatedRates(p, p.spec!.containers[0]!)).toEqual({ nanoCores: 50_000_000, memoryBytes: 64 * 2 ** 20 });
    expect(simulatedRates(p, p.spec!.containers[1]!)).toEqual({ nanoCores: 1_000_000, memoryBytes: 512 * 2 ** 20 });
    expect(simulatedRates(p, p.spec!.containers[2]!)).toEqual({ nanoCores: 1_000_000, memoryBytes: 8 * 2 ** 20 });
  });

  it("takes the annotations, for every container or by name; a malformed one is ignored", () => {
    const all = pod({ "simulated.edgeplane.dev/cpu-usage": "1.5", "simulated.edgeplane.dev/memory-usage": "100M" }, [{ name: "a" }]);
    expect(simulatedRates(all, all.spec!.containers[0]!)).toEqual({ nanoCores: 1_500_000_000, memoryBytes: 100_003_840 });
    const named = pod({ "simulated.edgeplane.dev/cpu-usage": "a=200m, b=7m" }, [{ name: "a" }, { name: "b" }, { name: "c", resources: { requests: { cpu: "1" } } }]);
    expect(named.spec!.containers.map((c) => simulatedRates(named, c).nanoCores)).toEqual([200_000_000, 7_000_000, 100_000_000]);
    const broken = pod({ "simulated.edgeplane.dev/cpu-usage": "lots" }, [{ name: "a" }]);
    expect(simulatedRates(broken, broken.spec!.containers[0]!).nanoCores).toBe(1_000_000);
  });

  it("accumulates CPU time at the rate since each container started", () => {
    const p = pod({ "simulated.edgeplane.dev/cpu-usage": "250m" }, [{ name: "a" }, { name: "b" }]);
    const usage = simulatedPodUsage(p, [{ name: "a", startedAt: 10_000 }, { name: "b", startedAt: 12_000 }], 20_000);
    expect(usage.ref).toEqual({ uid: "u1", namespace: "ns", name: "p" });
    expect(usage.startedAt).toBe(10_000);
    expect(usage.containers.map((c) => [c.name, c.usageNanoCores, c.usageCoreNanoSeconds])).toEqual([["a", 250_000_000, 2_500_000_000], ["b", 250_000_000, 2_000_000_000]]);
    const node = simulatedHost([usage], { memoryBytes: 64 * 2 ** 30, ephemeralStorageBytes: 100 * 2 ** 30 }, 0, 20_000);
    expect(node.usageCoreNanoSeconds).toBe(50_000_000 * 20 + 4_500_000_000);
    expect(node.memory.workingSetBytes).toBe(256 * 2 ** 20 + 2 * 8 * 2 ** 20);
    expect(simulatedHostNanoCores([usage])).toBe(550_000_000);
  });
});
