// Node selection as nodeaffinity (component-helpers) matches it: compiled NodeSelectorTerms ORed,
// each term's label and metadata.name field requirements ANDed, and a pod's required node affinity
// (spec.nodeSelector and requiredDuringScheduling terms, both must hold).
import { matchesLabels } from "../../lib/k8s/selectors.ts";
import type { NodeProjection, NodeSelectorTerm, RequiredNodeAffinity } from "./projection.ts";

export function termMatches(term: NodeSelectorTerm, node: NodeProjection): boolean {
  if (term.matchesNothing) return false;
  if (!matchesLabels(term.labels, node.labels)) return false;
  for (const f of term.fields) {
    const value = f.field === "metadata.name" ? node.name : "";
    if ((value === f.value) !== (f.operator === "=")) return false;
  }
  return true;
}

/** Any term matches (an empty list matches nothing). */
export function nodeSelectorMatches(terms: readonly NodeSelectorTerm[], node: NodeProjection): boolean {
  return terms.some((t) => termMatches(t, node));
}

export function requiredNodeAffinityMatches(required: RequiredNodeAffinity, node: NodeProjection): boolean {
  if (required.nodeSelector && !matchesLabels(required.nodeSelector, node.labels)) return false;
  if (required.terms && !nodeSelectorMatches(required.terms, node)) return false;
  return true;
}
