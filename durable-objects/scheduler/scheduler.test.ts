// The Scheduler as a Durable Object drives it: informer events in, scheduling attempts and binding
// outcomes out, with a hand-moved clock and a binder that records (or refuses) bindings.
import type { Node, Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { Events } from "./framework/events.ts";
import { nodeChangeEvents, Scheduler, truncateMessage, type SchedulingAttempt } from "./scheduler.ts";
import { makeNode, makePod, testClock } from "./testing.ts";

function setup(nodes: Node[] = [makeNode("n1")]) {
  const clock = testClock();
  const bindings: string[] = [];
  let refusal: string | undefined;
  const s = new Scheduler({
    now: clock.now,
    random: () => 0,
    binder: async (pod, node) => {
      if (refusal) throw new Error(refusal);
      bindings.push(`${pod.key}→${node}`);
    },
  });
  for (const n of nodes) s.nodes.onAdd!(n);
  return { s, clock, bindings, refuse: (message: string | undefined) => { refusal = message; } };
}

/** The pod as the API shows it once bound. */
const bound = (pod: Pod, node: string): Pod => ({ ...pod, spec: { ...pod.spec!, nodeName: node } });

function expectAssumed(a: SchedulingAttempt | undefined, node: string) {
  expect(a?.kind === "unschedulable" ? a.message : a?.kind).toBe("assumed");
  if (a?.kind !== "assumed") throw new Error("not assumed");
  expect(a.nodeName).toBe(node);
  return a;
}

describe("Scheduler", () => {
  it("schedules and binds a new pod, answering the Scheduled event's note", async () => {
    const { s, bindings } = setup();
    s.pods.onAdd!(makePod("p"));
    const attempt = expectAssumed(s.scheduleNext(), "n1");
    expect(s.snapshot.isAssumed("default/p")).toBe(true);
    const outcome = await s.bind(attempt);
    expect(outcome).toMatchObject({ kind: "bound", nodeName: "n1", eventMessage: "Successfully assigned default/p to n1" });
    expect(bindings).toEqual(["default/p→n1"]);
    expect(s.scheduleNext()).toBeUndefined();
  });

  it("confirms an assumed pod when the API shows it bound", async () => {
    const { s } = setup();
    const pod = makePod("p", { requests: { cpu: "1" } });
    s.pods.onAdd!(pod);
    await s.bind(expectAssumed(s.scheduleNext(), "n1"));
    s.pods.onUpdate!(pod, bound(pod, "n1"));
    expect(s.snapshot.isAssumed("default/p")).toBe(false);
    expect(s.snapshot.node("n1")!.requested.milliCPU).toBe(1000);
    expect(s.placement("default", "p")).toBeUndefined();
  });

  it("leaves pods for another scheduler pending", () => {
    const { s } = setup();
    s.pods.onAdd!(makePod("p", { schedulerName: "other-scheduler" }));
    expect(s.scheduleNext()).toBeUndefined();
    expect(s.placement("default", "p")).toBeUndefined();
  });

  it("counts an assumed pod before its binding lands: no node goes over capacity", () => {
    const { s } = setup([makeNode("n1", { cpu: "4" })]);
    s.pods.onAdd!(makePod("a", { requests: { cpu: "3" } }));
    s.pods.onAdd!(makePod("b", { requests: { cpu: "3" } }));
    expectAssumed(s.scheduleNext(), "n1");
    const second = s.scheduleNext();
    expect(second).toMatchObject({
      kind: "unschedulable", reason: "Unschedulable", placement: "unschedulable",
      message: "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod..",
    });
  });

  it("forgets a pod whose binding failed, frees its room and retries it after back-off", async () => {
    const { s, clock, refuse } = setup([makeNode("n1", { cpu: "4" })]);
    s.pods.onAdd!(makePod("a", { requests: { cpu: "3" } }));
    const attempt = expectAssumed(s.scheduleNext(), "n1");
    refuse("Operation cannot be fulfilled on pods/binding \"a\": pod a is being deleted");
    const outcome = await s.bind(attempt);
    expect(outcome).toMatchObject({
      kind: "unschedulable", reason: "SchedulerError", placement: "backoff", nominatedNodeName: "",
      message: 'running Bind plugin "DefaultBinder": Operation cannot be fulfilled on pods/binding "a": pod a is being deleted',
    });
    expect(s.snapshot.isAssumed("default/a")).toBe(false);
    expect(s.snapshot.node("n1")!.requested.milliCPU).toBe(0);
    refuse(undefined);
    expect(s.scheduleNext()).toBeUndefined();
    clock.advance(1000);
    expectAssumed(s.scheduleNext(), "n1");
  });

  it("retries an unschedulable pod when a node that fits it is added", () => {
    const { s } = setup([makeNode("small", { cpu: "1" })]);
    s.pods.onAdd!(makePod("p", { requests: { cpu: "2" } }));
    expect(s.scheduleNext()?.kind).toBe("unschedulable");
    s.nodes.onAdd!(makeNode("too-small", { cpu: "1" }));
    expect(s.placement("default", "p")).toBe("unschedulable");
    s.nodes.onAdd!(makeNode("big", { cpu: "4" }));
    expect(s.placement("default", "p")).toBe("backoff");
  });

  it("retries a pod kept off by a taint when the taint goes", () => {
    const tainted = makeNode("n1", { taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] });
    const { s, clock } = setup([tainted]);
    s.pods.onAdd!(makePod("p"));
    expect(s.scheduleNext()).toMatchObject({ message: "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.." });
    clock.advance(1000);
    s.nodes.onUpdate!(tainted, makeNode("n1"));
    expectAssumed(s.scheduleNext(), "n1");
  });

  it("leaves no pod waiting in the pool while a node it fits is free, with nodes flapping unreachable", async () => {
    // The node lifecycle controller's taint on nodes whose heartbeats come late, on and off, while
    // pods arrive and bind (a fixed pseudo-random sequence, so the run is the same every time).
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const unreachable = [{ key: "node.kubernetes.io/unreachable", effect: "NoSchedule" }];
    const nodes = ["n1", "n2", "n3"].map((name) => makeNode(name, { cpu: "100", pods: "1000" }));
    const { s, clock } = setup(nodes);
    const pods = new Map<string, Pod>();
    let rejected = 0;
    for (let step = 0, created = 0; step < 150; step++) {
      clock.advance(Math.floor(random() * 3000));
      nodes.forEach((node, i) => {
        if (random() >= 0.3) return;
        const next = makeNode(node.metadata!.name!, { cpu: "100", pods: "1000", taints: node.spec?.taints ? undefined : unreachable });
        s.nodes.onUpdate!(node, next);
        nodes[i] = next;
      });
      for (let k = 0; k < 3; k++, created++) {
        const pod = makePod(`p${created}`, { requests: { cpu: "10m" } });
        pods.set(pod.metadata!.name!, pod);
        s.pods.onAdd!(pod);
      }
      const placed: [Pod, string][] = [];
      for (let a = s.scheduleNext(); a; a = s.scheduleNext()) {
        if (a.kind === "unschedulable") rejected++;
        else if ((await s.bind(a)).kind === "bound") placed.push([pods.get(a.pod.name)!, a.nodeName]);
      }
      if (nodes.some((n) => !n.spec?.taints)) expect(s.queue.counts()).toMatchObject({ active: 0, unschedulable: 0 });
      for (const [pod, node] of placed) {
        s.pods.onUpdate!(pod, bound(pod, node));
        pods.set(pod.metadata!.name!, bound(pod, node));
      }
    }
    expect(rejected).toBeGreaterThan(10);
  });

  it("holds a gated pod until its gates are removed", () => {
    const { s } = setup();
    const gated = makePod("p", { schedulingGates: ["example.com/quota"] });
    s.pods.onAdd!(gated);
    expect(s.placement("default", "p")).toBe("gated");
    expect(s.scheduleNext()).toBeUndefined();
    expect(s.nextWakeAt()).toBeUndefined();
    s.pods.onUpdate!(gated, makePod("p"));
    expectAssumed(s.scheduleNext(), "n1");
  });

  it("preempts: nominates the node, names the victim, keeps lower pods off it, and places the pod once the victim is gone", () => {
    const { s, clock } = setup([makeNode("n1", { cpu: "2" })]);
    const low = makePod("low", { nodeName: "n1", priority: 1, requests: { cpu: "2" }, startTime: "2024-01-01T00:00:00Z" });
    s.pods.onAdd!(low);
    s.pods.onAdd!(makePod("high", { priority: 1000, requests: { cpu: "1" } }));
    const attempt = s.scheduleNext();
    expect(attempt).toMatchObject({ kind: "unschedulable", reason: "Unschedulable", nominatedNodeName: "n1", message: "0/1 nodes are available: 1 Insufficient cpu." });
    if (attempt?.kind !== "unschedulable") throw new Error("expected preemption");
    expect(attempt.preemption?.victims.map((v) => v.name)).toEqual(["low"]);
    // The runtime evicts the victim. A lower-priority pod scheduled while the preemptor still backs
    // off must not take the room: the preemptor is nominated there and counts.
    s.pods.onDelete!(low);
    s.pods.onAdd!(makePod("mid", { priority: 500, requests: { cpu: "1500m" } }));
    expect(s.scheduleNext()).toMatchObject({ kind: "unschedulable", pod: { name: "mid" }, message: expect.stringMatching(/^0\/1 nodes are available: 1 Insufficient cpu\./) });
    clock.advance(1000);
    const next = expectAssumed(s.scheduleNext(), "n1");
    expect(next.pod.name).toBe("high");
  });

  it("does not count a pod twice while its binding is in flight, as assumed and as nominated", () => {
    const { s } = setup([makeNode("n1", { cpu: "2" })]);
    const pod = makePod("p", { requests: { cpu: "1" } });
    s.pods.onAdd!(pod);
    expectAssumed(s.scheduleNext(), "n1");
    // The runtime's status write (a nomination from an earlier preemption) comes back before the binding.
    s.pods.onUpdate!(pod, makePod("p", { requests: { cpu: "1" }, nominatedNodeName: "n1" }));
    expect(s.snapshot.nominatedPods("n1")).toEqual([]);
    s.pods.onAdd!(makePod("q", { requests: { cpu: "1" } }));
    expectAssumed(s.scheduleNext(), "n1");
  });

  it("accounts for pods bound by someone else", () => {
    const { s } = setup([makeNode("n1", { cpu: "2" })]);
    s.pods.onAdd!(makePod("static", { nodeName: "n1", requests: { cpu: "2" } }));
    s.pods.onAdd!(makePod("p", { requests: { cpu: "1" } }));
    expect(s.scheduleNext()).toMatchObject({ kind: "unschedulable" });
  });

  it("drops a pending pod that was bound elsewhere or deleted", () => {
    const { s } = setup([makeNode("n1", { cpu: "1" })]);
    const a = makePod("a", { requests: { cpu: "2" } });
    const b = makePod("b", { requests: { cpu: "2" } });
    s.pods.onAdd!(a);
    s.pods.onAdd!(b);
    s.pods.onUpdate!(a, bound(a, "n1"));
    s.pods.onDelete!(b);
    expect([s.placement("default", "a"), s.placement("default", "b")]).toEqual([undefined, undefined]);
    expect(s.scheduleNext()).toBeUndefined();
  });

  it("treats a pod that finished as gone from its node", () => {
    const { s } = setup([makeNode("n1", { cpu: "1" })]);
    const job = makePod("job", { nodeName: "n1", requests: { cpu: "1" } });
    s.pods.onAdd!(job);
    s.pods.onAdd!(makePod("p", { requests: { cpu: "1" } }));
    expect(s.scheduleNext()?.kind).toBe("unschedulable");
    s.pods.onUpdate!(job, makePod("job", { nodeName: "n1", requests: { cpu: "1" }, phase: "Succeeded" }));
    expect(s.snapshot.node("n1")!.pods).toHaveLength(0);
    expect(s.placement("default", "p")).toBe("backoff");
  });

  it("answers an internal error as SchedulerError and clears the nomination", () => {
    const { s } = setup();
    s.persistentVolumeClaims.onAdd!({ metadata: { name: "data", namespace: "default" }, spec: { storageClassName: "fast" } });
    s.pods.onAdd!(makePod("p", { volumes: [{ name: "v", persistentVolumeClaim: { claimName: "data" } }] }));
    expect(s.scheduleNext()).toMatchObject({
      kind: "unschedulable", reason: "SchedulerError", nominatedNodeName: "", placement: "backoff",
      message: 'running PreFilter plugin "VolumeBinding": storageclass.storage.k8s.io "fast" not found',
    });
  });

  it("retries a pod waiting for its claim when the claim is bound", () => {
    const { s, clock } = setup();
    const claim = { metadata: { name: "data", namespace: "default" }, spec: { storageClassName: "" } };
    s.persistentVolumeClaims.onAdd!(claim);
    s.pods.onAdd!(makePod("p", { volumes: [{ name: "v", persistentVolumeClaim: { claimName: "data" } }] }));
    expect(s.scheduleNext()).toMatchObject({ message: "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.." });
    s.persistentVolumes.onAdd!({ metadata: { name: "pv1" }, spec: {} });
    clock.advance(1000);
    s.persistentVolumeClaims.onUpdate!(claim, { ...claim, metadata: { ...claim.metadata, annotations: { "pv.kubernetes.io/bind-completed": "yes" } }, spec: { storageClassName: "", volumeName: "pv1" } });
    expectAssumed(s.scheduleNext(), "n1");
  });

  it("sets the alarm by the queue: now with active pods, the back-off's end, or nothing", () => {
    const { s, clock } = setup([makeNode("n1", { cpu: "1" })]);
    expect(s.nextWakeAt()).toBeUndefined();
    s.pods.onAdd!(makePod("p", { requests: { cpu: "2" } }));
    expect(s.nextWakeAt()).toBe(clock.now());
    s.scheduleNext();
    expect(s.nextWakeAt()).toBe(clock.now() + 300_000);
  });
});

