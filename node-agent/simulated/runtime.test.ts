// The simulated runtime moves pods through their lifecycle without containers: addresses from the
// node's range, the kubelet's container Events, a start delay, Job-like pods that complete, failing
// containers that restart with back-off, init containers in order, readiness after a delay, kills,
// and adoption of a pod as its status reports it after an agent restart. Transitions are awaited
// through the runtime's own change notifications.
import type { Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import type { PodObservation, RuntimeEvent } from "../runtime/runtime.ts";
import { SimulatedRuntime, type SimulatedOptions } from "./runtime.ts";

const NO_INPUTS = { env: {}, volumes: {} };
let counter = 0;

function pod(spec: Partial<NonNullable<Pod["spec"]>> = {}, status?: Pod["status"]): Pod {
  const uid = `uid-${++counter}`;
  return { metadata: { name: `p${counter}`, namespace: "default", uid }, spec: { containers: [{ name: "main", image: "busybox:1.36" }], ...spec }, ...(status ? { status } : {}) };
}

function runtime(options: Partial<SimulatedOptions> = {}) {
  const r = new SimulatedRuntime({ podCIDR: "10.244.3.0/24", ...options });
  const changes: string[] = [];
  const waiters: (() => void)[] = [];
  r.onPodChange((uid) => {
    changes.push(uid);
    waiters.splice(0).forEach((w) => w());
  });
  /** Resolves once the pod's observation satisfies `test`, woken by the runtime's change events. */
  const until = async (uid: string, test: (o: PodObservation) => boolean): Promise<PodObservation> => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const o = await r.observe(uid);
      if (o && test(o)) return o;
      if (Date.now() > deadline) throw new Error(`pod ${uid} never got there: ${JSON.stringify(o)}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  return { r, changes, until };
}

describe("SimulatedRuntime", () => {
  it("runs a pod at once with an address from the node's range and the kubelet's Events", async () => {
    const { r } = runtime();
    const events: RuntimeEvent[] = [];
    const p = pod();
    const o = await r.syncPod(p, NO_INPUTS, (e) => events.push(e));
    expect(o.sandboxReady).toBe(true);
    expect(o.podIPs).toEqual(["10.244.3.2"]);
    expect(o.containers[0]).toMatchObject({ name: "main", image: "busybox:1.36", restartCount: 0, started: true, state: { running: { startedAt: expect.any(String) } } });
    expect(events.map((e) => `${e.reason}: ${e.message} (${e.fieldPath})`)).toEqual([
      'Pulled: Container image "busybox:1.36" already present on machine (spec.containers{main})',
      "Created: Created container main (spec.containers{main})",
      "Started: Started container main (spec.containers{main})",
    ]);
    // Every image is present on a hollow node: pull policy Always too gets the one Event, no Pulling.
    const always: RuntimeEvent[] = [];
    const o2 = await r.syncPod(pod({ containers: [{ name: "main", image: "busybox", imagePullPolicy: "Always" }] }), NO_INPUTS, (e) => always.push(e));
    expect(o2.podIPs).toEqual(["10.244.3.3"]);
    expect(always.map((e) => e.reason)).toEqual(["Pulled", "Created", "Started"]);
    expect(always[0]!.message).toBe('Container image "busybox" already present on machine');
    expect(await r.info()).toEqual({ runtimeName: "simulated", runtimeVersion: "0.1.0" });
    await r.close();
  });

  it("starts containers after the configured delay and says when", async () => {
    const { r, until, changes } = runtime({ startDelayMs: 50 });
    const p = pod();
    const first = await r.syncPod(p, NO_INPUTS, () => {});
    expect(first.containers[0]!.state).toEqual({ waiting: { reason: "ContainerCreating" } });
    await until(p.metadata!.uid!, (o) => "running" in o.containers[0]!.state);
    expect(changes).toContain(p.metadata!.uid);
    await r.close();
  });

  it("completes the containers of a pod that does not restart them with exit 0", async () => {
    const { r, until } = runtime({ completeAfterMs: 30 });
    const p = pod({ restartPolicy: "Never" });
    await r.syncPod(p, NO_INPUTS, () => {});
    const o = await until(p.metadata!.uid!, (x) => "terminated" in x.containers[0]!.state);
    expect(o.containers[0]!.state).toMatchObject({ terminated: { exitCode: 0, reason: "Completed" } });
    await r.close();
  });

  it("restarts failing containers at once, then with back-off in CrashLoopBackOff", async () => {
    const { r, until } = runtime({ failureRate: 1, failAfterMs: 20 });
    const events: string[] = [];
    const p = pod();
    await r.syncPod(p, NO_INPUTS, (e) => events.push(e.reason));
    const o = await until(p.metadata!.uid!, (x) => "waiting" in x.containers[0]!.state && x.containers[0]!.restartCount === 1);
    expect(o.containers[0]).toMatchObject({
      restartCount: 1,
      state: { waiting: { reason: "CrashLoopBackOff", message: `back-off 10s restarting failed container=main pod=${p.metadata!.name}_default(${p.metadata!.uid})` } },
      lastState: { terminated: { exitCode: 1, reason: "Error" } },
    });
    expect(events).toContain("BackOff");
    await r.close();
  });

  it("runs init containers to completion before the containers", async () => {
    const { r } = runtime();
    const p = pod({ initContainers: [{ name: "setup", image: "busybox" }, { name: "sidecar", image: "envoy", restartPolicy: "Always" }] });
    const o = await r.syncPod(p, NO_INPUTS, () => {});
    expect(o.initContainers.map((c) => Object.keys(c.state)[0])).toEqual(["terminated", "running"]);
    expect(o.initContainers[0]!.state).toMatchObject({ terminated: { exitCode: 0, reason: "Completed" } });
    expect("running" in o.containers[0]!.state).toBe(true);
    await r.close();
  });

  it("answers readiness probes after the ready delay; a killed container restarts; a killed pod is gone", async () => {
    const { r, until } = runtime({ readyDelayMs: 40 });
    const p = pod();
    const uid = p.metadata!.uid!;
    await r.syncPod(p, NO_INPUTS, () => {});
    expect(await r.probe(uid, "main", "readiness")).toEqual({ success: false, message: "simulated container is not ready yet" });
    expect(await r.probe(uid, "main", "liveness")).toEqual({ success: true });
    const deadline = Date.now() + 5000;
    while (!(await r.probe(uid, "main", "readiness")).success && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    expect((await r.probe(uid, "main", "readiness")).success).toBe(true);

    const killing: string[] = [];
    await r.killContainer(p, "main", 30, "Container main failed liveness probe, will be restarted", (e) => killing.push(`${e.reason}: ${e.message}`));
    expect(killing).toEqual(["Killing: Container main failed liveness probe, will be restarted"]);
    const restarted = await until(uid, (o) => o.containers[0]!.restartCount === 1 && "running" in o.containers[0]!.state);
    expect(restarted.containers[0]!.lastState).toMatchObject({ terminated: { exitCode: 137 } });

    await r.killPod({ uid, namespace: "default", name: p.metadata!.name! }, 30);
    expect(await r.observe(uid)).toBeUndefined();
    expect(await r.listPods()).toEqual([]);
    await r.close();
  });

  it("adopts a pod as its status reports it (after an agent restart): same address, start time, container and restarts", async () => {
    const { r } = runtime();
    const p = pod({}, {
      podIP: "10.244.3.77",
      containerStatuses: [{ name: "main", image: "busybox:1.36", imageID: "x", containerID: "simulated://00000000000a", ready: true, restartCount: 2, state: { running: { startedAt: "2026-12-07T10:00:00Z" } } }],
    });
    const events: RuntimeEvent[] = [];
    const o = await r.syncPod(p, NO_INPUTS, (e) => events.push(e));
    expect(o.podIPs).toEqual(["10.244.3.77"]);
    expect(o.containers[0]).toMatchObject({ containerID: "simulated://00000000000a", restartCount: 2, state: { running: { startedAt: "2026-12-07T10:00:00Z" } } });
    expect(events).toEqual([]);
    await r.close();
  });
});
