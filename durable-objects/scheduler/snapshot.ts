// The cluster as the scheduler sees it (kube-scheduler's cache and snapshot in one, since a scheduling
// cycle here runs in a single turn): NodeInfos in kube's zone-interleaved order, bound and assumed
// pods, nominated pods, and the few other objects plugins read (namespaces' labels, claims, volumes,
// storage classes, disruption budgets, and the selectors default topology spreading uses).
import type { PersistentVolume, PersistentVolumeClaim, ReplicationController, Service } from "kubernetes-types/core/v1";
import type { ReplicaSet, StatefulSet } from "kubernetes-types/apps/v1";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1";
import type { StorageClass } from "kubernetes-types/storage/v1";
import { labelSelectorFromObject, SelectorError, type LabelRequirement, type LabelSelectorObject } from "../../lib/k8s/selectors.ts";
import { NodeInfo } from "./node-info.ts";
import { compileNodeSelectorTerm, LABEL_REGION, LABEL_ZONE, type Labels, type NodeProjection, type NodeSelectorTerm, type PodInfo } from "./projection.ts";

export interface ClaimInfo {
  readonly namespace: string;
  readonly name: string;
  readonly volumeName: string;
  /** volumeName is set and the PV controller finished binding (pv.kubernetes.io/bind-completed). */
  readonly bound: boolean;
  /** spec.storageClassName; undefined when unset. */
  readonly storageClassName: string | undefined;
  readonly deleting: boolean;
  /** UID of the controlling owner (the pod, for an ephemeral volume's claim). */
  readonly controllerUid: string | undefined;
}

export interface VolumeInfo {
  readonly name: string;
  /** spec.nodeAffinity.required terms; undefined when the volume is reachable from any node. */
  readonly nodeAffinity: readonly NodeSelectorTerm[] | undefined;
}

export interface StorageClassInfo {
  readonly name: string;
  readonly volumeBindingMode: string;
  readonly provisioner: string;
}

export interface DisruptionBudgetInfo {
  readonly namespace: string;
  /** An empty or missing selector matches no pod here (as kube's preemption reads it). */
  readonly selector: readonly LabelRequirement[] | "nothing";
  readonly disruptionsAllowed: number;
  readonly disruptedPods: ReadonlySet<string>;
}

export type WorkloadKind = "Service" | "ReplicationController" | "ReplicaSet" | "StatefulSet";

/** A workload's pod selector, for the default topology spread constraints (helper.DefaultSelector). */
interface WorkloadSelector {
  /** Services and ReplicationControllers select with a plain map; ReplicaSets and StatefulSets with a LabelSelector. */
  readonly map: Labels | undefined;
  readonly requirements: readonly LabelRequirement[] | "nothing" | undefined;
}

/** cache.GetZoneKey: region and zone, both empty means no zone. */
function zoneKey(node: NodeProjection): string {
  const zone = node.labels[LABEL_ZONE] ?? node.labels["failure-domain.beta.kubernetes.io/zone"] ?? "";
  const region = node.labels[LABEL_REGION] ?? node.labels["failure-domain.beta.kubernetes.io/region"] ?? "";
  return region === "" && zone === "" ? "" : `${region}:\u0000:${zone}`;
}

export class Snapshot {
  private readonly infos = new Map<string, NodeInfo>();
  /** Node names per zone, zones in the order first seen (kube's nodeTree). */
  private readonly zones = new Map<string, string[]>();
  private readonly zoneOf = new Map<string, string>();
  private list: NodeInfo[] | undefined;
  private affinityList: NodeInfo[] | undefined;
  private antiAffinityList: NodeInfo[] | undefined;
  private readonly podsByKey = new Map<string, PodInfo>();
  private readonly assumedKeys = new Set<string>();
  private readonly imageNodes = new Map<string, number>();
  private readonly namespaceLabels = new Map<string, Labels>();
  private readonly nominatedByNode = new Map<string, PodInfo[]>();
  private readonly nominatedNodeOf = new Map<string, string>();
  readonly claims = new Map<string, ClaimInfo>();
  readonly volumes = new Map<string, VolumeInfo>();
  readonly storageClasses = new Map<string, StorageClassInfo>();
  readonly disruptionBudgets = new Map<string, DisruptionBudgetInfo>();
  /** "<kind>/<namespace>" → name → selector. */
  private readonly workloads = new Map<string, Map<string, WorkloadSelector>>();

