// The HorizontalPodAutoscaler's arithmetic (kube 1.30's replica_calculator.go and the normalization
// in horizontal.go), pure so it is tested table-driven: the replicas a resource metric asks for,
// desired = ceil(current × usage / target) outside a 10% tolerance, with unready and missing pods
// counted so they never flip the direction; then the stabilization window (the highest recent
// recommendation for scale-down, 300 s by default) and the scale-up/down rate policies.
import type { HPAScalingRules, HorizontalPodAutoscalerBehavior } from "kubernetes-types/autoscaling/v2";
import type { Pod } from "kubernetes-types/core/v1";
import { quantity } from "../../lib/k8s/quota-usage.ts";

/** kube's --horizontal-pod-autoscaler-tolerance. */
export const TOLERANCE = 0.1;
/** --horizontal-pod-autoscaler-cpu-initialization-period. */
const CPU_INITIALIZATION_MS = 5 * 60_000;
/** --horizontal-pod-autoscaler-initial-readiness-delay. */
const INITIAL_READINESS_DELAY_MS = 30_000;
/** --horizontal-pod-autoscaler-downscale-stabilization, and the default scale-down window. */
export const DOWNSCALE_STABILIZATION_S = 300;

/** One pod's usage of a resource (thousandths: millicores, millibytes) and when it was measured. */
export interface PodMetric {
  value: number;
  timestamp: number;
  windowMs: number;
}

export interface ResourceProposal {
  replicas: number;
  /** The pods' usage as a percentage of their requests. */
  utilization: number;
  /** The average usage per pod (thousandths). */
  rawAverage: number;
}

/** The pods that count, the unready ones, those without metrics, and those to ignore (groupPods). */
export function groupPods(pods: Pod[], metrics: Map<string, PodMetric>, resource: string, now: number) {
  let readyPodCount = 0;
  const unready = new Set<string>(), missing = new Set<string>(), ignored = new Set<string>();
  for (const pod of pods) {
    const name = pod.metadata!.name!;
    if (pod.metadata?.deletionTimestamp || pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded") {
      ignored.add(name);
      continue;
    }
    if (pod.status?.phase === "Pending") {
      unready.add(name);
      continue;
    }
    const metric = metrics.get(name);
    if (!metric) {
      missing.add(name);
      continue;
    }
    if (resource === "cpu" && cpuSampleUnready(pod, metric, now)) {
      unready.add(name);
      continue;
    }
    readyPodCount++;
  }
  return { readyPodCount, unready, missing, ignored };
}

/** A CPU sample is not trusted while the pod is starting up or has never been ready. */
function cpuSampleUnready(pod: Pod, metric: PodMetric, now: number): boolean {
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
  const started = pod.status?.startTime ? Date.parse(pod.status.startTime) : undefined;
  if (!ready || started === undefined) return true;
  const transition = Date.parse(ready.lastTransitionTime ?? "") || 0;
  if (started + CPU_INITIALIZATION_MS > now) return ready.status === "False" || metric.timestamp < transition + metric.windowMs;
  return ready.status === "False" && started + INITIAL_READINESS_DELAY_MS > transition;
}

/** Each pod's request of the resource: every container must state one (calculatePodRequests). */
export function podRequests(pods: Pod[], resource: string): Map<string, number> {
  const requests = new Map<string, number>();
  for (const pod of pods) {
    let total = 0;
    for (const c of pod.spec?.containers ?? []) {
      const request = c.resources?.requests?.[resource];
      if (request === undefined) throw new Error(`missing request for ${resource} in container ${c.name} of Pod ${pod.metadata!.name}`);
      total += Number(quantity(request));
    }
    requests.set(pod.metadata!.name!, total);
  }
  return requests;
}

/** metricsclient.GetResourceUtilizationRatio: usage over requests of the pods with both, against the target. */
export function utilizationRatio(metrics: Map<string, number>, requests: Map<string, number>, targetUtilization: number) {
  let metricsTotal = 0, requestsTotal = 0, entries = 0;
  for (const [name, value] of metrics) {
    const request = requests.get(name);
    if (request === undefined) continue;
    metricsTotal += value;
    requestsTotal += request;
    entries++;
  }
  if (requestsTotal === 0) throw new Error("no metrics returned matched known pods");
  const utilization = Math.trunc((metricsTotal * 100) / requestsTotal);
  return { ratio: utilization / targetUtilization, utilization, rawAverage: Math.trunc(metricsTotal / entries) };
}

