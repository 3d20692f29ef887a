// The `cri` runtime: pods as containerd runs them through CRI v1, as the kubelet's kuberuntime
// manager does it. One sandbox per pod; init containers one at a time in order (sidecars, the
// init containers with restartPolicy Always, started and kept running); then the containers;
// restarts per restartPolicy with the CrashLoopBackOff back-off; image pulls per imagePullPolicy.
// Everything it needs to know after a restart is in containerd: labels say which pod and
// container, annotations hold the restart count and the preStop hook, exited containers the
// last state. Only back-off timers and waiting reasons live in memory, as in the kubelet.
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import type { Container, Pod } from "kubernetes-types/core/v1";
import type { ContainerLog, ContainerObservation, PodInputs, PodObservation, PodUsage, Runtime, RuntimeEvent, RuntimeHealth, RuntimeInfo, RuntimePodRef, StreamSession, SyncOptions } from "../runtime/runtime.ts";
import { execInTask } from "./exec-session.ts";
import { streamSession } from "./stream-session.ts";
import { writePodNetwork, type PodNetwork } from "../cni/config.ts";
import { Backoff, goDuration, systemClock, type Clock } from "./backoff.ts";
import { CriClient, isNotFound, type ContainerStatus, type Mount, type PodSandbox, type PodSandboxConfig } from "./client.ts";
import { runHook } from "./hooks.ts";
import { defaultPullPolicy, normalizeImage, pullAuth } from "./images.ts";
import { containerState, nanosToMs } from "./container-status.ts";
import { CONTAINER_HASH, CONTAINER_NAME, CONTAINER_TYPE, POD_NAME, POD_NAMESPACE, POD_UID, SPEC_IMAGE, preStopOf, restartCountOf, type ContainerType } from "./labels.ts";
import { podUsageFromCri } from "./stats.ts";
import { ContainerConfigError, containerConfig, containerHash, podDescription, sandboxConfig, verifyRunAsNonRoot } from "./pod-config.ts";

export interface CriRuntimeOptions {
  /** containerd's socket: a path or unix:// endpoint. */
  endpoint: string;
  /** Container logs go to <logsDir>/<namespace>_<name>_<uid>/<container>/<restartCount>.log (the kubelet's /var/log/pods). */
  logsDir: string;
  /** The runtime's per-pod files (the pod's /etc/hosts, termination message files) go under <podsDir>/<uid>/. */
  podsDir: string;
  /** The back-off's clock; tests move it forward instead of waiting. */
  clock?: Clock;
  /**
   * Images the agent loaded into containerd itself, which no registry serves here: present means
   * pulled, whatever imagePullPolicy says (so `kubectl run --image=busybox` runs offline).
   */
  preloadedImages?: string[];
  /** The pod network updatePodCIDR writes; without it the network is configured elsewhere. */
  network?: PodNetwork;
}

/** How often the runtime relists containers for onPodChange (the kubelet's PLEG relist period). */
const RELIST_MS = 1000;
/** The kubelet never gives a container less than this to stop (minimumGracePeriodInSeconds). */
const MINIMUM_GRACE_SECONDS = 2;
/** Containers kept per container name: the newest is the current state, the one before it the last state. */
const DEAD_CONTAINERS_KEPT = 2;

interface WaitingReason {
  reason: string;
  message?: string;
}

/** A container's status and the sandbox it belongs to. */
type PodContainer = ContainerStatus & { pod_sandbox_id: string };

/** What containerd holds of one pod. */
interface PodSnapshot {
  /** Newest first. */
  sandboxes: PodSandbox[];
  ready?: PodSandbox;
  podIPs: string[];
  /** Per container name, newest first. */
  containers: Map<string, PodContainer[]>;
}

type Emit = (event: RuntimeEvent) => void;

export class CriRuntime implements Runtime {
  readonly client: CriClient;
  private readonly logsDir: string;
  private readonly podsDir: string;
  /** containerd's socket, for `ctr task exec`. */
  private readonly endpoint: string;
  private readonly preloaded: Set<string>;
  private readonly network?: PodNetwork;
  private podCIDR?: string;
  private podNetworkWritten: Promise<void> = Promise.resolve();
  private readonly crashBackoff: Backoff;
  private readonly pullBackoff: Backoff;
  /** Why a container waits, per pod UID and container name, from the last sync (the kubelet's reasonCache). */
  private readonly reasons = new Map<string, Map<string, WaitingReason>>();
  private readonly podLocks = new Map<string, Promise<unknown>>();
  private readonly changeListeners: ((uid: string) => void)[] = [];
  private relistTimer?: NodeJS.Timeout;
  /** Per container ID, its pod and state at the last relist. */
  private lastRelist = new Map<string, { uid: string; state: string }>();
  private readonly backoffTimers = new Set<NodeJS.Timeout>();

