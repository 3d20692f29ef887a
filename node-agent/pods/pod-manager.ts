// The kubelet's pod workers: an informer over the pods bound to this node (fieldSelector
// spec.nodeName=<node>), and for each pod one serialized worker that compares what the API wants
// with what the runtime reports and does the next step: admission, inputs (env, volumes, DNS),
// runtime.syncPod, probes, activeDeadlineSeconds, and the PodStatus written with a status patch
// only when it changed.
// A pod being deleted is killed with its grace period and then deleted for good (grace 0, its uid
// as precondition), as the kubelet does. The informer resumes from its last resourceVersion after
// the control plane was unreachable; the runtime's pods keep running meanwhile.
// Static pods (static-pods.ts) have workers too: they run from their manifest files whatever the
// API says, and their status goes to their mirror pods, which are created again when deleted.
import { readFileSync, rmSync } from "node:fs";
import type { ConfigMap, Node, Pod, PodStatus, Secret } from "kubernetes-types/core/v1";
import { builtin } from "../../lib/k8s/resources.ts";
import { Informer, isAlreadyExists, isConflict, isNotFound, type ApiClient, type PodClient, type ResourceClient } from "../../lib/client/index.ts";
import type { KubeletEvents } from "../events.ts";
import type { PodInputs, PodObservation, Runtime, RuntimeEvent, RuntimePodRef } from "../runtime/runtime.ts";
import { podDir } from "../state.ts";
import { admitPod } from "./admission.ts";
import { ContainerConfigError, podResolvConf, resolvePodInputs, withPodIPs, type NodeFacts, type ObjectSource } from "./inputs.ts";
import { LocalPathProvisioner } from "../volumes/local-path.ts";
import { Prober } from "./probes.ts";
import { CONFIG_HASH, isMirrorOf, isMirrorPod, mirrorPodFor, type StaticPodSource } from "./static-pods.ts";
import { computePodStatus } from "./status.ts";
import { ServiceAccountTokens } from "./token-manager.ts";

export interface PodManagerOptions {
  client: ApiClient;
  nodeName: string;
  runtime: Runtime;
  stateDir: string;
  hostIPs: string[];
  /** The Node as last written (its allocatable bounds admission). */
  node: () => Node;
  events: KubeletEvents;
  /** The CA the node pinned at join: kube-root-ca.crt's content until the cluster publishes that ConfigMap. */
  rootCA?: string;
  clusterDNS?: string[];
  /** The node's manifest directory (--pod-manifest-path), if it has one. */
  staticPods?: StaticPodSource;
  log: (message: string) => void;
}

/** Without the runtime's own change events, pods are relisted every second (the kubelet's PLEG period). */
const RELIST_MS = 1000;
/** Every pod is synced at least this often (the kubelet's syncFrequency). */
const RESYNC_MS = 60_000;
const RETRY_INITIAL_MS = 500;
/** How long a ConfigMap or Secret read serves other pods. */
const OBJECT_TTL_MS = 10_000;
const INPUTS_REFRESH_MS = 48 * 60_000;
const RETRY_MAX_MS = 30_000;
/** A pod whose ConfigMap or Secret is missing is tried again, at least every 10 s (the kubelet's pod worker back-off). */
const CONFIG_RETRY_MAX_MS = 10_000;

interface PodWorker {
  /** The pod as the API has it; for a static pod, as its file says with the status last reported. */
  pod: Pod;
  /** A static pod's mirror pod as the API last showed it (undefined until created). */
  mirror?: Pod;
  isStatic: boolean;
  /** Deleted from the API: whatever the runtime holds of it goes. */
  gone: boolean;
  /** Passed node admission (or was already running when the agent started). */
  admitted: boolean;
  /** Killed and deleted: nothing more to do. */
  finished: boolean;
  inputs?: PodInputs;
  /** When the inputs were resolved, and with which pod addresses. */
  inputsAt?: number;
  inputsAddresses?: string;
  configErrors: number;
  /** The status this worker last sent (or is sending) to the API. */
  statusWritten?: PodStatus;
  running: boolean;
  dirty: boolean;
  failures: number;
  timer?: ReturnType<typeof setTimeout>;
  timerDue?: number;
}

const isTerminal = (pod: Pod) => pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
const stamp = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

