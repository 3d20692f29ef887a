// One profile's framework (frameworkImpl): its plugins in order at every extension point, built
// from a KubeSchedulerProfile as kube builds it (multiPoint expanded to the points a plugin serves,
// specific settings overriding, score weights), and the runners for each extension point.
import type { KubeSchedulerProfile, PluginSet } from "../config.ts";
import type { NodeInfo } from "../node-info.ts";
import type { PodInfo } from "../projection.ts";
import type { CycleState } from "./cycle-state.ts";
import type { ClusterEvent } from "./events.ts";
import {
  MAX_NODE_SCORE, MIN_NODE_SCORE, type Binder, type FrameworkHandle, type NodeScore, type Plugin, type PluginFactory,
  type PostFilterResult, type PreFilterResult, type QueuedPodInfo,
} from "./interface.ts";
import { asError, Code, isSuccess, messageOf, Status, unresolvable, type Result } from "./status.ts";

/** The extension points of a KubeSchedulerProfile's `plugins`, and the method each needs. */
const EXTENSION_POINTS = {
  preEnqueue: ["preEnqueue"],
  queueSort: ["less"],
  preFilter: ["preFilter"],
  filter: ["filter"],
  postFilter: ["postFilter"],
  preScore: ["preScore"],
  score: ["score"],
  reserve: ["reserve", "unreserve"],
  permit: ["permit"],
  preBind: ["preBind"],
  bind: ["bind"],
  postBind: ["postBind"],
} as const satisfies Record<string, readonly (keyof Plugin)[]>;

type ExtensionPoint = keyof typeof EXTENSION_POINTS;

const POINT_TYPE: Record<ExtensionPoint, string> = {
  preEnqueue: "PreEnqueuePlugin", queueSort: "QueueSortPlugin", preFilter: "PreFilterPlugin", filter: "FilterPlugin",
  postFilter: "PostFilterPlugin", preScore: "PreScorePlugin", score: "ScorePlugin", reserve: "ReservePlugin",
  permit: "PermitPlugin", preBind: "PreBindPlugin", bind: "BindPlugin", postBind: "PostBindPlugin",
};

function serves(plugin: Plugin, point: ExtensionPoint): boolean {
  return EXTENSION_POINTS[point].some((method) => typeof plugin[method] === "function");
}

/** Plugins that may have EnqueueExtensions: their rejections decide which events retry a pod. */
const ENQUEUE_POINTS: readonly ExtensionPoint[] = ["preEnqueue", "preFilter", "filter", "reserve", "permit"];

export interface FrameworkOptions {
  random?: () => number;
  binder?: Binder;
}

export class Framework implements FrameworkHandle {
  readonly schedulerName: string;
  readonly percentageOfNodesToScore: number | undefined;
  readonly random: () => number;
  readonly binder: Binder | undefined;
  readonly plugins = new Map<string, Plugin>();
  readonly points = {} as Record<ExtensionPoint, Plugin[]>;
  readonly scoreWeights = new Map<string, number>();

  private constructor(profile: KubeSchedulerProfile, options: FrameworkOptions) {
    this.schedulerName = profile.schedulerName ?? "default-scheduler";
    this.percentageOfNodesToScore = profile.percentageOfNodesToScore ?? undefined;
    this.random = options.random ?? Math.random;
    this.binder = options.binder;
  }

  /** frameworkImpl's construction: instantiate the plugins the profile names, then order them per extension point. */
  static create(profile: KubeSchedulerProfile, registry: Readonly<Record<string, PluginFactory>>, options: FrameworkOptions = {}): Framework {
    const f = new Framework(profile, options);
    const sets = profile.plugins ?? {};
    const args = new Map((profile.pluginConfig ?? []).map((c) => [c.name, c.args]));
    const needed = new Set<string>();
    for (const set of Object.values(sets) as (PluginSet | undefined)[]) for (const p of set?.enabled ?? []) needed.add(p.name);
    for (const name of needed) {
      const factory = Object.hasOwn(registry, name) ? registry[name] : undefined;
      if (!factory) throw new Error(`plugin "${name}" does not exist`);
      f.plugins.set(name, factory(args.get(name), f));
    }
    for (const point of Object.keys(EXTENSION_POINTS) as ExtensionPoint[]) {
      f.points[point] = f.expand(point, sets[point], sets.multiPoint?.enabled ?? []);
    }
    if (f.points.queueSort.length !== 1) throw new Error(`only one queue sort plugin required for profile with scheduler name "${f.schedulerName}", but got ${f.points.queueSort.length}`);
    if (f.points.bind.length === 0) throw new Error(`at least one bind plugin is needed for profile with scheduler name "${f.schedulerName}"`);
    for (const p of [...(sets.score?.enabled ?? []), ...(sets.multiPoint?.enabled ?? [])]) {
      const plugin = f.plugins.get(p.name)!;
      if (!serves(plugin, "score") || f.scoreWeights.has(p.name)) continue;
      f.scoreWeights.set(p.name, p.weight || 1);
    }
    return f;
  }