  constructor(options: CriRuntimeOptions) {
    this.client = new CriClient(options.endpoint);
    this.logsDir = options.logsDir;
    this.podsDir = options.podsDir;
    this.endpoint = options.endpoint;
    this.preloaded = new Set((options.preloadedImages ?? []).map(normalizeImage));
    this.network = options.network;
    const clock = options.clock ?? systemClock;
    this.crashBackoff = new Backoff(clock);
    this.pullBackoff = new Backoff(clock);
  }

  async info(): Promise<RuntimeInfo> {
    const version = await this.client.version();
    return { runtimeName: version.runtime_name, runtimeVersion: version.runtime_version };
  }

  async health(): Promise<RuntimeHealth> {
    let conditions;
    try {
      conditions = await this.client.status(5);
    } catch (error) {
      return { runtimeReady: false, networkReady: false, message: `container runtime is down: ${(error as Error).message}` };
    }
    const runtime = conditions.find((c) => c.type === "RuntimeReady");
    const network = conditions.find((c) => c.type === "NetworkReady");
    const describe = (c: { type: string; status: boolean; reason: string; message: string }) => `${c.type}=${c.status} reason:${c.reason} message:${c.message}`;
    if (!runtime?.status) return { runtimeReady: false, networkReady: network?.status === true, message: `container runtime not ready: ${runtime ? describe(runtime) : "RuntimeReady condition missing"}` };
    if (!network?.status) return { runtimeReady: true, networkReady: false, message: `container runtime network not ready: ${network ? describe(network) : "NetworkReady condition missing"}` };
    return { runtimeReady: true, networkReady: true };
  }

  syncPod(pod: Pod, inputs: PodInputs, emit: Emit, options: SyncOptions = {}): Promise<PodObservation> {
    const uid = pod.metadata?.uid ?? "";
    return this.serialized(uid, () => this.syncPodNow(pod, inputs, emit, options));
  }

  startSandbox(pod: Pod, inputs: PodInputs, emit: Emit): Promise<boolean> {
    const uid = pod.metadata?.uid ?? "";
    return this.serialized(uid, async () => {
      const snapshot = await this.snapshot(uid);
      if (snapshot.ready) return true;
      return !podIsDone(pod, snapshot) && (await this.createSandbox(pod, inputs, snapshot, emit));
    });
  }

  observe(uid: string): Promise<PodObservation | undefined> {
    return this.serialized(uid, async () => {
      const snapshot = await this.snapshot(uid);
      if (snapshot.sandboxes.length === 0 && snapshot.containers.size === 0) return undefined;
      return this.observationFromRuntime(uid, snapshot);
    });
  }

