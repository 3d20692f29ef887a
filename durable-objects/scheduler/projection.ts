// The scheduler's compact views of Pods and Nodes: exactly what the plugins read (requests, host
// ports, labels, taints and tolerations, affinity terms, spread constraints, images, claims), with
// selectors compiled once. Replicas of one template share one interned PodSpecInfo and label set.
import type { Node, Pod, PodAffinityTerm, TopologySpreadConstraint, NodeSelectorTerm as V1NodeSelectorTerm } from "kubernetes-types/core/v1";
import { labelSelectorFromObject, SelectorError, type LabelRequirement, type LabelSelectorObject } from "../../lib/k8s/selectors.ts";
import { Interner } from "./interner.ts";
import { addResourceList, emptyResources, podRequests, resourcesFromAmounts, type Resources } from "./resources.ts";

export type Labels = Readonly<Record<string, string>>;

export interface Taint {
  readonly key: string;
  readonly value: string;
  readonly effect: string;
}

export interface Toleration {
  readonly key: string;
  /** "Equal" or "Exists" ("" is read as Equal). */
  readonly operator: string;
  readonly value: string;
  /** "" tolerates every effect. */
  readonly effect: string;
}

export interface HostPort {
  /** "0.0.0.0" when the container names none. */
  readonly ip: string;
  /** "TCP" when the container names none. */
  readonly protocol: string;
  readonly port: number;
}

/** A NodeSelectorTerm compiled once: label requirements and metadata.name field requirements. */
export interface NodeSelectorTerm {
  readonly labels: readonly LabelRequirement[];
  readonly fields: readonly { readonly field: string; readonly operator: "=" | "!="; readonly value: string }[];
  /** An empty term, or one kube could not parse, matches no node. */
  readonly matchesNothing: boolean;
}

export interface PreferredSchedulingTerm {
  readonly weight: number;
  readonly term: NodeSelectorTerm;
}

/** nodeaffinity.RequiredNodeAffinity: spec.nodeSelector and the required node affinity, both must hold. */
export interface RequiredNodeAffinity {
  readonly nodeSelector: readonly LabelRequirement[] | undefined;
  readonly terms: readonly NodeSelectorTerm[] | undefined;
}

/** framework.AffinityTerm: a pod (anti-)affinity term with its namespaces resolved. */
export interface AffinityTerm {
  readonly namespaces: ReadonlySet<string>;
  readonly selector: readonly LabelRequirement[] | "nothing";
  readonly namespaceSelector: readonly LabelRequirement[] | "nothing";
  readonly topologyKey: string;
}

export interface WeightedAffinityTerm extends AffinityTerm {
  readonly weight: number;
}

export interface PodVolumeClaim {
  /** The pod volume's name; an ephemeral volume's claim is named `<pod>-<volume>`. */
  readonly volume: string;
  /** spec.volumes[].persistentVolumeClaim.claimName; undefined for an ephemeral volume. */
  readonly claimName: string | undefined;
}

export interface ControllerRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

/** The scheduling-relevant part of a pod's spec. Shared between pods of one template. */
export interface PodSpecInfo {
  readonly schedulerName: string;
  readonly priority: number;
  readonly preemptionPolicy: string;
  /** PodRequests: what NodeResourcesFit checks. */
  readonly requests: Resources;
  /** cpu and memory with the defaults for containers that name none (NonZeroRequested). */
  readonly nonZeroMilliCPU: number;
  readonly nonZeroMemory: number;
  readonly hostPorts: readonly HostPort[];
  readonly requiredNodeAffinity: RequiredNodeAffinity;
  readonly preferredNodeAffinity: readonly PreferredSchedulingTerm[];
  readonly tolerations: readonly Toleration[];
  readonly hasPodAffinity: boolean;
  readonly requiredAffinityTerms: readonly AffinityTerm[];
  readonly requiredAntiAffinityTerms: readonly AffinityTerm[];
  readonly preferredAffinityTerms: readonly WeightedAffinityTerm[];
  readonly preferredAntiAffinityTerms: readonly WeightedAffinityTerm[];
  /** Why the pod's affinity terms could not be parsed (an invalid selector), if they could not. */
  readonly affinityError: string | undefined;
  readonly topologySpreadConstraints: readonly TopologySpreadConstraint[];
  /** Normalized image names of init containers, then containers. */
  readonly images: readonly string[];
  readonly volumeClaims: readonly PodVolumeClaim[];
  readonly schedulingGates: readonly string[];
  readonly controller: ControllerRef | undefined;
  /** The canonical text this projection was interned under: equal keys, equal specs. */
  readonly key: string;
}

