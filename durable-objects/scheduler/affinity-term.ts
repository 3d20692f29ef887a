// Pod (anti-)affinity terms matched against pods as framework.AffinityTerm.Matches does: the pod's
// namespace is listed or its labels match the namespace selector, and the label selector matches.
import { matchesLabels } from "../../lib/k8s/selectors.ts";
import type { AffinityTerm, Labels, PodInfo } from "./projection.ts";

/** `namespaceLabels` are the labels of `pod`'s namespace (undefined when the term's selector was merged into its namespaces). */
export function affinityTermMatches(term: AffinityTerm, pod: PodInfo, namespaceLabels: Labels | undefined): boolean {
  if (term.namespaces.has(pod.namespace) || (term.namespaceSelector !== "nothing" && matchesLabels(term.namespaceSelector, namespaceLabels))) {
    return matchesLabels(term.selector, pod.labels);
  }
  return false;
}

/** The pod matches every term (and there is at least one). */
export function podMatchesAllAffinityTerms(terms: readonly AffinityTerm[], pod: PodInfo): boolean {
  if (terms.length === 0) return false;
  return terms.every((t) => affinityTermMatches(t, pod, undefined));
}
