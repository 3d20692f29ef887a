// A runtime with no containers, as KWOK's hollow nodes: a pod's sandbox gets an IP from the node's
// pod range, its init containers complete in order, its containers run after a configurable delay
// and keep running, or (restartPolicy Never/OnFailure, a Job's pod) complete with exit 0 after a
// configurable duration; a configurable share of starts fail (exit 1) and restart per the
// restartPolicy with the kubelet's back-off (10 s doubling to 5 min, CrashLoopBackOff meanwhile).
// It emits the kubelet's container Events (every image present: one Pulled, no Pulling) and tells the
// kubelet half when a pod changed on its own.
// Holding nothing on disk, after an agent restart it adopts each pod as the pod's status reports it.
// `kubectl exec` runs a tiny built-in shell (shell.ts); `kubectl attach` finds a container echoing stdin.
import type { Container, ContainerStatus, Pod } from "kubernetes-types/core/v1";
import type {
  ContainerLog, ContainerObservation, ContainerState, PodInputs, PodObservation, PodUsage, Runtime, RuntimeEvent, RuntimeHealth, RuntimeInfo, RuntimePodRef, StreamSession,
} from "../runtime/runtime.ts";
import { simulatedPodUsage } from "../stats/simulated.ts";
import { runShell } from "./shell.ts";

export const SIMULATED_VERSION = "0.1.0";

export interface SimulatedOptions {
  /** The pods' addresses come from this IPv4 range ("10.244.3.0/24"); .1 is the bridge's. */
  podCIDR: string;
  /** From a pod's first sync to its containers running (image pull, create, start). Default 0. */
  startDelayMs?: number;
  /** From a container's start until a readiness probe passes. Default 0. */
  readyDelayMs?: number;
  /** How long a container of a pod whose restartPolicy is Never or OnFailure runs before it exits 0. Default 5 s. */
  completeAfterMs?: number;
  /** The share of container starts (0–1) that fail: the container exits 1 after `failAfterMs`. Default 0. */
  failureRate?: number;
  /** How long a failing container runs. Default 1 s. */
  failAfterMs?: number;
  random?: () => number;
  now?: () => number;
}

/** The kubelet's crash-loop back-off: 10 s doubling to 5 min. */
const BACKOFF_INITIAL_MS = 10_000;
const BACKOFF_MAX_MS = 300_000;

interface SimContainer {
  name: string;
  image: string;
  containerID?: string;
  state: ContainerState;
  lastState?: ContainerState;
  restartCount: number;
  startedAt?: number;
  /** When a running container exits, and with what. */
  exitAt?: number;
  exitCode?: number;
  /** When a crashed container may start again. */
  restartAt?: number;
}

