// The HorizontalPodAutoscaler controller (kube-controller-manager 1.30, autoscaling/v2 resource
// metrics): every 15 s while HPAs exist it reads its target's scale subresource and the pods'
// usage from metrics.k8s.io, computes the replicas the metrics ask for
// (horizontal-pod-autoscaler-replicas.ts), and writes them through the scale subresource with a
// SuccessfulRescale Event. Without metrics it says why in ScalingActive=False, as kube does.
import type { HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerStatus, MetricSpec, MetricStatus } from "kubernetes-types/autoscaling/v2";
import type { Scale } from "kubernetes-types/autoscaling/v1";
import type { Pod } from "kubernetes-types/core/v1";
import type { ApiClient } from "../../lib/client/index.ts";
import { builtin } from "../../lib/k8s/resources.ts";
import { quantity } from "../../lib/k8s/quota-usage.ts";
import { parseLabelSelector } from "../../lib/k8s/selectors.ts";
import { kubeTime } from "../../lib/k8s/time.ts";
import { keyOf, splitKey, type Controller, type ReconcileContext } from "./framework.ts";
import { normalizeWithBehavior, normalizeWithoutBehavior, rawResourceReplicas, recordScale, resourceReplicas, type PodMetric, type ScalingHistory } from "./horizontal-pod-autoscaler-replicas.ts";
import { PODS } from "./replicaset.ts";
import { getScale, resourceOfKind, updateScale } from "./scale-targets.ts";

export const HPAS = builtin("autoscaling/v2", "horizontalpodautoscalers");

/** kube's --horizontal-pod-autoscaler-sync-period. */
export const HPA_SYNC_MS = 15_000;
/** What the API defaults when an HPA names no metric: 80% of the pods' CPU request. */
const DEFAULT_METRICS: MetricSpec[] = [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } }];

interface PodMetricsList {
  items?: { metadata?: { name?: string }; timestamp?: string; window?: string; containers?: { name: string; usage?: Record<string, string> }[] }[];
}

/** metav1 durations such as "15s", "1m0s", "500ms". */
function durationMs(text: string | undefined): number {
  let ms = 0;
  for (const [, n, unit] of (text ?? "").matchAll(/([\d.]+)(ms|s|m|h)/g)) ms += Number(n) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as "ms"];
  return ms;
}

/** The pods' usage of one resource from the resource metrics API (resourceMetricsClient.GetResourceMetric). */
async function podMetrics(client: ApiClient, namespace: string, selector: string, resource: string): Promise<Map<string, PodMetric>> {
  let list: PodMetricsList;
  try {
    list = await client.json<PodMetricsList>({ method: "GET", path: `/apis/metrics.k8s.io/v1beta1/namespaces/${namespace}/pods`, query: { labelSelector: selector } });
  } catch (e) {
    // client-go's words for a group nobody serves.
    const reason = (e as { code?: number }).code === 404 ? "the server could not find the requested resource (get pods.metrics.k8s.io)" : (e as Error).message;
    throw new Error(`unable to fetch metrics from resource metrics API: ${reason}`);
  }
  if (!list.items?.length) throw new Error("no metrics returned from resource metrics API");
  const metrics = new Map<string, PodMetric>();
  for (const item of list.items) {
    const usages = (item.containers ?? []).map((c) => c.usage?.[resource]);
    if (!usages.length || usages.some((u) => u === undefined)) continue;
    metrics.set(item.metadata!.name!, { value: usages.reduce((sum, u) => sum + Number(quantity(u)), 0), timestamp: Date.parse(item.timestamp ?? "") || 0, windowMs: durationMs(item.window) });
  }
  return metrics;
}

interface MetricOutcome {
  replicas: number;
  metricName: string;
  status: MetricStatus;
}

