// The node lifecycle controller (kube-controller-manager 1.30's node-controller): a node is healthy
// while its kubelet renews its Lease in kube-node-lease or posts its Ready condition. A node silent
// for longer than the grace period (--node-monitor-grace-period, 40 s) gets Ready, MemoryPressure,
// DiskPressure and PIDPressure = Unknown ("Kubelet stopped posting node status."), a NodeNotReady
// Event, and its pods' Ready condition set False. Its conditions become taints: NoSchedule ones
// (not-ready, unreachable, the pressures, network-unavailable, unschedulable) at once, and the
// NoExecute not-ready/unreachable taint that evicts pods (taint-eviction.ts) rate-limited per zone
// (--node-eviction-rate). Nothing polls: each reconcile asks to be woken at the node's deadline,
// rounded up to the node monitor period so that all nodes' deadlines share wakes.
import type { Node, NodeCondition, Pod, Taint } from "kubernetes-types/core/v1";
import type { Lease } from "kubernetes-types/coordination/v1";
import { builtin } from "../../lib/k8s/resources.ts";
import { kubeTime } from "../../lib/k8s/time.ts";
import { keyOf, NODE_NAME_INDEX, splitKey, type Controller, type Listers, type ReconcileContext, type ReconcileResult } from "./framework.ts";
import { nodeRef, NODES } from "./node-ipam.ts";
import type { ControllerSettings } from "./settings.ts";

export const PODS = builtin("v1", "pods");
export const LEASES = builtin("coordination.k8s.io/v1", "leases");
export const NODE_LEASE_NAMESPACE = "kube-node-lease";

export const TAINT_NOT_READY = "node.kubernetes.io/not-ready";
export const TAINT_UNREACHABLE = "node.kubernetes.io/unreachable";
export const TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable";
const EXCLUDE_DISRUPTION_LABEL = "node.kubernetes.io/exclude-disruption";
/** kube's --large-cluster-size-threshold and --unhealthy-zone-threshold. */
const LARGE_CLUSTER_SIZE_THRESHOLD = 50;
/**
 * kube's --node-monitor-period: node deadlines are checked on a 5 s grid, so however many nodes a
 * cluster has, their heartbeats wake the controller manager at most once per period.
 */
export const NODE_MONITOR_PERIOD_MS = 5_000;
const UNHEALTHY_ZONE_THRESHOLD = 0.55;

/** The conditions the node controller sets Unknown when the kubelet goes silent (not NetworkUnavailable). */
const MONITORED_CONDITIONS = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/** Which NoSchedule taint each condition status means (nodeConditionToTaintKeyStatusMap). */
const CONDITION_TAINTS: Record<string, Record<string, string>> = {
  Ready: { False: TAINT_NOT_READY, Unknown: TAINT_UNREACHABLE },
  MemoryPressure: { True: "node.kubernetes.io/memory-pressure" },
  DiskPressure: { True: "node.kubernetes.io/disk-pressure" },
  NetworkUnavailable: { True: "node.kubernetes.io/network-unavailable" },
  PIDPressure: { True: "node.kubernetes.io/pid-pressure" },
};
const CONDITION_TAINT_KEYS = new Set([...Object.values(CONDITION_TAINTS).flatMap((m) => Object.values(m)), TAINT_UNSCHEDULABLE]);

const time = (text: string | undefined): number | undefined => {
  const parsed = text ? Date.parse(text) : NaN;
  return Number.isNaN(parsed) ? undefined : parsed;
};

export const readyCondition = (node: Node): NodeCondition | undefined => node.status?.conditions?.find((c) => c.type === "Ready");

/**
 * When the node's kubelet was last heard from (its Ready heartbeat or its Lease's renewTime, or its
 * creation if it never posted status) and when it is due again: past the deadline it is silent.
 */
export function nodeDeadline(node: Node, lease: Lease | undefined, settings: ControllerSettings): number {
  const ready = readyCondition(node);
  const heard = Math.max(
    (ready ? time(ready.lastHeartbeatTime) : time(node.metadata?.creationTimestamp)) ?? 0,
    time(lease?.spec?.renewTime) ?? 0,
  );
  return heard + (ready ? settings.nodeMonitorGracePeriodMs : settings.nodeStartupGracePeriodMs);
}

