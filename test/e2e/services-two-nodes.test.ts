// Services across two real nodes (as root): two agents on the cri runtime, each in a network
// namespace of its own, both on one network segment (a bridge on this host, which also carries
// their way to the control plane). A pod on node A reaches backends that run only on node B through
// their ClusterIP: node A's proxy picks the backend, and the packets cross to node B by the route
// to its pod range that node A's agent set.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Pod } from "kubernetes-types/core/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapToken } from "../../scripts/local-node.ts";
import { askScript, backendsIn, kubectl, ServicesNode, sh } from "../support/services.ts";

const HOST_IP = "10.99.81.1";
const NODE_A = "e2e-svc-a";
const NODE_B = "e2e-svc-b";
const NODE_B_IP = "10.99.81.3";
const NETNS_B = "ep-e2e-svcb";
const VETH_B = "ep-e2e-svcbveth";
/** The segment both nodes are on. */
const SEGMENT = "ep-e2e-2n";
const HOST_NODE = existsSync("/usr/bin/node") ? "/usr/bin/node" : process.execPath;

const nodeA = new ServicesNode({ prefix: "services-two-nodes-e2e-", node: NODE_A, netns: "ep-e2e-svca", hostIP: HOST_IP, nodeIP: "10.99.81.2", veth: "ep-e2e-svcaveth", bridge: "ep-svca0", clusterCIDR: "10.252.0.0/16", proxyMode: "iptables" });
let agentB: ChildProcess | undefined;
let forwarderB: ChildProcess | undefined;
const stateDirB = () => join(nodeA.dir, "agent-b");

function shQuiet(command: string, args: string[]): void {
  try {
    sh(command, args);
  } catch {
    // Already gone.
  }
}