  /** One extension point's plugins: those named there explicitly, multiPoint's, in kube's order. */
  private expand(point: ExtensionPoint, set: PluginSet | undefined, multiPoint: readonly { name: string }[]): Plugin[] {
    const enabled: string[] = [];
    for (const p of set?.enabled ?? []) {
      const plugin = this.plugins.get(p.name)!;
      if (!serves(plugin, point)) throw new Error(`plugin "${p.name}" does not extend ${POINT_TYPE[point]} plugin`);
      if (enabled.includes(p.name)) throw new Error(`plugin "${p.name}" already registered as "${POINT_TYPE[point]}"`);
      enabled.push(p.name);
    }
    const disabled = new Set((set?.disabled ?? []).map((p) => p.name));
    if (disabled.has("*")) return enabled.map((n) => this.plugins.get(n)!);
    const overrides: string[] = [];
    const fromMultiPoint: string[] = [];
    for (const p of multiPoint) {
      const plugin = this.plugins.get(p.name)!;
      if (!serves(plugin, point) || disabled.has(p.name)) continue;
      // Named at the point itself too: the specific setting wins, in its own place.
      if (enabled.includes(p.name)) overrides.push(p.name);
      else if (fromMultiPoint.includes(p.name)) throw new Error(`plugin "${p.name}" already registered as "${POINT_TYPE[point]}"`);
      else fromMultiPoint.push(p.name);
    }
    const order = [...enabled.filter((n) => overrides.includes(n)), ...fromMultiPoint, ...enabled.filter((n) => !overrides.includes(n))];
    return order.map((n) => this.plugins.get(n)!);
  }

  /** Each enqueue-relevant plugin's registered events (EventsToRegister), for the queue. */
  clusterEvents(): Map<string, readonly ClusterEvent[]> {
    const out = new Map<string, readonly ClusterEvent[]>();
    for (const point of ENQUEUE_POINTS) {
      for (const plugin of this.points[point]) {
        // A plugin that registers nothing is retried on any event, as kube's defaultEnqueueExtension.
        out.set(plugin.name, plugin.events ?? [{ resource: "*", actionType: 127, label: "WildCard" }]);
      }
    }
    return out;
  }

  get hasFilterPlugins(): boolean {
    return this.points.filter.length > 0;
  }

  get hasScorePlugins(): boolean {
    return this.points.score.length > 0;
  }

  get hasPostFilterPlugins(): boolean {
    return this.points.postFilter.length > 0;
  }

  queueSortLess(a: QueuedPodInfo, b: QueuedPodInfo): boolean {
    return this.points.queueSort[0]!.less!(a, b);
  }

  /** The first PreEnqueue plugin that holds the pod back, with its status; undefined lets it in. */
  runPreEnqueuePlugins(pod: PodInfo): Status | undefined {
    for (const plugin of this.points.preEnqueue) {
      const status = plugin.preEnqueue!(pod);
      if (!isSuccess(status)) return status.withPlugin(plugin.name);
    }
    return undefined;
  }

  /**
   * RunPreFilterPlugins: an UnschedulableAndUnresolvable rejection stops at once; an Unschedulable
   * one lets the rest run (their state is needed for preemption) and is returned at the end.
   * Node narrowings are intersected; an empty intersection rejects every node.
   */
  runPreFilterPlugins(state: CycleState, pod: PodInfo): { result: PreFilterResult | undefined; status: Result } {
    let result: PreFilterResult | undefined;
    const narrowing: string[] = [];
    let returned: Status | undefined;
    state.skipFilterPlugins = new Set();
    for (const plugin of this.points.preFilter) {
      let out: PreFilterResult | Status | undefined;
      try {
        out = plugin.preFilter!(state, pod);
      } catch (e) {
        return { result: undefined, status: asError(`running PreFilter plugin "${plugin.name}": ${messageOf(e)}`).withPlugin(plugin.name) };
      }
      if (out instanceof Status) {
        if (out.code === Code.Skip) {
          state.skipFilterPlugins.add(plugin.name);
          continue;
        }
        if (out.code === Code.Success) continue;
        out.withPlugin(plugin.name);
        if (out.code === Code.UnschedulableAndUnresolvable) return { result: undefined, status: out };
        if (out.code === Code.Unschedulable) {
          returned = out;
          continue;
        }
        return { result: undefined, status: asError(`running PreFilter plugin "${plugin.name}": ${out.message}`).withPlugin(plugin.name) };
      }
      if (!out) continue;
      narrowing.push(plugin.name);
      result = result ? { nodeNames: new Set([...result.nodeNames].filter((n) => out.nodeNames.has(n))) } : out;
      if (result.nodeNames.size === 0) {
        const msg = narrowing.length === 1 ? `node(s) didn't satisfy plugin ${narrowing[0]}` : `node(s) didn't satisfy plugin(s) [${narrowing.join(" ")}] simultaneously`;
        return { result, status: unresolvable(msg) };
      }
    }
    return { result, status: returned };
  }