/** A finished pod's status once its sandbox is gone: PodReadyToStartContainers False, as the kubelet reports it. */
function sandboxRemoved(status: PodStatus): PodStatus {
  const conditions = (status.conditions ?? []).map((c) => (c.type === "PodReadyToStartContainers" && c.status !== "False" ? { ...c, status: "False", lastTransitionTime: stamp() } : c));
  return { ...status, conditions };
}

/** When the pod's activeDeadlineSeconds ends, counted from its startTime (ms since the epoch). */
function activeDeadline(pod: Pod): number | undefined {
  const seconds = pod.spec?.activeDeadlineSeconds;
  const start = pod.status?.startTime;
  return seconds !== undefined && start ? Date.parse(start) + seconds * 1000 : undefined;
}

/** Objects compared as the API stores them: key order and null or empty members do not matter. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined && !(typeof v === "object" && !Array.isArray(v) && !Object.keys(v).length))
      .sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}

/** Whether two versions of a pod ask the same of the node (the kubelet's podsDifferSemantically, negated). */
function sameDesire(a: Pod, b: Pod): boolean {
  const desire = (p: Pod) => JSON.stringify([p.metadata?.uid, p.spec, p.metadata?.labels, p.metadata?.annotations, p.metadata?.deletionTimestamp, p.metadata?.deletionGracePeriodSeconds]);
  return desire(a) === desire(b);
}

/** Whether writing `next` would change the pod's status. */
export function statusChanged(current: PodStatus | undefined, next: PodStatus): boolean {
  return Object.entries(next).some(([key, value]) => JSON.stringify(canonical(value)) !== JSON.stringify(canonical((current as Record<string, unknown> | undefined)?.[key])));
}

export class PodManager {
  private readonly options: PodManagerOptions;
  private readonly pods: PodClient;
  private readonly configMaps: ResourceClient<ConfigMap>;
  private readonly secrets: ResourceClient<Secret>;
  private readonly informer: Informer<Pod>;
  /** This node's local-path provisioner: pods' claims resolve through it. */
  private readonly localPath: LocalPathProvisioner;
  private readonly prober: Prober;
  private readonly workers = new Map<string, PodWorker>();
  private readonly facts: Omit<NodeFacts, "podIPs" | "allocatable">;
  private readonly objectCache = new Map<string, { at: number; value: Promise<unknown> }>();
  private readonly tokens: ServiceAccountTokens;
  /** Stopped: no pod is synced again (a stopping agent must not start what it is killing). */
  private stopped = false;

