// The PodStatus the kubelet reports, from the pod and what the runtime observed: phase by
// restartPolicy, the five conditions with the kubelet's reasons and messages, container statuses
// while waiting, running, restarting and done, and what stays as it was (start time, transition
// times, a terminal phase, the scheduler's condition).
import type { Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import type { ContainerObservation, PodObservation } from "../runtime/runtime.ts";
import { computePodStatus, NO_PROBE_RESULTS, podPhase, qosClass, type ProbeResults } from "./status.ts";

const NOW = "2026-12-07T12:00:00Z";
const EARLIER = "2026-12-07T11:00:00Z";

function pod(spec: Partial<NonNullable<Pod["spec"]>> = {}, status: Pod["status"] = {}): Pod {
  return {
    metadata: { name: "web", namespace: "default", uid: "u1" },
    spec: { containers: [{ name: "web", image: "busybox" }], ...spec },
    status: { conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: EARLIER }], qosClass: "BestEffort", ...status },
  };
}

const running = (name: string, extra: Partial<ContainerObservation> = {}): ContainerObservation => ({
  name, image: "busybox", imageID: "sha256:1", containerID: `containerd://${name}`, state: { running: { startedAt: EARLIER } }, restartCount: 0, started: true, ...extra,
});
const exited = (name: string, exitCode: number): ContainerObservation => ({
  name, image: "busybox", imageID: "sha256:1", containerID: `containerd://${name}`, restartCount: 0,
  state: { terminated: { exitCode, reason: exitCode ? "Error" : "Completed", startedAt: EARLIER, finishedAt: NOW } },
});
const observed = (containers: ContainerObservation[], initContainers: ContainerObservation[] = []): PodObservation => ({ uid: "u1", sandboxReady: true, podIPs: ["10.244.0.5"], containers, initContainers });
const status = (p: Pod, observation: PodObservation | undefined, probes: ProbeResults = NO_PROBE_RESULTS) => computePodStatus({ pod: p, observation, probes, hostIPs: ["192.0.2.2"], now: NOW });
const conditions = (s: ReturnType<typeof status>) => s.conditions!.map((c) => [c.type, c.status, c.reason ?? "", c.message ?? ""]);