/** A silent node's conditions: the monitored ones Unknown, as kube's tryUpdateNodeHealth writes them. */
export function silentNodeConditions(node: Node, now: number): NodeCondition[] {
  const conditions = (node.status?.conditions ?? []).map((c) => ({ ...c }));
  for (const type of MONITORED_CONDITIONS) {
    const current = conditions.find((c) => c.type === type);
    if (!current) {
      conditions.push({
        type, status: "Unknown", reason: "NodeStatusNeverUpdated", message: "Kubelet never posted node status.",
        lastHeartbeatTime: node.metadata?.creationTimestamp, lastTransitionTime: kubeTime(now),
      });
    } else if (current.status !== "Unknown") {
      Object.assign(current, { status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status.", lastTransitionTime: kubeTime(now) });
    }
  }
  return conditions;
}

/** The NoSchedule taints the node's conditions and spec.unschedulable call for (doNoScheduleTaintingPass). */
export function conditionTaints(node: Node): Taint[] {
  const taints: Taint[] = [];
  for (const condition of node.status?.conditions ?? []) {
    const key = CONDITION_TAINTS[condition.type]?.[condition.status];
    if (key) taints.push({ key, effect: "NoSchedule" });
  }
  if (node.spec?.unschedulable) taints.push({ key: TAINT_UNSCHEDULABLE, effect: "NoSchedule" });
  return taints;
}

/** The NoExecute taint a node whose Ready condition is False (not-ready) or Unknown (unreachable) gets. */
export function wantedNoExecuteTaint(node: Node): string | undefined {
  const status = readyCondition(node)?.status;
  return status === "False" ? TAINT_NOT_READY : status === "Unknown" ? TAINT_UNREACHABLE : undefined;
}

const isControllerNoExecute = (t: Taint) => t.effect === "NoExecute" && (t.key === TAINT_NOT_READY || t.key === TAINT_UNREACHABLE);
const hasTaint = (node: Node, key: string, effect: string) => (node.spec?.taints ?? []).some((t) => t.key === key && t.effect === effect);

/** The zone a node's evictions are rate-limited in (topology.GetZoneKey): region and zone, or "". */
export function zoneKey(node: Node): string {
  const labels = node.metadata?.labels ?? {};
  const region = labels["topology.kubernetes.io/region"] ?? labels["failure-domain.beta.kubernetes.io/region"] ?? "";
  const zone = labels["topology.kubernetes.io/zone"] ?? labels["failure-domain.beta.kubernetes.io/zone"] ?? "";
  return region || zone ? `${region}:\x00:${zone}` : "";
}

export type ZoneState = "Normal" | "PartialDisruption" | "FullDisruption";

/** ComputeZoneState: no Ready node is full disruption; more than 2 and at least 55 % not Ready is partial. */
export function zoneState(nodes: Node[]): ZoneState {
  const counted = nodes.filter((n) => !(EXCLUDE_DISRUPTION_LABEL in (n.metadata?.labels ?? {})));
  const ready = counted.filter((n) => readyCondition(n)?.status === "True").length;
  const notReady = counted.length - ready;
  if (ready === 0 && notReady > 0) return "FullDisruption";
  if (notReady > 2 && notReady / counted.length >= UNHEALTHY_ZONE_THRESHOLD) return "PartialDisruption";
  return "Normal";
}

/** NoExecute taints per second in a zone of this state; 0 stops them (setLimiterInZone, handleDisruption). */
export function zoneEvictionRate(state: ZoneState, zoneSize: number, everyZoneFullyDisrupted: boolean, settings: ControllerSettings): number {
  if (state === "PartialDisruption") return zoneSize > LARGE_CLUSTER_SIZE_THRESHOLD ? settings.secondaryNodeEvictionRate : 0;
  if (state === "FullDisruption" && everyZoneFullyDisrupted) return 0;
  return settings.nodeEvictionRate;
}

/**
 * When this node may get its NoExecute taint: the zone's unhealthy nodes wait in line (by when they
 * turned unhealthy), one per 1/rate seconds after the zone's last such taint, as kube's per-zone
 * token bucket (burst 1) lets them. Undefined: not while the zone is in this state. Read from the
 * taints' timeAdded, so it holds across restarts and concurrent reconciles agree on the order.
 */
export function taintSlot(node: Node, nodes: Node[], settings: ControllerSettings, now: number): number | undefined {
  const zone = zoneKey(node);
  const inZone = nodes.filter((n) => zoneKey(n) === zone);
  const zones = new Map<string, Node[]>();
  for (const n of nodes) zones.set(zoneKey(n), [...(zones.get(zoneKey(n)) ?? []), n]);
  const everyZoneFullyDisrupted = [...zones.values()].every((z) => zoneState(z) === "FullDisruption");
  const rate = zoneEvictionRate(zoneState(inZone), inZone.length, everyZoneFullyDisrupted, settings);
  if (rate <= 0) return undefined;
  const interval = 1000 / rate;
  const lastTainted = Math.max(-Infinity, ...inZone.flatMap((n) => (n.spec?.taints ?? []).filter(isControllerNoExecute).map((t) => time(t.timeAdded) ?? -Infinity)));
  const waiting = inZone
    .filter((n) => wantedNoExecuteTaint(n) !== undefined && !(n.spec?.taints ?? []).some(isControllerNoExecute))
    .sort((a, b) => (time(readyCondition(a)?.lastTransitionTime) ?? 0) - (time(readyCondition(b)?.lastTransitionTime) ?? 0) || (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
  const place = Math.max(0, waiting.findIndex((n) => n.metadata?.name === node.metadata?.name));
  const first = Number.isFinite(lastTainted) ? Math.max(now, lastTainted + interval) : now;
  return first + place * interval;
}

/** The node's taints as they should be now, and when to look again for a NoExecute taint that must wait its turn. */
export function desiredTaints(node: Node, nodes: () => Node[], settings: ControllerSettings, now: number): { taints: Taint[]; retryAt?: number } {
  const current = node.spec?.taints ?? [];
  // NoSchedule taints follow the conditions at once; other keys are not the node controller's.
  const noSchedule = conditionTaints(node);
  const keep = current.filter((t) => !(t.effect === "NoSchedule" && CONDITION_TAINT_KEYS.has(t.key)) && !isControllerNoExecute(t));
  const kept = (key: string) => current.find((t) => t.key === key && t.effect === "NoSchedule") ?? { key, effect: "NoSchedule" };
  const taints = [...keep, ...noSchedule.map((t) => kept(t.key))];
  // Ready again: the controller's NoExecute taints go (markNodeAsReachable); no Ready condition yet: they stay.
  if (readyCondition(node)?.status === "True") return { taints };
  const want = wantedNoExecuteTaint(node);
  if (want === undefined) return { taints: [...taints, ...current.filter(isControllerNoExecute)] };
  const opposite = want === TAINT_NOT_READY ? TAINT_UNREACHABLE : TAINT_NOT_READY;
  const existing = current.find((t) => t.key === want && t.effect === "NoExecute");
  if (existing) return { taints: [...taints, existing] };
  const added: Taint = { key: want, effect: "NoExecute", timeAdded: kubeTime(now) };
  // The opposite taint is swapped at once: the node was already being evicted.
  if (hasTaint(node, opposite, "NoExecute")) return { taints: [...taints, added] };
  const slot = taintSlot(node, nodes(), settings, now);
  if (slot !== undefined && slot <= now) return { taints: [...taints, added] };
  return { taints, retryAt: slot };
}

const sameTaints = (a: Taint[], b: Taint[]) => {
  const key = (t: Taint) => `${t.key}\x00${t.value ?? ""}\x00${t.effect}\x00${t.timeAdded ?? ""}`;
  return JSON.stringify(a.map(key).sort()) === JSON.stringify(b.map(key).sort());
};

const podReady = (pod: Pod) => pod.status?.conditions?.find((c) => c.type === "Ready");

/** MarkPodsNotReady: the node is not Ready, so neither are its pods; kube records NodeNotReady on each. */
async function markPodsNotReady(node: Node, ctx: ReconcileContext): Promise<void> {
  const pods = ctx.listers.of<Pod>(PODS).byIndex(NODE_NAME_INDEX, node.metadata!.name!).filter((p) => podReady(p)?.status === "True");
  const client = ctx.client.resource<Pod>(PODS);
  const results = await Promise.allSettled(pods.map(async (pod) => {
    // A strategic patch of the Ready condition alone (merged by type) cannot undo another writer's change.
    const condition = { ...podReady(pod)!, status: "False", lastTransitionTime: kubeTime(ctx.now()) };
    try {
      await client.patch(pod.metadata!.namespace, pod.metadata!.name!, { metadata: { uid: pod.metadata!.uid }, status: { conditions: [condition] } }, "strategic", { subresource: "status" });
    } catch (e) {
      if ((e as { code?: number })?.code === 404) return;
      throw e;
    }
    await ctx.recorder.record({ apiVersion: "v1", kind: "Pod", namespace: pod.metadata!.namespace, name: pod.metadata!.name, uid: pod.metadata!.uid }, undefined, "Warning", "NodeNotReady", "NodeNotReady", "Node is not ready").catch(() => undefined);
  }));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** A pod that still says Ready on a node that is not: its node needs another look. */
function nodeKeysForPod(object: unknown, listers: Listers): string[] {
  const pod = object as Pod;
  const nodeName = pod.spec?.nodeName;
  if (!nodeName || podReady(pod)?.status !== "True") return [];
  const node = listers.of<Node>(NODES).get(undefined, nodeName);
  const status = node && readyCondition(node)?.status;
  return status && status !== "True" ? [`/${nodeName}`] : [];
}

export const nodeLifecycleController: Controller = {
  name: "node-controller",
  watches: [
    { resource: NODES, keysFor: (node) => [keyOf(node)] },
    // Heartbeats do not poke the manager: a second's delay in seeing one is nothing against the grace period.
    { resource: LEASES, catchUpEveryMs: 1_000, keysFor: (lease) => (lease.metadata?.namespace === NODE_LEASE_NAMESPACE ? [`/${lease.metadata?.name}`] : []) },
    { resource: PODS, keysFor: nodeKeysForPod },
  ],
  async reconcile(key, ctx) {
    const [, name] = splitKey(key);
    const cached = ctx.listers.of<Node>(NODES).get(undefined, name);
    if (!cached) return undefined;
    // A write that lost to another (the kubelet's status, node IPAM) is redone on the node as it is
    // now, as kube's monitorNodeHealth retries with a fresh GET.
    for (let attempt = 0; ; attempt++) {
      const node = attempt === 0 ? cached : await ctx.client.resource<Node>(NODES).get(undefined, name);
      try {
        return await syncNode(node, ctx);
      } catch (e) {
        if ((e as { code?: number })?.code !== 409 || attempt >= 2) throw e;
      }
    }
  },
};

/** One node's health, conditions, taints and pods, from this view of it; answers when to look again. */
async function syncNode(cached: Node, ctx: ReconcileContext): Promise<ReconcileResult | undefined> {
  const name = cached.metadata!.name!;
  let node = cached;
  const now = ctx.now();
  const nodes = ctx.client.resource<Node>(NODES);
  const lease = ctx.listers.of<Lease>(LEASES).get(NODE_LEASE_NAMESPACE, name);
  const deadline = nodeDeadline(node, lease, ctx.settings);

  if (now >= deadline) {
    const wasReady = readyCondition(node)?.status === "True";
    const conditions = silentNodeConditions(node, now);
    if (JSON.stringify(conditions) !== JSON.stringify(node.status?.conditions ?? [])) {
      node = await nodes.patch(undefined, name, { metadata: { resourceVersion: node.metadata?.resourceVersion }, status: { conditions } }, "merge", { subresource: "status" });
      if (wasReady) await ctx.recorder.record(nodeRef(node), undefined, "Normal", "NodeNotReady", "NodeNotReady", `Node ${name} status is now: NodeNotReady`).catch(() => undefined);
    }
  }

  const current = node;
  const { taints, retryAt } = desiredTaints(current, () => ctx.listers.of<Node>(NODES).list().map((n) => (n.metadata?.name === name ? current : n)), ctx.settings, now);
  if (!sameTaints(taints, current.spec?.taints ?? [])) {
    node = await nodes.patch(undefined, name, { metadata: { resourceVersion: current.metadata?.resourceVersion }, spec: { taints } }, "merge");
  }

  const ready = readyCondition(node)?.status;
  if (ready !== undefined && ready !== "True") await markPodsNotReady(node, ctx);

  const monitorAt = Math.ceil(deadline / NODE_MONITOR_PERIOD_MS) * NODE_MONITOR_PERIOD_MS;
  const wakes = [retryAt, now < deadline ? monitorAt : undefined].filter((t): t is number => t !== undefined);
  return wakes.length ? { requeueAfter: Math.max(0, Math.min(...wakes) - now) } : undefined;
}