  runPreFilterExtensionAddPod(state: CycleState, podToSchedule: PodInfo, podToAdd: PodInfo, node: NodeInfo): Result {
    for (const plugin of this.points.preFilter) {
      if (!plugin.addPod || state.skipFilterPlugins.has(plugin.name)) continue;
      const status = plugin.addPod(state, podToSchedule, podToAdd, node);
      if (!isSuccess(status)) return asError(`running AddPod on PreFilter plugin "${plugin.name}": ${status.message}`);
    }
    return undefined;
  }

  runPreFilterExtensionRemovePod(state: CycleState, podToSchedule: PodInfo, podToRemove: PodInfo, node: NodeInfo): Result {
    for (const plugin of this.points.preFilter) {
      if (!plugin.removePod || state.skipFilterPlugins.has(plugin.name)) continue;
      const status = plugin.removePod(state, podToSchedule, podToRemove, node);
      if (!isSuccess(status)) return asError(`running RemovePod on PreFilter plugin "${plugin.name}": ${status.message}`);
    }
    return undefined;
  }

  /** RunFilterPlugins: the first plugin that rejects the node decides its status. */
  runFilterPlugins(state: CycleState, pod: PodInfo, node: NodeInfo): Result {
    for (const plugin of this.points.filter) {
      if (state.skipFilterPlugins.has(plugin.name)) continue;
      let status: Result;
      try {
        status = plugin.filter!(state, pod, node);
      } catch (e) {
        status = asError(messageOf(e));
      }
      if (isSuccess(status)) continue;
      if (!status.rejected) status = asError(`running "${plugin.name}" filter plugin: ${status.message}`);
      return status.withPlugin(plugin.name);
    }
    return undefined;
  }

  /**
   * RunFilterPluginsWithNominatedPods: when pods of equal or higher priority are nominated to the
   * node, the pod must fit both with them counted and without them (affinity may need them gone).
   */
  runFilterPluginsWithNominatedPods(state: CycleState, pod: PodInfo, node: NodeInfo): Result {
    const nominated = state.snapshot.nominatedPods(node.name).filter((p) => p.spec.priority >= pod.spec.priority && p.uid !== pod.uid);
    if (nominated.length === 0) return this.runFilterPlugins(state, pod, node);
    const withNominated = node.clone();
    const stateWithNominated = state.clone();
    for (const p of nominated) {
      withNominated.addPod(p.withNodeName(node.name));
      const status = this.runPreFilterExtensionAddPod(stateWithNominated, pod, p, withNominated);
      if (!isSuccess(status)) return status;
    }
    const first = this.runFilterPlugins(stateWithNominated, pod, withNominated);
    if (!isSuccess(first)) return first;
    return this.runFilterPlugins(state, pod, node);
  }

  /** RunPostFilterPlugins: the first success, Error or UnschedulableAndUnresolvable ends it. */
  runPostFilterPlugins(state: CycleState, pod: PodInfo, statuses: ReadonlyMap<string, Status>): { result: PostFilterResult | undefined; status: Status } {
    let result: PostFilterResult | undefined;
    const reasons: string[] = [];
    let rejector = "";
    for (const plugin of this.points.postFilter) {
      const out = plugin.postFilter!(state, pod, statuses);
      const s = out.status;
      if (isSuccess(s)) return { result: out.result, status: new Status(Code.Success).withPlugin(plugin.name) };
      if (s.code === Code.UnschedulableAndUnresolvable) return { result: out.result, status: s.withPlugin(plugin.name) };
      if (!s.rejected) return { result: undefined, status: new Status(Code.Error, s.reasons).withPlugin(plugin.name) };
      if (out.result && out.result.nominatedNodeName !== undefined) result = out.result;
      reasons.push(...s.reasons);
      rejector ||= plugin.name;
    }
    return { result, status: new Status(Code.Unschedulable, reasons).withPlugin(rejector) };
  }

