// The cri runtime against a real containerd (as root): a private containerd with its own root,
// state, socket and CNI bridge in a temp folder, started for this file and stopped after it.
import { randomUUID } from "node:crypto";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { hostname, networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import type { Container, Pod } from "kubernetes-types/core/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removePodMasquerade } from "../cni/masquerade.ts";
import { startNodeRuntime, type NodeRuntime } from "../containerd/node-runtime.ts";
import type { PodInputs, PodObservation, RuntimeEvent, RuntimeHealth } from "../runtime/runtime.ts";
import { POD_UID } from "./labels.ts";
import { CriRuntime } from "./runtime.ts";

const POD_CIDR = "10.244.213.0/24";
const BRIDGE = "ep-critest0";

/** The back-off's clock: real time plus what a test skips. */
const clock = { skippedMs: 0, now: () => Date.now() + clock.skippedMs };

let dir: string;
let node: NodeRuntime;
let runtime: CriRuntime;
let healthWithoutPodCIDR: RuntimeHealth;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgeplane-cri-"));
  // No podCIDR at first; then the node gets one, as from the node IPAM controller.
  node = await startNodeRuntime({ dir, bridge: BRIDGE });
  runtime = newRuntime();
  healthWithoutPodCIDR = await runtime.health();
  await runtime.updatePodCIDR(POD_CIDR);
  await eventually(async () => ((await runtime.health()).networkReady ? true : undefined));
});

afterAll(async () => {
  if (runtime) {
    for (const pod of await runtime.listPods()) await runtime.killPod(pod, 0);
    await runtime.close();
  }
  await node?.containerd.stop();
  await removePodMasquerade(BRIDGE);
  try {
    execFileSync("ip", ["link", "del", BRIDGE], { stdio: "ignore" });
  } catch {
    // No pod ever made the bridge.
  }
  rmSync(dir, { recursive: true, force: true });
});

function newRuntime(): CriRuntime {
  return new CriRuntime({ endpoint: node.containerd.socket, logsDir: join(dir, "logs"), podsDir: join(dir, "pods"), clock, preloadedImages: node.images, network: node.network });
}

/** Runs until interrupted: SIGTERM ends it at once (a shell as PID 1 ignores signals it does not trap). */
const STAY_UP = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done";

function makePod(name: string, containers: Container[], extra: Partial<Pod["spec"]> = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", uid: randomUUID(), labels: { test: "cri" } },
    spec: { terminationGracePeriodSeconds: 5, ...extra, containers },
  };
}

function inputsFor(volumes: PodInputs["volumes"] = {}): PodInputs {
  return { env: {}, volumes, resolvConf: "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5\n" };
}