interface SimPod {
  ref: RuntimePodRef;
  pod: Pod;
  ip: string;
  /** When the first containers start. */
  startAt: number;
  init: SimContainer[];
  containers: SimContainer[];
  emit: (event: RuntimeEvent) => void;
  timer?: ReturnType<typeof setTimeout>;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");

/** The host addresses of an IPv4 CIDR after the network and gateway addresses. */
function addressPool(cidr: string): { base: number; size: number } {
  const [address, bits] = cidr.split("/") as [string, string];
  const base = address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
  return { base: base + 2, size: 2 ** (32 - Number(bits)) - 3 };
}

function ipOf(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

function isRestartableInit(container: Container): boolean {
  return container.restartPolicy === "Always";
}

export class SimulatedRuntime implements Runtime {
  private readonly options: Required<Omit<SimulatedOptions, "podCIDR">>;
  private pool: { base: number; size: number };
  private readonly pods = new Map<string, SimPod>();
  private readonly usedIPs = new Set<number>();
  private readonly listeners: ((uid: string) => void)[] = [];
  private nextIP = 0;
  private nextContainerID = 0;

  constructor(options: SimulatedOptions) {
    this.pool = addressPool(options.podCIDR);
    this.options = {
      startDelayMs: options.startDelayMs ?? 0, readyDelayMs: options.readyDelayMs ?? 0,
      completeAfterMs: options.completeAfterMs ?? 5000, failureRate: options.failureRate ?? 0, failAfterMs: options.failAfterMs ?? 1000,
      random: options.random ?? Math.random, now: options.now ?? Date.now,
    };
  }

  async info(): Promise<RuntimeInfo> {
    return { runtimeName: "simulated", runtimeVersion: SIMULATED_VERSION };
  }

  async health(): Promise<RuntimeHealth> {
    return { runtimeReady: true, networkReady: true };
  }

  /** New pods get addresses from the Node's assigned range; pods that have one keep it. */
  updatePodCIDR(cidr: string): void {
    if (!cidr.includes(":")) this.pool = addressPool(cidr);
  }

  onPodChange(listener: (uid: string) => void): void {
    this.listeners.push(listener);
  }

  async syncPod(pod: Pod, _inputs: PodInputs, emit: (event: RuntimeEvent) => void): Promise<PodObservation> {
    const uid = pod.metadata!.uid!;
    let sim = this.pods.get(uid);
    if (!sim) {
      // A pod the agent ran before it restarted is adopted as its status says it was.
      const reported = (name: string, init: boolean) => (init ? pod.status?.initContainerStatuses : pod.status?.containerStatuses)?.find((s) => s.name === name);
      sim = {
        ref: { uid, namespace: pod.metadata!.namespace!, name: pod.metadata!.name! }, pod, ip: this.allocateIP(pod.status?.podIP), emit,
        startAt: this.options.now() + this.options.startDelayMs,
        init: (pod.spec?.initContainers ?? []).map((c) => this.adopted(c, reported(c.name, true), pod, true) ?? this.waiting(c)),
        containers: (pod.spec?.containers ?? []).map((c) => this.adopted(c, reported(c.name, false), pod, false) ?? this.waiting(c)),
      };
      this.pods.set(uid, sim);
    }
    sim.pod = pod;
    sim.emit = emit;
    this.advance(sim);
    return this.observation(sim);
  }

  async observe(uid: string): Promise<PodObservation | undefined> {
    const sim = this.pods.get(uid);
    return sim && this.observation(sim);
  }

  async killContainer(pod: Pod, name: string, _gracePeriodSeconds: number, reason: string, emit: (event: RuntimeEvent) => void = () => {}): Promise<void> {
    const sim = this.pods.get(pod.metadata!.uid!);
    const container = sim?.containers.find((c) => c.name === name);
    if (!sim || !container || !("running" in container.state)) return;
    emit({ type: "Normal", reason: "Killing", message: reason || `Stopping container ${name}`, fieldPath: fieldPath(name, false) });
    this.exit(container, 137);
    this.advance(sim);
  }

  /** The containers stop at once, as if each exited on SIGTERM. */
  async killPod(ref: RuntimePodRef, _gracePeriodSeconds: number, emit: (event: RuntimeEvent) => void = () => {}): Promise<void> {
    const sim = this.pods.get(ref.uid);
    if (!sim) return;
    for (const container of [...sim.init, ...sim.containers]) {
      if ("running" in container.state) emit({ type: "Normal", reason: "Killing", message: `Stopping container ${container.name}`, fieldPath: fieldPath(container.name, sim.init.includes(container)) });
    }
    clearTimeout(sim.timer);
    this.pods.delete(ref.uid);
    this.usedIPs.delete(this.ipNumber(sim.ip));
  }

  async listPods(): Promise<RuntimePodRef[]> {
    return [...this.pods.values()].map((sim) => sim.ref);
  }

  /** A few lines saying the container is simulated, stamped with when it ran; the current instance "runs" while it is running. */
  async containerLog(uid: string, containerID: string): Promise<ContainerLog | undefined> {
    const sim = this.pods.get(uid);
    for (const container of sim ? [...sim.init, ...sim.containers] : []) {
      const last = container.lastState && "terminated" in container.lastState ? container.lastState.terminated : undefined;
      if (last?.containerID === containerID) return { source: { text: simulatedLog(sim!, container, last.startedAt, last.finishedAt, last.exitCode) }, running: async () => false };
      if (container.containerID !== containerID || container.startedAt === undefined) continue;
      const ended = "terminated" in container.state ? container.state.terminated : undefined;
      const running = async () => this.pods.get(uid) === sim && container.containerID === containerID && "running" in container.state;
      return { source: { text: simulatedLog(sim!, container, iso(container.startedAt), ended?.finishedAt, ended?.exitCode) }, running };
    }
    return undefined;
  }

  /** Made-up but stable figures for running containers (node-agent/stats/simulated.ts: requests, or the pod's simulated.edgeplane.dev/* annotations). */
  async containerStats(): Promise<PodUsage[]> {
    const now = this.options.now();
    return [...this.pods.values()].map((sim) => {
      const running = [...sim.init, ...sim.containers].filter((c) => "running" in c.state && c.startedAt !== undefined);
      return simulatedPodUsage(sim.pod, running.map((c) => ({ name: c.name, startedAt: c.startedAt! })), now);
    }).filter((usage) => usage.containers.length > 0);
  }

  async exec(): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    return { exitCode: 0, stdout: "", stderr: "" };
  }

  /** `kubectl exec` runs the built-in shell (shell.ts). */
  async execSession(_uid: string, _container: string, command: string[], session: StreamSession): Promise<number> {
    return runShell(command, session);
  }

  /** `kubectl attach` joins a container that echoes its stdin, as `cat` would, until stdin ends. */
  async attachSession(_uid: string, _container: string, session: StreamSession): Promise<number | undefined> {
    await runShell(["cat"], session);
    return session.signal.aborted ? undefined : 0;
  }

  /** Liveness and startup probes pass; readiness passes `readyDelayMs` after the container started. */
  async probe(uid: string, name: string, kind: "liveness" | "readiness" | "startup"): Promise<{ success: boolean; message?: string }> {
    const container = this.pods.get(uid)?.containers.find((c) => c.name === name);
    if (kind !== "readiness" || !container?.startedAt) return { success: true };
    const ready = this.options.now() - container.startedAt >= this.options.readyDelayMs;
    return ready ? { success: true } : { success: false, message: "simulated container is not ready yet" };
  }

  async close(): Promise<void> {
    for (const sim of this.pods.values()) clearTimeout(sim.timer);
    this.pods.clear();
  }

  private waiting(container: Container): SimContainer {
    return { name: container.name, image: container.image ?? "", state: { waiting: { reason: "ContainerCreating" } }, restartCount: 0 };
  }

  /** A container as the pod's status reports it (running or finished), or undefined when it had not started. */
  private adopted(spec: Container, status: ContainerStatus | undefined, pod: Pod, init: boolean): SimContainer | undefined {
    const state = status?.state;
    if (!status || !(state?.running?.startedAt || state?.terminated)) return undefined;
    const startedAt = Date.parse(state.running?.startedAt ?? state.terminated?.startedAt ?? new Date(this.options.now()).toISOString());
    const container: SimContainer = {
      name: spec.name, image: spec.image ?? "", containerID: status.containerID, restartCount: status.restartCount, startedAt,
      state: state.running ? { running: { startedAt: state.running.startedAt! } } : { terminated: { ...state.terminated!, reason: state.terminated!.reason ?? "Completed" } },
      ...(status.lastState?.terminated ? { lastState: { terminated: { ...status.lastState.terminated, reason: status.lastState.terminated.reason ?? "Error" } } } : {}),
    };
    const exits = (init && !isRestartableInit(spec)) || (!init && (pod.spec?.restartPolicy ?? "Always") !== "Always");
    if (state.running && exits) container.exitAt = startedAt + (init ? 0 : this.options.completeAfterMs);
    return container;
  }

  /** The next free address of the pod range, or `wanted` (an adopted pod's) when it is free. */
  private allocateIP(wanted?: string): string {
    if (wanted && /^\d+\.\d+\.\d+\.\d+$/.test(wanted) && !this.usedIPs.has(this.ipNumber(wanted))) {
      this.usedIPs.add(this.ipNumber(wanted));
      return wanted;
    }
    for (let i = 0; i < this.pool.size; i++) {
      const n = this.pool.base + ((this.nextIP + i) % this.pool.size);
      if (!this.usedIPs.has(n)) {
        this.usedIPs.add(n);
        this.nextIP = (n - this.pool.base + 1) % this.pool.size;
        return ipOf(n);
      }
    }
    throw new Error("the node's pod range has no free address");
  }

  private ipNumber(ip: string): number {
    return ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
  }

  /** Does everything due by now, then sets a timer for the next thing due. */
  private advance(sim: SimPod): void {
    const now = this.options.now();
    if (now >= sim.startAt) {
      const initSpecs = sim.pod.spec?.initContainers ?? [];
      let initialized = true;
      for (const [i, container] of sim.init.entries()) {
        const spec = initSpecs[i]!;
        this.step(sim, container, spec, now, true);
        const done = isRestartableInit(spec) ? "running" in container.state : "terminated" in container.state && container.state.terminated.exitCode === 0;
        if (!done) {
          initialized = false;
          break;
        }
      }
      if (initialized) for (const [i, container] of sim.containers.entries()) this.step(sim, container, sim.pod.spec!.containers[i]!, now, false);
    }
    this.schedule(sim, now);
  }

  /** One container's next move: start, exit when its time is up, restart after its back-off. */
  private step(sim: SimPod, container: SimContainer, spec: Container, now: number, init: boolean): void {
    if (container.startedAt === undefined) return this.start(sim, container, spec, now, init);
    if ("running" in container.state && container.exitAt !== undefined && now >= container.exitAt) this.exit(container, container.exitCode ?? 0);
    if ("terminated" in container.state && this.restarts(sim, spec, container, init)) {
      // The first restart is at once; then 10 s doubling, the exit kept as lastState meanwhile.
      const delay = container.restartCount === 0 ? 0 : Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** (container.restartCount - 1));
      container.lastState = container.state;
      container.restartAt = now + delay;
      if (delay > 0) {
        const pod = `${sim.ref.name}_${sim.ref.namespace}(${sim.ref.uid})`;
        container.state = { waiting: { reason: "CrashLoopBackOff", message: `back-off ${delay / 1000}s restarting failed container=${container.name} pod=${pod}` } };
        sim.emit({ type: "Warning", reason: "BackOff", message: `Back-off restarting failed container ${container.name} in pod ${pod}`, fieldPath: fieldPath(container.name, init) });
      }
    }
    if (container.restartAt !== undefined && now >= container.restartAt) {
      container.restartAt = undefined;
      container.restartCount++;
      this.start(sim, container, spec, now, init);
    }
  }