const DELETING = 1;
const PREEMPTED = 2;
const TERMINAL = 4;
/** Start times are kept as whole seconds from here, small enough to stay unboxed integers. */
const EPOCH_MS = Date.UTC(2020, 0, 1);

/**
 * What the scheduler keeps of one pod: 150,000 of them must fit a Durable Object's memory beside
 * everything else, so the per-pod part is nine fields (the name is a view of the key, flags share one
 * integer, the start time is seconds); the spec and labels are shared with the pod's replicas.
 */
export class PodInfo {
  /** "namespace/name". */
  readonly key: string;
  readonly namespace: string;
  readonly uid: string;
  readonly labels: Labels;
  /** "" while unbound. */
  readonly nodeName: string;
  readonly nominatedNodeName: string;
  /** Seconds from 2020-01-01 of status.startTime; -1 if the pod has not started. */
  private readonly started: number;
  private readonly flags: number;
  readonly spec: PodSpecInfo;

  constructor(
    key: string,
    namespace: string,
    uid: string,
    labels: Labels,
    nodeName: string,
    nominatedNodeName: string,
    started: number,
    flags: number,
    spec: PodSpecInfo,
  ) {
    this.key = key;
    this.namespace = namespace;
    this.uid = uid;
    this.labels = labels;
    this.nodeName = nodeName;
    this.nominatedNodeName = nominatedNodeName;
    this.started = started;
    this.flags = flags;
    this.spec = spec;
  }

  get name(): string {
    return this.key.slice(this.namespace.length + 1);
  }

  /** status.startTime in ms, if the pod has started. */
  get startTime(): number | undefined {
    return this.started < 0 ? undefined : EPOCH_MS + this.started * 1000;
  }

  /** metadata.deletionTimestamp is set. */
  get deleting(): boolean {
    return (this.flags & DELETING) !== 0;
  }

  /** A DisruptionTarget condition (reason PreemptionByScheduler) is true: it is going away for a preemptor. */
  get preemptedByScheduler(): boolean {
    return (this.flags & PREEMPTED) !== 0;
  }

  /** Succeeded or Failed: kube-scheduler's informer never sees it. */
  get terminal(): boolean {
    return (this.flags & TERMINAL) !== 0;
  }

  /** A copy bound to `nodeName` (what the cache holds while a binding is in flight). */
  withNodeName(nodeName: string): PodInfo {
    return new PodInfo(this.key, this.namespace, this.uid, this.labels, nodeName, this.nominatedNodeName, this.started, this.flags, this.spec);
  }

  /** A copy with another nominated node ("" clears it). */
  withNominatedNodeName(nominatedNodeName: string): PodInfo {
    return new PodInfo(this.key, this.namespace, this.uid, this.labels, this.nodeName, nominatedNodeName, this.started, this.flags, this.spec);
  }
}

/** What the scheduler keeps of one node. */
export interface NodeProjection {
  readonly name: string;
  readonly labels: Labels;
  readonly taints: readonly Taint[];
  readonly unschedulable: boolean;
  readonly allocatable: Resources;
  /** Every name of every image the node reports, with the image's size in bytes. */
  readonly images: ReadonlyMap<string, number>;
}

export const LABEL_HOSTNAME = "kubernetes.io/hostname";
export const LABEL_ZONE = "topology.kubernetes.io/zone";
export const LABEL_REGION = "topology.kubernetes.io/region";

const NODE_SELECTOR_OPERATORS: Record<string, LabelRequirement["operator"]> = { In: "in", NotIn: "notin", Exists: "exists", DoesNotExist: "!", Gt: ">", Lt: "<" };

/** A v1 NodeSelectorTerm compiled as nodeaffinity.newNodeSelectorTerm parses it. */
export function compileNodeSelectorTerm(term: V1NodeSelectorTerm): NodeSelectorTerm {
  const labels: LabelRequirement[] = [];
  const fields: NodeSelectorTerm["fields"][number][] = [];
  let broken = (term.matchExpressions ?? []).length === 0 && (term.matchFields ?? []).length === 0;
  for (const e of term.matchExpressions ?? []) {
    const operator = Object.hasOwn(NODE_SELECTOR_OPERATORS, e.operator) ? NODE_SELECTOR_OPERATORS[e.operator]! : undefined;
    const values = e.values ?? [];
    if (operator === undefined) broken = true;
    else if ((operator === "in" || operator === "notin") && values.length === 0) broken = true;
    else if ((operator === "exists" || operator === "!") && values.length > 0) broken = true;
    else if ((operator === ">" || operator === "<") && (values.length !== 1 || !/^[+-]?\d+$/.test(values[0]!))) broken = true;
    else labels.push({ key: e.key, operator, values: [...values] });
  }
  for (const f of term.matchFields ?? []) {
    // nodeSelectorRequirementsAsFieldSelector: one value, In or NotIn.
    const values = f.values ?? [];
    if (values.length !== 1 || (f.operator !== "In" && f.operator !== "NotIn")) broken = true;
    else fields.push({ field: f.key, operator: f.operator === "In" ? "=" : "!=", value: values[0]! });
  }
  return { labels, fields, matchesNothing: broken };
}

