// InterPodAffinity: Filter enforces the pod's required affinity and anti-affinity and the required
// anti-affinity of pods already placed (per topology domain: node labels at topologyKey), with
// namespaces and namespaceSelector; Score adds preferred terms both ways and existing pods' required
// affinity (hardPodAffinityWeight).
import type { CycleState, StateData } from "../framework/cycle-state.ts";
import { ActionType } from "../framework/events.ts";
import { MAX_NODE_SCORE, type PluginFactory } from "../framework/interface.ts";
import { asError, skip, unresolvable, unschedulable } from "../framework/status.ts";
import { matchesLabels } from "../../../lib/k8s/selectors.ts";
import { affinityTermMatches, podMatchesAllAffinityTerms } from "../affinity-term.ts";
import type { NodeInfo } from "../node-info.ts";
import type { AffinityTerm, Labels, NodeProjection, PodInfo, WeightedAffinityTerm } from "../projection.ts";
import type { Snapshot } from "../snapshot.ts";

const NAME = "InterPodAffinity";
const ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules";
const ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules";
const ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";
const PRE_FILTER_KEY = `PreFilter${NAME}`;
const PRE_SCORE_KEY = `PreScore${NAME}`;

export interface InterPodAffinityArgs {
  /** Weight of an existing pod's required affinity term that the incoming pod matches (0..100, default 1). */
  hardPodAffinityWeight?: number;
  /** Skip scoring by existing pods' preferred terms when the pod has no preferred terms itself. */
  ignorePreferredTermsOfExistingPods?: boolean;
}

/** Counts per topology pair ("key\0value"). */
type TopologyCounts = Map<string, number>;

const pair = (key: string, value: string) => `${key}\u0000${value}`;

function update(counts: TopologyCounts, node: NodeProjection, topologyKey: string, value: number): void {
  const tv = node.labels[topologyKey];
  if (tv === undefined) return;
  const p = pair(topologyKey, tv);
  const n = (counts.get(p) ?? 0) + value;
  if (n === 0) counts.delete(p);
  else counts.set(p, n);
}

/** Counts each term's pair when `pod` matches all of the (affinity) terms. */
function updateWithAffinityTerms(counts: TopologyCounts, terms: readonly AffinityTerm[], pod: PodInfo, node: NodeProjection, value: number): void {
  if (podMatchesAllAffinityTerms(terms, pod)) for (const t of terms) update(counts, node, t.topologyKey, value);
}

/** Counts the pair of each (anti-affinity) term `pod` matches. */
function updateWithAntiAffinityTerms(counts: TopologyCounts, terms: readonly AffinityTerm[], pod: PodInfo, nsLabels: Labels | undefined, node: NodeProjection, value: number): void {
  for (const t of terms) if (affinityTermMatches(t, pod, nsLabels)) update(counts, node, t.topologyKey, value);
}

/** A term's namespaceSelector, when it selects something specific, becomes the namespaces it selects now. */
function mergeNamespaces<T extends AffinityTerm>(term: T, snapshot: Snapshot): T {
  const selector = term.namespaceSelector;
  if (selector === "nothing" || selector.length === 0) return term;
  const namespaces = new Set(term.namespaces);
  for (const ns of snapshot.namespacesMatching((labels) => matchesLabels(selector, labels))) namespaces.add(ns);
  return { ...term, namespaces, namespaceSelector: "nothing" };
}

class PreFilterState implements StateData {
  readonly pod: PodInfo;
  readonly requiredAffinity: readonly AffinityTerm[];
  readonly requiredAntiAffinity: readonly AffinityTerm[];
  readonly namespaceLabels: Labels | undefined;
  /** Pairs where placed pods' required anti-affinity matches the incoming pod. */
  readonly existingAntiAffinityCounts: TopologyCounts;
  /** Pairs holding pods that match all the incoming pod's required affinity terms. */
  readonly affinityCounts: TopologyCounts;
  /** Pairs holding pods that match an incoming required anti-affinity term. */
  readonly antiAffinityCounts: TopologyCounts;

  constructor(
    pod: PodInfo,
    requiredAffinity: readonly AffinityTerm[],
    requiredAntiAffinity: readonly AffinityTerm[],
    namespaceLabels: Labels | undefined,
    existingAntiAffinityCounts: TopologyCounts,
    affinityCounts: TopologyCounts,
    antiAffinityCounts: TopologyCounts,
  ) {
    this.pod = pod;
    this.requiredAffinity = requiredAffinity;
    this.requiredAntiAffinity = requiredAntiAffinity;
    this.namespaceLabels = namespaceLabels;
    this.existingAntiAffinityCounts = existingAntiAffinityCounts;
    this.affinityCounts = affinityCounts;
    this.antiAffinityCounts = antiAffinityCounts;
  }

