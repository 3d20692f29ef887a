// Builders for the scheduler's tests: Pods and Nodes as the API holds them, a small cluster (snapshot
// plus projector), the default profile's framework, and a handle for plugins tested alone.
import type { Affinity, Container, ContainerPort, Node, Pod, Taint, Toleration, TopologySpreadConstraint, Volume } from "kubernetes-types/core/v1";
import type { KubeSchedulerConfiguration } from "./config.ts";
import { resolveConfiguration } from "./config.ts";
import { CycleState } from "./framework/cycle-state.ts";
import { Framework } from "./framework/framework.ts";
import type { Binder, FrameworkHandle, Plugin, PluginFactory } from "./framework/interface.ts";
import type { NodeInfo } from "./node-info.ts";
import { IN_TREE_PLUGINS } from "./plugins/registry.ts";
import { Projector, type PodInfo } from "./projection.ts";
import { Snapshot } from "./snapshot.ts";

export interface PodOptions {
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  /** Requests of the single container (when `containers` is not given). */
  requests?: Record<string, string>;
  containers?: Container[];
  initContainers?: Container[];
  overhead?: Record<string, string>;
  priority?: number;
  preemptionPolicy?: string;
  nodeName?: string;
  nominatedNodeName?: string;
  tolerations?: Toleration[];
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  topologySpreadConstraints?: TopologySpreadConstraint[];
  schedulingGates?: string[];
  hostPorts?: (number | ContainerPort)[];
  image?: string;
  volumes?: Volume[];
  schedulerName?: string;
  startTime?: string;
  deleting?: boolean;
  /** A DisruptionTarget condition set by preemption. */
  preempted?: boolean;
  owner?: { apiVersion: string; kind: string; name: string; uid?: string };
  phase?: string;
}

export function makePod(name: string, o: PodOptions = {}): Pod {
  const ports = (o.hostPorts ?? []).map((p) => (typeof p === "number" ? { containerPort: p, hostPort: p } : p));
  const containers = o.containers ?? [{ name: "c", image: o.image ?? "registry.test/app:1", resources: o.requests ? { requests: o.requests } : {}, ...(ports.length ? { ports } : {}) }];
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: o.namespace ?? "default",
      uid: o.uid ?? `uid-${o.namespace ?? "default"}-${name}`,
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.deleting ? { deletionTimestamp: "2024-01-01T00:00:00Z" } : {}),
      ...(o.owner ? { ownerReferences: [{ ...o.owner, uid: o.owner.uid ?? `uid-${o.owner.name}`, controller: true }] } : {}),
    },
    spec: {
      containers,
      ...(o.initContainers ? { initContainers: o.initContainers } : {}),
      ...(o.overhead ? { overhead: o.overhead } : {}),
      ...(o.priority !== undefined ? { priority: o.priority } : {}),
      ...(o.preemptionPolicy ? { preemptionPolicy: o.preemptionPolicy } : {}),
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.tolerations ? { tolerations: o.tolerations } : {}),
      ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
      ...(o.affinity ? { affinity: o.affinity } : {}),
      ...(o.topologySpreadConstraints ? { topologySpreadConstraints: o.topologySpreadConstraints } : {}),
      ...(o.schedulingGates ? { schedulingGates: o.schedulingGates.map((g) => ({ name: g })) } : {}),
      ...(o.volumes ? { volumes: o.volumes } : {}),
      ...(o.schedulerName ? { schedulerName: o.schedulerName } : {}),
    },
    status: {
      ...(o.phase ? { phase: o.phase } : {}),
      ...(o.nominatedNodeName ? { nominatedNodeName: o.nominatedNodeName } : {}),
      ...(o.startTime ? { startTime: o.startTime } : {}),
      ...(o.preempted ? { conditions: [{ type: "DisruptionTarget", status: "True", reason: "PreemptionByScheduler" }] } : {}),
    },
  };
}

export interface NodeOptions {
  cpu?: string;
  memory?: string;
  pods?: string;
  /** More allocatable resources (extended resources, ephemeral-storage). */
  allocatable?: Record<string, string>;
  labels?: Record<string, string>;
  taints?: Taint[];
  unschedulable?: boolean;
  images?: { names: string[]; sizeBytes: number }[];
}

export function makeNode(name: string, o: NodeOptions = {}): Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...o.labels } },
    spec: { ...(o.taints ? { taints: o.taints } : {}), ...(o.unschedulable ? { unschedulable: true } : {}) },
    status: {
      allocatable: { cpu: o.cpu ?? "4", memory: o.memory ?? "8Gi", pods: o.pods ?? "110", ...o.allocatable },
      ...(o.images ? { images: o.images } : {}),
    },
  };
}

/** A snapshot filled from API objects; pods with a nodeName are bound there. */
export class TestCluster {
  readonly projector = new Projector();
  readonly snapshot = new Snapshot();

  constructor(nodes: Node[] = [], pods: Pod[] = []) {
    for (const n of nodes) this.snapshot.setNode(this.projector.node(n));
    for (const p of pods) this.snapshot.addPod(this.projector.pod(p));
  }

  pod(pod: Pod): PodInfo {
    return this.projector.pod(pod);
  }

  node(name: string): NodeInfo {
    const info = this.snapshot.node(name);
    if (!info) throw new Error(`no node ${name}`);
    return info;
  }

  state(): CycleState {
    return new CycleState(this.snapshot);
  }
}

/** A handle for plugins that use none of its runners. */
export function plainHandle(random: () => number = () => 0, binder?: Binder): FrameworkHandle {
  const unused = (): never => {
    throw new Error("this plugin test does not run other plugins");
  };
  return { schedulerName: "default-scheduler", random, binder, runFilterPluginsWithNominatedPods: unused, runPreFilterExtensionAddPod: unused, runPreFilterExtensionRemovePod: unused };
}

export function plugin(factory: PluginFactory, args?: unknown): Plugin {
  return factory(args, plainHandle());
}

/** The first profile of a configuration (kube's default profile without one). */
export function defaultFramework(config?: KubeSchedulerConfiguration, options: { random?: () => number; binder?: Binder } = {}): Framework {
  const resolved = resolveConfiguration(config);
  return Framework.create(resolved.profiles[0]!, IN_TREE_PLUGINS, { random: options.random ?? (() => 0), binder: options.binder });
}

/** Scores on the nodes after the plugin's own normalization. */
export function scores(p: Plugin, state: CycleState, pod: PodInfo, nodes: NodeInfo[]): Record<string, number> {
  const list = nodes.map((n) => ({ name: n.name, score: p.score!(state, pod, n) }));
  p.normalizeScore?.(state, pod, list);
  return Object.fromEntries(list.map((s) => [s.name, s.score]));
}

/** A clock the test moves by hand. */
export function testClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}
