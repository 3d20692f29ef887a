// Why a pod fits no node (framework.FitError), and its message exactly as kube-scheduler 1.30 words
// it: "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) had untolerated taint {dedicated: gpu}.
// preemption: 0/5 nodes are available: 5 No preemption victims found for incoming pod.." (sic: the
// preemption summary is itself a FitError message ending in a period, and another follows it).
import type { PodInfo } from "../projection.ts";
import type { Status } from "./status.ts";

export interface Diagnosis {
  /** Each rejected node's status (every node gets the PreFilter status when PreFilter rejects). */
  readonly nodeToStatus: Map<string, Status>;
  /** Plugins that rejected the pod: the events they register for decide when it is retried. */
  readonly unschedulablePlugins: Set<string>;
  preFilterMsg: string;
  postFilterMsg: string;
}

export function newDiagnosis(): Diagnosis {
  return { nodeToStatus: new Map(), unschedulablePlugins: new Set(), preFilterMsg: "", postFilterMsg: "" };
}

/** Counts each reason over the nodes: "2 Insufficient cpu", sorted as strings (as Go's sort.Strings). */
function reasonHistogram(nodeToStatus: ReadonlyMap<string, Status>): string[] {
  const counts = new Map<string, number>();
  for (const status of nodeToStatus.values()) for (const reason of status.reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  return [...counts].map(([reason, n]) => `${n} ${reason}`).sort();
}

export class FitError {
  readonly pod: PodInfo;
  readonly numAllNodes: number;
  readonly diagnosis: Diagnosis;

  constructor(pod: PodInfo, numAllNodes: number, diagnosis: Diagnosis) {
    this.pod = pod;
    this.numAllNodes = numAllNodes;
    this.diagnosis = diagnosis;
  }

  get message(): string {
    let msg = `0/${this.numAllNodes} nodes are available:`;
    const { preFilterMsg, postFilterMsg } = this.diagnosis;
    if (preFilterMsg !== "") msg += ` ${preFilterMsg}.`;
    else {
      const reasons = reasonHistogram(this.diagnosis.nodeToStatus);
      if (reasons.length > 0) msg += ` ${reasons.join(", ")}.`;
    }
    if (postFilterMsg !== "") msg += ` ${postFilterMsg}.`;
    return msg;
  }
}