describe("nodeChangeEvents", () => {
  const base = makeNode("n", { labels: { a: "1" } });
  const cases: [string, Node, string[]][] = [
    ["nothing changed", makeNode("n", { labels: { a: "1" } }), []],
    ["a label", makeNode("n", { labels: { a: "2" } }), ["NodeLabelChange"]],
    ["allocatable", makeNode("n", { labels: { a: "1" }, cpu: "8" }), ["NodeAllocatableChange"]],
    ["a taint", makeNode("n", { labels: { a: "1" }, taints: [{ key: "k", effect: "NoSchedule" }] }), ["NodeTaintChange"]],
    ["a condition", { ...base, status: { ...base.status, conditions: [{ type: "Ready", status: "True" }] } }, ["NodeConditionChange"]],
    ["an annotation", { ...base, metadata: { ...base.metadata, annotations: { x: "y" } } }, ["NodeAnnotationChange"]],
  ];
  for (const [name, node, want] of cases) it(name, () => expect(nodeChangeEvents(base, node).map((e) => e.label)).toEqual(want));

  it("uncordoning raises NodeSpecUnschedulableChange; cordoning does not", () => {
    const cordoned = makeNode("n", { labels: { a: "1" }, unschedulable: true });
    expect(nodeChangeEvents(cordoned, base)).toEqual([Events.NodeSpecUnschedulableChange]);
    expect(nodeChangeEvents(base, cordoned)).toEqual([]);
  });
});

describe("truncateMessage", () => {
  it("keeps short notes and cuts long ones to 1024 characters", () => {
    expect(truncateMessage("short")).toBe("short");
    const long = "x".repeat(2000);
    expect(truncateMessage(long)).toHaveLength(1024);
    expect(truncateMessage(long).endsWith(" ...")).toBe(true);
  });
});
