// The PodStatus the kubelet reports (its status generator): the phase from what the containers
// are doing and the restartPolicy, the conditions PodReadyToStartContainers, Initialized, Ready,
// ContainersReady (PodScheduled kept as the scheduler wrote it), containerStatuses and
// initContainerStatuses, the pod's and the host's IPs, startTime and qosClass. Pure: the pod,
// what the runtime observed and what the probes say in, the status out.
import type { Container, ContainerStatus, Pod, PodCondition, PodStatus } from "kubernetes-types/core/v1";
import type { ContainerObservation, PodObservation } from "../runtime/runtime.ts";

/** What the probes say of each container (absent: no probe of that kind, or no result yet). */
export interface ProbeResults {
  /** Readiness probe results; a container without a readiness probe is ready once running. */
  ready: ReadonlyMap<string, boolean>;
  /** Startup probe results; a container without a startup probe has started once running. */
  started: ReadonlyMap<string, boolean>;
}

export const NO_PROBE_RESULTS: ProbeResults = { ready: new Map(), started: new Map() };

export function isRestartableInit(container: Container): boolean {
  return container.restartPolicy === "Always";
}

function isTerminal(phase: string | undefined): boolean {
  return phase === "Succeeded" || phase === "Failed";
}

function started(container: Container, observed: ContainerObservation, probes: ProbeResults): boolean {
  if (!("running" in observed.state)) return false;
  return container.startupProbe ? probes.started.get(container.name) === true : true;
}

function ready(container: Container, observed: ContainerObservation, probes: ProbeResults): boolean {
  if (!started(container, observed, probes)) return false;
  return container.readinessProbe ? probes.ready.get(container.name) === true : true;
}

function succeeded(observed: ContainerObservation | undefined): boolean {
  return !!observed && "terminated" in observed.state && observed.state.terminated.exitCode === 0;
}

/** One container's status: what the runtime saw, or waiting for it ("ContainerCreating", "PodInitializing"). */
function containerStatus(container: Container, observed: ContainerObservation | undefined, init: boolean, waitingReason: string, probes: ProbeResults): ContainerStatus {
  if (!observed) {
    return { name: container.name, state: { waiting: { reason: waitingReason } }, lastState: {}, ready: false, restartCount: 0, image: container.image ?? "", imageID: "", started: false };
  }
  // An init container that ran to completion counts as ready, as the kubelet reports it.
  const isReady = init && !isRestartableInit(container) ? succeeded(observed) : ready(container, observed, probes);
  return {
    name: container.name, state: observed.state, lastState: observed.lastState ?? {}, ready: isReady,
    restartCount: observed.restartCount, image: observed.image, imageID: observed.imageID,
    ...(observed.containerID ? { containerID: observed.containerID } : {}),
    started: init && !isRestartableInit(container) ? false : started(container, observed, probes),
  };
}