/** How a target measures the pods' usage: the ratio to the target, and what a pod without metrics is taken to use on a scale-down. */
interface Measure {
  ratio(metrics: Map<string, number>): number;
  scaleDownGuess(pod: string): number;
}

/**
 * The replica count both kinds of resource target share (GetResourceReplicas, calcPlainMetricReplicas):
 * ceil(ratio × ready pods) outside the tolerance; pods without metrics use the guess on a
 * scale-down and nothing on a scale-up, unready pods nothing on a scale-up — guesses that can
 * never make the autoscaler overshoot or turn around. `measured` are the metrics that counted.
 */
function proposeReplicas(current: number, resource: string, pods: Pod[], podMetrics: Map<string, PodMetric>, now: number, measure: (measured: Map<string, number>) => Measure) {
  if (pods.length === 0) throw new Error("no pods returned by selector while calculating replica count");
  const { readyPodCount, unready, missing, ignored } = groupPods(pods, podMetrics, resource, now);
  const measured = new Map([...podMetrics].filter(([name]) => !ignored.has(name) && !unready.has(name)).map(([name, m]) => [name, m.value]));
  if (measured.size === 0) throw new Error("did not receive metrics for targeted pods (pods might be unready)");
  const { ratio, scaleDownGuess } = measure(measured);
  const initial = ratio(measured);
  const scaleUpWithUnready = unready.size > 0 && initial > 1;
  if (!scaleUpWithUnready && missing.size === 0) {
    return { measured, replicas: Math.abs(1 - initial) <= TOLERANCE ? current : Math.ceil(initial * readyPodCount) };
  }
  const metrics = new Map(measured);
  for (const name of missing) {
    if (initial < 1) metrics.set(name, scaleDownGuess(name));
    else if (initial > 1) metrics.set(name, 0);
  }
  if (scaleUpWithUnready) for (const name of unready) metrics.set(name, 0);
  const next = ratio(metrics);
  if (Math.abs(1 - next) <= TOLERANCE || (initial < 1 && next > 1) || (initial > 1 && next < 1)) return { measured, replicas: current };
  const replicas = Math.ceil(next * metrics.size);
  if ((next < 1 && replicas > current) || (next > 1 && replicas < current)) return { measured, replicas: current };
  return { measured, replicas };
}

/** GetResourceReplicas: the replicas an averageUtilization target (percent of the pods' requests) asks for. Throws kube's errors. */
export function resourceReplicas(currentReplicas: number, targetUtilization: number, resource: string, pods: Pod[], podMetrics: Map<string, PodMetric>, now: number): ResourceProposal {
  let requests: Map<string, number> | undefined;
  const { measured, replicas } = proposeReplicas(currentReplicas, resource, pods, podMetrics, now, () => {
    requests = podRequests(pods, resource);
    return {
      ratio: (metrics) => utilizationRatio(metrics, requests!, targetUtilization).ratio,
      // A missing pod on a scale-down uses its whole request (or the target, when above 100%).
      scaleDownGuess: (pod) => Math.trunc((requests!.get(pod)! * Math.max(100, targetUtilization)) / 100),
    };
  });
  const { utilization, rawAverage } = utilizationRatio(measured, requests!, targetUtilization);
  return { replicas, utilization, rawAverage };
}

/** GetRawResourceReplicas: the replicas an averageValue target (usage per pod, in thousandths) asks for. */
export function rawResourceReplicas(currentReplicas: number, targetAverage: number, resource: string, pods: Pod[], podMetrics: Map<string, PodMetric>, now: number): { replicas: number; rawAverage: number } {
  const average = (metrics: Map<string, number>) => [...metrics.values()].reduce((a, b) => a + b, 0) / metrics.size;
  const { measured, replicas } = proposeReplicas(currentReplicas, resource, pods, podMetrics, now, () => ({
    ratio: (metrics) => average(metrics) / targetAverage,
    scaleDownGuess: () => targetAverage,
  }));
  return { replicas, rawAverage: Math.trunc(average(measured)) };
}