  runPreScorePlugins(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): Result {
    state.skipScorePlugins = new Set();
    for (const plugin of this.points.preScore) {
      const status = plugin.preScore!(state, pod, nodes);
      if (status?.code === Code.Skip) {
        state.skipScorePlugins.add(plugin.name);
        continue;
      }
      if (!isSuccess(status)) return asError(`running PreScore plugin "${plugin.name}": ${status.message}`);
    }
    return undefined;
  }

  /** RunScorePlugins: each plugin scores, normalizes, is checked to [0, 100] and weighted; totals per node. */
  runScorePlugins(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): { totals: number[]; perPlugin: Map<string, number[]> } | Status {
    const totals = new Array<number>(nodes.length).fill(0);
    const perPlugin = new Map<string, number[]>();
    for (const plugin of this.points.score) {
      if (state.skipScorePlugins.has(plugin.name)) continue;
      const scores: NodeScore[] = [];
      try {
        for (const node of nodes) scores.push({ name: node.name, score: plugin.score!(state, pod, node) });
      } catch (e) {
        return asError(`running Score plugins: plugin "${plugin.name}" failed with: ${messageOf(e)}`);
      }
      if (plugin.normalizeScore) {
        const status = plugin.normalizeScore(state, pod, scores);
        if (!isSuccess(status)) return asError(`running Normalize on Score plugins: plugin "${plugin.name}" failed with: ${status.message}`);
      }
      const weight = this.scoreWeights.get(plugin.name) ?? 1;
      const weighted: number[] = [];
      for (let i = 0; i < scores.length; i++) {
        const score = scores[i]!.score;
        if (score > MAX_NODE_SCORE || score < MIN_NODE_SCORE) {
          return asError(`applying score defaultWeights on Score plugins: plugin "${plugin.name}" returns an invalid score ${score}, it should in the range of [${MIN_NODE_SCORE}, ${MAX_NODE_SCORE}] after normalizing`);
        }
        weighted.push(score * weight);
        totals[i]! += score * weight;
      }
      perPlugin.set(plugin.name, weighted);
    }
    return { totals, perPlugin };
  }

  runReservePluginsReserve(state: CycleState, pod: PodInfo, nodeName: string): Result {
    for (const plugin of this.points.reserve) {
      if (!plugin.reserve) continue;
      const status = plugin.reserve(state, pod, nodeName);
      if (isSuccess(status)) continue;
      if (status.rejected) return status.withPlugin(plugin.name);
      return asError(`running Reserve plugin "${plugin.name}": ${status.message}`).withPlugin(plugin.name);
    }
    return undefined;
  }

  /** Unreserve runs in the reverse order of Reserve. */
  runReservePluginsUnreserve(state: CycleState, pod: PodInfo, nodeName: string): void {
    for (const plugin of [...this.points.reserve].reverse()) plugin.unreserve?.(state, pod, nodeName);
  }

  runPermitPlugins(state: CycleState, pod: PodInfo, nodeName: string): Result {
    for (const plugin of this.points.permit) {
      const status = plugin.permit!(state, pod, nodeName);
      if (isSuccess(status)) continue;
      if (status.rejected) return status.withPlugin(plugin.name);
      if (status.code === Code.Wait) return asError(`Permit plugin "${plugin.name}" asked the pod to wait, which this scheduler does not support`).withPlugin(plugin.name);
      return asError(`running Permit plugin "${plugin.name}": ${status.message}`).withPlugin(plugin.name);
    }
    return undefined;
  }

  async runPreBindPlugins(state: CycleState, pod: PodInfo, nodeName: string): Promise<Result> {
    for (const plugin of this.points.preBind) {
      const status = await plugin.preBind!(state, pod, nodeName);
      if (isSuccess(status)) continue;
      if (status.rejected) return status.withPlugin(plugin.name);
      return asError(`running PreBind plugin "${plugin.name}": ${status.message}`);
    }
    return undefined;
  }

  /** RunBindPlugins: the first plugin that does not Skip binds. */
  async runBindPlugins(state: CycleState, pod: PodInfo, nodeName: string): Promise<Result> {
    let status: Result = new Status(Code.Skip);
    for (const plugin of this.points.bind) {
      status = await plugin.bind!(state, pod, nodeName);
      if (status?.code === Code.Skip) continue;
      if (isSuccess(status)) return undefined;
      if (status.rejected) return status.withPlugin(plugin.name);
      return asError(`running Bind plugin "${plugin.name}": ${status.message}`);
    }
    return status;
  }

  runPostBindPlugins(state: CycleState, pod: PodInfo, nodeName: string): void {
    for (const plugin of this.points.postBind) plugin.postBind!(state, pod, nodeName);
  }
}


