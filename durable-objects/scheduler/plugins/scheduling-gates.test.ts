// SchedulingGates holds a pod back while spec.schedulingGates lists any gate.
import { describe, expect, it } from "vitest";
import { Code } from "../framework/status.ts";
import { makePod, plugin, TestCluster } from "../testing.ts";
import { schedulingGates } from "./scheduling-gates.ts";

describe("SchedulingGates", () => {
  const cluster = new TestCluster();
  const p = plugin(schedulingGates);
  const cases: [string, string[] | undefined, string | undefined][] = [
    ["no gates: admitted", undefined, undefined],
    ["empty gates: admitted", [], undefined],
    ["one gate", ["example.com/quota"], "waiting for scheduling gates: [example.com/quota]"],
    ["gates listed in order, space separated", ["a.io/one", "b.io/two"], "waiting for scheduling gates: [a.io/one b.io/two]"],
  ];
  for (const [name, gates, message] of cases) {
    it(name, () => {
      const status = p.preEnqueue!(cluster.pod(makePod("p", { schedulingGates: gates })));
      if (message === undefined) expect(status).toBeUndefined();
      else {
        expect(status?.code).toBe(Code.UnschedulableAndUnresolvable);
        expect(status?.message).toBe(message);
      }
    });
  }

  it("registers for pod updates (a gate removed)", () => {
    expect(p.events).toEqual([expect.objectContaining({ resource: "Pod" })]);
  });
});
