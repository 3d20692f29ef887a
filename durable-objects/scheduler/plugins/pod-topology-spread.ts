// PodTopologySpread: Filter enforces DoNotSchedule constraints (matching pods in the domain, plus
// the pod itself, minus the global minimum, at most maxSkew; minDomains; nodeAffinityPolicy and
// nodeTaintsPolicy decide which nodes count); Score prefers domains with fewer matching pods under
// ScheduleAnyway constraints. Pods without constraints get the cluster defaults (System: hostname
// maxSkew 3, zone maxSkew 5, ScheduleAnyway) with the selectors of their Services and controller.
import type { TopologySpreadConstraint } from "kubernetes-types/core/v1";
import { labelSelectorFromObject, matchesLabels, SelectorError, type LabelRequirement, type LabelSelectorObject } from "../../../lib/k8s/selectors.ts";
import type { StateData } from "../framework/cycle-state.ts";
import { ActionType } from "../framework/events.ts";
import { MAX_NODE_SCORE, type PluginFactory } from "../framework/interface.ts";
import { asError, skip, unresolvable, unschedulable } from "../framework/status.ts";
import { requiredNodeAffinityMatches } from "../node-selector.ts";
import { LABEL_HOSTNAME, LABEL_ZONE, type Labels, type NodeProjection, type PodInfo } from "../projection.ts";
import type { Snapshot } from "../snapshot.ts";
import { doNotSchedule, findUntoleratedTaint } from "../taints.ts";

const NAME = "PodTopologySpread";
const ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints";
const ERR_REASON_NODE_LABEL_NOT_MATCH = `${ERR_REASON_CONSTRAINTS_NOT_MATCH} (missing required label)`;
const PRE_FILTER_KEY = `PreFilter${NAME}`;
const PRE_SCORE_KEY = `PreScore${NAME}`;

export interface PodTopologySpreadArgs {
  /** Constraints for pods that have none (only with defaultingType List); they may not carry a selector. */
  defaultConstraints?: TopologySpreadConstraint[];
  /** "System" (default): kube's built-in defaults; "List": defaultConstraints. */
  defaultingType?: "System" | "List";
}

const SYSTEM_DEFAULT_CONSTRAINTS: readonly TopologySpreadConstraint[] = [
  { topologyKey: LABEL_HOSTNAME, whenUnsatisfiable: "ScheduleAnyway", maxSkew: 3 },
  { topologyKey: LABEL_ZONE, whenUnsatisfiable: "ScheduleAnyway", maxSkew: 5 },
];

interface Constraint {
  readonly maxSkew: number;
  readonly topologyKey: string;
  readonly selector: readonly LabelRequirement[] | "nothing";
  readonly minDomains: number;
  readonly nodeAffinityPolicy: string;
  readonly nodeTaintsPolicy: string;
}

/** The constraints with the given whenUnsatisfiable; matchLabelKeys add the pod's own values to the selector. */
function filterConstraints(constraints: readonly TopologySpreadConstraint[], podLabels: Labels, action: string): Constraint[] {
  const out: Constraint[] = [];
  for (const c of constraints) {
    if (c.whenUnsatisfiable !== action) continue;
    let selector = labelSelectorFromObject(c.labelSelector as LabelSelectorObject | undefined);
    const extra: LabelRequirement[] = [];
    for (const key of c.matchLabelKeys ?? []) if (Object.hasOwn(podLabels, key)) extra.push({ key, operator: "in", values: [podLabels[key]!] });
    if (extra.length > 0 && selector !== "nothing") selector = [...selector, ...extra];
    out.push({
      maxSkew: c.maxSkew,
      topologyKey: c.topologyKey,
      selector,
      minDomains: c.minDomains ?? 1,
      nodeAffinityPolicy: c.nodeAffinityPolicy ?? "Honor",
      nodeTaintsPolicy: c.nodeTaintsPolicy ?? "Ignore",
    });
  }
  return out;
}