/** Image names as ImageLocality compares them: a name without a tag gets ":latest". */
function normalizedImageName(name: string): string {
  return name.lastIndexOf(":") <= name.lastIndexOf("/") ? `${name}:latest` : name;
}

function compileAffinityTerm(namespace: string, term: PodAffinityTerm): AffinityTerm {
  const namespaces = (term.namespaces ?? []).length === 0 && term.namespaceSelector == null ? new Set([namespace]) : new Set(term.namespaces ?? []);
  return {
    namespaces,
    selector: labelSelectorFromObject(term.labelSelector as LabelSelectorObject | undefined),
    namespaceSelector: labelSelectorFromObject(term.namespaceSelector as LabelSelectorObject | undefined),
    topologyKey: term.topologyKey,
  };
}

function controllerOf(pod: Pod): ControllerRef | undefined {
  const owner = (pod.metadata?.ownerReferences ?? []).find((o) => o.controller === true);
  return owner ? { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name } : undefined;
}

function specInfo(pod: Pod, key: string): PodSpecInfo {
  const spec = pod.spec!;
  const namespace = pod.metadata?.namespace ?? "default";
  const requests = resourcesFromAmounts(podRequests(pod));
  const nonZero = podRequests(pod, true);
  const hostPorts: HostPort[] = [];
  for (const c of spec.containers ?? []) {
    for (const p of c.ports ?? []) {
      if ((p.hostPort ?? 0) > 0) hostPorts.push({ ip: p.hostIP || "0.0.0.0", protocol: p.protocol || "TCP", port: p.hostPort! });
    }
  }
  const nodeAffinity = spec.affinity?.nodeAffinity;
  const required = nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  const nodeSelector = spec.nodeSelector ? Object.entries(spec.nodeSelector).map(([k, v]): LabelRequirement => ({ key: k, operator: "=", values: [v] })) : undefined;
  const podAffinity = spec.affinity?.podAffinity;
  const podAntiAffinity = spec.affinity?.podAntiAffinity;
  let affinityError: string | undefined;
  const compileTerms = (terms: PodAffinityTerm[] | undefined, what: string): AffinityTerm[] => {
    try {
      return (terms ?? []).map((t) => compileAffinityTerm(namespace, t));
    } catch (e) {
      if (!(e instanceof SelectorError)) throw e;
      affinityError ??= `${what}: ${e.message}`;
      return [];
    }
  };
  const compileWeighted = (terms: { weight: number; podAffinityTerm: PodAffinityTerm }[] | undefined, what: string): WeightedAffinityTerm[] => {
    const compiled = compileTerms(terms?.map((t) => t.podAffinityTerm), what);
    return compiled.map((t, i) => ({ ...t, weight: terms![i]!.weight }));
  };
  const requiredAffinityTerms = compileTerms(podAffinity?.requiredDuringSchedulingIgnoredDuringExecution, "requiredAffinityTerms");
  const requiredAntiAffinityTerms = compileTerms(podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution, "requiredAntiAffinityTerms");
  const preferredAffinityTerms = compileWeighted(podAffinity?.preferredDuringSchedulingIgnoredDuringExecution, "preferredAffinityTerms");
  const preferredAntiAffinityTerms = compileWeighted(podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution, "preferredAntiAffinityTerms");
  const images: string[] = [];
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) if (c.image) images.push(normalizedImageName(c.image));
  const volumeClaims: PodVolumeClaim[] = [];
  for (const v of spec.volumes ?? []) {
    if (v.persistentVolumeClaim) volumeClaims.push({ volume: v.name, claimName: v.persistentVolumeClaim.claimName });
    else if (v.ephemeral) volumeClaims.push({ volume: v.name, claimName: undefined });
  }
  return {
    schedulerName: spec.schedulerName || "default-scheduler",
    priority: spec.priority ?? 0,
    preemptionPolicy: spec.preemptionPolicy || "PreemptLowerPriority",
    requests,
    nonZeroMilliCPU: nonZero.get("cpu") ?? 0,
    nonZeroMemory: nonZero.get("memory") ?? 0,
    hostPorts,
    requiredNodeAffinity: { nodeSelector, terms: required ? (required.nodeSelectorTerms ?? []).map(compileNodeSelectorTerm) : undefined },
    preferredNodeAffinity: (nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((p) => ({ weight: p.weight, term: compileNodeSelectorTerm(p.preference) })),
    tolerations: (spec.tolerations ?? []).map((t) => ({ key: t.key ?? "", operator: t.operator || "Equal", value: t.value ?? "", effect: t.effect ?? "" })),
    hasPodAffinity: podAffinity != null || podAntiAffinity != null,
    requiredAffinityTerms,
    requiredAntiAffinityTerms,
    preferredAffinityTerms,
    preferredAntiAffinityTerms,
    affinityError,
    topologySpreadConstraints: spec.topologySpreadConstraints ?? [],
    images,
    volumeClaims,
    schedulingGates: (spec.schedulingGates ?? []).map((g) => g.name),
    controller: controllerOf(pod),
    key,
  };
}

