// NodeAffinity: Filter applies spec.nodeSelector and required node affinity (every operator,
// matchFields on metadata.name) plus the profile's addedAffinity; PreFilter narrows the search to
// the nodes that metadata.name terms name; Score sums the weights of matching preferred terms.
import type { NodeAffinity as V1NodeAffinity } from "kubernetes-types/core/v1";
import { ActionType } from "../framework/events.ts";
import { MAX_NODE_SCORE, type PluginFactory } from "../framework/interface.ts";
import { defaultNormalizeScore } from "../framework/normalize-score.ts";
import { skip, unresolvable } from "../framework/status.ts";
import { nodeSelectorMatches, requiredNodeAffinityMatches, termMatches } from "../node-selector.ts";
import { compileNodeSelectorTerm, type PreferredSchedulingTerm } from "../projection.ts";

const NAME = "NodeAffinity";
const ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector";
const ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity";
const ERR_REASON_CONFLICT = "pod affinity terms conflict";

export interface NodeAffinityArgs {
  /** Node affinity every pod of the profile gets on top of its own. */
  addedAffinity?: V1NodeAffinity;
}

export const nodeAffinity: PluginFactory = (rawArgs) => {
  const args = (rawArgs ?? {}) as NodeAffinityArgs;
  const addedRequired = args.addedAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms.map(compileNodeSelectorTerm);
  const addedPreferred: PreferredSchedulingTerm[] = (args.addedAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [])
    .map((p) => ({ weight: p.weight, term: compileNodeSelectorTerm(p.preference) }));
  return {
    name: NAME,
    events: [{ resource: "Node", actionType: ActionType.Add | ActionType.Update, label: "Node" }],
    preFilter(_state, pod) {
      const required = pod.spec.requiredNodeAffinity;
      if (required.terms === undefined && !addedRequired && required.nodeSelector === undefined) return skip();
      if (required.terms === undefined || addedRequired) return undefined;
      // Terms are ORed: narrowing is possible only when every term names its nodes.
      let nodeNames: Set<string> | undefined;
      for (const term of required.terms) {
        let termNames: Set<string> | undefined;
        for (const f of term.fields) {
          if (f.field !== "metadata.name" || f.operator !== "=") continue;
          termNames = termNames ? new Set([...termNames].filter((n) => n === f.value)) : new Set([f.value]);
        }
        if (!termNames) return undefined;
        nodeNames = new Set([...(nodeNames ?? []), ...termNames]);
      }
      if (nodeNames && nodeNames.size === 0) return unresolvable(ERR_REASON_CONFLICT);
      return nodeNames && nodeNames.size > 0 ? { nodeNames } : undefined;
    },
    filter(_state, pod, node) {
      if (addedRequired && !nodeSelectorMatches(addedRequired, node.node!)) return unresolvable(ERR_REASON_ENFORCED);
      if (!requiredNodeAffinityMatches(pod.spec.requiredNodeAffinity, node.node!)) return unresolvable(ERR_REASON_POD);
      return undefined;
    },
    preScore(_state, pod) {
      if (pod.spec.preferredNodeAffinity.length === 0 && addedPreferred.length === 0) return skip();
      return undefined;
    },
    score(_state, pod, node) {
      let score = 0;
      for (const p of addedPreferred) if (p.weight !== 0 && termMatches(p.term, node.node!)) score += p.weight;
      for (const p of pod.spec.preferredNodeAffinity) if (p.weight !== 0 && termMatches(p.term, node.node!)) score += p.weight;
      return score;
    },
    normalizeScore(_state, _pod, scores) {
      defaultNormalizeScore(MAX_NODE_SCORE, false, scores);
      return undefined;
    },
  };
};