  private restarts(sim: SimPod, spec: Container, container: SimContainer, init: boolean): boolean {
    if (!("terminated" in container.state) || container.restartAt !== undefined) return false;
    if (init && isRestartableInit(spec)) return true;
    const policy = sim.pod.spec?.restartPolicy ?? "Always";
    if (init) return container.state.terminated.exitCode !== 0 && policy !== "Never";
    return policy === "Always" || (policy === "OnFailure" && container.state.terminated.exitCode !== 0);
  }

  private start(sim: SimPod, container: SimContainer, spec: Container, now: number, init: boolean): void {
    const path = fieldPath(container.name, init);
    const image = spec.image ?? "";
    // Every image is present on a hollow node and there is no registry to ask, so under any pull
    // policy it is the kubelet's one Event for a present image (as the cri runtime's preloaded images).
    if (container.restartCount === 0) sim.emit({ type: "Normal", reason: "Pulled", message: `Container image "${image}" already present on machine`, fieldPath: path });
    container.containerID = `simulated://${(++this.nextContainerID).toString(16).padStart(12, "0")}`;
    sim.emit({ type: "Normal", reason: "Created", message: `Created container ${container.name}`, fieldPath: path });
    sim.emit({ type: "Normal", reason: "Started", message: `Started container ${container.name}`, fieldPath: path });
    container.state = { running: { startedAt: iso(now) } };
    container.startedAt = now;
    const fails = this.options.failureRate > 0 && this.options.random() < this.options.failureRate;
    const exits = (init && !isRestartableInit(spec)) || (!init && (sim.pod.spec?.restartPolicy ?? "Always") !== "Always");
    container.exitCode = fails ? 1 : 0;
    container.exitAt = fails ? now + this.options.failAfterMs : exits ? now + (init ? 0 : this.options.completeAfterMs) : undefined;
    if (container.exitAt === now) this.exit(container, 0);
  }