  clone(): PreFilterState {
    return new PreFilterState(this.pod, this.requiredAffinity, this.requiredAntiAffinity, this.namespaceLabels,
      new Map(this.existingAntiAffinityCounts), new Map(this.affinityCounts), new Map(this.antiAffinityCounts));
  }

  updateWithPod(other: PodInfo, node: NodeProjection, multiplier: 1 | -1): void {
    updateWithAntiAffinityTerms(this.existingAntiAffinityCounts, other.spec.requiredAntiAffinityTerms, this.pod, this.namespaceLabels, node, multiplier);
    updateWithAffinityTerms(this.affinityCounts, this.requiredAffinity, other, node, multiplier);
    updateWithAntiAffinityTerms(this.antiAffinityCounts, this.requiredAntiAffinity, other, undefined, node, multiplier);
  }
}

function satisfyPodAffinity(s: PreFilterState, node: NodeProjection): boolean {
  let podsExist = true;
  for (const term of s.requiredAffinity) {
    const tv = node.labels[term.topologyKey];
    // Every topology label must exist on the node.
    if (tv === undefined) return false;
    if ((s.affinityCounts.get(pair(term.topologyKey, tv)) ?? 0) <= 0) podsExist = false;
  }
  if (podsExist) return true;
  // The first pod of a group with affinity to itself: nothing matches anywhere yet, but it matches its own terms.
  return s.affinityCounts.size === 0 && podMatchesAllAffinityTerms(s.requiredAffinity, s.pod);
}

function satisfyPodAntiAffinity(s: PreFilterState, node: NodeProjection): boolean {
  if (s.antiAffinityCounts.size === 0) return true;
  for (const term of s.requiredAntiAffinity) {
    const tv = node.labels[term.topologyKey];
    if (tv !== undefined && (s.antiAffinityCounts.get(pair(term.topologyKey, tv)) ?? 0) > 0) return false;
  }
  return true;
}

function satisfyExistingPodsAntiAffinity(s: PreFilterState, node: NodeProjection): boolean {
  if (s.existingAntiAffinityCounts.size === 0) return true;
  for (const [key, value] of Object.entries(node.labels)) {
    if ((s.existingAntiAffinityCounts.get(pair(key, value)) ?? 0) > 0) return false;
  }
  return true;
}

class PreScoreState implements StateData {
  readonly topologyScore: Map<string, Map<string, number>>;

  constructor(topologyScore: Map<string, Map<string, number>>) {
    this.topologyScore = topologyScore;
  }
  clone() {
    return this;
  }
}

function processTerm(scores: Map<string, Map<string, number>>, term: AffinityTerm, weight: number, target: PodInfo, nsLabels: Labels | undefined, node: NodeProjection, multiplier: number): void {
  if (!affinityTermMatches(term, target, nsLabels)) return;
  const tv = node.labels[term.topologyKey];
  if (tv === undefined) return;
  let byValue = scores.get(term.topologyKey);
  if (!byValue) scores.set(term.topologyKey, (byValue = new Map()));
  byValue.set(tv, (byValue.get(tv) ?? 0) + weight * multiplier);
}

