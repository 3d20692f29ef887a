// Taint eviction: when a pod on a node with NoExecute taints is deleted.
import type { Pod, Taint, Toleration } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { evictionTime } from "./taint-eviction.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const NOW = T0 + 100_000;

const pod = (tolerations: Toleration[], landed = at(0)): Pod => ({
  metadata: { name: "p", namespace: "ns", creationTimestamp: landed },
  spec: { containers: [{ name: "c" }], nodeName: "n", tolerations },
  status: { conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: landed }] },
});
const unreachable: Taint = { key: "node.kubernetes.io/unreachable", effect: "NoExecute", timeAdded: at(50) };
const dedicated: Taint = { key: "dedicated", value: "gpu", effect: "NoExecute", timeAdded: at(50) };
const tolerate = (key: string, seconds?: number, extra: Partial<Toleration> = {}): Toleration =>
  ({ key, operator: "Exists", effect: "NoExecute", ...(seconds !== undefined ? { tolerationSeconds: seconds } : {}), ...extra });

describe("evictionTime", () => {
  it.each([
    ["no taints: never", pod([]), [], undefined],
    ["an untolerated taint: now", pod([]), [unreachable], NOW],
    ["one of two taints untolerated: now", pod([tolerate(unreachable.key, 300)]), [unreachable, dedicated], NOW],
    ["tolerated for 300 s: 300 s after the taint was added", pod([tolerate(unreachable.key, 300)]), [unreachable], T0 + 350_000],
    ["tolerated forever: never", pod([tolerate(unreachable.key)]), [unreachable], undefined],
    ["the shortest tolerationSeconds among the tolerations used", pod([tolerate(unreachable.key, 300), { key: "dedicated", operator: "Equal", value: "gpu", effect: "NoExecute", tolerationSeconds: 20 }]), [unreachable, dedicated], T0 + 70_000],
    ["a negative tolerationSeconds is zero", pod([tolerate(unreachable.key, -5)]), [unreachable], T0 + 50_000],
    ["a wildcard toleration tolerates everything forever", pod([{ operator: "Exists" }]), [unreachable, dedicated], undefined],
    ["a toleration for another effect does not count", pod([tolerate(unreachable.key, 300, { effect: "NoSchedule" })]), [unreachable], NOW],
    ["Equal needs the value", pod([{ key: "dedicated", operator: "Equal", value: "cpu", effect: "NoExecute" }]), [dedicated], NOW],
    ["a pod that landed after the taint counts from its landing", pod([tolerate(unreachable.key, 10)], at(80)), [unreachable], T0 + 90_000],
    ["a taint without timeAdded counts from the pod's landing", pod([tolerate("k", 10)], at(5)), [{ key: "k", effect: "NoExecute" }], T0 + 15_000],
  ])("%s", (_, p, taints, expected) => {
    expect(evictionTime(p as Pod, taints as Taint[], NOW)).toBe(expected);
  });
});
