// FitError's message as kube-scheduler 1.30 prints it: reasons counted over nodes, sorted as strings,
// PreFilter's message instead when PreFilter rejected, and PostFilter's summary after it.
import { describe, expect, it } from "vitest";
import { makePod, TestCluster } from "../testing.ts";
import { FitError, newDiagnosis } from "./fit-error.ts";
import { Status, unresolvable, unschedulable } from "./status.ts";

const pod = new TestCluster().pod(makePod("p"));

function message(numNodes: number, statuses: [string, Status][], preFilterMsg = "", postFilterMsg = ""): string {
  const d = newDiagnosis();
  for (const [node, s] of statuses) d.nodeToStatus.set(node, s);
  d.preFilterMsg = preFilterMsg;
  d.postFilterMsg = postFilterMsg;
  return new FitError(pod, numNodes, d).message;
}

describe("FitError message", () => {
  const taint = () => unresolvable("node(s) had untolerated taint {dedicated: gpu}");
  const cpu = () => unschedulable("Insufficient cpu");
  const cases: [string, () => string, string][] = [
    ["reasons counted per node and sorted", () => message(5, [["a", taint()], ["b", cpu()], ["c", taint()], ["d", cpu()], ["e", taint()]]),
      "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {dedicated: gpu}."],
    ["every reason of a node counts", () => message(2, [["a", unschedulable("Insufficient cpu", "Insufficient memory")], ["b", cpu()]]),
      "0/2 nodes are available: 1 Insufficient memory, 2 Insufficient cpu."],
    ["sorted as strings, not numbers", () => message(12, [...Array.from({ length: 10 }, (_, i): [string, Status] => [`t${i}`, taint()]), ["x", cpu()], ["y", cpu()]]),
      "0/12 nodes are available: 10 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu."],
    ["PreFilter's message replaces the node reasons", () => message(3, [["a", unresolvable("pod has unbound immediate PersistentVolumeClaims")]], "pod has unbound immediate PersistentVolumeClaims"),
      "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."],
    ["PostFilter's summary follows, its own period and one more (sic)", () => message(5, [["a", taint()], ["b", cpu()], ["c", taint()], ["d", cpu()], ["e", taint()]], "",
      "preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling."),
      "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling.."],
    ["an ineligible preemptor", () => message(1, [["a", cpu()]], "", "preemption: not eligible due to preemptionPolicy=Never."),
      "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.."],
  ];
  for (const [name, got, want] of cases) it(name, () => expect(got()).toBe(want));
});