/** kubelet's getPhase: Pending until initialized and every container has run, then by restartPolicy. */
export function podPhase(pod: Pod, init: ContainerStatus[], containers: ContainerStatus[]): NonNullable<PodStatus["phase"]> {
  const spec = pod.spec!;
  const restartPolicy = spec.restartPolicy ?? "Always";
  let pendingInitialization = 0;
  let failedInitialization = 0;
  const initSpecs = spec.initContainers ?? [];
  for (const status of init) {
    const container = initSpecs.find((c) => c.name === status.name);
    if (container && isRestartableInit(container)) {
      if (!status.started) pendingInitialization++;
      continue;
    }
    if (status.state?.running) pendingInitialization++;
    else if (status.state?.terminated) {
      if (status.state.terminated.exitCode !== 0) failedInitialization++;
    } else if (status.lastState?.terminated && status.lastState.terminated.exitCode !== 0) failedInitialization++;
    else pendingInitialization++;
  }
  let running = 0, waiting = 0, stopped = 0, ok = 0;
  for (const status of containers) {
    if (status.state?.running) running++;
    else if (status.state?.terminated) {
      stopped++;
      if (status.state.terminated.exitCode === 0) ok++;
    } else if (status.lastState?.terminated) stopped++;
    else waiting++;
  }
  if (failedInitialization > 0 && restartPolicy === "Never") return "Failed";
  const anyRegularStarted = containers.some((s) => s.state?.running || s.state?.terminated || s.lastState?.terminated);
  if ((pendingInitialization > 0 && !anyRegularStarted) || waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (stopped > 0) {
    if (restartPolicy === "Always") return "Running";
    if (stopped === ok) return "Succeeded";
    return restartPolicy === "Never" ? "Failed" : "Running";
  }
  return "Pending";
}

type Condition = Pick<PodCondition, "type" | "status" | "reason" | "message">;

function notReady(type: string, unready: string[], phase: string): Condition {
  if (!unready.length) return { type, status: "True" };
  if (phase === "Succeeded") return { type, status: "False", reason: "PodCompleted" };
  return { type, status: "False", reason: "ContainersNotReady", message: `containers with unready status: [${unready.join(" ")}]` };
}

/** Why the first readiness gate that is not "True" holds the pod back, in the kubelet's words. */
function unmetReadinessGate(pod: Pod): string | undefined {
  for (const { conditionType } of pod.spec?.readinessGates ?? []) {
    const condition = pod.status?.conditions?.find((c) => c.type === conditionType);
    if (!condition) return `corresponding condition of pod readiness gate "${conditionType}" does not exist.`;
    if (condition.status !== "True") return `the status of pod readiness gate "${conditionType}" is not "True", but ${condition.status}`;
  }
  return undefined;
}

/** The kubelet's conditions, in the order it writes them. */
function kubeletConditions(pod: Pod, observation: PodObservation | undefined, init: ContainerStatus[], containers: ContainerStatus[], phase: string): Condition[] {
  const initSpecs = pod.spec?.initContainers ?? [];
  const incomplete = init.filter((s) => {
    const container = initSpecs.find((c) => c.name === s.name);
    return container && isRestartableInit(container) ? !s.started : !s.ready;
  }).map((s) => s.name);
  const initialized: Condition = !incomplete.length
    ? { type: "Initialized", status: "True" }
    : phase === "Succeeded"
      ? { type: "Initialized", status: "True", reason: "PodCompleted" }
      : { type: "Initialized", status: "False", reason: "ContainersNotInitialized", message: `containers with incomplete status: [${incomplete.join(" ")}]` };
  const sidecars = init.filter((s) => initSpecs.some((c) => c.name === s.name && isRestartableInit(c)));
  const unready = [...sidecars, ...containers].filter((s) => !s.ready).map((s) => s.name);
  const containersReady = notReady("ContainersReady", unready, phase);
  const gate = unmetReadinessGate(pod);
  const readyCondition: Condition = containersReady.status !== "True"
    ? { ...containersReady, type: "Ready" }
    : gate ? { type: "Ready", status: "False", reason: "ReadinessGatesNotReady", message: gate } : { type: "Ready", status: "True" };
  return [
    { type: "PodReadyToStartContainers", status: observation?.sandboxReady ? "True" : "False" },
    initialized,
    readyCondition,
    containersReady,
  ];
}

/** The kubelet's conditions first, then the others' (PodScheduled, DisruptionTarget, gates); transition times kept while unchanged. */
function mergeConditions(previous: PodCondition[] | undefined, kubelet: Condition[], now: string): PodCondition[] {
  const owned = new Set(kubelet.map((c) => c.type));
  const stamped = kubelet.map((c): PodCondition => {
    const before = previous?.find((p) => p.type === c.type);
    const lastTransitionTime = before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : now;
    return { type: c.type, status: c.status, lastTransitionTime, ...(c.reason ? { reason: c.reason } : {}), ...(c.message ? { message: c.message } : {}) };
  });
  const others = (previous ?? []).filter((c) => !owned.has(c.type));
  if (!others.some((c) => c.type === "PodScheduled")) others.push({ type: "PodScheduled", status: "True", lastTransitionTime: now });
  return [...stamped, ...others];
}

/** kube's QoS class: Guaranteed when every container limits cpu and memory at its requests, BestEffort with none at all. */
export function qosClass(pod: Pod): NonNullable<PodStatus["qosClass"]> {
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const requests = c.resources?.requests ?? {};
    const limits = c.resources?.limits ?? {};
    for (const name of ["cpu", "memory"]) {
      if (requests[name] !== undefined || limits[name] !== undefined) any = true;
      const request = requests[name] ?? limits[name];
      if (limits[name] === undefined || String(request) !== String(limits[name])) guaranteed = false;
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

export interface StatusInputs {
  pod: Pod;
  observation: PodObservation | undefined;
  probes: ProbeResults;
  hostIPs: string[];
  /** RFC 3339, seconds: condition transition and start times. */
  now: string;
}

/** The status the kubelet would write for the pod now. A terminal phase never changes back. */
export function computePodStatus({ pod, observation, probes, hostIPs, now }: StatusInputs): PodStatus {
  const spec = pod.spec!;
  const previous = pod.status ?? {};
  const initSpecs = spec.initContainers ?? [];
  const observedInit = new Map((observation?.initContainers ?? []).map((c) => [c.name, c]));
  const observed = new Map((observation?.containers ?? []).map((c) => [c.name, c]));
  const initStatuses = initSpecs.map((c) => containerStatus(c, observedInit.get(c.name), true, "PodInitializing", probes));
  const initialized = initSpecs.every((c, i) => (isRestartableInit(c) ? initStatuses[i]!.started : initStatuses[i]!.ready));
  const containerWaiting = initialized ? "ContainerCreating" : "PodInitializing";
  const containerStatuses = spec.containers.map((c) => containerStatus(c, observed.get(c.name), false, containerWaiting, probes));
  const phase = isTerminal(previous.phase) ? previous.phase! : podPhase(pod, initStatuses, containerStatuses);
  const podIPs = observation?.podIPs ?? previous.podIPs?.map((p) => p.ip) ?? [];
  return {
    phase,
    conditions: mergeConditions(previous.conditions, kubeletConditions(pod, observation, initStatuses, containerStatuses, phase), now),
    ...(previous.message ? { message: previous.message } : {}),
    ...(previous.reason ? { reason: previous.reason } : {}),
    hostIP: hostIPs[0],
    hostIPs: hostIPs.map((ip) => ({ ip })),
    ...(podIPs.length ? { podIP: podIPs[0], podIPs: podIPs.map((ip) => ({ ip })) } : {}),
    startTime: previous.startTime ?? now,
    ...(initSpecs.length ? { initContainerStatuses: initStatuses } : {}),
    containerStatuses,
    qosClass: previous.qosClass ?? qosClass(pod),
  };
}
