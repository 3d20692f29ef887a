// The contract between the agent's kubelet half (node-agent/: joining, heartbeats, the pod
// informer, volumes, env, probes, the PodStatus it reports) and a container runtime: `cri` (real
// containers through containerd's CRI v1 API, node-agent/cri/) or `simulated` (hollow nodes, like
// KWOK, node-agent/simulated/). The kubelet half decides what a pod should be; the runtime makes it
// so, step by step, and says what it sees. As kube's kuberuntime manager, the runtime owns the
// container lifecycle within a pod: init containers in order, sidecars, restartPolicy and the
// CrashLoopBackOff back-off (10 s doubling to 5 min), image pulls per imagePullPolicy.
import type { Pod } from "kubernetes-types/core/v1";

/** As NodeSystemInfo.containerRuntimeVersion: "containerd://1.6.20", "simulated://0.1.0". */
export interface RuntimeInfo {
  runtimeName: string;
  runtimeVersion: string;
}

/** The runtime's own readiness, which the node's Ready condition reports (kubelet: RuntimeReady, NetworkReady). */
export interface RuntimeHealth {
  runtimeReady: boolean;
  networkReady: boolean;
  /** Why not, in the kubelet's words ("container runtime network not ready: ..."). */
  message?: string;
}

/** A volume the agent has prepared on the host for a pod (emptyDir, configMap, secret, projected, hostPath, PVC). */
export interface PreparedVolume {
  hostPath: string;
  readOnly?: boolean;
}

/**
 * What the kubelet half resolved for one pod before the runtime acts: values read through the
 * API (env valueFrom/envFrom, volume contents) and files written on the host.
 */
export interface PodInputs {
  /** Per container name (init and regular): the final environment, in order. */
  env: Record<string, { name: string; value: string }[]>;
  /** Per volume name. */
  volumes: Record<string, PreparedVolume>;
  /** The pod's /etc/resolv.conf and /etc/hosts contents (dnsPolicy, dnsConfig, hostAliases). */
  resolvConf?: string;
  hosts?: string;
  /** Pull secrets' docker config JSON, if any. */
  pullSecrets?: string[];
  /**
   * The inputs again for the IPs the pod's sandbox got, which the runtime asks for before it
   * creates containers (as the kubelet makes container configs after the sandbox): env from
   * status.podIP(s) and the pod's hosts file name them.
   */
  withPodIPs?(podIPs: string[]): Promise<PodInputs>;
}

/** One container as the runtime sees it, in the words of core/v1 ContainerStatus. */
export interface ContainerObservation {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  state: ContainerState;
  lastState?: ContainerState;
  restartCount: number;
  /** False until the container has run once (startup probe passes are the kubelet half's). */
  started?: boolean;
}

export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; signal?: number; reason: string; message?: string; startedAt?: string; finishedAt?: string; containerID?: string } };

export interface PodObservation {
  uid: string;
  /** The sandbox exists and its network is set up. */
  sandboxReady: boolean;
  podIPs: string[];
  initContainers: ContainerObservation[];
  containers: ContainerObservation[];
}

/** A pod the runtime holds (found by the labels it set), for adoption and clean-up after a restart. */
export interface RuntimePodRef {
  uid: string;
  namespace: string;
  name: string;
}

/** Why the runtime reports; the kubelet half turns these into Events on the pod. */
export interface RuntimeEvent {
  type: "Normal" | "Warning";
  /** Pulling, Pulled, Failed, Created, Started, Killing, BackOff, ... as the kubelet's events. */
  reason: string;
  message: string;
  /** The container it is about ("spec.containers{web}" as the event's fieldPath). */
  fieldPath?: string;
}

/** Where a container instance's CRI-format log is: a file the runtime writes, or (simulated) its text. */
export interface ContainerLog {
  source: { path: string } | { text: string };
  /** Whether the instance may still write (following the log ends when it may not). */
  running(): Promise<boolean>;
}

/**
 * A running container's usage as the runtime measures it (CRI ContainerStats): CPU time since it
 * started, and memory now. The Summary API (node-agent/stats/) is built from these.
 */
export interface ContainerUsage {
  name: string;
  /** When it started (ms since the epoch). */
  startedAt: number;
  /** When it was measured (ms since the epoch). */
  timestamp: number;
  usageCoreNanoSeconds: number;
  /** Its CPU rate, when the runtime knows it (a simulated container's); else the agent derives it from two samples. */
  usageNanoCores?: number;
  workingSetBytes: number;
  usageBytes?: number;
  rssBytes?: number;
  pageFaults?: number;
  majorPageFaults?: number;
  /** Its writable layer's use. */
  rootfsUsedBytes?: number;
  rootfsInodesUsed?: number;
}

/** A pod's running containers' usage; `startedAt` is its sandbox's creation. */
export interface PodUsage {
  ref: RuntimePodRef;
  startedAt: number;
  containers: ContainerUsage[];
}

