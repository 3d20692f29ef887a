// The scheduling queue with a hand-moved clock: priority order, per-pod back-off, the unschedulable
// pool and the events that empty it, the 5-minute limit, scheduling gates, and restored state.
import { describe, expect, it } from "vitest";
import { Events } from "./framework/events.ts";
import type { QueuedPodInfo } from "./framework/interface.ts";
import { MemorySchedulingQueueStore, SchedulingQueue } from "./queue.ts";
import { defaultFramework, makePod, testClock, TestCluster } from "./testing.ts";

const cluster = new TestCluster();
const fwk = defaultFramework();

function setup(store?: MemorySchedulingQueueStore) {
  const clock = testClock();
  const queue = new SchedulingQueue({
    less: (a, b) => fwk.queueSortLess(a, b), preEnqueue: (p) => fwk.runPreEnqueuePlugins(p), clusterEvents: fwk.clusterEvents(), now: clock.now, store,
    namespaceLabels: () => undefined,
  });
  return { clock, queue };
}

/** Pops `name` and puts it back as failed, rejected by `plugins` (none: an error). */
function fail(queue: SchedulingQueue, name: string, ...plugins: string[]): QueuedPodInfo {
  const q = queue.pop();
  expect(q?.pod.name).toBe(name);
  q!.unschedulablePlugins = new Set(plugins);
  queue.addUnschedulableIfNotPresent(q!, queue.schedulingCycle);
  return q!;
}

const pod = (name: string, o: Parameters<typeof makePod>[1] = {}) => cluster.pod(makePod(name, o));