export const interPodAffinity: PluginFactory = (rawArgs) => {
  const args = (rawArgs ?? {}) as InterPodAffinityArgs;
  const hardWeight = args.hardPodAffinityWeight ?? 1;
  if (!(Number.isInteger(hardWeight) && hardWeight >= 0 && hardWeight <= 100)) {
    throw new Error(`hardPodAffinityWeight: Invalid value: ${hardWeight}: not in valid range [0, 100]`);
  }
  const ignoreExistingPreferred = args.ignorePreferredTermsOfExistingPods ?? false;

  return {
    name: NAME,
    events: [
      { resource: "Pod", actionType: ActionType.All, label: "Pod" },
      { resource: "Node", actionType: ActionType.Add | ActionType.UpdateNodeLabel, label: "Node" },
    ],
    preFilter(state, pod) {
      if (pod.spec.affinityError) return unresolvable(`parsing pod: ${pod.spec.affinityError}`);
      const snapshot = state.snapshot;
      const requiredAffinity = pod.spec.requiredAffinityTerms.map((t) => mergeNamespaces(t, snapshot));
      const requiredAntiAffinity = pod.spec.requiredAntiAffinityTerms.map((t) => mergeNamespaces(t, snapshot));
      const nsLabels = snapshot.namespaceLabelsOf(pod.namespace);
      const existing: TopologyCounts = new Map();
      for (const node of snapshot.nodesWithRequiredAntiAffinityPods()) {
        for (const other of node.podsWithRequiredAntiAffinity) {
          updateWithAntiAffinityTerms(existing, other.spec.requiredAntiAffinityTerms, pod, nsLabels, node.node!, 1);
        }
      }
      const affinity: TopologyCounts = new Map();
      const antiAffinity: TopologyCounts = new Map();
      if (requiredAffinity.length > 0 || requiredAntiAffinity.length > 0) {
        for (const node of snapshot.nodes()) {
          for (const other of node.pods) {
            updateWithAffinityTerms(affinity, requiredAffinity, other, node.node!, 1);
            updateWithAntiAffinityTerms(antiAffinity, requiredAntiAffinity, other, undefined, node.node!, 1);
          }
        }
      }
      if (existing.size === 0 && requiredAffinity.length === 0 && requiredAntiAffinity.length === 0) return skip();
      state.write(PRE_FILTER_KEY, new PreFilterState(pod, requiredAffinity, requiredAntiAffinity, nsLabels, existing, affinity, antiAffinity));
      return undefined;
    },
    addPod(state, _pod, other, node) {
      const s = state.read<PreFilterState>(PRE_FILTER_KEY);
      if (!s) return asError(`reading "${PRE_FILTER_KEY}" from cycleState: not found`);
      s.updateWithPod(other, node.node!, 1);
      return undefined;
    },
    removePod(state, _pod, other, node) {
      const s = state.read<PreFilterState>(PRE_FILTER_KEY);
      if (!s) return asError(`reading "${PRE_FILTER_KEY}" from cycleState: not found`);
      s.updateWithPod(other, node.node!, -1);
      return undefined;
    },
    filter(state, _pod, node) {
      const s = state.read<PreFilterState>(PRE_FILTER_KEY);
      if (!s) return asError(`reading "${PRE_FILTER_KEY}" from cycleState: not found`);
      if (!satisfyPodAffinity(s, node.node!)) return unresolvable(ERR_REASON_AFFINITY);
      if (!satisfyPodAntiAffinity(s, node.node!)) return unschedulable(ERR_REASON_ANTI_AFFINITY);
      if (!satisfyExistingPodsAntiAffinity(s, node.node!)) return unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY);
      return undefined;
    },
    preScore(state: CycleState, pod, nodes) {
      if (nodes.length === 0) return skip();
      const hasConstraints = pod.spec.preferredAffinityTerms.length > 0 || pod.spec.preferredAntiAffinityTerms.length > 0;
      if (ignoreExistingPreferred && !hasConstraints) return skip();
      const snapshot = state.snapshot;
      // Without preferred terms of its own, only nodes holding pods with affinity can score.
      const candidates: readonly NodeInfo[] = hasConstraints ? snapshot.nodes() : snapshot.nodesWithAffinityPods();
      const preferred: WeightedAffinityTerm[] = pod.spec.preferredAffinityTerms.map((t) => mergeNamespaces(t, snapshot));
      const preferredAnti: WeightedAffinityTerm[] = pod.spec.preferredAntiAffinityTerms.map((t) => mergeNamespaces(t, snapshot));
      const nsLabels = snapshot.namespaceLabelsOf(pod.namespace);
      const scores = new Map<string, Map<string, number>>();
      for (const info of candidates) {
        const node = info.node!;
        if (Object.keys(node.labels).length === 0) continue;
        for (const other of hasConstraints ? info.pods : info.podsWithAffinity) {
          for (const t of preferred) processTerm(scores, t, t.weight, other, undefined, node, 1);
          for (const t of preferredAnti) processTerm(scores, t, t.weight, other, undefined, node, -1);
          if (hardWeight > 0) for (const t of other.spec.requiredAffinityTerms) processTerm(scores, t, hardWeight, pod, nsLabels, node, 1);
          for (const t of other.spec.preferredAffinityTerms) processTerm(scores, t, t.weight, pod, nsLabels, node, 1);
          for (const t of other.spec.preferredAntiAffinityTerms) processTerm(scores, t, t.weight, pod, nsLabels, node, -1);
        }
      }
      if (scores.size === 0) return skip();
      state.write(PRE_SCORE_KEY, new PreScoreState(scores));
      return undefined;
    },
    score(state, _pod, node) {
      const s = state.read<PreScoreState>(PRE_SCORE_KEY);
      if (!s) throw new Error(`reading "${PRE_SCORE_KEY}" from cycleState: not found`);
      let score = 0;
      for (const [key, byValue] of s.topologyScore) {
        const tv = node.node!.labels[key];
        if (tv !== undefined) score += byValue.get(tv) ?? 0;
      }
      return score;
    },
    normalizeScore(state, _pod, scores) {
      const s = state.read<PreScoreState>(PRE_SCORE_KEY);
      if (!s || s.topologyScore.size === 0) return undefined;
      let min = Infinity;
      let max = -Infinity;
      for (const { score } of scores) {
        if (score > max) max = score;
        if (score < min) min = score;
      }
      const diff = max - min;
      for (const s of scores) s.score = diff > 0 ? Math.trunc(MAX_NODE_SCORE * ((s.score - min) / diff)) : 0;
      return undefined;
    },
  };
};