/** Syncs the pod until what the runtime sees passes `check`, as the kubelet's pod worker would. */
async function syncUntil(pod: Pod, inputs: PodInputs, check: (o: PodObservation) => boolean, events: RuntimeEvent[] = [], timeoutMs = 20_000): Promise<PodObservation> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const observation = await runtime.syncPod(pod, inputs, (e) => events.push(e));
    if (check(observation)) return observation;
    if (Date.now() > deadline) throw new Error(`pod ${pod.metadata!.name} never got there: ${JSON.stringify(observation)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function cleanUp(pod: Pod): Promise<void> {
  await runtime.killPod({ uid: pod.metadata!.uid!, namespace: "default", name: pod.metadata!.name! }, 0);
}

function inPodCIDR(ip: string): boolean {
  return ip.startsWith("10.244.213.");
}

describe("cri runtime on a private containerd", () => {
  it("says what it is, and that its network is ready once it has the node's podCIDR", async () => {
    expect(await runtime.info()).toMatchObject({ runtimeName: "containerd" });
    expect(healthWithoutPodCIDR).toEqual({
      runtimeReady: true,
      networkReady: false,
      message: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
    });
    expect(await runtime.health()).toEqual({ runtimeReady: true, networkReady: true });
  });

  it("gives a pod an IP from the podCIDR and serves HTTP from it in one sync", async () => {
    const pod = makePod("web", [{ name: "web", image: "busybox", command: ["sh", "-c", `echo hello from $(hostname) > /tmp/index.html && httpd -p 8080 -h /tmp && ${STAY_UP}`] }]);
    const events: RuntimeEvent[] = [];
    try {
      const started = Date.now();
      const observation = await runtime.syncPod(pod, inputsFor(), (e) => events.push(e));
      const elapsed = Date.now() - started;
      console.log(`create → running: ${elapsed} ms`);
      expect(observation.sandboxReady).toBe(true);
      expect(observation.containers[0]).toMatchObject({ name: "web", restartCount: 0, started: true, image: "docker.io/library/busybox:latest", state: { running: {} } });
      expect(observation.containers[0]!.containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
      const ip = observation.podIPs[0]!;
      expect(inPodCIDR(ip)).toBe(true);
      const body = await eventually(async () => {
        const response = await fetch(`http://${ip}:8080/index.html`, { signal: AbortSignal.timeout(1000) });
        return response.ok ? response.text() : undefined;
      });
      expect(body).toBe("hello from web\n");
      expect(events.map((e) => [e.reason, e.message, e.fieldPath])).toEqual([
        ["Pulled", 'Container image "busybox" already present on machine', "spec.containers{web}"],
        ["Created", "Created container web", "spec.containers{web}"],
        ["Started", "Started container web", "spec.containers{web}"],
      ]);
      // The pod's DNS settings are its resolv.conf.
      const resolv = await runtime.exec(pod.metadata!.uid!, "web", ["cat", "/etc/resolv.conf"], 5);
      expect(resolv.stdout).toContain("nameserver 10.96.0.10");
      expect(resolv.stdout).toContain("options ndots:5");
    } finally {
      await cleanUp(pod);
    }
  });

  it("runs init containers one at a time, in order, before the containers", async () => {
    const work = mkdtempSync(join(dir, "init-"));
    const write = (word: string) => ["sh", "-c", `echo ${word} >> /work/order`];
    const mount = [{ name: "work", mountPath: "/work" }];
    const pod = makePod("init", [{ name: "main", image: "busybox", command: ["sh", "-c", `echo main >> /work/order; ${STAY_UP}`], volumeMounts: mount }], {
      initContainers: [
        { name: "first", image: "busybox", command: write("first"), volumeMounts: mount },
        { name: "second", image: "busybox", command: write("second"), volumeMounts: mount },
      ],
    });
    const inputs = inputsFor({ work: { hostPath: work } });
    try {
      const first = await runtime.syncPod(pod, inputs, () => {});
      expect(first.initContainers.map((c) => c.restartCount)).toEqual([0, 0]);
      expect(first.initContainers[1]!.state).toEqual({ waiting: { reason: "PodInitializing" } });
      expect(first.containers[0]!.state).toEqual({ waiting: { reason: "PodInitializing" } });
      const running = await syncUntil(pod, inputs, (o) => "running" in o.containers[0]!.state);
      for (const init of running.initContainers) expect(init.state).toMatchObject({ terminated: { exitCode: 0, reason: "Completed" } });
      await eventually(async () => (readFileSync(join(work, "order"), "utf8").includes("main") ? true : undefined));
      expect(readFileSync(join(work, "order"), "utf8")).toBe("first\nsecond\nmain\n");
    } finally {
      await cleanUp(pod);
    }
  });

  it("runs a container as its spec says: user, env, working directory, cgroup limits, read-only root, termination message", async () => {
    const report = [
      "uid=$(id -u)",
      "env=$GREETING",
      "pwd=$(pwd)",
      // cgroup v1, else v2.
      "memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)",
      "quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max)",
      "rootfs=$(touch /rootfs-probe 2>/dev/null && echo writable || echo read-only)",
    ].join(" ");
    const pod = makePod("spec", [{
      name: "spec",
      image: "busybox",
      command: ["sh", "-c", `echo "${report}" > /dev/termination-log`],
      workingDir: "/tmp",
      resources: { requests: { cpu: "500m", memory: "64Mi" }, limits: { cpu: "500m", memory: "64Mi" } },
      securityContext: { runAsUser: 65534, runAsGroup: 65534, readOnlyRootFilesystem: true },
    }], { restartPolicy: "Never" });
    const inputs = { ...inputsFor(), env: { spec: [{ name: "GREETING", value: "hello" }] } };
    try {
      const done = await syncUntil(pod, inputs, (o) => "terminated" in o.containers[0]!.state);
      expect(done.containers[0]!.state).toMatchObject({ terminated: { exitCode: 0, reason: "Completed", message: "uid=65534 env=hello pwd=/tmp memory=67108864 quota=50000 rootfs=read-only\n" } });
      // restartPolicy Never: finished for good, nothing restarts.
      const again = await runtime.syncPod(pod, inputs, () => {});
      expect(again.containers[0]).toMatchObject({ restartCount: 0, state: { terminated: { exitCode: 0 } } });
    } finally {
      await cleanUp(pod);
    }
  });

  it("reports the end of a failed container's log when it asks to (FallbackToLogsOnError)", async () => {
    const pod = makePod("fallback", [{ name: "fail", image: "busybox", command: ["sh", "-c", "echo oops >&2; exit 2"], terminationMessagePolicy: "FallbackToLogsOnError" }], { restartPolicy: "Never" });
    try {
      const done = await syncUntil(pod, inputsFor(), (o) => "terminated" in o.containers[0]!.state);
      expect(done.containers[0]!.state).toMatchObject({ terminated: { exitCode: 2, reason: "Error", message: "oops\n" } });
    } finally {
      await cleanUp(pod);
    }
  });

  it("replaces a running container whose spec changed (a new image)", async () => {
    const pod = makePod("change", [{ name: "app", image: "busybox", command: ["sh", "-c", STAY_UP] }]);
    const inputs = inputsFor();
    try {
      const before = await syncUntil(pod, inputs, (o) => "running" in o.containers[0]!.state);
      const changed: Pod = { ...pod, spec: { ...pod.spec!, containers: [{ ...pod.spec!.containers[0]!, image: "docker.io/library/busybox:latest" }] } };
      const events: RuntimeEvent[] = [];
      const after = await syncUntil(changed, inputs, (o) => o.containers[0]!.restartCount === 1 && "running" in o.containers[0]!.state, events);
      expect(after.containers[0]!.containerID).not.toBe(before.containers[0]!.containerID);
      expect(events).toContainEqual({ type: "Normal", reason: "Killing", message: "Container app definition changed, will be restarted", fieldPath: "spec.containers{app}" });
      // The same spec again changes nothing.
      expect((await runtime.syncPod(changed, inputs, () => {})).containers[0]!.containerID).toBe(after.containers[0]!.containerID);
    } finally {
      await cleanUp(pod);
    }
  });

  it("gives containers the pod's /etc/hosts, and a hostNetwork pod the node's network", async () => {
    const hosts = "127.0.0.1\tlocalhost\n10.1.2.3\tweb.example web\n";
    const pod = makePod("hostnet", [{ name: "app", image: "busybox", command: ["sh", "-c", STAY_UP] }], { hostNetwork: true });
    try {
      const running = await syncUntil(pod, { ...inputsFor(), hosts }, (o) => "running" in o.containers[0]!.state);
      // The node's addresses are the pod's; the kubelet half reports them as its podIPs.
      expect(running.podIPs).toEqual([]);
      const uid = pod.metadata!.uid!;
      expect((await runtime.exec(uid, "app", ["cat", "/etc/hosts"], 5)).stdout).toBe(hosts);
      expect((await runtime.exec(uid, "app", ["hostname"], 5)).stdout).toBe(`${hostname()}\n`);
      const hostLink = Object.entries(networkInterfaces()).find(([, addresses]) => addresses?.some((a) => !a.internal))![0];
      expect((await runtime.exec(uid, "app", ["cat", "/proc/net/dev"], 5)).stdout).toContain(`${hostLink}:`);
    } finally {
      await cleanUp(pod);
    }
  });

  it("maps a hostPort to the pod", async () => {
    const pod = makePod("ports", [{ name: "web", image: "busybox", command: ["sh", "-c", `echo ported > /tmp/index.html && httpd -p 8080 -h /tmp && ${STAY_UP}`], ports: [{ containerPort: 8080, hostPort: 18213 }] }]);
    try {
      await syncUntil(pod, inputsFor(), (o) => "running" in o.containers[0]!.state);
      const hostIP = Object.values(networkInterfaces()).flat().find((a) => a && a.family === "IPv4" && !a.internal)!.address;
      const body = await eventually(async () => {
        const response = await fetch(`http://${hostIP}:18213/index.html`, { signal: AbortSignal.timeout(1000) });
        return response.ok ? response.text() : undefined;
      });
      expect(body).toBe("ported\n");
    } finally {
      await cleanUp(pod);
    }
  });

  it("masquerades a pod's traffic to a host outside the node with the node's address", async () => {
    // "Outside": a network namespace behind a veth pair, with no route back to the pods.
    const ns = `ep-outside-${process.pid}`;
    const run = (...args: string[]) => execFileSync(args[0]!, args.slice(1), { stdio: "pipe" });
    run("ip", "netns", "add", ns);
    let listener: ChildProcess | undefined;
    const pod = makePod("egress", [{ name: "app", image: "busybox", command: ["sh", "-c", STAY_UP] }]);
    try {
      run("ip", "link", "add", "ep-out-host", "type", "veth", "peer", "name", "ep-out-ns");
      run("ip", "link", "set", "ep-out-ns", "netns", ns);
      run("ip", "addr", "add", "10.252.213.1/30", "dev", "ep-out-host");
      run("ip", "link", "set", "ep-out-host", "up");
      run("ip", "netns", "exec", ns, "ip", "addr", "add", "10.252.213.2/30", "dev", "ep-out-ns");
      run("ip", "netns", "exec", ns, "ip", "link", "set", "ep-out-ns", "up");
      listener = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", "require('net').createServer((s) => s.end(s.remoteAddress + '\\n')).listen(9000, '10.252.213.2')"], { stdio: "ignore" });
      await syncUntil(pod, inputsFor(), (o) => "running" in o.containers[0]!.state);
      const seen = await eventually(async () => {
        const answer = await runtime.exec(pod.metadata!.uid!, "app", ["sh", "-c", "nc 10.252.213.2 9000 </dev/null"], 5);
        return answer.stdout.trim() || undefined;
      });
      expect(seen).toBe("10.252.213.1");
    } finally {
      await cleanUp(pod);
      listener?.kill();
      try {
        run("ip", "link", "del", "ep-out-host");
      } catch {
        // Never made.
      }
      run("ip", "netns", "del", ns);
    }
  });

  it("stops a container a probe failed with the kubelet's words, and the next sync restarts it", async () => {
    const pod = makePod("probe", [{ name: "app", image: "busybox", command: ["sh", "-c", STAY_UP] }]);
    const inputs = inputsFor();
    try {
      const running = await syncUntil(pod, inputs, (o) => "running" in o.containers[0]!.state);
      const events: RuntimeEvent[] = [];
      await runtime.killContainer(pod, "app", 5, "Container app failed liveness probe, will be restarted", (e) => events.push(e));
      expect(events).toEqual([{ type: "Normal", reason: "Killing", message: "Container app failed liveness probe, will be restarted", fieldPath: "spec.containers{app}" }]);
      const restarted = await syncUntil(pod, inputs, (o) => o.containers[0]!.restartCount === 1 && "running" in o.containers[0]!.state);
      expect(restarted.containers[0]!.containerID).not.toBe(running.containers[0]!.containerID);
      expect(restarted.containers[0]!.lastState).toMatchObject({ terminated: { exitCode: 0, containerID: running.containers[0]!.containerID } });
    } finally {
      await cleanUp(pod);
    }
  });

  it("starts a sidecar before the containers, runs postStart, and stops the sidecar when the pod is done", async () => {
    const marks = mkdtempSync(join(dir, "sidecar-"));
    const mount = [{ name: "marks", mountPath: "/marks" }];
    const pod = makePod("sidecar", [{
      name: "main",
      image: "busybox",
      // Runs only while the sidecar is up (it wrote its mark), then finishes.
      command: ["sh", "-c", "test -f /marks/sidecar && sleep 1"],
      volumeMounts: mount,
      lifecycle: { postStart: { exec: { command: ["sh", "-c", "echo started > /marks/post-start"] } } },
    }], {
      restartPolicy: "Never",
      initContainers: [{ name: "proxy", image: "busybox", restartPolicy: "Always", command: ["sh", "-c", `touch /marks/sidecar; ${STAY_UP}`], volumeMounts: mount }],
    });
    const inputs = inputsFor({ marks: { hostPath: marks } });
    try {
      const running = await syncUntil(pod, inputs, (o) => "running" in o.containers[0]!.state || "terminated" in o.containers[0]!.state);
      expect(running.initContainers[0]).toMatchObject({ name: "proxy", started: true, state: { running: {} } });
      expect(readFileSync(join(marks, "post-start"), "utf8")).toBe("started\n");
      const done = await syncUntil(pod, inputs, (o) => "terminated" in o.containers[0]!.state && "terminated" in o.initContainers[0]!.state);
      expect(done.containers[0]!.state).toMatchObject({ terminated: { exitCode: 0 } });
    } finally {
      await cleanUp(pod);
    }
  });

  it("stops a container whose postStart hook failed, with the kubelet's events and PostStartHookError", async () => {
    const pod = makePod("hook", [{ name: "app", image: "busybox", command: ["sh", "-c", STAY_UP], lifecycle: { postStart: { exec: { command: ["sh", "-c", "echo no >&2; exit 7"] } } } }]);
    const events: RuntimeEvent[] = [];
    try {
      const observation = await runtime.syncPod(pod, inputsFor(), (e) => events.push(e));
      const description = `hook_default(${pod.metadata!.uid})`;
      const failure = `Exec lifecycle hook ([sh -c echo no >&2; exit 7]) for Container "app" in Pod "${description}" failed - error: command 'sh -c echo no >&2; exit 7' exited with 7: no\n, message: "no\\n"`;
      expect(events.slice(-2)).toEqual([
        { type: "Warning", reason: "FailedPostStartHook", message: failure, fieldPath: "spec.containers{app}" },
        { type: "Normal", reason: "Killing", message: "FailedPostStartHook", fieldPath: "spec.containers{app}" },
      ]);
      expect(observation.containers[0]!.state).toEqual({ waiting: { reason: "PostStartHookError", message: failure } });
      expect(observation.containers[0]!.lastState).toMatchObject({ terminated: { exitCode: 0 } });
    } finally {
      await cleanUp(pod);
    }
  });

  it("restarts a failing container with CrashLoopBackOff, 10 s then 20 s, and counts restarts", async () => {
    const pod = makePod("crash", [{ name: "crash", image: "busybox", command: ["sh", "-c", "exit 1"] }]);
    const inputs = inputsFor();
    const events: RuntimeEvent[] = [];
    const backingOff = (o: PodObservation) => (o.containers[0]!.state as { waiting?: { reason: string } }).waiting?.reason === "CrashLoopBackOff";
    try {
      // The first crash restarts at once; the second waits 10 s.
      const first = await syncUntil(pod, inputs, backingOff, events);
      const crash = first.containers[0]!;
      expect(crash.restartCount).toBe(1);
      expect(crash.state).toEqual({ waiting: { reason: "CrashLoopBackOff", message: `back-off 10s restarting failed container=crash pod=crash_default(${pod.metadata!.uid})` } });
      expect(crash.lastState).toMatchObject({ terminated: { exitCode: 1, reason: "Error" } });
      expect(events).toContainEqual({ type: "Warning", reason: "BackOff", message: `Back-off restarting failed container crash in pod crash_default(${pod.metadata!.uid})`, fieldPath: "spec.containers{crash}" });
      // Still backing off: nothing new starts.
      expect((await runtime.syncPod(pod, inputs, () => {})).containers[0]!.restartCount).toBe(1);

      clock.skippedMs += 11_000;
      const second = await syncUntil(pod, inputs, (o) => o.containers[0]!.restartCount === 2 && backingOff(o));
      expect(second.containers[0]!.state).toMatchObject({ waiting: { message: expect.stringMatching(/^back-off 20s restarting failed container=crash /) } });
      // Only the newest two exited containers are kept.
      expect((await runtime.client.listContainers({ label_selector: { [POD_UID]: pod.metadata!.uid! } })).length).toBe(2);
    } finally {
      await cleanUp(pod);
    }
  });

  it("shows ErrImagePull then ImagePullBackOff with containerd's message, and ErrImageNeverPull", async () => {
    const missing = "registry.invalid/edgeplane/missing:1";
    const absent = "registry.invalid/edgeplane/absent:2";
    const pod = makePod("pull", [
      { name: "pull", image: missing },
      { name: "never", image: absent, imagePullPolicy: "Never" },
    ]);
    const inputs = inputsFor();
    const events: RuntimeEvent[] = [];
    try {
      const first = await runtime.syncPod(pod, inputs, (e) => events.push(e));
      const pull = first.containers[0]!.state as { waiting: { reason: string; message: string } };
      expect(pull.waiting.reason).toBe("ErrImagePull");
      expect(pull.waiting.message).toMatch(new RegExp(`^rpc error: code = \\w+ desc = failed to pull and unpack image "${missing}": `));
      expect(first.containers[1]!.state).toEqual({ waiting: { reason: "ErrImageNeverPull", message: `Container image "${absent}" is not present with pull policy of Never` } });
      expect(events.filter((e) => e.fieldPath === "spec.containers{pull}").map((e) => [e.type, e.reason, e.message.split(": rpc error")[0]])).toEqual([
        ["Normal", "Pulling", `Pulling image "${missing}"`],
        ["Warning", "Failed", `Failed to pull image "${missing}"`],
        ["Warning", "Failed", "Error: ErrImagePull"],
      ]);
      expect(events.filter((e) => e.fieldPath === "spec.containers{never}")).toEqual([
        { type: "Warning", reason: "ErrImageNeverPull", message: `Container image "${absent}" is not present with pull policy of Never`, fieldPath: "spec.containers{never}" },
        { type: "Warning", reason: "Failed", message: "Error: ErrImageNeverPull", fieldPath: "spec.containers{never}" },
      ]);

      const second = await runtime.syncPod(pod, inputs, (e) => events.push(e));
      expect(second.containers[0]!.state).toEqual({ waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${missing}"` } });
      expect(events).toContainEqual({ type: "Normal", reason: "BackOff", message: `Back-off pulling image "${missing}"`, fieldPath: "spec.containers{pull}" });
    } finally {
      await cleanUp(pod);
    }
  });

  it("kills a pod: preStop hooks, then every container and the sandbox are gone", async () => {
    const marks = mkdtempSync(join(dir, "kill-"));
    const mount = [{ name: "marks", mountPath: "/marks" }];
    const pod = makePod("kill", [
      { name: "a", image: "busybox", command: ["sh", "-c", STAY_UP], volumeMounts: mount, lifecycle: { preStop: { exec: { command: ["sh", "-c", "echo bye > /marks/a"] } } } },
      { name: "b", image: "busybox", command: ["sh", "-c", STAY_UP] },
    ]);
    const uid = pod.metadata!.uid!;
    await syncUntil(pod, inputsFor({ marks: { hostPath: marks } }), (o) => o.containers.every((c) => "running" in c.state));
    const events: RuntimeEvent[] = [];
    await runtime.killPod({ uid, namespace: "default", name: "kill" }, 5, (e) => events.push(e));
    expect(readFileSync(join(marks, "a"), "utf8")).toBe("bye\n");
    expect(events.filter((e) => e.reason === "Killing").map((e) => e.message).sort()).toEqual(["Stopping container a", "Stopping container b"]);
    expect(await runtime.client.listContainers({ label_selector: { [POD_UID]: uid } })).toEqual([]);
    expect(await runtime.client.listPodSandbox({ label_selector: { [POD_UID]: uid } })).toEqual([]);
    expect((await runtime.listPods()).map((p) => p.uid)).not.toContain(uid);
    expect(await runtime.observe(uid)).toBeUndefined();
  });

  it("after an agent restart, finds the pod in containerd with its restart count and last state, and duplicates nothing", async () => {
    const data = mkdtempSync(join(dir, "restart-"));
    // Fails once (exit 3), then stays up.
    const pod = makePod("adopt", [{ name: "app", image: "busybox", command: ["sh", "-c", `if [ -f /data/ran ]; then ${STAY_UP}; else touch /data/ran; exit 3; fi`], volumeMounts: [{ name: "data", mountPath: "/data" }] }]);
    const uid = pod.metadata!.uid!;
    const inputs = inputsFor({ data: { hostPath: data } });
    try {
      const before = await syncUntil(pod, inputs, (o) => o.containers[0]!.restartCount === 1 && "running" in o.containers[0]!.state);
      const containersBefore = await runtime.client.listContainers({ label_selector: { [POD_UID]: uid } });

      const restarted = newRuntime();
      try {
        expect(await restarted.listPods()).toContainEqual({ uid, namespace: "default", name: "adopt" });
        const seen = (await restarted.observe(uid))!;
        expect(seen.podIPs).toEqual(before.podIPs);
        expect(seen.containers).toHaveLength(1);
        expect(seen.containers[0]).toMatchObject({ name: "app", restartCount: 1, containerID: before.containers[0]!.containerID, state: { running: {} }, lastState: { terminated: { exitCode: 3, reason: "Error" } } });
        const synced = await restarted.syncPod(pod, inputs, () => {});
        expect(synced.containers[0]).toMatchObject({ restartCount: 1, containerID: before.containers[0]!.containerID });
        const containersAfter = await restarted.client.listContainers({ label_selector: { [POD_UID]: uid } });
        expect(containersAfter.map((c) => c.id).sort()).toEqual(containersBefore.map((c) => c.id).sort());
        expect(await restarted.client.listPodSandbox({ label_selector: { [POD_UID]: uid } })).toHaveLength(1);
      } finally {
        await restarted.close();
      }
    } finally {
      await cleanUp(pod);
    }
  });

  it("re-creates a pod whose sandbox died, restarting its containers", async () => {
    const pod = makePod("resandbox", [{ name: "app", image: "busybox", command: ["sh", "-c", STAY_UP] }]);
    const uid = pod.metadata!.uid!;
    const inputs = inputsFor();
    try {
      const before = await syncUntil(pod, inputs, (o) => "running" in o.containers[0]!.state);
      const [sandbox] = await runtime.client.listPodSandbox({ label_selector: { [POD_UID]: uid } });
      await runtime.client.stopPodSandbox(sandbox!.id);
      const events: RuntimeEvent[] = [];
      const after = await syncUntil(pod, inputs, (o) => o.sandboxReady && "running" in o.containers[0]!.state, events);
      expect(events[0]).toEqual({ type: "Normal", reason: "SandboxChanged", message: "Pod sandbox changed, it will be killed and re-created." });
      expect(after.containers[0]!.restartCount).toBe(1);
      expect(after.containers[0]!.containerID).not.toBe(before.containers[0]!.containerID);
      expect(inPodCIDR(after.podIPs[0]!)).toBe(true);
      const sandboxes = await runtime.client.listPodSandbox({ label_selector: { [POD_UID]: uid } });
      expect(sandboxes.map((s) => [s.metadata.attempt, s.state]).sort()).toEqual([[0, "SANDBOX_NOTREADY"], [1, "SANDBOX_READY"]]);
    } finally {
      await cleanUp(pod);
    }
  });

  it("tells when a pod's container changes on its own (PLEG)", async () => {
    const watcher = newRuntime();
    const changed: string[] = [];
    watcher.onPodChange((uid) => changed.push(uid));
    // The container exits once the test has seen its start reported, not on a clock a loaded machine may outrun.
    const pod = makePod("pleg", [{ name: "brief", image: "busybox", command: ["sh", "-c", "while [ ! -e /tmp/exit ]; do sleep 0.1; done"] }], { restartPolicy: "Never" });
    const uid = pod.metadata!.uid!;
    try {
      await syncUntil(pod, inputsFor(), (o) => "running" in o.containers[0]!.state);
      await eventually(async () => (changed.includes(uid) ? true : undefined));
      changed.length = 0;
      expect((await runtime.exec(uid, "brief", ["touch", "/tmp/exit"], 5)).exitCode).toBe(0);
      // Nobody syncs: the exit alone is news.
      await eventually(async () => (changed.includes(uid) ? true : undefined), 5000);
      expect((await watcher.observe(uid))!.containers[0]!.state).toMatchObject({ terminated: { exitCode: 0 } });
    } finally {
      await watcher.close();
      await cleanUp(pod);
    }
  });

  it("execs a command in a container and answers its exit code and output; stats and images answer too", async () => {
    const pod = makePod("exec", [{ name: "shell", image: "busybox", command: ["sh", "-c", STAY_UP] }]);
    try {
      await syncUntil(pod, inputsFor(), (o) => "running" in o.containers[0]!.state);
      expect(await runtime.exec(pod.metadata!.uid!, "shell", ["sh", "-c", "echo out; echo err >&2; exit 3"], 5)).toEqual({ exitCode: 3, stdout: "out\n", stderr: "err\n" });
      // What the kubelet half reads for metrics and disk pressure comes through the same client.
      const [container] = await runtime.client.listContainers({ label_selector: { [POD_UID]: pod.metadata!.uid! } });
      const stats = await runtime.client.containerStats(container!.id);
      expect(stats.attributes?.metadata.name).toBe("shell");
      expect(stats.memory?.working_set_bytes?.value).toBeGreaterThan(0);
      expect((await runtime.client.listImages()).flatMap((i) => i.repo_tags)).toEqual(expect.arrayContaining(["docker.io/library/busybox:latest", "registry.k8s.io/pause:3.9"]));
      expect((await runtime.client.imageFsInfo())[0]!.fs_id?.mountpoint).toContain(dir);
      await expect(runtime.exec(pod.metadata!.uid!, "nope", ["true"], 5)).rejects.toThrow(/container "nope" .* is not running/);
    } finally {
      await cleanUp(pod);
    }
  });
});