describe("computePodStatus", () => {
  it("reports a pod the runtime has not started yet as Pending, ContainerCreating, no IP", () => {
    const s = status(pod(), undefined);
    expect(s.phase).toBe("Pending");
    expect(s.podIP).toBeUndefined();
    expect(s.hostIP).toBe("192.0.2.2");
    expect(s.startTime).toBe(NOW);
    expect(s.containerStatuses).toEqual([{ name: "web", state: { waiting: { reason: "ContainerCreating" } }, lastState: {}, ready: false, restartCount: 0, image: "busybox", imageID: "", started: false }]);
    expect(conditions(s)).toEqual([
      ["PodReadyToStartContainers", "False", "", ""],
      ["Initialized", "True", "", ""],
      ["Ready", "False", "ContainersNotReady", "containers with unready status: [web]"],
      ["ContainersReady", "False", "ContainersNotReady", "containers with unready status: [web]"],
      ["PodScheduled", "True", "", ""],
    ]);
  });

  it("reports a running pod Running and Ready with its IPs, keeping the scheduler's condition and the start time", () => {
    const s = status(pod({}, { startTime: EARLIER, conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: EARLIER }] }), observed([running("web")]));
    expect(s.phase).toBe("Running");
    expect(s.podIP).toBe("10.244.0.5");
    expect(s.podIPs).toEqual([{ ip: "10.244.0.5" }]);
    expect(s.hostIPs).toEqual([{ ip: "192.0.2.2" }]);
    expect(s.startTime).toBe(EARLIER);
    expect(s.qosClass).toBe("BestEffort");
    expect(conditions(s).map(([type, st]) => `${type}=${st}`)).toEqual(["PodReadyToStartContainers=True", "Initialized=True", "Ready=True", "ContainersReady=True", "PodScheduled=True"]);
    expect(s.conditions!.find((c) => c.type === "PodScheduled")!.lastTransitionTime).toBe(EARLIER);
    expect(s.containerStatuses![0]).toMatchObject({ ready: true, started: true, containerID: "containerd://web", imageID: "sha256:1" });
  });

  it("keeps a condition's transition time while its status holds, and moves it when it changes", () => {
    const before = status(pod(), observed([running("web")]));
    const again = status(pod({}, { ...before, conditions: before.conditions!.map((c) => ({ ...c, lastTransitionTime: EARLIER })) }), observed([running("web")]));
    expect(again.conditions!.every((c) => c.lastTransitionTime === EARLIER)).toBe(true);
    const unready = status(pod({ containers: [{ name: "web", image: "busybox", readinessProbe: { exec: { command: ["true"] } } }] }, { ...again }), observed([running("web")]), { ready: new Map([["web", false]]), started: new Map() });
    expect(unready.conditions!.find((c) => c.type === "Ready")).toEqual({ type: "Ready", status: "False", reason: "ContainersNotReady", message: "containers with unready status: [web]", lastTransitionTime: NOW });
    expect(unready.conditions!.find((c) => c.type === "Initialized")!.lastTransitionTime).toBe(EARLIER);
  });

  it("holds Ready until the readiness probe passes, and started until the startup probe passes", () => {
    const p = pod({ containers: [{ name: "web", image: "busybox", readinessProbe: { exec: { command: ["true"] } }, startupProbe: { exec: { command: ["true"] } } }] });
    const none = status(p, observed([running("web")]));
    expect(none.containerStatuses![0]).toMatchObject({ ready: false, started: false });
    const startedOnly = status(p, observed([running("web")]), { ready: new Map(), started: new Map([["web", true]]) });
    expect(startedOnly.containerStatuses![0]).toMatchObject({ ready: false, started: true });
    const both = status(p, observed([running("web")]), { ready: new Map([["web", true]]), started: new Map([["web", true]]) });
    expect(both.containerStatuses![0]).toMatchObject({ ready: true, started: true });
  });

  it("runs init containers first: PodInitializing, then Initialized with the incomplete ones named", () => {
    const p = pod({ initContainers: [{ name: "setup", image: "busybox" }, { name: "migrate", image: "busybox" }] });
    const s = status(p, observed([], [exited("setup", 0), running("migrate")]));
    expect(s.phase).toBe("Pending");
    expect(s.initContainerStatuses!.map((c) => [c.name, c.ready])).toEqual([["setup", true], ["migrate", false]]);
    expect(s.containerStatuses![0]!.state).toEqual({ waiting: { reason: "PodInitializing" } });
    expect(conditions(s)[1]).toEqual(["Initialized", "False", "ContainersNotInitialized", "containers with incomplete status: [migrate]"]);
    const done = status(p, observed([running("web")], [exited("setup", 0), exited("migrate", 0)]));
    expect(done.phase).toBe("Running");
    expect(conditions(done)[1]).toEqual(["Initialized", "True", "", ""]);
  });

  it("fails a pod whose init container failed under restartPolicy Never", () => {
    const p = pod({ restartPolicy: "Never", initContainers: [{ name: "setup", image: "busybox" }] });
    expect(status(p, observed([], [exited("setup", 1)])).phase).toBe("Failed");
  });

  it("counts sidecars (restartable init containers) as started and in ContainersReady", () => {
    const p = pod({ initContainers: [{ name: "proxy", image: "envoy", restartPolicy: "Always" }] });
    const s = status(p, observed([running("web")], [running("proxy")]));
    expect(s.phase).toBe("Running");
    expect(conditions(s).slice(1, 4).map(([t, st]) => `${t}=${st}`)).toEqual(["Initialized=True", "Ready=True", "ContainersReady=True"]);
  });

  it("ends a pod by its restartPolicy: Succeeded, Failed, or Running while it restarts", () => {
    expect(status(pod({ restartPolicy: "Never" }), observed([exited("web", 0)])).phase).toBe("Succeeded");
    expect(status(pod({ restartPolicy: "Never" }), observed([exited("web", 2)])).phase).toBe("Failed");
    expect(status(pod({ restartPolicy: "OnFailure" }), observed([exited("web", 2)])).phase).toBe("Running");
    expect(status(pod({ restartPolicy: "Always" }), observed([exited("web", 0)])).phase).toBe("Running");
    const completed = status(pod({ restartPolicy: "Never" }), observed([exited("web", 0)]));
    expect(conditions(completed).slice(1, 4)).toEqual([["Initialized", "True", "", ""], ["Ready", "False", "PodCompleted", ""], ["ContainersReady", "False", "PodCompleted", ""]]);
  });

  it("reports a crash-looping container waiting with its last termination, the pod Running", () => {
    const crashing: ContainerObservation = {
      ...running("web"), restartCount: 3,
      state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 40s restarting failed container=web pod=web_default(u1)" } },
      lastState: { terminated: { exitCode: 1, reason: "Error", finishedAt: EARLIER } },
    };
    const s = status(pod(), observed([crashing]));
    expect(s.phase).toBe("Running");
    expect(s.containerStatuses![0]).toMatchObject({ restartCount: 3, ready: false, started: false, lastState: { terminated: { exitCode: 1, reason: "Error" } } });
  });

  it("never moves a pod back from a terminal phase", () => {
    expect(status(pod({}, { phase: "Failed", reason: "OutOfcpu", message: "Pod was rejected: ..." }), undefined)).toMatchObject({ phase: "Failed", reason: "OutOfcpu" });
  });

  it("says which readiness gate holds a ready pod back", () => {
    const p = pod({ readinessGates: [{ conditionType: "example.com/lb" }] });
    expect(status(p, observed([running("web")])).conditions!.find((c) => c.type === "Ready")).toMatchObject({
      status: "False", reason: "ReadinessGatesNotReady", message: 'corresponding condition of pod readiness gate "example.com/lb" does not exist.',
    });
  });
});

describe("podPhase and qosClass", () => {
  it("is Pending while a container waits to be created", () => {
    expect(podPhase(pod(), [], [{ name: "web", state: { waiting: { reason: "ContainerCreating" } }, ready: false, restartCount: 0, image: "", imageID: "" }])).toBe("Pending");
  });

  it("classes pods as kube does", () => {
    expect(qosClass(pod())).toBe("BestEffort");
    expect(qosClass(pod({ containers: [{ name: "a", resources: { requests: { cpu: "1" } } }] }))).toBe("Burstable");
    expect(qosClass(pod({ containers: [{ name: "a", resources: { limits: { cpu: "1", memory: "1Gi" } } }] }))).toBe("Guaranteed");
    expect(qosClass(pod({ containers: [{ name: "a", resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } } }] }))).toBe("Burstable");
  });
});
