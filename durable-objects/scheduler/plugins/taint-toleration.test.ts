// TaintToleration: NoSchedule/NoExecute taints filter, PreferNoSchedule taints lower the score.
import type { Taint, Toleration } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { Code } from "../framework/status.ts";
import { makeNode, makePod, plugin, scores, TestCluster } from "../testing.ts";
import { taintToleration } from "./taint-toleration.ts";

describe("TaintToleration filter", () => {
  const p = plugin(taintToleration);
  const cases: [string, Taint[], Toleration[] | undefined, string | undefined][] = [
    ["no taints", [], undefined, undefined],
    ["untolerated NoSchedule", [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }], undefined, "node(s) had untolerated taint {dedicated: gpu}"],
    ["untolerated NoExecute", [{ key: "node.kubernetes.io/unreachable", effect: "NoExecute" }], undefined, "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"],
    ["PreferNoSchedule does not filter", [{ key: "spot", value: "true", effect: "PreferNoSchedule" }], undefined, undefined],
    ["Equal toleration with the value", [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }], [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }], undefined],
    ["operator defaults to Equal", [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }], [{ key: "dedicated", value: "gpu" }], undefined],
    ["Equal toleration with another value", [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }], [{ key: "dedicated", value: "cpu" }], "node(s) had untolerated taint {dedicated: gpu}"],
    ["Exists toleration, any value", [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }], [{ key: "dedicated", operator: "Exists" }], undefined],
    ["toleration for another effect", [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }], [{ key: "dedicated", operator: "Exists", effect: "NoExecute" }], "node(s) had untolerated taint {dedicated: gpu}"],
    ["empty key with Exists tolerates everything", [{ key: "a", value: "1", effect: "NoSchedule" }, { key: "b", effect: "NoExecute" }], [{ operator: "Exists" }], undefined],
    ["the first untolerated taint is reported", [{ key: "a", value: "1", effect: "NoSchedule" }, { key: "b", value: "2", effect: "NoSchedule" }], [{ key: "a", operator: "Exists" }], "node(s) had untolerated taint {b: 2}"],
  ];
  for (const [name, taints, tolerations, message] of cases) {
    it(name, () => {
      const cluster = new TestCluster([makeNode("n", { taints })]);
      const status = p.filter!(cluster.state(), cluster.pod(makePod("p", { tolerations })), cluster.node("n"));
      expect(status?.message).toBe(message);
      if (message) expect(status?.code).toBe(Code.UnschedulableAndUnresolvable);
    });
  }
});

describe("TaintToleration score", () => {
  const p = plugin(taintToleration);
  const prefer = (key: string): Taint => ({ key, value: "x", effect: "PreferNoSchedule" });
  const cases: [string, Record<string, Taint[]>, Toleration[] | undefined, Record<string, number>][] = [
    ["fewer intolerable taints score higher", { none: [], one: [prefer("a")], two: [prefer("a"), prefer("b")] }, undefined, { none: 100, one: 50, two: 0 }],
    ["tolerated PreferNoSchedule taints do not count", { none: [], one: [prefer("a")] }, [{ key: "a", operator: "Exists", effect: "PreferNoSchedule" }], { none: 100, one: 100 }],
    ["NoSchedule tolerations do not tolerate PreferNoSchedule", { one: [prefer("a")], none: [] }, [{ key: "a", operator: "Exists", effect: "NoSchedule" }], { one: 0, none: 100 }],
    ["NoSchedule taints are not scored", { hard: [{ key: "a", effect: "NoSchedule" }], none: [] }, undefined, { hard: 100, none: 100 }],
  ];
  for (const [name, nodes, tolerations, want] of cases) {
    it(name, () => {
      const cluster = new TestCluster(Object.entries(nodes).map(([n, taints]) => makeNode(n, { taints })));
      const state = cluster.state();
      const pod = cluster.pod(makePod("p", { tolerations }));
      const infos = Object.keys(nodes).map((n) => cluster.node(n));
      p.preScore!(state, pod, infos);
      expect(scores(p, state, pod, infos)).toEqual(want);
    });
  }
});