  // ------------------------------------------------------------------------------------------
  // Nodes

  /** Adds or replaces a node. */
  setNode(node: NodeProjection): NodeInfo {
    let info = this.infos.get(node.name);
    if (!info) this.infos.set(node.name, (info = new NodeInfo(node.name)));
    if (info.node) this.countImages(info.node, -1);
    info.node = node;
    this.countImages(node, 1);
    const zone = zoneKey(node);
    const was = this.zoneOf.get(node.name);
    if (was !== zone) {
      if (was !== undefined) this.leaveZone(node.name, was);
      let names = this.zones.get(zone);
      if (!names) this.zones.set(zone, (names = []));
      names.push(node.name);
      this.zoneOf.set(node.name, zone);
      this.invalidate();
    }
    return info;
  }

  removeNode(name: string): void {
    const info = this.infos.get(name);
    if (!info?.node) return;
    this.countImages(info.node, -1);
    info.node = undefined;
    // Pods still bound to it keep their NodeInfo until they go (kube keeps such "ghost" nodes too).
    if (info.pods.length === 0) this.infos.delete(name);
    const zone = this.zoneOf.get(name);
    if (zone !== undefined) this.leaveZone(name, zone);
    this.zoneOf.delete(name);
    this.invalidate();
  }

  /** Listed nodes in kube's order: round-robin over zones, so a partial search spans zones. */
  nodes(): readonly NodeInfo[] {
    if (this.list) return this.list;
    const zones = [...this.zones.values()];
    const out: NodeInfo[] = [];
    const longest = Math.max(0, ...zones.map((z) => z.length));
    for (let i = 0; i < longest; i++) {
      for (const names of zones) if (i < names.length) out.push(this.infos.get(names[i]!)!);
    }
    this.list = out;
    return out;
  }

  get numNodes(): number {
    return this.zoneOf.size;
  }

  node(name: string): NodeInfo | undefined {
    const info = this.infos.get(name);
    return info?.node ? info : undefined;
  }

  /** Listed nodes hosting a pod with pod affinity or anti-affinity. */
  nodesWithAffinityPods(): readonly NodeInfo[] {
    return (this.affinityList ??= this.nodes().filter((n) => n.podsWithAffinity.length > 0));
  }

  /** Listed nodes hosting a pod with required pod anti-affinity. */
  nodesWithRequiredAntiAffinityPods(): readonly NodeInfo[] {
    return (this.antiAffinityList ??= this.nodes().filter((n) => n.podsWithRequiredAntiAffinity.length > 0));
  }

  /** How many listed nodes report an image of this name (ImageStateSummary.NumNodes). */
  imageNumNodes(name: string): number {
    return this.imageNodes.get(name) ?? 0;
  }

  // ------------------------------------------------------------------------------------------
  // Pods on nodes: bound ones from the API, assumed ones while their binding is in flight

  /** A bound pod seen in the API; confirms it if it was assumed. */
  addPod(pod: PodInfo): void {
    this.removePod(pod.key);
    this.place(pod);
  }

  /** A bound pod changed (labels, deletion, status); its node may not. */
  updatePod(pod: PodInfo): void {
    this.addPod(pod);
  }

  removePod(key: string): void {
    const old = this.podsByKey.get(key);
    if (!old) return;
    this.podsByKey.delete(key);
    this.assumedKeys.delete(key);
    const info = this.infos.get(old.nodeName);
    if (!info) return;
    info.removePod(key);
    if (old.spec.hasPodAffinity || old.spec.requiredAntiAffinityTerms.length > 0) this.invalidateAffinity();
    if (!info.node && info.pods.length === 0) this.infos.delete(old.nodeName);
  }

  /** Reserve: counts `pod` on `nodeName` before the binding lands (cache.AssumePod). */
  assume(pod: PodInfo, nodeName: string): PodInfo {
    const assumed = pod.withNodeName(nodeName);
    this.removePod(pod.key);
    this.place(assumed);
    this.assumedKeys.add(pod.key);
    this.clearNomination(pod.key);
    return assumed;
  }

  /** Unreserve, or a failed binding: the assumed pod no longer counts (cache.ForgetPod). */
  forget(key: string): void {
    if (this.assumedKeys.has(key)) this.removePod(key);
  }