/** Puts node A's link to this host on a bridge, and node B on the same bridge, with its own forwarder to the control plane. */
async function makeSegment(port: number): Promise<void> {
  shQuiet("ip", ["link", "del", SEGMENT]);
  shQuiet("ip", ["netns", "del", NETNS_B]);
  shQuiet("ip", ["link", "del", VETH_B]);
  sh("ip", ["link", "add", SEGMENT, "type", "bridge"]);
  sh("ip", ["link", "set", SEGMENT, "up"]);
  // Node A's veth gives its host address to the bridge (the control plane's forwarder listens there).
  sh("ip", ["addr", "del", `${HOST_IP}/24`, "dev", nodeA.options.veth]);
  sh("ip", ["link", "set", nodeA.options.veth, "master", SEGMENT]);
  sh("ip", ["addr", "add", `${HOST_IP}/24`, "dev", SEGMENT]);
  sh("ip", ["netns", "add", NETNS_B]);
  sh("ip", ["link", "add", VETH_B, "type", "veth", "peer", "name", "eth0", "netns", NETNS_B]);
  sh("ip", ["link", "set", VETH_B, "master", SEGMENT]);
  sh("ip", ["link", "set", VETH_B, "up"]);
  const inB = (...args: string[]) => sh("ip", ["-n", NETNS_B, ...args]);
  inB("addr", "add", `${NODE_B_IP}/24`, "dev", "eth0");
  inB("link", "set", "eth0", "up");
  inB("link", "set", "lo", "up");
  inB("route", "add", "default", "via", HOST_IP);
  const script = `require("net").createServer((s) => s.pipe(require("net").createConnection(${port}, "${HOST_IP}")).pipe(s).on("error", () => s.destroy())).listen(${port}, "127.0.0.1", () => console.log("listening"))`;
  forwarderB = spawn("nsenter", [`--net=/run/netns/${NETNS_B}`, HOST_NODE, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  await once(forwarderB.stdout!, "data");
}

beforeAll(async () => {
  await nodeA.start();
  await makeSegment(Number(new URL(nodeA.harness.plane.url).port));
  await nodeA.join();
  const plane = nodeA.harness.plane;
  const caHash = createHash("sha256").update(plane.caPem!).digest("hex");
  agentB = spawn("nsenter", [`--net=/run/netns/${NETNS_B}`, HOST_NODE, nodeA.bundle, "join", "--server", plane.url, "--token", await bootstrapToken(plane), "--ca-cert-sha256", caHash,
    "--node-name", NODE_B, "--node-ip", NODE_B_IP, "--state-dir", stateDirB(), "--bridge", "ep-svcb0", "--pod-logs-dir", join(stateDirB(), "logs"), "--proxy-mode", "iptables"], { stdio: ["ignore", "pipe", "pipe"] });
  agentB.stdout!.on("data", (d) => (nodeA.output += d));
  agentB.stderr!.on("data", (d) => (nodeA.output += d));
  await nodeA.until("node B to be registered", () => nodeA.get("node", NODE_B, "-o", "name"));
  await nodeA.harness.ok(kubectl, "wait", `node/${NODE_B}`, "--for=condition=Ready", "--timeout=60s");
});

afterAll(async () => {
  agentB?.kill("SIGKILL");
  if (nodeA.dir && existsSync(join(stateDirB(), "agent.json"))) shQuiet("nsenter", [`--net=/run/netns/${NETNS_B}`, HOST_NODE, nodeA.bundle, "cleanup", "--state-dir", stateDirB()]);
  forwarderB?.kill("SIGKILL");
  shQuiet("ip", ["link", "del", VETH_B]);
  shQuiet("ip", ["netns", "del", NETNS_B]);
  await nodeA.stop();
  shQuiet("ip", ["link", "del", SEGMENT]);
});

describe("Services across two nodes", () => {
  it("a pod on node A reaches backends on node B through their ClusterIP", async () => {
    await nodeA.create({
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" },
      spec: {
        replicas: 2, selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: {
            nodeSelector: { "kubernetes.io/hostname": NODE_B },
            containers: [{ name: "httpd", image: "busybox", command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && httpd -p 8080 -h /www && trap 'exit 0' TERM && while :; do sleep 1 & wait $!; done"] }],
          },
        },
      },
    });
    await nodeA.harness.ok(kubectl, "expose", "deployment", "web", "--port=80", "--target-port=8080");
    const clusterIP = await nodeA.get("service", "web", "-o", "jsonpath={.spec.clusterIP}");
    await nodeA.until("two ready endpoints", async () => ((await nodeA.readyEndpoints("web")).length === 2 ? true : undefined), 120_000);
    const podCIDRB = await nodeA.get("node", NODE_B, "-o", "jsonpath={.spec.podCIDR}");
    const backendIPs = await nodeA.readyEndpoints("web");
    expect(backendIPs.every((ip) => ip.startsWith(podCIDRB.split(".").slice(0, 3).join(".") + ".")), `${backendIPs} in ${podCIDRB}`).toBe(true);

    await nodeA.create({ apiVersion: "v1", kind: "Pod", metadata: { name: "client" }, spec: { nodeName: NODE_A, restartPolicy: "Never", containers: [{ name: "client", image: "busybox", command: ["sh", "-c", askScript(clusterIP, 20)] }] } });
    const phase = await nodeA.until("the client on node A to finish", async () => {
      const current = await nodeA.get("pod", "client", "-o", "jsonpath={.status.phase}");
      return ["Succeeded", "Failed"].includes(current) ? current : undefined;
    }, 120_000);
    const pod = JSON.parse(await nodeA.get("pod", "client", "-o", "json")) as Pod;
    // The container's log on node A (CRI format, as backendsIn reads it).
    const logFile = join(nodeA.stateDir, "logs", `default_client_${pod.metadata!.uid}`, "client", "0.log");
    const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "(no log)";
    expect(pod.spec!.nodeName).toBe(NODE_A);
    expect(phase, log).toBe("Succeeded");
    expect(backendsIn(log).size, log).toBe(2);
  });
});