/** One Resource metric's proposal (computeStatusForResourceMetricGeneric); errors carry kube's wording. */
async function resourceMetricReplicas(hpa: HorizontalPodAutoscaler, spec: MetricSpec, current: number, selector: string, ctx: ReconcileContext): Promise<MetricOutcome> {
  const name = spec.resource!.name;
  const target = spec.resource!.target;
  const namespace = hpa.metadata!.namespace!;
  const inputs = async () => {
    let metrics: Map<string, PodMetric>;
    try {
      metrics = await podMetrics(ctx.client, namespace, selector, name);
    } catch (e) {
      throw new Error(`unable to get metrics for resource ${name}: ${(e as Error).message}`);
    }
    return { metrics, pods: ctx.listers.of<Pod>(PODS).list(namespace, parseLabelSelector(selector)) };
  };
  if (target.averageValue !== undefined) {
    try {
      const { metrics, pods } = await inputs();
      const proposal = rawResourceReplicas(current, Number(quantity(target.averageValue)), name, pods, metrics, ctx.now());
      return { replicas: proposal.replicas, metricName: `${name} resource`, status: { type: "Resource", resource: { name, current: { averageValue: `${proposal.rawAverage}m` } } } };
    } catch (e) {
      throw new Error(`failed to get ${name} usage: ${(e as Error).message}`);
    }
  }
  if (target.averageUtilization === undefined) {
    throw new Error("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set");
  }
  try {
    const { metrics, pods } = await inputs();
    const proposal = resourceReplicas(current, target.averageUtilization, name, pods, metrics, ctx.now());
    return {
      replicas: proposal.replicas, metricName: `${name} resource utilization (percentage of request)`,
      status: { type: "Resource", resource: { name, current: { averageUtilization: proposal.utilization, averageValue: `${proposal.rawAverage}m` } } },
    };
  } catch (e) {
    throw new Error(`failed to get ${name} utilization: ${(e as Error).message}`);
  }
}

class Sync {
  readonly conditions: HorizontalPodAutoscalerCondition[];
  private readonly hpa: HorizontalPodAutoscaler;
  private readonly ctx: ReconcileContext;

  constructor(hpa: HorizontalPodAutoscaler, ctx: ReconcileContext) {
    this.hpa = hpa;
    this.ctx = ctx;
    this.conditions = structuredClone(hpa.status?.conditions ?? []);
  }

  /** setCondition: the transition time moves only when the status does. */
  setCondition(type: string, status: "True" | "False", reason: string, message: string): void {
    const existing = this.conditions.find((c) => c.type === type);
    const lastTransitionTime = existing && existing.status === status ? existing.lastTransitionTime : kubeTime(this.ctx.now());
    const condition = { type, status, reason, message, lastTransitionTime };
    if (existing) Object.assign(existing, condition);
    else this.conditions.push(condition);
  }

  event(type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    return this.ctx.recorder.record(this.hpa, undefined, type, reason, "", message).then(() => undefined, () => undefined);
  }

  /** validateAndParseSelector: the pods are the ones the target's scale selects, so it must have a selector. */
  private async validateSelector(selector: string | undefined): Promise<Error | undefined> {
    if (!selector) {
      await this.event("Warning", "SelectorRequired", "selector is required");
      this.setCondition("ScalingActive", "False", "InvalidSelector", "the HPA target's scale is missing a selector");
      return new Error("selector is required");
    }
    try {
      parseLabelSelector(selector);
      return undefined;
    } catch (e) {
      const message = `couldn't convert selector into a corresponding internal selector object: ${(e as Error).message}`;
      await this.event("Warning", "InvalidSelector", message);
      this.setCondition("ScalingActive", "False", "InvalidSelector", message);
      return new Error(message);
    }
  }