/** A client's ends of an exec or attach: what it types, where output goes, its terminal. */
export interface StreamSession {
  tty: boolean;
  /** What the client types, ending when it closes stdin; undefined when it sends none. */
  stdin: ReadableStream<Uint8Array> | undefined;
  /** Output (with a tty, stderr goes to stdout); undefined when the client did not ask for it. */
  stdout: ((bytes: Uint8Array) => Promise<void>) | undefined;
  stderr: ((bytes: Uint8Array) => Promise<void>) | undefined;
  /** The client's terminal size (tty), updated as it resizes. */
  size: { width: number; height: number } | undefined;
  onResize(listener: (size: { width: number; height: number }) => void): void;
  /** Aborted when the client is gone. */
  signal: AbortSignal;
}

export interface SyncOptions {
  /** A sandbox was just tried for this pod and failed (startSandbox): do not try another in this sync. */
  noNewSandbox?: boolean;
}

export interface Runtime {
  info(): Promise<RuntimeInfo>;
  health(): Promise<RuntimeHealth>;
  /**
   * One step toward what the pod says: sandbox, init containers in order, containers, restarts per
   * restartPolicy with back-off. Idempotent: called on every change of the pod and on a timer;
   * it does not wait for containers to finish. Answers what it sees afterwards.
   */
  syncPod(pod: Pod, inputs: PodInputs, emit: (event: RuntimeEvent) => void, options?: SyncOptions): Promise<PodObservation>;
  /**
   * Optional: runs the sandbox of a pod the runtime holds nothing of yet, ahead of its first
   * syncPod, so that it starts while the kubelet half resolves the pod's inputs from the control
   * plane; of the inputs it needs only resolvConf. Answers whether the pod has a ready sandbox; a
   * failure is a FailedCreatePodSandBox event, and the next syncPod (with noNewSandbox, not the
   * one right after) tries again.
   */
  startSandbox?(pod: Pod, inputs: PodInputs, emit: (event: RuntimeEvent) => void): Promise<boolean>;
  /** What the runtime sees of a pod without acting on it (undefined when it holds nothing of it). */
  observe(uid: string): Promise<PodObservation | undefined>;
  /**
   * Stops one container (a failed liveness or startup probe): preStop, SIGTERM, then SIGKILL after
   * the grace period. The next syncPod restarts it if the restartPolicy says so. `reason` is the
   * Killing event's message ("Container web failed liveness probe, will be restarted"); empty
   * means "Stopping container web". `emit` receives Killing and FailedPreStopHook.
   */
  killContainer(pod: Pod, container: string, gracePeriodSeconds: number, reason: string, emit?: (event: RuntimeEvent) => void): Promise<void>;
  /** Stops every container of the pod (preStop hooks, SIGTERM, grace, SIGKILL) and removes its sandbox. */
  killPod(pod: RuntimePodRef, gracePeriodSeconds: number, emit?: (event: RuntimeEvent) => void): Promise<void>;
  /** Every pod the runtime holds. */
  listPods(): Promise<RuntimePodRef[]>;
  /**
   * Optional: tells when something of a pod changed on its own (a container started, exited, or
   * its back-off ended), like the kubelet's PLEG, so the pod's worker syncs at once. Without it the
   * kubelet half polls pods that are still moving every second.
   */
  onPodChange?(listener: (uid: string) => void): void;
  /**
   * Optional: the Node's spec.podCIDR, once the node IPAM controller has assigned it (CRI's
   * UpdateRuntimeConfig): new pods get their addresses from it.
   */
  updatePodCIDR?(cidr: string): void | Promise<void>;
  /**
   * Optional: a runtime without real containers (simulated) answers probes itself instead of the
   * kubelet half running them (exec, httpGet, tcpSocket against the pod).
   */
  probe?(uid: string, container: string, kind: "liveness" | "readiness" | "startup"): Promise<{ success: boolean; message?: string }>;
  /**
   * Optional: the log of one container instance of the pod, by the containerID its status reports
   * (current or last state), in the CRI format (`<time> <stream> <P|F> <text>` lines), for `kubectl
   * logs`; undefined when the runtime holds no such instance.
   */
  containerLog?(uid: string, containerID: string): Promise<ContainerLog | undefined>;
  /**
   * Optional: runs a command in a container joined to a client (`kubectl exec`): its stdin, stdout,
   * stderr and terminal; answers the exit code.
   */
  execSession?(uid: string, container: string, command: string[], session: StreamSession): Promise<number>;
  /** Optional: joins a client to a running container's own process (`kubectl attach`); answers its exit code, or undefined when the client left first. */
  attachSession?(uid: string, container: string, session: StreamSession): Promise<number | undefined>;
  /** Optional: every running container's usage (CRI ListContainerStats), for `kubectl top` and the HPA (node-agent/stats/). */
  containerStats?(): Promise<PodUsage[]>;
  /** Runs a command in a container and waits for it (exec probes, lifecycle hooks). */
  exec(uid: string, container: string, command: string[], timeoutSeconds: number): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  close(): Promise<void>;
}