  constructor(options: PodManagerOptions) {
    this.options = options;
    this.pods = options.client.pods();
    this.configMaps = options.client.resource<ConfigMap>(builtin("v1", "configmaps"));
    this.tokens = new ServiceAccountTokens(async ({ namespace, serviceAccount, audience, expirationSeconds, podName, podUID }) => {
      const answer = await options.client.json<{ status: { token: string; expirationTimestamp?: string } }>({
        method: "POST", path: `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
        body: {
          apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest",
          spec: { ...(audience ? { audiences: [audience] } : {}), expirationSeconds, boundObjectRef: { apiVersion: "v1", kind: "Pod", name: podName, uid: podUID } },
        },
      });
      const expiresAt = Date.parse(answer.status.expirationTimestamp ?? "");
      return { token: answer.status.token, expiresAt: Number.isFinite(expiresAt) ? expiresAt : Date.now() + expirationSeconds * 1000 };
    });
    this.secrets = options.client.resource<Secret>(builtin("v1", "secrets"));
    // Each watch lasts 5 to 10 minutes, chosen at random as client-go's reflector does, so the
    // watches of many hollow nodes do not all end and reopen together.
    this.informer = new Informer(this.pods, { fieldSelector: `spec.nodeName=${options.nodeName}`, watchTimeoutSeconds: 300 + Math.floor(Math.random() * 300) });
    this.localPath = new LocalPathProvisioner({
      client: options.client, nodeName: options.nodeName, stateDir: options.stateDir, log: options.log,
      pathInUse: (path) => [...this.workers.values()].some((w) => !w.gone && !w.finished && Object.values(w.inputs?.volumes ?? {}).some((v) => v.hostPath === path)),
    });
    this.prober = new Prober({
      runtime: options.runtime,
      onChange: (uid) => this.enqueue(uid),
      event: (pod, type, reason, message, fieldPath) => options.events.record(pod, type, reason, message, fieldPath),
    });
    let hostResolvConf = "";
    try {
      hostResolvConf = readFileSync("/etc/resolv.conf", "utf8");
    } catch {
      // no resolv.conf on the host: pods get only what their dnsConfig says
    }
    this.facts = { nodeName: options.nodeName, hostIPs: options.hostIPs, clusterDNS: options.clusterDNS ?? [], clusterDomain: "cluster.local", hostResolvConf };
    this.informer.addEventHandler({
      onAdd: (pod) => (isMirrorPod(pod) ? this.observeMirror(pod) : this.observe(pod)),
      onUpdate: (old, pod) => {
        // Deleted and made again under its name while the watch was away (a relist shows only a change): the old pod is gone.
        if (old.metadata?.uid !== pod.metadata?.uid) this.deleted(old);
        return isMirrorPod(pod) ? this.observeMirror(pod) : this.observe(pod);
      },
      onDelete: (pod) => this.deleted(pod),
    });
    options.runtime.onPodChange?.((uid) => this.enqueue(uid));
  }

  /** A pod the API no longer has: its worker stops whatever the runtime holds of it, as the kubelet's pod config does by uid. */
  private deleted(pod: Pod): void {
    if (isMirrorPod(pod)) return this.mirrorGone(pod);
    const worker = this.workers.get(pod.metadata!.uid!);
    if (worker) {
      worker.gone = true;
      this.enqueue(pod.metadata!.uid!);
    }
  }

  /** Watches this node's pods until `signal` aborts; once the first list is in, removes what the runtime holds of pods no longer in the API. */
  async run(signal: AbortSignal): Promise<void> {
    const { staticPods } = this.options;
    // Static pods start at once: they need nothing from the API.
    if (staticPods) this.setStaticPods(staticPods.read());
    const watching = Promise.all([
      this.informer.run(signal), this.localPath.run(signal), staticPods?.run(signal, (pods) => this.setStaticPods(pods)),
    ]);
    while (!this.informer.hasSynced && !signal.aborted) await new Promise((r) => setTimeout(r, 50));
    if (!signal.aborted) await this.removeOrphans().catch((e) => this.options.log(`removing pods the API no longer has: ${(e as Error).message}`));
    await watching;
  }

  stop(): void {
    this.stopped = true;
    for (const worker of this.workers.values()) clearTimeout(worker.timer);
    for (const uid of this.workers.keys()) this.prober.removePod(uid);
  }

  private observe(pod: Pod): void {
    const uid = pod.metadata!.uid!;
    let worker = this.workers.get(uid);
    // The echo of this worker's own status write: nothing new to sync, as the kubelet's pod config
    // does not resync a pod whose spec did not change for its own status update.
    if (worker && !worker.isStatic && worker.statusWritten && sameDesire(worker.pod, pod) && !statusChanged(pod.status, worker.statusWritten)) {
      worker.pod = pod;
      return;
    }
    if (!worker) {
      // A pod already past Pending was admitted before (by this agent before a restart).
      const admitted = (pod.status?.phase !== undefined && pod.status.phase !== "Pending") || !!pod.status?.containerStatuses?.length;
      worker = { pod, isStatic: false, gone: false, admitted, finished: false, running: false, dirty: false, failures: 0, configErrors: 0 };
      this.workers.set(uid, worker);
    } else {
      worker.pod = pod;
    }
    this.enqueue(uid);
  }

  /** The manifest directory's pods now: new ones start, ones whose file went (or changed) stop. */
  private setStaticPods(pods: Pod[]): void {
    const wanted = new Set(pods.map((pod) => pod.metadata!.uid!));
    for (const [uid, worker] of this.workers) {
      if (worker.isStatic && !worker.gone && !wanted.has(uid)) {
        worker.gone = true;
        this.enqueue(uid);
      }
    }
    for (const pod of pods) {
      const uid = pod.metadata!.uid!;
      if (this.workers.has(uid)) continue;
      const mirror = this.informer.lister.get(pod.metadata!.namespace, pod.metadata!.name!);
      this.workers.set(uid, {
        pod, mirror: mirror && isMirrorPod(mirror) ? mirror : undefined, isStatic: true,
        gone: false, admitted: false, finished: false, running: false, dirty: false, failures: 0, configErrors: 0,
      });
      this.enqueue(uid);
    }
  }

  /** The static pod a mirror pod stands for, by name (its hash may be an older file's). */
  private staticWorkerNamed(mirror: Pod): [string, PodWorker] | undefined {
    const { namespace, name } = mirror.metadata!;
    return [...this.workers].find(([, w]) => w.isStatic && !w.gone && w.pod.metadata!.namespace === namespace && w.pod.metadata!.name === name);
  }

  /** A mirror pod changed: its static pod's worker looks again; a mirror pod of no static pod here is deleted, as the kubelet does. */
  private observeMirror(mirror: Pod): void {
    const found = this.staticWorkerNamed(mirror);
    if (found) {
      found[1].mirror = mirror;
      this.enqueue(found[0]);
    } else {
      void this.deleteMirror(mirror).catch((e: Error) => this.options.log(`deleting orphaned mirror pod ${mirror.metadata!.namespace}/${mirror.metadata!.name}: ${e.message}`));
    }
  }

  private mirrorGone(mirror: Pod): void {
    const found = this.staticWorkerNamed(mirror);
    if (found?.[1].mirror?.metadata?.uid !== mirror.metadata?.uid) return;
    found![1].mirror = undefined;
    this.enqueue(found![0]);
  }

  private async deleteMirror(mirror: Pod): Promise<void> {
    const { namespace, name, uid } = mirror.metadata!;
    try {
      await this.pods.delete(namespace, name!, { gracePeriodSeconds: 0, preconditions: { uid } });
    } catch (e) {
      if (!isNotFound(e) && !isConflict(e)) throw e;
    }
  }

  /**
   * The static pod's mirror pod exists and is of this version of its file: one being deleted or of
   * an older file is deleted for good, then a new one created. The pod runs whether this works or not.
   */
  private async ensureMirror(worker: PodWorker): Promise<void> {
    const hash = worker.pod.metadata!.annotations![CONFIG_HASH]!;
    const mirror = worker.mirror;
    if (mirror && isMirrorOf(mirror, hash) && !mirror.metadata?.deletionTimestamp) return;
    if (mirror) {
      await this.deleteMirror(mirror);
      worker.mirror = undefined;
    }
    try {
      worker.mirror = await this.pods.create(worker.pod.metadata!.namespace, mirrorPodFor(worker.pod, this.options.node()));
    } catch (e) {
      // The old one is still there: its watch event brings it here, and the next sync replaces it.
      if (!isAlreadyExists(e)) throw e;
    }
  }

  private async removeOrphans(): Promise<void> {
    for (const ref of await this.options.runtime.listPods()) {
      if (!this.workers.has(ref.uid)) {
        this.options.log(`killing ${ref.namespace}/${ref.name} (${ref.uid}): the API no longer has it`);
        await this.options.runtime.killPod(ref, 0);
        rmSync(podDir(this.options.stateDir, ref.uid), { recursive: true, force: true });
      }
    }
  }

  /** Syncs the pod's worker now (or after `delayMs`), one sync at a time per pod. */
  private enqueue(uid: string, delayMs = 0): void {
    const worker = this.workers.get(uid);
    if (!worker || this.stopped) return;
    if (delayMs > 0) {
      const due = Date.now() + delayMs;
      if (worker.timer && worker.timerDue! <= due) return;
      clearTimeout(worker.timer);
      worker.timerDue = due;
      worker.timer = setTimeout(() => {
        worker.timer = undefined;
        this.enqueue(uid);
      }, delayMs);
      return;
    }
    if (worker.running) {
      worker.dirty = true;
      return;
    }
    void this.work(uid, worker);
  }

  private async work(uid: string, worker: PodWorker): Promise<void> {
    worker.running = true;
    clearTimeout(worker.timer);
    worker.timer = undefined;
    let next: number | undefined;
    try {
      next = await this.sync(uid, worker);
      worker.failures = 0;
    } catch (e) {
      next = Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * 2 ** worker.failures++);
      this.options.log(`syncing pod ${worker.pod.metadata?.namespace}/${worker.pod.metadata?.name}: ${(e as Error).message} (retrying in ${next} ms)`);
    } finally {
      worker.running = false;
    }
    if (this.workers.get(uid) !== worker) return;
    if (worker.dirty) {
      worker.dirty = false;
      this.enqueue(uid);
    } else if (next !== undefined) this.enqueue(uid, next);
  }

  private ref(pod: Pod): RuntimePodRef {
    return { uid: pod.metadata!.uid!, namespace: pod.metadata!.namespace!, name: pod.metadata!.name! };
  }

  /** One step for one pod; answers when to look again (undefined: when something changes). */
  private async sync(uid: string, worker: PodWorker): Promise<number | undefined> {
    const { runtime } = this.options;
    const pod = worker.pod;
    if (worker.gone) {
      // A static pod whose file went is stopped with its grace period; a pod deleted from the API has had its own.
      await runtime.killPod(this.ref(pod), worker.isStatic ? pod.spec?.terminationGracePeriodSeconds ?? 30 : 0, worker.isStatic ? this.emitFor(pod) : undefined);
      if (worker.mirror) await this.deleteMirror(worker.mirror);
      this.forget(uid);
      return undefined;
    }
    if (worker.isStatic) {
      await this.ensureMirror(worker).catch((e: Error) => this.options.log(`mirror pod of static pod ${pod.metadata!.namespace}/${pod.metadata!.name}: ${e.message}`));
    }
    if (worker.finished) return undefined;
    if (pod.metadata?.deletionTimestamp) {
      await this.terminate(worker);
      return undefined;
    }
    if (isTerminal(pod)) {
      // A finished pod's containers have exited; its sandbox goes too, and its status says so.
      if (await runtime.observe(uid)) await runtime.killPod(this.ref(pod), 0);
      await this.writeStatus(worker, sandboxRemoved(pod.status ?? {}));
      this.prober.removePod(uid);
      return undefined;
    }
    // A pod failed here is synced once more at once: as a finished pod, its sandbox goes.
    if (!worker.admitted && !(await this.admit(worker))) return 0;
    const deadline = activeDeadline(pod);
    if (deadline !== undefined && Date.now() >= deadline) {
      await this.failPastDeadline(worker);
      return 0;
    }

    const observed = await runtime.observe(uid);
    // A pod new to the runtime, on its first try: its sandbox starts while its inputs come from
    // the control plane (a TokenRequest, its ConfigMaps and Secrets), since the sandbox needs only
    // the pod's DNS settings. A pod whose inputs cannot be had keeps no sandbox, as before.
    const early = observed === undefined && worker.failures === 0 && worker.configErrors === 0 && runtime.startSandbox
      ? runtime.startSandbox(pod, { env: {}, volumes: {}, resolvConf: podResolvConf(pod, this.facts) }, this.emitFor(pod))
      : undefined;
    try {
      worker.inputs = await this.inputsFor(worker, observed?.podIPs ?? []);
      worker.configErrors = 0;
    } catch (e) {
      await early?.catch(() => undefined);
      if (!(e instanceof ContainerConfigError)) throw e;
      if (early) await runtime.killPod(this.ref(pod), 0);
      await this.reportConfigError(worker, observed, e.message);
      return Math.min(CONFIG_RETRY_MAX_MS, 1000 * 2 ** worker.configErrors++);
    }
    // A sandbox that failed to start early (its event is out) is not tried twice in one sync.
    const noNewSandbox = early !== undefined && !(await early);
    const observation = await runtime.syncPod(pod, worker.inputs!, this.emitFor(pod), { noNewSandbox });
    // Probes reach the pod at the address the runtime sees now: the API's status may not have it yet.
    const probed: Pod = { ...pod, status: { ...pod.status, podIP: observation.podIPs[0] ?? pod.status?.podIP } };
    this.prober.sync(probed, observation.containers.flatMap((c) =>
      "running" in c.state && c.containerID ? [{ name: c.name, containerID: c.containerID, startedAt: Date.parse(c.state.running.startedAt) }] : []));
    const status = computePodStatus({ pod, observation, probes: this.prober.results(uid), hostIPs: this.options.hostIPs, now: stamp() });
    await this.writeStatus(worker, status);
    if (isTerminal(worker.pod)) return 0;
    const next = runtime.onPodChange ? RESYNC_MS : RELIST_MS;
    // The status just written may have set startTime, from which activeDeadlineSeconds counts.
    const due = activeDeadline(worker.pod) ?? deadline;
    return due !== undefined ? Math.max(0, Math.min(next, due - Date.now())) : next;
  }

  /**
   * The pod's inputs: resolved the first time, again every 48 minutes or sooner when one of its
   * projected service account tokens is due for renewal (80% of its lifetime: the token manager's),
   * and their env and hosts again
   * once the pod's addresses are known (the runtime asks through withPodIPs, before it starts
   * containers in a new sandbox).
   */
  private async inputsFor(worker: PodWorker, podIPs: string[]): Promise<PodInputs> {
    const pod = worker.pod;
    const facts: NodeFacts = { ...this.facts, podIPs, allocatable: this.options.node().status?.allocatable ?? {} };
    const addresses = podIPs.join(",");
    if (!worker.inputs || Date.now() - worker.inputsAt! > INPUTS_REFRESH_MS || Date.now() >= this.tokens.refreshDue(pod.metadata!.uid!)) {
      worker.inputs = await resolvePodInputs(pod, podDir(this.options.stateDir, pod.metadata!.uid!), this.objectSource(), facts);
      worker.inputsAt = Date.now();
    } else if (worker.inputsAddresses !== addresses) {
      worker.inputs = await withPodIPs(worker.inputs, pod, this.objectSource(), facts);
    }
    worker.inputsAddresses = addresses;
    return { ...worker.inputs, withPodIPs: (ips) => this.inputsFor(worker, ips) };
  }

  /** activeDeadlineSeconds passed: the kubelet stops the pod and fails it with DeadlineExceeded. */
  private async failPastDeadline(worker: PodWorker): Promise<void> {
    const pod = worker.pod;
    const message = "Pod was active on the node longer than the specified deadline";
    this.options.events.record(pod, "Normal", "DeadlineExceeded", message);
    const observation = await this.options.runtime.observe(pod.metadata!.uid!);
    this.prober.removePod(pod.metadata!.uid!);
    await this.options.runtime.killPod(this.ref(pod), pod.spec?.terminationGracePeriodSeconds ?? 30, this.emitFor(pod));
    const now = stamp();
    const status = computePodStatus({ pod, observation, probes: this.prober.results(pod.metadata!.uid!), hostIPs: this.options.hostIPs, now });
    // What ran was stopped (SIGKILL's exit code when it did not end on SIGTERM, as the kubelet records it).
    for (const s of [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])]) {
      if (s.state?.running) s.state = { terminated: { exitCode: 137, reason: "Error", startedAt: s.state.running.startedAt, finishedAt: now, containerID: s.containerID } };
      s.ready = false;
      s.started = false;
    }
    await this.writeStatus(worker, { ...status, phase: "Failed", reason: "DeadlineExceeded", message });
  }

  /** Node admission against the pods already admitted here; a rejected pod fails with kube's reason. */
  private async admit(worker: PodWorker): Promise<boolean> {
    const admitted = [...this.workers.values()].filter((w) => w !== worker && w.admitted && !w.gone && !w.finished && !isTerminal(w.pod)).map((w) => w.pod);
    const decision = admitPod(worker.pod, this.options.node().status?.allocatable ?? {}, admitted);
    if (decision.admit) {
      worker.admitted = true;
      return true;
    }
    this.options.events.record(worker.pod, "Warning", decision.reason, decision.message);
    await this.writeStatus(worker, { ...worker.pod.status, phase: "Failed", reason: decision.reason, message: `Pod was rejected: ${decision.message}` });
    return false;
  }

  /** The pod's status while a container cannot be configured: CreateContainerConfigError, and a Failed Event. */
  private async reportConfigError(worker: PodWorker, observation: PodObservation | undefined, message: string): Promise<void> {
    const pod = worker.pod;
    const status = computePodStatus({ pod, observation, probes: this.prober.results(pod.metadata!.uid!), hostIPs: this.options.hostIPs, now: stamp() });
    for (const s of [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])]) {
      if (s.state?.waiting) s.state = { waiting: { reason: "CreateContainerConfigError", message } };
    }
    this.options.events.record(pod, "Warning", "Failed", `Error: ${message}`);
    await this.writeStatus(worker, status);
  }

  private async writeStatus(worker: PodWorker, status: PodStatus): Promise<void> {
    if (worker.isStatic) return this.writeMirrorStatus(worker, status);
    if (!statusChanged(worker.pod.status, status)) return;
    worker.statusWritten = status;
    const { namespace, name } = worker.pod.metadata!;
    const written = await this.pods.patch(namespace, name!, { status }, "merge", { subresource: "status" });
    if (written.metadata?.uid === worker.pod.metadata?.uid) worker.pod = written;
  }

  /** A static pod's status is its own (the kubelet half reads it back) and its mirror pod's, once there is one. */
  private async writeMirrorStatus(worker: PodWorker, status: PodStatus): Promise<void> {
    worker.pod = { ...worker.pod, status };
    const mirror = worker.mirror;
    if (!mirror || !statusChanged(mirror.status, status)) return;
    let written: Pod;
    try {
      written = await this.pods.patch(mirror.metadata!.namespace, mirror.metadata!.name!, { status }, "merge", { subresource: "status" });
    } catch (e) {
      // Deleted meanwhile: its watch event has the worker create it again.
      if (isNotFound(e)) return;
      throw e;
    }
    if (worker.mirror?.metadata?.uid === written.metadata?.uid) worker.mirror = written;
  }

  /** Graceful deletion: Killing events, the runtime stops the containers within the grace period, then the pod is deleted for good. */
  private async terminate(worker: PodWorker): Promise<void> {
    const pod = worker.pod;
    const uid = pod.metadata!.uid!;
    const grace = pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    this.prober.removePod(uid);
    await this.options.runtime.killPod(this.ref(pod), grace, this.emitFor(pod));
    try {
      await this.pods.delete(pod.metadata!.namespace, pod.metadata!.name!, { gracePeriodSeconds: 0, preconditions: { uid } });
    } catch (e) {
      // Gone already, or the name now belongs to another pod.
      if (!isNotFound(e) && !isConflict(e)) throw e;
    }
    worker.finished = true;
    rmSync(podDir(this.options.stateDir, uid), { recursive: true, force: true });
  }

  /** The runtime's events about the pod, as the kubelet's Events. */
  private emitFor(pod: Pod): (event: RuntimeEvent) => void {
    return (event) => this.options.events.record(pod, event.type, event.reason, event.message, event.fieldPath);
  }

  private forget(uid: string): void {
    const worker = this.workers.get(uid);
    clearTimeout(worker?.timer);
    this.workers.delete(uid);
    this.tokens.forgetPod(uid);
    this.prober.removePod(uid);
    rmSync(podDir(this.options.stateDir, uid), { recursive: true, force: true });
  }

  /**
   * A ConfigMap or Secret a pod refers to, read through the node's credential (the Node authorizer
   * allows exactly these) and kept for a few seconds, so a burst of pods that refer to the same
   * object (every pod's kube-root-ca.crt) reads it once, as the kubelet's caching object manager does.
   */
  private cachedRead<T>(kind: string, namespace: string, name: string, read: () => Promise<T>): Promise<T | undefined> {
    const key = `${kind}/${namespace}/${name}`;
    const now = Date.now();
    const cached = this.objectCache.get(key);
    if (cached && now - cached.at < OBJECT_TTL_MS) return cached.value as Promise<T | undefined>;
    for (const [k, entry] of this.objectCache) if (now - entry.at >= OBJECT_TTL_MS) this.objectCache.delete(k);
    const value = read().catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
    this.objectCache.set(key, { at: now, value });
    value.catch(() => this.objectCache.delete(key));
    return value;
  }

  /** What pods refer to. */
  private objectSource(): ObjectSource {
    return {
      configMap: async (namespace, name) => {
        const map = await this.cachedRead("configmaps", namespace, name, () => this.configMaps.get(namespace, name));
        // Until a controller publishes kube-root-ca.crt, the CA this node pinned is its content.
        if (!map && name === "kube-root-ca.crt" && this.options.rootCA) return { metadata: { name, namespace }, data: { "ca.crt": this.options.rootCA } };
        return map;
      },
      secret: (namespace, name) => this.cachedRead("secrets", namespace, name, () => this.secrets.get(namespace, name)),
      persistentVolumeClaimPath: (namespace, claimName) => this.localPath.claimPath(namespace, claimName),
      serviceAccountToken: (pod, audience, expirationSeconds) => this.tokens.get({
        namespace: pod.metadata!.namespace!, serviceAccount: pod.spec?.serviceAccountName ?? "default", audience, expirationSeconds, podName: pod.metadata!.name!, podUID: pod.metadata!.uid!,
      }),
    };
  }
}