  /** computeReplicasForMetrics: the largest proposal; if no metric works, ScalingActive=False says why. */
  async metricsReplicas(scale: Scale): Promise<{ replicas: number; metricName: string; statuses: MetricStatus[] } | Error> {
    const specs = this.hpa.spec?.metrics?.length ? this.hpa.spec.metrics : DEFAULT_METRICS;
    const current = scale.spec?.replicas ?? 0;
    const selectorError = await this.validateSelector(scale.status?.selector);
    if (selectorError) return selectorError;
    const statuses: MetricStatus[] = [];
    let best: MetricOutcome | undefined;
    let firstError: Error | undefined;
    let firstCondition: [reason: string, message: string] | undefined;
    let invalid = 0;
    for (const spec of specs) {
      try {
        if (spec.type !== "Resource" || !spec.resource) throw Object.assign(new Error(`unsupported metric source type "${spec.type}"`), { reason: "InvalidMetricSourceType" });
        const outcome = await resourceMetricReplicas(this.hpa, spec, current, scale.status?.selector ?? "", this.ctx);
        statuses.push(outcome.status);
        if (!best || outcome.replicas > best.replicas) best = outcome;
      } catch (e) {
        const reason = (e as { reason?: string }).reason ?? "FailedGetResourceMetric";
        // getUnableComputeReplicaCountCondition: each failing metric is an Event.
        await this.event("Warning", reason, (e as Error).message);
        const error = new Error(`failed to get ${spec.resource?.name ?? spec.type} resource metric value: ${(e as Error).message}`);
        firstError ??= error;
        firstCondition ??= [reason, `the HPA was unable to compute the replica count: ${(e as Error).message}`];
        invalid++;
      }
    }
    if (!best || (invalid > 0 && best.replicas < current)) {
      this.setCondition("ScalingActive", "False", ...firstCondition!);
      return new Error(`invalid metrics (${invalid} invalid out of ${specs.length}), first error is: ${firstError!.message}`);
    }
    this.setCondition("ScalingActive", "True", "ValidMetricFound", `the HPA was able to successfully calculate a replica count from ${best.metricName}`);
    return { replicas: best.replicas, metricName: best.metricName, statuses };
  }
}

function sameStatus(a: HorizontalPodAutoscalerStatus | undefined, b: HorizontalPodAutoscalerStatus): boolean {
  return JSON.stringify(a ?? {}) === JSON.stringify(b);
}

interface Tracked extends ScalingHistory {
  /** The last sync: when, and of which generation of the HPA. */
  synced?: { at: number; generation?: number };
}

/** The HorizontalPodAutoscaler controller; `history` holds each HPA's recent recommendations and rescales. */
export function horizontalPodAutoscalerController(history = new Map<string, Tracked>()): Controller {
  return {
    name: "horizontal-pod-autoscaler",
    watches: [{ resource: HPAS, keysFor: (hpa) => [keyOf(hpa)] }],
    async reconcile(key, ctx) {
      const [namespace, name] = splitKey(key);
      const hpa = ctx.listers.of<HorizontalPodAutoscaler>(HPAS).get(namespace, name);
      if (!hpa) {
        history.delete(key);
        return undefined;
      }
      const scaling = history.get(key) ?? { recommendations: [], scaleUps: [], scaleDowns: [] };
      history.set(key, scaling);
      // kube's HPA queue admits a key once per sync period: a status write (its own) is no reason to look sooner.
      const { synced } = scaling;
      const now = ctx.now();
      if (synced && synced.generation === hpa.metadata?.generation && now - synced.at < HPA_SYNC_MS) return { requeueAfter: synced.at + HPA_SYNC_MS - now };
      scaling.synced = { at: now, generation: hpa.metadata?.generation };
      await reconcileAutoscaler(hpa, key, scaling, ctx);
      // Metrics change without any object changing: look again every sync period while the HPA exists.
      return { requeueAfter: HPA_SYNC_MS };
    },
  };
}

async function writeStatus(hpa: HorizontalPodAutoscaler, status: HorizontalPodAutoscalerStatus, ctx: ReconcileContext): Promise<void> {
  if (sameStatus(hpa.status, status)) return;
  await ctx.client.resource<HorizontalPodAutoscaler>(HPAS).updateStatus(hpa.metadata!.namespace!, { ...hpa, status });
}