/** The parts of a pod that make up its PodSpecInfo, as one canonical text. */
function specKey(pod: Pod): string {
  const s = pod.spec ?? { containers: [] };
  const container = (c: { image?: string; resources?: { requests?: unknown }; ports?: unknown; restartPolicy?: string }) => [c.image, c.resources?.requests, c.ports, c.restartPolicy];
  return JSON.stringify([
    pod.metadata?.namespace, s.schedulerName, s.priority, s.preemptionPolicy, s.overhead,
    (s.containers ?? []).map(container), (s.initContainers ?? []).map(container),
    s.nodeSelector, s.affinity, s.tolerations, s.topologySpreadConstraints,
    (s.volumes ?? []).filter((v) => v.persistentVolumeClaim || v.ephemeral).map((v) => [v.name, v.persistentVolumeClaim?.claimName]),
    s.schedulingGates, controllerOf(pod),
  ]);
}

function labelsKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

const NO_LABELS: Labels = Object.freeze({});

/** Turns API objects into projections, sharing identical parts. One per scheduler. */
export class Projector {
  private readonly specs = new Interner<PodSpecInfo>();
  private readonly labelSets = new Interner<Labels>();
  private readonly strings = new Interner<string>(50_000);

  labels(labels: Record<string, string> | undefined): Labels {
    if (!labels || Object.keys(labels).length === 0) return NO_LABELS;
    return this.labelSets.intern(labelsKey(labels), () => Object.freeze({ ...labels }));
  }

  pod(pod: Pod): PodInfo {
    const meta = pod.metadata ?? {};
    const namespace = this.string(meta.namespace ?? "default");
    const key = specKey(pod);
    const spec = this.specs.intern(key, () => specInfo(pod, key));
    const started = pod.status?.startTime ? Math.floor((Date.parse(pod.status.startTime) - EPOCH_MS) / 1000) : -1;
    const disruption = (pod.status?.conditions ?? []).find((c) => c.type === "DisruptionTarget");
    const phase = pod.status?.phase;
    const flags = (meta.deletionTimestamp != null ? DELETING : 0)
      | (disruption?.status === "True" && disruption.reason === "PreemptionByScheduler" ? PREEMPTED : 0)
      | (phase === "Succeeded" || phase === "Failed" ? TERMINAL : 0);
    return new PodInfo(
      // join() builds one flat string (a template literal would keep both halves alive as a rope).
      [namespace, meta.name ?? ""].join("/"),
      namespace,
      meta.uid ?? "",
      this.labels(meta.labels),
      this.string(pod.spec?.nodeName ?? ""),
      this.string(pod.status?.nominatedNodeName ?? ""),
      Number.isNaN(started) ? -1 : started,
      flags,
      spec,
    );
  }

  /** One shared copy of a namespace or node name. */
  private string(value: string): string {
    return value === "" ? "" : this.strings.intern(value, () => value);
  }

  node(node: Node): NodeProjection {
    const allocatable = emptyResources();
    addResourceList(allocatable, node.status?.allocatable);
    const images = new Map<string, number>();
    for (const image of node.status?.images ?? []) {
      for (const name of image.names ?? []) images.set(this.string(name), image.sizeBytes ?? 0);
    }
    return {
      name: this.string(node.metadata?.name ?? ""),
      labels: this.labels(node.metadata?.labels),
      taints: (node.spec?.taints ?? []).map((t) => ({ key: t.key, value: t.value ?? "", effect: t.effect })),
      unschedulable: node.spec?.unschedulable === true,
      allocatable,
      images,
    };
  }
}