describe("SchedulingQueue", () => {
  it("pops higher priority first, then first queued", () => {
    const { clock, queue } = setup();
    for (const [name, priority] of [["low", 0], ["high", 100], ["mid", 50], ["low2", 0]] as const) {
      queue.add(pod(name, { priority }));
      clock.advance(1);
    }
    const order = [];
    for (let q = queue.pop(); q; q = queue.pop()) order.push(q.pod.name);
    expect(order).toEqual(["high", "mid", "low", "low2"]);
  });

  it("backs a failing pod off 1 s, doubling per attempt up to 10 s", () => {
    const { clock, queue } = setup();
    queue.add(pod("p"));
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      const q = fail(queue, "p");
      expect(q.attempts).toBe(attempt);
      expect(queue.placement("default/p")).toBe("backoff");
      const wait = queue.nextWakeAt()! - clock.now();
      waits.push(wait);
      clock.advance(wait - 1);
      expect(queue.pop()).toBeUndefined();
      clock.advance(1);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it("retries a rejected pod on an event its rejecting plugin registered for, not on others", () => {
    const { clock, queue } = setup();
    queue.add(pod("p"));
    fail(queue, "p", "NodeResourcesFit");
    expect(queue.placement("default/p")).toBe("unschedulable");
    queue.moveAllToActiveOrBackoffQueue(Events.PvcAdd);
    expect(queue.placement("default/p")).toBe("unschedulable");
    queue.moveAllToActiveOrBackoffQueue(Events.NodeAdd);
    // Still inside its back-off: it waits that out first.
    expect(queue.placement("default/p")).toBe("backoff");
    clock.advance(1000);
    expect(queue.pop()?.pod.name).toBe("p");
  });

  const events: [string, string, keyof typeof Events, boolean][] = [
    ["resources: a pod deleted frees room", "NodeResourcesFit", "AssignedPodDelete", true],
    ["resources: a pod added never frees room", "NodeResourcesFit", "AssignedPodAdd", false],
    ["taints: a taint change", "TaintToleration", "NodeTaintChange", true],
    ["taints: a pod deleted does not help", "TaintToleration", "AssignedPodDelete", false],
    ["node affinity: a label change", "NodeAffinity", "NodeLabelChange", true],
    ["inter-pod affinity: a pod deleted", "InterPodAffinity", "AssignedPodDelete", true],
    ["inter-pod affinity: node allocatable does not matter", "InterPodAffinity", "NodeAllocatableChange", false],
    ["topology spread: a label change", "PodTopologySpread", "NodeLabelChange", true],
    ["volumes: a claim added", "VolumeBinding", "PvcAdd", true],
    ["volumes: a pod deleted does not bind claims", "VolumeBinding", "AssignedPodDelete", false],
    ["cordon: the node made schedulable again", "NodeUnschedulable", "NodeSpecUnschedulableChange", true],
    ["anything: the 5-minute timeout", "TaintToleration", "UnschedulableTimeout", true],
  ];
  for (const [name, plugin, event, moves] of events) {
    it(`which events retry a pod: ${name}`, () => {
      const { clock, queue } = setup();
      queue.add(pod("p"));
      fail(queue, "p", plugin);
      clock.advance(1000);
      queue.moveAllToActiveOrBackoffQueue(Events[event]);
      expect(queue.placement("default/p")).toBe(moves ? "active" : "unschedulable");
    });
  }

  it("sends a pod to back-off when an event arrived while it was being scheduled", () => {
    const { queue } = setup();
    queue.add(pod("p"));
    const q = queue.pop()!;
    const cycle = queue.schedulingCycle;
    queue.moveAllToActiveOrBackoffQueue(Events.NodeAdd);
    q.unschedulablePlugins = new Set(["NodeResourcesFit"]);
    expect(queue.addUnschedulableIfNotPresent(q, cycle)).toBe("backoff");
  });

  it("retries an unschedulable pod after 5 minutes whatever rejected it", () => {
    const { clock, queue } = setup();
    queue.add(pod("p"));
    fail(queue, "p", "TaintToleration");
    expect(queue.nextWakeAt()).toBe(clock.now() + 300_000);
    clock.advance(299_999);
    expect(queue.pop()).toBeUndefined();
    clock.advance(1);
    expect(queue.pop()?.pod.name).toBe("p");
  });

  it("holds a gated pod until an update removes its gates", () => {
    const { clock, queue } = setup();
    expect(queue.add(pod("p", { schedulingGates: ["example.com/wait"] }))).toBe("gated");
    expect(queue.pop()).toBeUndefined();
    expect(queue.nextWakeAt()).toBeUndefined();
    clock.advance(600_000);
    expect(queue.pop()).toBeUndefined();
    expect(queue.update(undefined, pod("p", { schedulingGates: ["example.com/wait"], nominatedNodeName: "x" }))).toBe("gated");
    expect(queue.update(undefined, pod("p"))).toBe("active");
    expect(queue.pop()?.pod.name).toBe("p");
    expect(queue.counts()).toEqual({ active: 0, backoff: 0, unschedulable: 0, gated: 0 });
  });

  it("retries an unschedulable pod whose spec or labels changed, not one whose status did", () => {
    const { clock, queue } = setup();
    queue.add(pod("p", { labels: { v: "1" } }));
    fail(queue, "p", "TaintToleration");
    clock.advance(1000);
    expect(queue.update(undefined, pod("p", { labels: { v: "1" }, nominatedNodeName: "n1" }))).toBe("unschedulable");
    expect(queue.update(undefined, pod("p", { labels: { v: "2" } }))).toBe("active");
  });

  it("retries pods with required affinity to a newly placed pod, and spread-rejected pods of its namespace", () => {
    const { clock, queue } = setup();
    const affine = pod("affine", { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: "db" } }, topologyKey: "kubernetes.io/hostname" }] } } });
    queue.add(affine);
    fail(queue, "affine", "InterPodAffinity");
    queue.add(pod("spread", { namespace: "other" }));
    fail(queue, "spread", "PodTopologySpread");
    clock.advance(1000);
    queue.assignedPodAdded(pod("web", { nodeName: "n1", labels: { app: "web" } }));
    expect([queue.placement("default/affine"), queue.placement("other/spread")]).toEqual(["unschedulable", "unschedulable"]);
    queue.assignedPodAdded(pod("db", { nodeName: "n1", labels: { app: "db" } }));
    expect(queue.placement("default/affine")).toBe("active");
    queue.assignedPodAdded(pod("x", { namespace: "other", nodeName: "n1" }));
    expect(queue.placement("other/spread")).toBe("active");
  });

  it("leaves pods a node event's pre-check says do not fit that node", () => {
    const { clock, queue } = setup();
    queue.add(pod("p"));
    fail(queue, "p", "NodeResourcesFit");
    clock.advance(1000);
    queue.moveAllToActiveOrBackoffQueue(Events.NodeAdd, () => false);
    expect(queue.placement("default/p")).toBe("unschedulable");
  });

  it("moves a pod that failed with an error (no rejecting plugin) on any event", () => {
    const { clock, queue } = setup();
    queue.add(pod("p"));
    const q = queue.pop()!;
    queue.moveAllToActiveOrBackoffQueue(Events.NodeAdd);
    queue.addUnschedulableIfNotPresent(q, queue.schedulingCycle);
    clock.advance(1000);
    expect(queue.pop()?.pod.name).toBe("p");
  });

  it("forgets a deleted pod everywhere", () => {
    const store = new MemorySchedulingQueueStore();
    const { queue } = setup(store);
    queue.add(pod("p"));
    fail(queue, "p", "NodeResourcesFit");
    queue.saveState();
    expect(store.records.size).toBe(1);
    queue.delete("default/p");
    queue.saveState();
    expect(queue.placement("default/p")).toBeUndefined();
    expect(store.records.size).toBe(0);
  });

  it("writes the state of pods still waiting when asked, and none for a pod placed meanwhile", () => {
    const store = new MemorySchedulingQueueStore();
    const { queue } = setup(store);
    queue.add(pod("placed"));
    queue.add(pod("waiting"));
    expect(queue.pop()?.pod.name).toBe("placed");
    fail(queue, "waiting", "NodeResourcesFit");
    queue.saveState();
    expect([...store.records.keys()]).toEqual(["default/waiting"]);
    expect(store.records.get("default/waiting")).toMatchObject({ queue: "unschedulable", attempts: 1, unschedulablePlugins: ["NodeResourcesFit"] });
  });

  it("restores each pod's attempts and standing after a restart; stale records are dropped", () => {
    const store = new MemorySchedulingQueueStore();
    const first = setup(store);
    for (const name of ["pool", "backing", "fresh", "gone"]) {
      first.queue.add(pod(name));
      first.clock.advance(1);
    }
    fail(first.queue, "pool", "TaintToleration");
    fail(first.queue, "backing");
    // "fresh" is re-added below under a new UID: a new pod of the same name starts afresh.
    fail(first.queue, "fresh", "NodeResourcesFit");
    fail(first.queue, "gone", "NodeResourcesFit");
    first.queue.saveState();

    const second = new SchedulingQueue({
      less: (a, b) => fwk.queueSortLess(a, b), preEnqueue: (p) => fwk.runPreEnqueuePlugins(p), clusterEvents: fwk.clusterEvents(), now: first.clock.now, store,
    });
    expect(second.add(pod("pool"))).toBe("unschedulable");
    expect(second.add(pod("backing"))).toBe("backoff");
    expect(second.add(pod("fresh", { uid: "another" }))).toBe("active");
    second.dropUnrestored();
    second.saveState();
    expect([...store.records.keys()].sort()).toEqual(["default/backing", "default/fresh", "default/pool"]);
    second.moveAllToActiveOrBackoffQueue(Events.NodeTaintChange);
    first.clock.advance(1000);
    const popped = [];
    for (let q = second.pop(); q; q = second.pop()) popped.push(`${q.pod.name}:${q.attempts}`);
    expect(popped.sort()).toEqual(["backing:2", "fresh:1", "pool:2"]);
  });
});