async function reconcileAutoscaler(hpa: HorizontalPodAutoscaler, key: string, scaling: ScalingHistory, ctx: ReconcileContext): Promise<void> {
  const sync = new Sync(hpa, ctx);
  const ref = hpa.spec!.scaleTargetRef;
  const namespace = hpa.metadata!.namespace!;
  const statusWith = (current: number, desired: number, metrics: MetricStatus[] | undefined, lastScaleTime = hpa.status?.lastScaleTime): HorizontalPodAutoscalerStatus => JSON.parse(JSON.stringify({
    ...(hpa.status?.observedGeneration !== undefined ? { observedGeneration: hpa.status.observedGeneration } : {}),
    lastScaleTime, currentReplicas: current, desiredReplicas: desired, currentMetrics: metrics?.length ? metrics : undefined, conditions: sync.conditions,
  }));
  let scale: Scale;
  const names = await resourceOfKind(ctx.client, ref.apiVersion ?? "", ref.kind).catch(() => undefined);
  try {
    if (!names) throw new Error(`no matches for kind "${ref.kind}" in group "${ref.apiVersion?.split("/").slice(0, -1).join("/") ?? ""}"`);
    scale = await getScale(ctx.client, names, namespace, ref.name);
  } catch (e) {
    sync.setCondition("AbleToScale", "False", "FailedGetScale", `the HPA controller was unable to get the target's current scale: ${(e as Error).message}`);
    await sync.event("Warning", "FailedGetScale", (e as Error).message);
    await writeStatus(hpa, statusWith(hpa.status?.currentReplicas ?? 0, hpa.status?.desiredReplicas ?? 0, hpa.status?.currentMetrics), ctx);
    return;
  }
  sync.setCondition("AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale");
  const current = scale.spec?.replicas ?? 0;
  const min = hpa.spec?.minReplicas ?? 1;
  const max = hpa.spec!.maxReplicas;
  const now = ctx.now();
  let desired: number;
  let reason = "";
  let statuses: MetricStatus[] | undefined;
  let rescale = true;
  if (current === 0 && min !== 0) {
    desired = 0;
    rescale = false;
    sync.setCondition("ScalingActive", "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero");
  } else if (current > max) {
    [desired, reason] = [max, "Current number of replicas above Spec.MaxReplicas"];
  } else if (current < min) {
    [desired, reason] = [min, "Current number of replicas below Spec.MinReplicas"];
  } else {
    const computed = await sync.metricsReplicas(scale);
    if (computed instanceof Error) {
      await writeStatus(hpa, statusWith(current, hpa.status?.desiredReplicas ?? 0, undefined), ctx);
      await sync.event("Warning", "FailedComputeMetricsReplicas", computed.message);
      return;
    }
    statuses = computed.statuses;
    desired = computed.replicas;
    if (desired > current) reason = `${computed.metricName} above target`;
    if (desired < current) reason = "All metrics below target";
    const normalized = hpa.spec?.behavior
      ? normalizeWithBehavior(scaling, hpa.spec.behavior, current, desired, min, max, now)
      : normalizeWithoutBehavior(scaling, current, desired, min, max, now);
    sync.setCondition("AbleToScale", "True", ...normalized.ableToScale);
    sync.setCondition("ScalingLimited", normalized.limited[0] ? "True" : "False", normalized.limited[1], normalized.limited[2]);
    desired = normalized.replicas;
    rescale = desired !== current;
  }
  if (!rescale) {
    await writeStatus(hpa, statusWith(current, current, statuses), ctx);
    return;
  }
  try {
    await updateScale(ctx.client, names, namespace, { ...scale, spec: { replicas: desired } });
  } catch (e) {
    await sync.event("Warning", "FailedRescale", `New size: ${desired}; reason: ${reason}; error: ${(e as Error).message}`);
    sync.setCondition("AbleToScale", "False", "FailedUpdateScale", `the HPA controller was unable to update the target scale: ${(e as Error).message}`);
    await writeStatus(hpa, statusWith(current, hpa.status?.desiredReplicas ?? 0, statuses), ctx);
    throw e;
  }
  sync.setCondition("AbleToScale", "True", "SucceededRescale", `the HPA controller was able to update the target scale to ${desired}`);
  await sync.event("Normal", "SuccessfulRescale", `New size: ${desired}; reason: ${reason}`);
  recordScale(scaling, hpa.spec?.behavior, current, desired, now);
  await writeStatus(hpa, statusWith(current, desired, statuses, kubeTime(now)), ctx);
}