  isAssumed(key: string): boolean {
    return this.assumedKeys.has(key);
  }

  pod(key: string): PodInfo | undefined {
    return this.podsByKey.get(key);
  }

  get numPods(): number {
    return this.podsByKey.size;
  }

  private place(pod: PodInfo): void {
    this.podsByKey.set(pod.key, pod);
    let info = this.infos.get(pod.nodeName);
    if (!info) this.infos.set(pod.nodeName, (info = new NodeInfo(pod.nodeName)));
    info.addPod(pod);
    if (pod.spec.hasPodAffinity || pod.spec.requiredAntiAffinityTerms.length > 0) this.invalidateAffinity();
  }

  // ------------------------------------------------------------------------------------------
  // Nominated pods: preemptors waiting for their victims to leave (the queue's PodNominator)

  /** Records that `pod` is nominated to run on `nodeName` ("" clears it). */
  nominate(pod: PodInfo, nodeName: string): void {
    this.clearNomination(pod.key);
    if (nodeName === "") return;
    this.nominatedNodeOf.set(pod.key, nodeName);
    const list = this.nominatedByNode.get(nodeName) ?? [];
    list.push(pod);
    this.nominatedByNode.set(nodeName, list);
  }

  clearNomination(key: string): void {
    const node = this.nominatedNodeOf.get(key);
    if (node === undefined) return;
    this.nominatedNodeOf.delete(key);
    const rest = (this.nominatedByNode.get(node) ?? []).filter((p) => p.key !== key);
    if (rest.length > 0) this.nominatedByNode.set(node, rest);
    else this.nominatedByNode.delete(node);
  }

  nominatedPods(nodeName: string): readonly PodInfo[] {
    return this.nominatedByNode.get(nodeName) ?? [];
  }

  // ------------------------------------------------------------------------------------------
  // Other objects the plugins read

  setNamespace(name: string, labels: Labels): void {
    this.namespaceLabels.set(name, labels);
  }

  removeNamespace(name: string): void {
    this.namespaceLabels.delete(name);
  }

  /** A namespace's labels (GetNamespaceLabelsSnapshot); kube.io/metadata.name at least, once seen. */
  namespaceLabelsOf(name: string): Labels | undefined {
    return this.namespaceLabels.get(name);
  }

  /** Namespaces whose labels match `selector` (for a term's namespaceSelector). */
  namespacesMatching(matches: (labels: Labels) => boolean): string[] {
    return [...this.namespaceLabels].filter(([, labels]) => matches(labels)).map(([name]) => name);
  }

  setPersistentVolumeClaim(pvc: PersistentVolumeClaim): void {
    const meta = pvc.metadata ?? {};
    const owner = (meta.ownerReferences ?? []).find((o) => o.controller === true);
    const claim: ClaimInfo = {
      namespace: meta.namespace ?? "default",
      name: meta.name ?? "",
      volumeName: pvc.spec?.volumeName ?? "",
      bound: (pvc.spec?.volumeName ?? "") !== "" && Object.hasOwn(meta.annotations ?? {}, "pv.kubernetes.io/bind-completed"),
      storageClassName: pvc.spec?.storageClassName ?? undefined,
      deleting: meta.deletionTimestamp != null,
      controllerUid: owner?.uid,
    };
    this.claims.set(`${claim.namespace}/${claim.name}`, claim);
  }

  removePersistentVolumeClaim(namespace: string, name: string): void {
    this.claims.delete(`${namespace}/${name}`);
  }

  setPersistentVolume(pv: PersistentVolume): void {
    const name = pv.metadata?.name ?? "";
    const required = pv.spec?.nodeAffinity?.required;
    this.volumes.set(name, { name, nodeAffinity: required ? (required.nodeSelectorTerms ?? []).map(compileNodeSelectorTerm) : undefined });
  }

  removePersistentVolume(name: string): void {
    this.volumes.delete(name);
  }

  setStorageClass(sc: StorageClass): void {
    const name = sc.metadata?.name ?? "";
    this.storageClasses.set(name, { name, volumeBindingMode: sc.volumeBindingMode ?? "Immediate", provisioner: sc.provisioner });
  }

  removeStorageClass(name: string): void {
    this.storageClasses.delete(name);
  }