  private exit(container: SimContainer, exitCode: number): void {
    const startedAt = "running" in container.state ? container.state.running.startedAt : undefined;
    const reason = exitCode === 0 ? "Completed" : "Error";
    container.state = { terminated: { exitCode, reason, ...(startedAt ? { startedAt } : {}), finishedAt: iso(this.options.now()), containerID: container.containerID } };
    container.exitAt = undefined;
  }

  /** A timer for the earliest thing due (a start, an exit, the end of a back-off), which advances the pod and tells the listeners. */
  private schedule(sim: SimPod, now: number): void {
    clearTimeout(sim.timer);
    const due = [sim.startAt > now ? sim.startAt : undefined, ...[...sim.init, ...sim.containers].flatMap((c) => [c.exitAt, c.restartAt])]
      .filter((t): t is number => t !== undefined);
    if (!due.length) return;
    const next = Math.min(...due);
    sim.timer = setTimeout(() => {
      if (this.pods.get(sim.ref.uid) !== sim) return;
      this.advance(sim);
      for (const listener of this.listeners) listener(sim.ref.uid);
    }, Math.max(0, next - now));
    sim.timer.unref?.();
  }

  private observation(sim: SimPod): PodObservation {
    const view = (c: SimContainer): ContainerObservation => ({
      name: c.name, image: c.image, imageID: `simulated://${c.image}`, ...(c.containerID ? { containerID: c.containerID } : {}),
      state: c.state, ...(c.lastState ? { lastState: c.lastState } : {}), restartCount: c.restartCount, started: "running" in c.state,
    });
    return { uid: sim.ref.uid, sandboxReady: true, podIPs: [sim.ip], initContainers: sim.init.map(view), containers: sim.containers.map(view) };
  }
}

/** A simulated container instance's log in the CRI format: what it is, and when it ran. */
function simulatedLog(sim: SimPod, container: SimContainer, startedAt: string | undefined, finishedAt: string | undefined, exitCode: number | undefined): string {
  const started = startedAt ?? iso(Date.now());
  const lines = [
    `${started} stdout F simulated container ${container.name} of pod ${sim.ref.namespace}/${sim.ref.name} started (image ${container.image})`,
    `${started} stdout F this node is simulated (a hollow node): no process runs, so the container writes nothing else`,
  ];
  if (finishedAt) lines.push(`${finishedAt} stdout F simulated container ${container.name} exited with code ${exitCode ?? 0}`);
  return lines.map((line) => line + "\n").join("");
}

function fieldPath(name: string, init: boolean): string {
  return `spec.${init ? "initContainers" : "containers"}{${name}}`;
}