function nodeLabelsMatchConstraints(labels: Labels, constraints: readonly Constraint[]): boolean {
  return constraints.every((c) => Object.hasOwn(labels, c.topologyKey));
}

/** Whether `node` counts toward a constraint for `pod`, by the constraint's node inclusion policies. */
function matchNodeInclusionPolicies(c: Constraint, pod: PodInfo, node: NodeProjection): boolean {
  if (c.nodeAffinityPolicy === "Honor" && !requiredNodeAffinityMatches(pod.spec.requiredNodeAffinity, node)) return false;
  if (c.nodeTaintsPolicy === "Honor" && findUntoleratedTaint(node.taints, pod.spec.tolerations, doNotSchedule)) return false;
  return true;
}

/**
 * countPodsMatchSelector: pods in `namespace`, not terminating, that the selector matches. An empty
 * selector counts none. `memo` caches matches per (interned) label set.
 */
function countMatching(pods: readonly PodInfo[], selector: Constraint["selector"], namespace: string, memo: Map<Labels, boolean>): number {
  if (selector === "nothing" || selector.length === 0) return 0;
  let count = 0;
  for (const p of pods) {
    if (p.deleting || p.namespace !== namespace) continue;
    let hit = memo.get(p.labels);
    if (hit === undefined) memo.set(p.labels, (hit = matchesLabels(selector, p.labels)));
    if (hit) count++;
  }
  return count;
}

/** The two domains with the fewest matching pods, as kube tracks them (criticalPaths). */
class CriticalPaths {
  paths: [{ value: string; num: number }, { value: string; num: number }] = [{ value: "", num: 2 ** 31 - 1 }, { value: "", num: 2 ** 31 - 1 }];

  clone(): CriticalPaths {
    const c = new CriticalPaths();
    c.paths = [{ ...this.paths[0] }, { ...this.paths[1] }];
    return c;
  }

  update(value: string, num: number): void {
    const p = this.paths;
    const i = value === p[0].value ? 0 : value === p[1].value ? 1 : undefined;
    if (i !== undefined) {
      p[i].num = num;
      if (p[0].num > p[1].num) this.paths = [p[1], p[0]];
    } else if (num < p[0].num) {
      this.paths = [{ value, num }, p[0]];
    } else if (num < p[1].num) {
      p[1] = { value, num };
    }
  }
}

class PreFilterState implements StateData {
  readonly constraints: readonly Constraint[];
  /** Per constraint: topology value → matching pods. */
  readonly counts: Map<string, number>[];
  readonly criticalPaths: CriticalPaths[];

  constructor(
    constraints: readonly Constraint[],
    counts: Map<string, number>[],
    criticalPaths: CriticalPaths[],
  ) {
    this.constraints = constraints;
    this.counts = counts;
    this.criticalPaths = criticalPaths;
  }

  clone(): PreFilterState {
    return new PreFilterState(this.constraints, this.counts.map((m) => new Map(m)), this.criticalPaths.map((p) => p.clone()));
  }

  /** The global minimum, or 0 while fewer domains than minDomains are eligible. */
  minMatchNum(i: number): number {
    return this.counts[i]!.size < this.constraints[i]!.minDomains ? 0 : this.criticalPaths[i]!.paths[0].num;
  }

  updateWithPod(other: PodInfo, pod: PodInfo, node: NodeProjection, delta: 1 | -1): void {
    if (other.namespace !== pod.namespace || !nodeLabelsMatchConstraints(node.labels, this.constraints)) return;
    this.constraints.forEach((c, i) => {
      if (!matchesLabels(c.selector, other.labels) || !matchNodeInclusionPolicies(c, pod, node)) return;
      const value = node.labels[c.topologyKey]!;
      const n = (this.counts[i]!.get(value) ?? 0) + delta;
      this.counts[i]!.set(value, n);
      this.criticalPaths[i]!.update(value, n);
    });
  }
}

class PreScoreState implements StateData {
  readonly constraints: readonly Constraint[];
  readonly ignoredNodes: ReadonlySet<string>;
  readonly counts: Map<string, number>[];
  readonly weights: readonly number[];

