// DefaultBinder: binds through the runtime's binder; a refusal becomes an Error status with its message.
import { describe, expect, it } from "vitest";
import { Code } from "../framework/status.ts";
import { makePod, plainHandle, TestCluster } from "../testing.ts";
import { defaultBinder } from "./default-binder.ts";

describe("DefaultBinder", () => {
  const cluster = new TestCluster();
  const pod = cluster.pod(makePod("p"));
  const cases: [string, (() => Promise<void>) | undefined, string | undefined][] = [
    ["the binder succeeds", async () => {}, undefined],
    ["the binder refuses", async () => { throw new Error('pods "p" is already assigned to node "n2"'); }, 'pods "p" is already assigned to node "n2"'],
    ["no binder given", undefined, "no binder: the scheduler was built without a way to write bindings"],
  ];
  for (const [name, binder, message] of cases) {
    it(name, async () => {
      const seen: string[] = [];
      const p = defaultBinder(undefined, plainHandle(() => 0, binder && (async (pi, node) => { seen.push(`${pi.key}→${node}`); await binder(); })));
      const status = await p.bind!(cluster.state(), pod, "n1");
      expect(status?.message).toBe(message);
      if (message) expect(status?.code).toBe(Code.Error);
      if (binder) expect(seen).toEqual(["default/p→n1"]);
    });
  }
});
