// `kubectl logs` of real containers through the node tunnel (as root): the agent bundle joins on
// the cri runtime with its own containerd, and kubectl reads busybox pods' CRI log files through
// the tunnel: stdout and stderr, --tail, --timestamps, -c, a line containerd split into partial
// entries joined again, --previous after a restart, and -f following lines as they are written.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { criSuite } from "../support/agent-suite.ts";

const kubectl = "/usr/bin/kubectl";
const NODE = "tunnel-cri";
const BRIDGE = "ep-tun0";
/** A pod range clear of npm start's (10.244.0.0/16) and the other cri e2e's (10.246.0.0/16). */
const CLUSTER_CIDR = "10.247.0.0/16";

const suite = criSuite({ prefix: "node-tunnel-cri-e2e", node: NODE, bridge: BRIDGE, clusterCidr: CLUSTER_CIDR });
const { until } = suite;

const logs = (...args: string[]) => suite.harness.ok(kubectl, "logs", ...args);

describe("kubectl logs of real containers through the tunnel", () => {
  it("the agent joins on containerd and its tunnel connects", async () => {
    await suite.join();
  });

  it("reads stdout and stderr, the tail, with timestamps, one container of several, and a long line whole", async () => {
    await suite.apply({
      apiVersion: "v1", kind: "Pod", metadata: { name: "printer" },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [
          { name: "main", image: "busybox", command: ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; echo oops >&2; exec sleep 3600"] },
          { name: "side", image: "busybox", command: ["sh", "-c", "for i in 1 2 3; do echo side $i; done; exec sleep 3600"] },
          // One 40000-byte line, which containerd writes as partial (P) entries of 16 KiB.
          { name: "long", image: "busybox", command: ["sh", "-c", "head -c 40000 /dev/zero | tr '\\0' a; echo; echo after; exec sleep 3600"] },
        ],
      },
    });
    const all = await until("the printer's log", async () => {
      const text = await logs("printer", "-c", "main");
      return text.split("\n").length === 7 ? text : undefined;
    });
    // stdout and stderr reach the log file through separate pipes: their lines may interleave either way.
    expect(all.split("\n").filter(Boolean).sort()).toEqual(["line 1", "line 2", "line 3", "line 4", "line 5", "oops"]);
    expect(await until("the sidecar's log", async () => ((await logs("printer", "-c", "side")) === "side 1\nside 2\nside 3\n" ? true : undefined))).toBe(true);
    expect(await logs("printer", "-c", "side", "--tail=2")).toBe("side 2\nside 3\n");
    const stamped = (await logs("printer", "-c", "side", "--timestamps", "--tail=1")).trim();
    expect(stamped).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) side 3$/);
    expect(await logs("printer", "-c", "side", "--limit-bytes=8")).toBe("side 1\ns");
    const long = await until("the long line", async () => {
      const text = await logs("printer", "-c", "long");
      return text.endsWith("after\n") ? text : undefined;
    });
    expect(long).toBe(`${"a".repeat(40000)}\nafter\n`);
    expect(await logs("printer", "-c", "long", "--tail=2")).toBe(`${"a".repeat(40000)}\nafter\n`);
  });

  it("--previous shows the run before a restart", async () => {
    await suite.apply({
      apiVersion: "v1", kind: "Pod", metadata: { name: "restarter" },
      spec: {
        terminationGracePeriodSeconds: 1,
        volumes: [{ name: "state", emptyDir: {} }],
        containers: [{
          name: "app", image: "busybox", volumeMounts: [{ name: "state", mountPath: "/state" }],
          command: ["sh", "-c", "n=$(( $(cat /state/n 2>/dev/null || echo 0) + 1 )); echo $n > /state/n; echo run $n; [ $n -ge 2 ] && exec sleep 3600; exit 1"],
        }],
      },
    });
    await until("the restarted container to run", async () => {
      const status = await suite.harness.ok(kubectl, "get", "pod", "restarter", "-o", "jsonpath={.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].state.running.startedAt}");
      return /^1 \S+/.test(status) ? true : undefined;
    });
    expect(await until("the second run's log", async () => ((await logs("restarter")) === "run 2\n" ? "run 2\n" : undefined))).toBe("run 2\n");
    expect(await logs("restarter", "--previous")).toBe("run 1\n");
  });

  it("-f follows lines as the container writes them", async () => {
    await suite.harness.ok(kubectl, "run", "ticker", "--image=busybox", "--", "sh", "-c", "i=0; while true; i=$((i+1)); do echo tick $i; sleep 0.2; done");
    await suite.harness.ok(kubectl, "wait", "pod/ticker", "--for=condition=Ready", "--timeout=60s");
    const child = spawn(kubectl, ["logs", "-f", "ticker"], { env: suite.harness.env(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    try {
      const seen = () => out.split("\n").filter((l) => l.startsWith("tick ")).length;
      await until("ten ticks to be followed", async () => (seen() >= 10 ? true : undefined), 30_000);
      const numbers = out.split("\n").filter(Boolean).map((l) => Number(l.split(" ")[1]));
      expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i));
    } finally {
      child.kill();
    }
  });
});