// ---- normalization ----

export interface Recommendation {
  replicas: number;
  at: number;
}

export interface ScaleEvent {
  change: number;
  at: number;
}

/** What the autoscaler remembers of one HPA between syncs (kube keeps it in memory too). */
export interface ScalingHistory {
  recommendations: Recommendation[];
  scaleUps: ScaleEvent[];
  scaleDowns: ScaleEvent[];
}

export interface Normalized {
  replicas: number;
  /** AbleToScale's reason and message. */
  ableToScale: [reason: string, message: string];
  /** ScalingLimited: whether the rules cut the recommendation, its reason and message. */
  limited: [limited: boolean, reason: string, message: string];
}

const READY_FOR_NEW_SCALE: [string, string] = ["ReadyForNewScale", "recommended size matches current size"];
const WITHIN_RANGE: [string, string] = ["DesiredWithinRange", "the desired count is within the acceptable range"];
const TOO_MANY: [string, string] = ["TooManyReplicas", "the desired replica count is more than the maximum replica count"];
const TOO_FEW: [string, string] = ["TooFewReplicas", "the desired replica count is less than the minimum replica count"];
const SCALE_UP_LIMIT: [string, string] = ["ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"];
const SCALE_DOWN_LIMIT: [string, string] = ["ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"];

/** Without `behavior`: the highest recommendation of the last 5 minutes, then at most max(2×current, 4) and within min/max. */
export function normalizeWithoutBehavior(history: ScalingHistory, current: number, desired: number, min: number, max: number, now: number): Normalized {
  const cutoff = now - DOWNSCALE_STABILIZATION_S * 1000;
  let stabilized = desired;
  for (const r of history.recommendations) if (r.at > cutoff) stabilized = Math.max(stabilized, r.replicas);
  record(history, desired, now, cutoff, cutoff);
  const ableToScale: [string, string] = stabilized !== desired
    ? ["ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"]
    : READY_FOR_NEW_SCALE;
  const scaleUpLimit = Math.max(2 * current, 4);
  const [maxAllowed, upperReason] = max > scaleUpLimit ? [scaleUpLimit, SCALE_UP_LIMIT] : [max, TOO_MANY];
  const [replicas, reason] = stabilized < min ? [min, TOO_FEW] : stabilized > maxAllowed ? [maxAllowed, upperReason] : [stabilized, WITHIN_RANGE];
  return { replicas, ableToScale, limited: [replicas !== stabilized, ...reason] };
}

/** Keeps a recommendation, replacing one older than both windows (stabilizeRecommendation's bookkeeping). */
function record(history: ScalingHistory, replicas: number, now: number, upCutoff: number, downCutoff: number): void {
  const old = history.recommendations.findIndex((r) => r.at < upCutoff && r.at < downCutoff);
  if (old >= 0) history.recommendations[old] = { replicas, at: now };
  else history.recommendations.push({ replicas, at: now });
}

/** The API's defaults for unset scaling rules (GenerateHPAScaleUpRules / GenerateHPAScaleDownRules). */
export function defaultedBehavior(behavior: HorizontalPodAutoscalerBehavior): Required<HorizontalPodAutoscalerBehavior> {
  const up = behavior.scaleUp ?? {};
  const down = behavior.scaleDown ?? {};
  return {
    scaleUp: {
      stabilizationWindowSeconds: up.stabilizationWindowSeconds ?? 0, selectPolicy: up.selectPolicy ?? "Max",
      policies: up.policies ?? [{ type: "Pods", value: 4, periodSeconds: 15 }, { type: "Percent", value: 100, periodSeconds: 15 }],
    },
    scaleDown: {
      stabilizationWindowSeconds: down.stabilizationWindowSeconds ?? DOWNSCALE_STABILIZATION_S, selectPolicy: down.selectPolicy ?? "Max",
      policies: down.policies ?? [{ type: "Percent", value: 100, periodSeconds: 15 }],
    },
  };
}

const changeIn = (events: ScaleEvent[], periodSeconds: number, now: number) =>
  events.filter((e) => e.at > now - periodSeconds * 1000).reduce((sum, e) => sum + e.change, 0);