  killContainer(pod: Pod, container: string, gracePeriodSeconds: number, reason: string, emit: Emit = () => {}): Promise<void> {
    const uid = pod.metadata?.uid ?? "";
    return this.serialized(uid, async () => {
      const snapshot = await this.snapshot(uid);
      const spec = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === container);
      const live = (snapshot.containers.get(container) ?? []).filter((c) => c.state === "CONTAINER_RUNNING" || c.state === "CONTAINER_CREATED");
      await Promise.all(live.map((status) => this.stopContainer(status, gracePeriodSeconds, reason, emit, snapshot.podIPs[0], spec)));
    });
  }

  killPod(ref: RuntimePodRef, gracePeriodSeconds: number, emit: Emit = () => {}): Promise<void> {
    return this.serialized(ref.uid, async () => {
      const snapshot = await this.snapshot(ref.uid);
      const all = [...snapshot.containers.values()].flat();
      const live = (c: ContainerStatus) => c.state === "CONTAINER_RUNNING" || c.state === "CONTAINER_CREATED";
      // Containers first, then init containers (sidecars), as the kubelet stops sidecars last.
      const stop = (type: ContainerType) => Promise.all(all.filter((c) => live(c) && typeOf(c) === type).map((c) => this.stopContainer(c, gracePeriodSeconds, "", emit, snapshot.podIPs[0])));
      await stop("regular");
      await stop("init");
      for (const sandbox of snapshot.sandboxes) await this.ignoreNotFound(this.client.stopPodSandbox(sandbox.id));
      for (const container of all) await this.ignoreNotFound(this.client.removeContainer(container.id));
      for (const sandbox of snapshot.sandboxes) await this.ignoreNotFound(this.client.removePodSandbox(sandbox.id));
      this.forget(ref.uid);
    });
  }

  async listPods(): Promise<RuntimePodRef[]> {
    const [sandboxes, containers] = await Promise.all([this.client.listPodSandbox(), this.client.listContainers()]);
    const pods = new Map<string, RuntimePodRef>();
    for (const { labels } of [...sandboxes, ...containers]) {
      const uid = labels[POD_UID];
      if (uid && !pods.has(uid)) pods.set(uid, { uid, namespace: labels[POD_NAMESPACE] ?? "", name: labels[POD_NAME] ?? "" });
    }
    return [...pods.values()];
  }

  /**
   * The node's podCIDR, as CRI's UpdateRuntimeConfig: the pod network is set up for it (one at a
   * time; a failed one is tried again on the next call).
   */
  updatePodCIDR(cidr: string): Promise<void> {
    const network = this.network;
    if (!network || cidr === this.podCIDR) return this.podNetworkWritten;
    this.podCIDR = cidr;
    this.podNetworkWritten = this.podNetworkWritten.catch(() => undefined).then(() => writePodNetwork(network, cidr)).then(() => undefined, (error) => {
      if (this.podCIDR === cidr) this.podCIDR = undefined;
      throw error;
    });
    return this.podNetworkWritten;
  }

  /**
   * The kubelet's PLEG: relists containers every second and tells which pods had a container
   * appear, change state or go; and when a pod's back-off ends, so its worker syncs then.
   */
  onPodChange(listener: (uid: string) => void): void {
    this.changeListeners.push(listener);
    if (this.relistTimer) return;
    let relisting = false;
    this.relistTimer = setInterval(() => {
      if (relisting) return;
      relisting = true;
      void this.relist().finally(() => (relisting = false));
    }, RELIST_MS);
    this.relistTimer.unref();
  }

  private async relist(): Promise<void> {
    let containers;
    try {
      containers = await this.client.listContainers();
    } catch {
      return; // containerd is down; health() says so, and the next relist tries again.
    }
    const current = new Map(containers.filter((c) => c.labels[POD_UID]).map((c) => [c.id, { uid: c.labels[POD_UID]!, state: c.state }]));
    const changed = new Set<string>();
    for (const [id, now] of current) if (this.lastRelist.get(id)?.state !== now.state) changed.add(now.uid);
    for (const [id, before] of this.lastRelist) if (!current.has(id)) changed.add(before.uid);
    this.lastRelist = current;
    for (const uid of changed) this.notifyChange(uid);
  }

  private notifyChange(uid: string): void {
    for (const listener of this.changeListeners) listener(uid);
  }

  /** Wakes the pod's worker when its back-off ends. */
  private notifyAfter(uid: string, delayMs: number): void {
    if (this.changeListeners.length === 0) return;
    const timer = setTimeout(() => {
      this.backoffTimers.delete(timer);
      this.notifyChange(uid);
    }, Math.max(0, delayMs));
    timer.unref();
    this.backoffTimers.add(timer);
  }

  /** The container's log file, which containerd reports with its status. */
  /** Every running container's CPU and memory (ListContainerStats), for the Summary API. */
  async containerStats(): Promise<PodUsage[]> {
    const [sandboxes, containers, stats] = await Promise.all([this.client.listPodSandbox(), this.client.listContainers(), this.client.listContainerStats()]);
    return podUsageFromCri(sandboxes, containers, stats, Date.now());
  }

  async containerLog(uid: string, containerID: string): Promise<ContainerLog | undefined> {
    const id = containerID.replace(/^containerd:\/\//, "");
    const instance = [...(await this.snapshot(uid)).containers.values()].flat().find((c) => c.id === id);
    if (!instance) return undefined;
    const running = () => this.client.containerStatus(instance.id).then((s) => s.state === "CONTAINER_RUNNING", () => false);
    return { source: { path: instance.log_path }, running };
  }

  async exec(uid: string, container: string, command: string[], timeoutSeconds: number): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const result = await this.client.execSync(await this.runningContainerId(uid, container), command, timeoutSeconds);
    return { exitCode: result.exit_code, stdout: result.stdout.toString("utf8"), stderr: result.stderr.toString("utf8") };
  }

  /**
   * `kubectl exec`: with a terminal through CRI Exec and containerd's streaming server
   * (stream-session.ts), without one through `ctr task exec` (exec-session.ts), whose pipes pass
   * stdin's end on.
   */
  async execSession(uid: string, container: string, command: string[], session: StreamSession): Promise<number> {
    const id = await this.runningContainerId(uid, container);
    if (!session.tty) return execInTask(this.endpoint, id, command, session);
    const url = await this.client.exec({ container_id: id, cmd: command, tty: true, stdin: !!session.stdin, stdout: !!session.stdout, stderr: false });
    return (await streamSession(url, session)) ?? 0;
  }

  /** `kubectl attach`, through CRI Attach and containerd's streaming server. */
  async attachSession(uid: string, container: string, session: StreamSession): Promise<number | undefined> {
    const id = await this.runningContainerId(uid, container);
    const url = await this.client.attach({ container_id: id, tty: session.tty, stdin: !!session.stdin, stdout: !!session.stdout, stderr: !!session.stderr && !session.tty });
    return streamSession(url, session);
  }

  /** The newest running instance of a pod's container. */
  private async runningContainerId(uid: string, container: string): Promise<string> {
    const running = await this.client.listContainers({ label_selector: { [POD_UID]: uid, [CONTAINER_NAME]: container }, state: { state: "CONTAINER_RUNNING" } });
    const target = running.sort((a, b) => b.created_at - a.created_at)[0];
    if (!target) throw new Error(`container "${container}" of pod ${uid} is not running`);
    return target.id;
  }

  async close(): Promise<void> {
    clearInterval(this.relistTimer);
    for (const timer of this.backoffTimers) clearTimeout(timer);
    this.client.close();
  }

  // --- One sync step --------------------------------------------------------------------------

  private async syncPodNow(pod: Pod, inputs: PodInputs, emit: Emit, options: SyncOptions): Promise<PodObservation> {
    const uid = pod.metadata?.uid ?? "";
    let snapshot = await this.snapshot(uid);
    if (!snapshot.ready) {
      if (podIsDone(pod, snapshot) || options.noNewSandbox) return this.observationForPod(pod, snapshot);
      const created = await this.createSandbox(pod, inputs, snapshot, emit);
      if (!created) return this.observationForPod(pod, snapshot);
      snapshot = await this.snapshot(uid);
    }
    const sandbox = snapshot.ready!;
    if (inputs.withPodIPs) inputs = await inputs.withPodIPs(snapshot.podIPs);
    const config = sandboxConfig(pod, inputs, sandbox.metadata.attempt, this.logsDir);
    const context: StartContext = { pod, inputs, emit, snapshot, sandboxId: sandbox.id, sandboxConfig: config, extraMounts: this.podMounts(pod, inputs) };

    const initialized = await this.syncInitContainers(context);
    if (initialized) await this.syncContainers(context);
    await this.stopSidecarsWhenDone(context);
    await this.removeDead(snapshot);
    return this.observationForPod(pod, await this.snapshot(uid));
  }

  /** Runs a new sandbox (stopping what is left of a dead one), or says why it could not. */
  private async createSandbox(pod: Pod, inputs: PodInputs, snapshot: PodSnapshot, emit: Emit): Promise<boolean> {
    if (snapshot.sandboxes.length) emit({ type: "Normal", reason: "SandboxChanged", message: "Pod sandbox changed, it will be killed and re-created." });
    for (const container of [...snapshot.containers.values()].flat()) {
      if (container.state === "CONTAINER_RUNNING") await this.ignoreNotFound(this.client.stopContainer(container.id, MINIMUM_GRACE_SECONDS));
    }
    for (const old of snapshot.sandboxes) await this.ignoreNotFound(this.client.stopPodSandbox(old.id));
    const attempt = snapshot.sandboxes.length ? Math.max(...snapshot.sandboxes.map((s) => s.metadata.attempt)) + 1 : 0;
    const config = sandboxConfig(pod, inputs, attempt, this.logsDir);
    try {
      mkdirSync(config.log_directory!, { recursive: true });
      await this.client.runPodSandbox(config);
      return true;
    } catch (error) {
      emit({ type: "Warning", reason: "FailedCreatePodSandBox", message: `Failed to create pod sandbox: ${(error as Error).message}` });
      return false;
    }
  }

  /** Init containers in order; true once all have completed (sidecars: started) or containers already run. */
  private async syncInitContainers(context: StartContext): Promise<boolean> {
    const { pod, snapshot, sandboxId } = context;
    const inSandbox = (name: string) => (snapshot.containers.get(name) ?? []).filter((c) => c.pod_sandbox_id === sandboxId);
    // Once any container ran in this sandbox, initialization is over: only sidecars are kept up.
    const initialized = pod.spec!.containers.some((c) => inSandbox(c.name).length > 0);
    const restartPolicy = pod.spec!.restartPolicy ?? "Always";
    for (const container of pod.spec!.initContainers ?? []) {
      const latest = inSandbox(container.name)[0];
      const sidecar = container.restartPolicy === "Always";
      if (sidecar) {
        if (latest?.state === "CONTAINER_RUNNING") continue;
        if (latest?.state === "CONTAINER_CREATED") await this.startCreated(latest, container, "init", context);
        else await this.startContainer(container, "init", context);
        if (initialized) continue;
        return false;
      }
      if (initialized) continue;
      if (!latest) {
        await this.startContainer(container, "init", context);
        return false;
      }
      if (latest.state === "CONTAINER_CREATED") {
        await this.startCreated(latest, container, "init", context);
        return false;
      }
      if (latest.state === "CONTAINER_EXITED" && latest.exit_code === 0) continue;
      if (latest.state === "CONTAINER_EXITED" && restartPolicy !== "Never") await this.startContainer(container, "init", context);
      return false;
    }
    return true;
  }

  /** Starts what has not run, restarts what exited when the restartPolicy says so, replaces what changed. */
  private async syncContainers(context: StartContext): Promise<void> {
    const { pod, snapshot, sandboxId } = context;
    const restartPolicy = pod.spec!.restartPolicy ?? "Always";
    for (const container of pod.spec!.containers) {
      const latest = (snapshot.containers.get(container.name) ?? []).find((c) => c.pod_sandbox_id === sandboxId);
      if (!latest) {
        await this.startContainer(container, "regular", context);
      } else if (latest.state === "CONTAINER_RUNNING") {
        if (latest.annotations[CONTAINER_HASH] !== containerHash(container)) {
          await this.stopContainer(latest, pod.spec!.terminationGracePeriodSeconds ?? 30, `Container ${container.name} definition changed, will be restarted`, context.emit, snapshot.podIPs[0], container);
          await this.startContainer(container, "regular", { ...context, snapshot: await this.snapshot(pod.metadata!.uid!) });
        }
      } else if (latest.state === "CONTAINER_CREATED") {
        await this.startCreated(latest, container, "regular", context);
      } else if (shouldRestart(restartPolicy, latest.exit_code)) {
        await this.startContainer(container, "regular", context);
      }
    }
  }

  /** When every container has finished for good (or an init container failed for good), sidecars stop too. */
  private async stopSidecarsWhenDone(context: StartContext): Promise<void> {
    const { pod, emit } = context;
    const sidecars = (pod.spec!.initContainers ?? []).filter((c) => c.restartPolicy === "Always");
    if (sidecars.length === 0 || (pod.spec!.restartPolicy ?? "Always") === "Always") return;
    const snapshot = await this.snapshot(pod.metadata!.uid!);
    if (!podIsDone(pod, snapshot)) return;
    for (const sidecar of sidecars) {
      for (const status of snapshot.containers.get(sidecar.name) ?? []) {
        if (status.state === "CONTAINER_RUNNING") await this.stopContainer(status, pod.spec!.terminationGracePeriodSeconds ?? 30, "", emit, snapshot.podIPs[0], sidecar);
      }
    }
  }

  /**
   * Creates and starts one container: back-off after a crash, the image per its pull policy, the
   * config, then postStart. Failures become the container's waiting reason and a Warning event.
   */
  private async startContainer(container: Container, type: ContainerType, context: StartContext): Promise<void> {
    const { pod, emit, snapshot } = context;
    const uid = pod.metadata!.uid!;
    const previous = snapshot.containers.get(container.name)?.[0];
    const fieldPath = fieldPathOf(type, container.name);
    if (previous?.state === "CONTAINER_EXITED") {
      const key = `${uid}/${container.name}`;
      const finishedAt = nanosToMs(previous.finished_at);
      if (this.crashBackoff.isInBackOffSince(key, finishedAt)) {
        emit({ type: "Warning", reason: "BackOff", message: `Back-off restarting failed container ${container.name} in pod ${podDescription(pod)}`, fieldPath });
        const delay = this.crashBackoff.get(key);
        this.setReason(uid, container.name, { reason: "CrashLoopBackOff", message: `back-off ${goDuration(delay)} restarting failed container=${container.name} pod=${podDescription(pod)}` });
        this.notifyAfter(uid, finishedAt + delay - this.crashBackoff.clock.now());
        return;
      }
      this.crashBackoff.next(key, finishedAt);
    }
    const image = await this.ensureImage(pod, container, type, context);
    if (image === undefined) return;
    const restartCount = previous ? restartCountOf(previous.annotations) + 1 : 0;
    let id: string;
    try {
      verifyRunAsNonRoot(pod, container, image.uid, image.username);
      const config = containerConfig({ pod, container, type, inputs: context.inputs, restartCount, image: image.ref, extraMounts: [...context.extraMounts, this.terminationMessageMount(uid, container)] });
      id = await this.client.createContainer(context.sandboxId, config, context.sandboxConfig);
    } catch (error) {
      const reason = error instanceof ContainerConfigError ? "CreateContainerConfigError" : "CreateContainerError";
      return this.failStart(uid, container.name, reason, (error as Error).message, emit, fieldPath);
    }
    emit({ type: "Normal", reason: "Created", message: `Created container ${container.name}`, fieldPath });
    const started = await this.client.startContainer(id).then(() => undefined, (error: Error) => error.message);
    if (started !== undefined) return this.failStart(uid, container.name, "RunContainerError", started, emit, fieldPath);
    emit({ type: "Normal", reason: "Started", message: `Started container ${container.name}`, fieldPath });
    this.clearReason(uid, container.name);
    await this.runPostStart(container, type, id, context);
  }

  /** A container created but never started (the agent stopped in between): start it now. */
  private async startCreated(status: ContainerStatus, container: Container, type: ContainerType, context: StartContext): Promise<void> {
    const fieldPath = fieldPathOf(type, container.name);
    const uid = context.pod.metadata!.uid!;
    const error = await this.client.startContainer(status.id).then(() => undefined, (e: Error) => e.message);
    if (error !== undefined) return this.failStart(uid, container.name, "RunContainerError", error, context.emit, fieldPath);
    context.emit({ type: "Normal", reason: "Started", message: `Started container ${container.name}`, fieldPath });
    this.clearReason(uid, container.name);
  }

  /**
   * The container waits with `reason` and `message`; the Failed event says "Error: " and the
   * error, which for image errors is the reason itself ("Error: ErrImagePull"), as the kubelet's.
   */
  private failStart(uid: string, name: string, reason: string, message: string, emit: Emit, fieldPath: string, error = message): void {
    emit({ type: "Warning", reason: "Failed", message: `Error: ${error}`, fieldPath });
    this.setReason(uid, name, { reason, message });
  }

  /** Runs postStart; when it fails, the container is stopped and waits with PostStartHookError. */
  private async runPostStart(container: Container, type: ContainerType, id: string, context: StartContext): Promise<void> {
    const handler = container.lifecycle?.postStart;
    if (!handler) return;
    const target = { client: this.client, containerId: id, containerName: container.name, pod: podDescription(context.pod), ports: container.ports, podIP: context.snapshot.podIPs[0] };
    const failure = await runHook(handler, target, context.pod.spec?.terminationGracePeriodSeconds ?? 30);
    if (failure === undefined) return;
    const fieldPath = fieldPathOf(type, container.name);
    context.emit({ type: "Warning", reason: "FailedPostStartHook", message: failure, fieldPath });
    context.emit({ type: "Normal", reason: "Killing", message: "FailedPostStartHook", fieldPath });
    await this.ignoreNotFound(this.client.stopContainer(id, MINIMUM_GRACE_SECONDS));
    this.setReason(context.pod.metadata!.uid!, container.name, { reason: "PostStartHookError", message: failure });
  }

  /** The image per imagePullPolicy, or undefined when the container must wait (the reason is set). */
  private async ensureImage(pod: Pod, container: Container, type: ContainerType, context: StartContext): Promise<{ ref: string; uid?: number; username: string } | undefined> {
    const { emit } = context;
    const uid = pod.metadata!.uid!;
    const image = container.image ?? "";
    const fieldPath = fieldPathOf(type, container.name);
    const policy = container.imagePullPolicy ?? defaultPullPolicy(image);
    const present = await this.client.imageStatus(image).catch((error: Error) => error);
    if (present instanceof Error) {
      this.failStart(uid, container.name, "ImageInspectError", `Failed to inspect image "${image}": ${present.message}`, emit, fieldPath, "ImageInspectError");
      return undefined;
    }
    const found = present ? { ref: present.id, uid: present.uid?.value, username: present.username } : undefined;
    if (found && (policy !== "Always" || this.preloaded.has(normalizeImage(image)))) {
      emit({ type: "Normal", reason: "Pulled", message: `Container image "${image}" already present on machine`, fieldPath });
      return found;
    }
    if (policy === "Never") {
      const message = `Container image "${image}" is not present with pull policy of Never`;
      emit({ type: "Warning", reason: "ErrImageNeverPull", message, fieldPath });
      this.failStart(uid, container.name, "ErrImageNeverPull", message, emit, fieldPath, "ErrImageNeverPull");
      return undefined;
    }
    const key = `${uid}/${image}`;
    const now = this.pullBackoff.clock.now();
    if (this.pullBackoff.isInBackOffSince(key, now)) {
      const message = `Back-off pulling image "${image}"`;
      emit({ type: "Normal", reason: "BackOff", message, fieldPath });
      emit({ type: "Warning", reason: "Failed", message: "Error: ImagePullBackOff", fieldPath });
      this.setReason(uid, container.name, { reason: "ImagePullBackOff", message });
      return undefined;
    }
    emit({ type: "Normal", reason: "Pulling", message: `Pulling image "${image}"`, fieldPath });
    const started = Date.now();
    try {
      const ref = await this.client.pullImage(image, pullAuth(image, context.inputs.pullSecrets), context.sandboxConfig);
      const took = goDuration(Date.now() - started);
      const pulled = await this.client.imageStatus(ref);
      emit({ type: "Normal", reason: "Pulled", message: `Successfully pulled image "${image}" in ${took} (${took} including waiting). Image size: ${pulled?.size ?? 0} bytes.`, fieldPath });
      return { ref, uid: pulled?.uid?.value, username: pulled?.username ?? "" };
    } catch (error) {
      const message = (error as Error).message;
      emit({ type: "Warning", reason: "Failed", message: `Failed to pull image "${image}": ${message}`, fieldPath });
      this.pullBackoff.next(key, this.pullBackoff.clock.now());
      this.notifyAfter(uid, this.pullBackoff.get(key));
      this.failStart(uid, container.name, "ErrImagePull", message, emit, fieldPath, "ErrImagePull");
      return undefined;
    }
  }

  /**
   * Stops one container as the kubelet's killContainer: the Killing event, the preStop hook within
   * the grace period, then SIGTERM and SIGKILL after what is left of it (at least 2 s).
   */
  private async stopContainer(status: ContainerStatus, gracePeriodSeconds: number, message: string, emit: Emit, podIP?: string, spec?: Container): Promise<void> {
    const name = status.labels[CONTAINER_NAME] ?? status.metadata.name;
    const fieldPath = fieldPathOf(typeOf(status), name);
    emit({ type: "Normal", reason: "Killing", message: message || `Stopping container ${name}`, fieldPath });
    let grace = gracePeriodSeconds;
    const preStop = spec?.lifecycle?.preStop ?? preStopOf(status.annotations);
    if (preStop && grace > 0 && status.state === "CONTAINER_RUNNING") {
      const started = Date.now();
      const pod = `${status.labels[POD_NAME]}_${status.labels[POD_NAMESPACE]}(${status.labels[POD_UID]})`;
      const failure = await runHook(preStop, { client: this.client, containerId: status.id, containerName: name, pod, ports: spec?.ports, podIP }, grace);
      if (failure !== undefined) emit({ type: "Warning", reason: "FailedPreStopHook", message: failure, fieldPath });
      grace -= Math.floor((Date.now() - started) / 1000);
    }
    await this.ignoreNotFound(this.client.stopContainer(status.id, Math.max(grace, MINIMUM_GRACE_SECONDS)));
  }

  /**
   * Removes exited containers beyond the newest two per name (enough for state and last state),
   * then dead sandboxes no kept container belongs to.
   */
  private async removeDead(snapshot: PodSnapshot): Promise<void> {
    const kept = new Set<string>();
    for (const statuses of snapshot.containers.values()) {
      statuses.slice(0, DEAD_CONTAINERS_KEPT).forEach((c) => kept.add(c.pod_sandbox_id));
      const dead = statuses.slice(DEAD_CONTAINERS_KEPT).filter((c) => c.state === "CONTAINER_EXITED");
      for (const container of dead) await this.ignoreNotFound(this.client.removeContainer(container.id));
    }
    for (const sandbox of snapshot.sandboxes) {
      if (sandbox.state === "SANDBOX_NOTREADY" && sandbox.id !== snapshot.sandboxes[0]!.id && !kept.has(sandbox.id)) await this.ignoreNotFound(this.client.removePodSandbox(sandbox.id));
    }
  }

  // --- What containerd holds ----------------------------------------------------------------

  private async snapshot(uid: string): Promise<PodSnapshot> {
    const selector = { label_selector: { [POD_UID]: uid } };
    const [sandboxes, containers] = await Promise.all([this.client.listPodSandbox(selector), this.client.listContainers(selector)]);
    sandboxes.sort((a, b) => b.created_at - a.created_at);
    const ready = sandboxes.find((s) => s.state === "SANDBOX_READY");
    const withStatus = (c: { id: string; pod_sandbox_id: string }) =>
      this.client.containerStatus(c.id).then((status): PodContainer => ({ ...status, pod_sandbox_id: c.pod_sandbox_id }), (error) => (isNotFound(error) ? undefined : Promise.reject(error)));
    const statuses = (await Promise.all(containers.map(withStatus))).filter((s): s is PodContainer => s !== undefined);
    const byName = new Map<string, PodContainer[]>();
    for (const status of statuses.sort((a, b) => b.created_at - a.created_at)) {
      const name = status.labels[CONTAINER_NAME] ?? status.metadata.name;
      byName.set(name, [...(byName.get(name) ?? []), status]);
    }
    let podIPs: string[] = [];
    if (ready) {
      const status = await this.client.podSandboxStatus(ready.id).catch((error) => (isNotFound(error) ? undefined : Promise.reject(error)));
      const network = status?.network;
      podIPs = network?.ip ? [network.ip, ...network.additional_ips.map((a) => a.ip)] : [];
    }
    return { sandboxes, ready, podIPs, containers: byName };
  }

  /** The pod's /etc/hosts, when the kubelet half wrote one (hostAliases, the pod's own name). */
  private podMounts(pod: Pod, inputs: PodInputs): Mount[] {
    if (inputs.hosts === undefined) return [];
    const dir = `${this.podsDir}/${pod.metadata!.uid}`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/etc-hosts`, inputs.hosts);
    return [{ container_path: "/etc/hosts", host_path: `${dir}/etc-hosts` }];
  }

  /** An empty file per container start, mounted at terminationMessagePath, read back when it exits. */
  private terminationMessageMount(uid: string, container: Container): Mount {
    const dir = `${this.podsDir}/${uid}/containers/${container.name}`;
    mkdirSync(dir, { recursive: true });
    const path = `${dir}/${randomBytes(4).toString("hex")}`;
    writeFileSync(path, "");
    // Writable by whichever user the container runs as (the umask would take that away).
    chmodSync(path, 0o666);
    return { container_path: container.terminationMessagePath ?? "/dev/termination-log", host_path: path };
  }

  // --- Observations -------------------------------------------------------------------------

  /** Every container of the spec, in order, with what the runtime has of it or why it waits. */
  private observationForPod(pod: Pod, snapshot: PodSnapshot): PodObservation {
    const uid = pod.metadata!.uid!;
    const initializing = !!snapshot.ready && !pod.spec!.containers.some((c) => snapshot.containers.get(c.name)?.some((s) => s.pod_sandbox_id === snapshot.ready!.id));
    const observe = (container: Container, pending: string) => this.containerObservation(uid, container.name, snapshot.containers.get(container.name) ?? [], { image: container.image ?? "", reason: pending });
    return {
      uid,
      sandboxReady: !!snapshot.ready,
      podIPs: snapshot.podIPs,
      initContainers: (pod.spec!.initContainers ?? []).map((c) => observe(c, "PodInitializing")),
      containers: pod.spec!.containers.map((c) => observe(c, initializing && (pod.spec!.initContainers ?? []).length > 0 ? "PodInitializing" : "ContainerCreating")),
    };
  }

  /** The same from containerd alone (no spec): containers by the type label, in creation order. */
  private observationFromRuntime(uid: string, snapshot: PodSnapshot): PodObservation {
    const names = (type: ContainerType) => [...snapshot.containers.entries()].filter(([, s]) => typeOf(s[0]!) === type).sort(([, a], [, b]) => a.at(-1)!.created_at - b.at(-1)!.created_at).map(([name]) => name);
    const observe = (name: string) => this.containerObservation(uid, name, snapshot.containers.get(name)!, { image: "", reason: "ContainerCreating" });
    return { uid, sandboxReady: !!snapshot.ready, podIPs: snapshot.podIPs, initContainers: names("init").map(observe), containers: names("regular").map(observe) };
  }

  private containerObservation(uid: string, name: string, statuses: ContainerStatus[], pending: { image: string; reason: string }): ContainerObservation {
    const waiting = this.reasons.get(uid)?.get(name);
    const latest = statuses[0];
    if (!latest) {
      return { name, image: pending.image, imageID: "", state: { waiting: waiting ?? { reason: pending.reason } }, restartCount: 0, started: false };
    }
    let state = containerState(latest);
    let lastState = statuses[1] ? containerState(statuses[1]) : undefined;
    if (waiting && latest.state !== "CONTAINER_RUNNING") {
      if ("terminated" in state) lastState = state;
      state = { waiting };
    }
    return {
      name,
      image: latest.image?.image || latest.annotations[SPEC_IMAGE] || pending.image,
      imageID: latest.image_ref,
      containerID: `containerd://${latest.id}`,
      state,
      ...(lastState ? { lastState } : {}),
      restartCount: restartCountOf(latest.annotations),
      started: latest.state === "CONTAINER_RUNNING",
    };
  }

  // --- Bookkeeping --------------------------------------------------------------------------

  private setReason(uid: string, name: string, reason: WaitingReason): void {
    const reasons = this.reasons.get(uid) ?? new Map<string, WaitingReason>();
    reasons.set(name, reason);
    this.reasons.set(uid, reasons);
  }

  private clearReason(uid: string, name: string): void {
    this.reasons.get(uid)?.delete(name);
  }

  /** Drops what the runtime remembers of a pod it no longer holds. */
  private forget(uid: string): void {
    this.reasons.delete(uid);
    this.crashBackoff.gc((key) => key.startsWith(`${uid}/`));
    this.pullBackoff.gc((key) => key.startsWith(`${uid}/`));
    rmSync(`${this.podsDir}/${uid}/etc-hosts`, { force: true });
    rmSync(`${this.podsDir}/${uid}/containers`, { recursive: true, force: true });
  }

  /** One operation at a time per pod: a timer's sync and a kill never interleave. */
  private serialized<T>(uid: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.podLocks.get(uid) ?? Promise.resolve();
    const next = previous.then(operation, operation);
    const settled = next.catch(() => undefined);
    this.podLocks.set(uid, settled);
    void settled.then(() => {
      if (this.podLocks.get(uid) === settled) this.podLocks.delete(uid);
    });
    return next;
  }

  private async ignoreNotFound(call: Promise<unknown>): Promise<void> {
    try {
      await call;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

interface StartContext {
  pod: Pod;
  inputs: PodInputs;
  emit: Emit;
  snapshot: PodSnapshot;
  sandboxId: string;
  sandboxConfig: PodSandboxConfig;
  extraMounts: Mount[];
}

function typeOf(status: ContainerStatus): ContainerType {
  return status.labels[CONTAINER_TYPE] === "init" ? "init" : "regular";
}

function fieldPathOf(type: ContainerType, name: string): string {
  return type === "init" ? `spec.initContainers{${name}}` : `spec.containers{${name}}`;
}

function shouldRestart(restartPolicy: string, exitCode: number): boolean {
  return restartPolicy === "Always" || (restartPolicy === "OnFailure" && exitCode !== 0);
}

/**
 * Whether the pod has finished for good: every container exited and its restartPolicy restarts
 * none, or an init container failed under restartPolicy Never. No new sandbox is made for it.
 */
function podIsDone(pod: Pod, snapshot: PodSnapshot): boolean {
  const restartPolicy = pod.spec?.restartPolicy ?? "Always";
  if (restartPolicy === "Always") return false;
  const latest = (name: string) => snapshot.containers.get(name)?.[0];
  const initFailed = (pod.spec?.initContainers ?? []).some((c) => {
    const status = latest(c.name);
    return c.restartPolicy !== "Always" && restartPolicy === "Never" && status?.state === "CONTAINER_EXITED" && status.exit_code !== 0;
  });
  if (initFailed) return true;
  return (pod.spec?.containers ?? []).every((c) => {
    const status = latest(c.name);
    return status?.state === "CONTAINER_EXITED" && !shouldRestart(restartPolicy, status.exit_code);
  });
}