  setPodDisruptionBudget(pdb: PodDisruptionBudget): void {
    const meta = pdb.metadata ?? {};
    let selector: DisruptionBudgetInfo["selector"] = "nothing";
    try {
      const parsed = labelSelectorFromObject(pdb.spec?.selector as LabelSelectorObject | undefined);
      if (parsed !== "nothing" && parsed.length > 0) selector = parsed;
    } catch (e) {
      if (!(e instanceof SelectorError)) throw e;
    }
    this.disruptionBudgets.set(`${meta.namespace}/${meta.name}`, {
      namespace: meta.namespace ?? "default",
      selector,
      disruptionsAllowed: pdb.status?.disruptionsAllowed ?? 0,
      disruptedPods: new Set(Object.keys(pdb.status?.disruptedPods ?? {})),
    });
  }

  removePodDisruptionBudget(namespace: string, name: string): void {
    this.disruptionBudgets.delete(`${namespace}/${name}`);
  }

  /** A Service, ReplicationController, ReplicaSet or StatefulSet: its selector feeds default spreading. */
  setWorkload(kind: WorkloadKind, object: Service | ReplicationController | ReplicaSet | StatefulSet): void {
    const meta = object.metadata ?? {};
    const namespace = meta.namespace ?? "default";
    let selector: WorkloadSelector;
    if (kind === "Service" || kind === "ReplicationController") {
      const map = (object as Service | ReplicationController).spec?.selector ?? undefined;
      selector = { map: map ? { ...map } : undefined, requirements: undefined };
    } else {
      let requirements: WorkloadSelector["requirements"];
      try {
        requirements = labelSelectorFromObject((object as ReplicaSet | StatefulSet).spec?.selector as LabelSelectorObject | undefined);
      } catch (e) {
        if (!(e instanceof SelectorError)) throw e;
      }
      selector = { map: undefined, requirements };
    }
    const key = `${kind}/${namespace}`;
    let byName = this.workloads.get(key);
    if (!byName) this.workloads.set(key, (byName = new Map()));
    byName.set(meta.name ?? "", selector);
  }

  removeWorkload(kind: WorkloadKind, namespace: string, name: string): void {
    this.workloads.get(`${kind}/${namespace}`)?.delete(name);
  }

  /**
   * helper.DefaultSelector: the union of the selectors of the Services selecting the pod and of its
   * controlling ReplicationController, ReplicaSet or StatefulSet; [] when there are none.
   */
  defaultSpreadSelector(pod: PodInfo): LabelRequirement[] {
    const set: Record<string, string> = {};
    for (const service of this.workloads.get(`Service/${pod.namespace}`)?.values() ?? []) {
      if (service.map && Object.entries(service.map).every(([k, v]) => pod.labels[k] === v)) Object.assign(set, service.map);
    }
    const requirements: LabelRequirement[] = [];
    const owner = pod.spec.controller;
    if (owner) {
      const group = owner.apiVersion.includes("/") ? owner.apiVersion.split("/")[0] : "";
      const kind = group === "" && owner.kind === "ReplicationController" ? "ReplicationController"
        : group === "apps" && (owner.kind === "ReplicaSet" || owner.kind === "StatefulSet") ? owner.kind : undefined;
      const w = kind ? this.workloads.get(`${kind}/${pod.namespace}`)?.get(owner.name) : undefined;
      if (w?.map) Object.assign(set, w.map);
      else if (w?.requirements && w.requirements !== "nothing") requirements.push(...w.requirements);
    }
    return [...Object.entries(set).map(([key, value]): LabelRequirement => ({ key, operator: "=", values: [value] })), ...requirements];
  }

  // ------------------------------------------------------------------------------------------

  private countImages(node: NodeProjection, sign: 1 | -1): void {
    for (const name of node.images.keys()) {
      const n = (this.imageNodes.get(name) ?? 0) + sign;
      if (n > 0) this.imageNodes.set(name, n);
      else this.imageNodes.delete(name);
    }
  }

  private leaveZone(name: string, zone: string): void {
    const names = this.zones.get(zone);
    if (!names) return;
    const i = names.indexOf(name);
    if (i >= 0) names.splice(i, 1);
    if (names.length === 0) this.zones.delete(zone);
  }

  private invalidate(): void {
    this.list = undefined;
    this.invalidateAffinity();
  }

  private invalidateAffinity(): void {
    this.affinityList = undefined;
    this.antiAffinityList = undefined;
  }
}