/** The most the rules let the target grow to now (calculateScaleUpLimitWithScalingRules). */
export function scaleUpLimit(current: number, history: ScalingHistory, rules: HPAScalingRules, now: number): number {
  if (rules.selectPolicy === "Disabled") return current;
  const proposals = (rules.policies ?? []).map((p) => {
    const periodStart = current - changeIn(history.scaleUps, p.periodSeconds, now) + changeIn(history.scaleDowns, p.periodSeconds, now);
    return p.type === "Pods" ? periodStart + p.value : Math.ceil(periodStart * (1 + p.value / 100));
  });
  return rules.selectPolicy === "Min" ? Math.min(...proposals) : Math.max(...proposals);
}

/** The least the rules let the target shrink to now (calculateScaleDownLimitWithBehaviors). */
export function scaleDownLimit(current: number, history: ScalingHistory, rules: HPAScalingRules, now: number): number {
  if (rules.selectPolicy === "Disabled") return current;
  const proposals = (rules.policies ?? []).map((p) => {
    const periodStart = current - changeIn(history.scaleUps, p.periodSeconds, now) + changeIn(history.scaleDowns, p.periodSeconds, now);
    return p.type === "Pods" ? periodStart - p.value : Math.trunc(periodStart * (1 - p.value / 100));
  });
  return rules.selectPolicy === "Min" ? Math.max(...proposals) : Math.min(...proposals);
}

/** With `behavior`: each direction's stabilization window, then its rate policies, within min/max. */
export function normalizeWithBehavior(history: ScalingHistory, behavior: HorizontalPodAutoscalerBehavior, current: number, desired: number, min: number, max: number, now: number): Normalized {
  const { scaleUp, scaleDown } = defaultedBehavior(behavior);
  const upCutoff = now - scaleUp.stabilizationWindowSeconds! * 1000;
  const downCutoff = now - scaleDown.stabilizationWindowSeconds! * 1000;
  let upRecommendation = desired, downRecommendation = desired;
  for (const r of history.recommendations) {
    if (r.at > upCutoff) upRecommendation = Math.min(upRecommendation, r.replicas);
    if (r.at > downCutoff) downRecommendation = Math.max(downRecommendation, r.replicas);
  }
  const stabilized = Math.min(Math.max(current, upRecommendation), downRecommendation);
  record(history, desired, now, upCutoff, downCutoff);
  const ableToScale: [string, string] = stabilized === desired ? READY_FOR_NEW_SCALE : desired >= current
    ? ["ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation"]
    : ["ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"];
  let replicas = stabilized, reason = WITHIN_RANGE;
  if (stabilized > current) {
    const limit = Math.max(scaleUpLimit(current, history, scaleUp, now), current);
    const [maxAllowed, why] = max > limit ? [limit, SCALE_UP_LIMIT] : [max, TOO_MANY];
    if (stabilized > maxAllowed) [replicas, reason] = [maxAllowed, why];
  } else if (stabilized < current) {
    const limit = Math.min(scaleDownLimit(current, history, scaleDown, now), current);
    const [minAllowed, why] = min < limit ? [limit, SCALE_DOWN_LIMIT] : [min, TOO_FEW];
    if (stabilized < minAllowed) [replicas, reason] = [minAllowed, why];
  }
  return { replicas, ableToScale, limited: [replicas !== stabilized, ...reason] };
}

/** Remembers a rescale for the rate policies, forgetting events older than the longest period (storeScaleEvent). */
export function recordScale(history: ScalingHistory, behavior: HorizontalPodAutoscalerBehavior | undefined, from: number, to: number, now: number): void {
  if (!behavior || from === to) return;
  const { scaleUp, scaleDown } = defaultedBehavior(behavior);
  const [events, rules] = to > from ? [history.scaleUps, scaleUp] : [history.scaleDowns, scaleDown];
  const longest = Math.max(0, ...(rules.policies ?? []).map((p) => p.periodSeconds));
  const kept = events.filter((e) => e.at > now - longest * 1000);
  kept.push({ change: Math.abs(to - from), at: now });
  events.splice(0, events.length, ...kept);
}