  constructor(
    constraints: readonly Constraint[],
    ignoredNodes: ReadonlySet<string>,
    counts: Map<string, number>[],
    weights: readonly number[],
  ) {
    this.constraints = constraints;
    this.ignoredNodes = ignoredNodes;
    this.counts = counts;
    this.weights = weights;
  }
  clone() {
    return this;
  }
}

export const podTopologySpread: PluginFactory = (rawArgs) => {
  const args = (rawArgs ?? {}) as PodTopologySpreadArgs;
  const defaultingType = args.defaultingType ?? "System";
  if (defaultingType !== "System" && defaultingType !== "List") throw new Error(`defaultingType: Unsupported value: "${defaultingType}": supported values: "List", "System"`);
  if (defaultingType === "System" && (args.defaultConstraints ?? []).length > 0) throw new Error('defaultConstraints: Invalid value: when .defaultingType is "System", .defaultConstraints must be empty');
  const defaults = defaultingType === "System" ? SYSTEM_DEFAULT_CONSTRAINTS : args.defaultConstraints ?? [];
  defaults.forEach((c, i) => {
    if (c.labelSelector) throw new Error(`defaultConstraints[${i}].labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod`);
    if (!(c.maxSkew > 0)) throw new Error(`defaultConstraints[${i}].maxSkew: Invalid value: ${c.maxSkew}: not in valid range (0, ∞)`);
  });
  const systemDefaulted = defaultingType === "System";

  /** The pod's constraints of one kind, or the defaults (with the pod's workload selector) when it has none. */
  const constraintsFor = (pod: PodInfo, snapshot: Snapshot, action: string): Constraint[] => {
    if (pod.spec.topologySpreadConstraints.length > 0) return filterConstraints(pod.spec.topologySpreadConstraints, pod.labels, action);
    const constraints = filterConstraints(defaults, pod.labels, action);
    if (constraints.length === 0) return [];
    const selector = snapshot.defaultSpreadSelector(pod);
    if (selector.length === 0) return [];
    return constraints.map((c) => ({ ...c, selector }));
  };

  return {
    name: NAME,
    events: [
      { resource: "Pod", actionType: ActionType.All, label: "Pod" },
      { resource: "Node", actionType: ActionType.Add | ActionType.Delete | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint, label: "Node" },
    ],
    preFilter(state, pod) {
      let constraints: Constraint[];
      try {
        constraints = constraintsFor(pod, state.snapshot, "DoNotSchedule");
      } catch (e) {
        if (e instanceof SelectorError) return asError(e.message);
        throw e;
      }
      if (constraints.length === 0) return skip();
      const counts = constraints.map(() => new Map<string, number>());
      const memos = constraints.map(() => new Map<Labels, boolean>());
      for (const info of state.snapshot.nodes()) {
        const node = info.node!;
        if (!nodeLabelsMatchConstraints(node.labels, constraints)) continue;
        constraints.forEach((c, i) => {
          if (!matchNodeInclusionPolicies(c, pod, node)) return;
          const value = node.labels[c.topologyKey]!;
          counts[i]!.set(value, (counts[i]!.get(value) ?? 0) + countMatching(info.pods, c.selector, pod.namespace, memos[i]!));
        });
      }
      const paths = counts.map((byValue) => {
        const p = new CriticalPaths();
        for (const [value, num] of byValue) p.update(value, num);
        return p;
      });
      state.write(PRE_FILTER_KEY, new PreFilterState(constraints, counts, paths));
      return undefined;
    },
    addPod(state, pod, other, node) {
      state.read<PreFilterState>(PRE_FILTER_KEY)?.updateWithPod(other, pod, node.node!, 1);
      return undefined;
    },
    removePod(state, pod, other, node) {
      state.read<PreFilterState>(PRE_FILTER_KEY)?.updateWithPod(other, pod, node.node!, -1);
      return undefined;
    },
    filter(state, pod, info) {
      const s = state.read<PreFilterState>(PRE_FILTER_KEY);
      if (!s) return asError(`reading "${PRE_FILTER_KEY}" from cycleState: not found`);
      const node = info.node!;
      for (let i = 0; i < s.constraints.length; i++) {
        const c = s.constraints[i]!;
        const value = node.labels[c.topologyKey];
        if (value === undefined) return unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH);
        const self = matchesLabels(c.selector, pod.labels) ? 1 : 0;
        const skew = (s.counts[i]!.get(value) ?? 0) + self - s.minMatchNum(i);
        if (skew > c.maxSkew) return unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH);
      }
      return undefined;
    },
    preScore(state, pod, filtered) {
      const all = state.snapshot.nodes();
      if (filtered.length === 0 || all.length === 0) return skip();
      let constraints: Constraint[];
      try {
        constraints = constraintsFor(pod, state.snapshot, "ScheduleAnyway");
      } catch (e) {
        if (e instanceof SelectorError) return asError(e.message);
        throw e;
      }
      if (constraints.length === 0) return skip();
      // Only non-default constraints need every topology label; hostname spreading works without zones.
      const requireAll = pod.spec.topologySpreadConstraints.length > 0 || !systemDefaulted;
      const ignored = new Set<string>();
      const counts = constraints.map(() => new Map<string, number>());
      for (const info of filtered) {
        if (requireAll && !nodeLabelsMatchConstraints(info.node!.labels, constraints)) {
          ignored.add(info.name);
          continue;
        }
        constraints.forEach((c, i) => {
          // Per-node counts are taken in Score.
          if (c.topologyKey === LABEL_HOSTNAME) return;
          const value = info.node!.labels[c.topologyKey] ?? "";
          if (!counts[i]!.has(value)) counts[i]!.set(value, 0);
        });
      }
      const weights = constraints.map((c, i) => Math.log((c.topologyKey === LABEL_HOSTNAME ? filtered.length - ignored.size : counts[i]!.size) + 2));
      const memos = constraints.map(() => new Map<Labels, boolean>());
      for (const info of all) {
        const node = info.node!;
        if (requireAll && !nodeLabelsMatchConstraints(node.labels, constraints)) continue;
        constraints.forEach((c, i) => {
          if (!matchNodeInclusionPolicies(c, pod, node)) return;
          const value = node.labels[c.topologyKey] ?? "";
          const current = counts[i]!.get(value);
          if (current === undefined) return;
          counts[i]!.set(value, current + countMatching(info.pods, c.selector, pod.namespace, memos[i]!));
        });
      }
      state.write(PRE_SCORE_KEY, new PreScoreState(constraints, ignored, counts, weights));
      return undefined;
    },
    score(state, pod, info) {
      const s = state.read<PreScoreState>(PRE_SCORE_KEY);
      if (!s) throw new Error(`reading "${PRE_SCORE_KEY}" from cycleState: not found`);
      if (s.ignoredNodes.has(info.name)) return 0;
      let score = 0;
      s.constraints.forEach((c, i) => {
        const value = info.node!.labels[c.topologyKey];
        if (value === undefined) return;
        const count = c.topologyKey === LABEL_HOSTNAME ? countMatching(info.pods, c.selector, pod.namespace, new Map()) : s.counts[i]!.get(value) ?? 0;
        score += count * s.weights[i]! + (c.maxSkew - 1);
      });
      return Math.round(score);
    },
    normalizeScore(state, _pod, scores) {
      const s = state.read<PreScoreState>(PRE_SCORE_KEY);
      if (!s) return undefined;
      let min = Number.MAX_SAFE_INTEGER;
      let max = 0;
      for (const { name, score } of scores) {
        if (s.ignoredNodes.has(name)) continue;
        if (score < min) min = score;
        if (score > max) max = score;
      }
      for (const entry of scores) {
        if (s.ignoredNodes.has(entry.name)) entry.score = 0;
        else if (max === 0) entry.score = MAX_NODE_SCORE;
        else entry.score = Math.trunc((MAX_NODE_SCORE * (max + min - entry.score)) / max);
      }
      return undefined;
    },
  };
};
