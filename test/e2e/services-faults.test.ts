// Services on a real node (as root) when things go wrong: the agent bundle joined on the cri runtime
// in a network namespace of its own, the service proxy in iptables mode. A pod failing its readiness
// probe stops getting new connections through the ClusterIP; restarting the agent keeps a connection
// established through the ClusterIP working and rebuilds rules flushed while it was away; with the
// control plane unreachable the node keeps its last rules and the ClusterIP keeps answering.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubectl, ServicesNode } from "../support/services.ts";

const NETNS = "ep-e2e-svcf";
const node = new ServicesNode({ prefix: "services-faults-e2e-", node: "e2e-svc-faults", netns: NETNS, hostIP: "10.99.80.1", nodeIP: "10.99.80.2", veth: "ep-e2e-svcfveth", bridge: "ep-svcf0", clusterCIDR: "10.251.0.0/16", proxyMode: "iptables" });
const HOST_NODE = existsSync("/usr/bin/node") ? "/usr/bin/node" : process.execPath;

beforeAll(async () => {
  await node.start();
  await node.join();
});

afterAll(() => node.stop());

/** One HTTP GET from the node itself (its own traffic takes the same Service rules); the answer's body, or "" when none came. */
function askFromNode(target: string): string {
  try {
    return node.inNode("curl", "-s", "--max-time", "3", `http://${target}/`).trim();
  } catch {
    return "";
  }
}

/** Asks `times` times; the distinct answers. */
function answersFromNode(target: string, times: number): Set<string> {
  const seen = new Set<string>();
  for (let i = 0; i < times; i++) seen.add(askFromNode(target));
  return seen;
}

const HTTPD = (ready: boolean) => `mkdir -p /www && hostname > /www/index.html && ${ready ? "touch /www/ready.html && " : ""}httpd -p 8080 -h /www && trap 'exit 0' TERM && while :; do sleep 1 & wait $!; done`;

async function clusterIPOf(service: string): Promise<string> {
  return node.get("service", service, "-o", "jsonpath={.spec.clusterIP}");
}

describe("Services when things go wrong", () => {
  it("a pod failing its readiness probe stops receiving new connections", async () => {
    await node.create({
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "ready" },
      spec: {
        replicas: 2, selector: { matchLabels: { app: "ready" } },
        template: {
          metadata: { labels: { app: "ready" } },
          spec: { containers: [{ name: "httpd", image: "busybox", command: ["sh", "-c", HTTPD(true)], readinessProbe: { httpGet: { path: "/ready.html", port: 8080 }, periodSeconds: 1, failureThreshold: 1 } }] },
        },
      },
    });
    await node.harness.ok(kubectl, "expose", "deployment", "ready", "--port=80", "--target-port=8080");
    const clusterIP = await clusterIPOf("ready");
    await node.until("two ready endpoints", async () => ((await node.readyEndpoints("ready")).length === 2 ? true : undefined), 120_000);
    const both = await node.until("both pods to answer through the ClusterIP", async () => {
      const seen = answersFromNode(clusterIP, 10);
      seen.delete("");
      return seen.size === 2 ? [...seen] : undefined;
    });
    const [failing, healthy] = both as [string, string];
    await node.harness.ok(kubectl, "exec", failing, "--", "rm", "/www/ready.html");
    await node.until(`${failing} to be not ready`, async () => ((await node.readyEndpoints("ready")).length === 1 ? true : undefined));
    await node.until(`only ${healthy} to answer`, async () => {
      const seen = answersFromNode(clusterIP, 10);
      return seen.size === 1 && seen.has(healthy) ? true : undefined;
    });
    // From then on, every new connection goes to the ready pod.
    expect([...answersFromNode(clusterIP, 20)]).toEqual([healthy]);
  });

  it("restarting the agent keeps an established connection working and rebuilds its rules", async () => {
    // A persistent echo server behind a ClusterIP, and a client in the node's namespace that sends a
    // line every 100 ms over one connection and prints what comes back.
    await node.harness.ok(kubectl, "create", "deployment", "echo", "--image=busybox", "--", "sh", "-c", "trap 'exit 0' TERM; nc -ll -p 9000 -e cat & wait");
    await node.harness.ok(kubectl, "expose", "deployment", "echo", "--port=9000");
    await node.harness.ok(kubectl, "create", "deployment", "late", "--image=busybox", "--", "sh", "-c", HTTPD(false));
    const echoIP = await clusterIPOf("echo");
    await node.until("the echo server's endpoint", async () => ((await node.readyEndpoints("echo")).length === 1 ? true : undefined), 120_000);
    await node.harness.ok(kubectl, "wait", "deployment/late", "--for=condition=Available", "--timeout=120s");
    // The proxy's next sync (at most a second after the endpoint) makes the ClusterIP reachable, and
    // the echo server may start listening a moment after its pod is ready: a one-off echo first.
    await node.until("a one-off echo through the ClusterIP", async () =>
      (node.inNode("busybox", "sh", "-c", `echo hello | busybox nc -w 2 ${echoIP} 9000`).includes("hello") ? true : undefined));
    const script = `const s = require("net").connect(9000, "${echoIP}"); let n = 0; s.on("connect", () => setInterval(() => s.write("ping " + n++ + "\\n"), 100)); s.pipe(process.stdout); s.on("close", () => { console.log("CLOSED"); process.exit(1); }); s.on("error", (e) => console.log("ERROR " + e.message));`;
    const client: ChildProcess = spawn("nsenter", [`--net=/run/netns/${NETNS}`, HOST_NODE, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let echoed = "";
    client.stdout!.on("data", (d) => (echoed += d));
    try {
      await node.until("echoes over the connection", async () => (echoed.split("\n").length > 5 ? true : undefined));
      await node.stopAgent();
      // Gone while the agent is away: the Service portal rules (established connections live on in conntrack).
      node.inNode("iptables", "-t", "nat", "-F", "EDGEPLANE-SERVICES");
      expect(node.inNode("iptables", "-t", "nat", "-S", "EDGEPLANE-SERVICES").trim()).toBe("-N EDGEPLANE-SERVICES");
      // Made while the agent is away: its rules come with the restart's full sync.
      await node.harness.ok(kubectl, "expose", "deployment", "late", "--port=80", "--target-port=8080");
      const lateIP = await clusterIPOf("late");
      const atRestart = echoed.length;
      node.agent = spawn("nsenter", [`--net=/run/netns/${NETNS}`, HOST_NODE, node.bundle, "run", "--state-dir", node.stateDir, "--proxy-mode", "iptables"], { stdio: ["ignore", "pipe", "pipe"] });
      node.agent.stdout!.on("data", (d) => (node.output += d));
      node.agent.stderr!.on("data", (d) => (node.output += d));
      await node.until("the late Service to answer through its ClusterIP", async () => (askFromNode(lateIP).startsWith("late-") ? true : undefined), 90_000);
      expect(node.inNode("iptables", "-t", "nat", "-S", "EDGEPLANE-SERVICES")).toContain(echoIP);
      await node.until("more echoes over the same connection", async () => (echoed.length > atRestart + 200 ? true : undefined));
      expect(echoed).not.toContain("CLOSED");
      expect(echoed).not.toContain("ERROR");
      expect(client.exitCode).toBeNull();
    } finally {
      client.kill("SIGKILL");
    }
  });

  it("with the control plane unreachable, the node keeps its last rules and the ClusterIP keeps answering", async () => {
    await node.harness.ok(kubectl, "create", "deployment", "steady", "--image=busybox", "--", "sh", "-c", HTTPD(false));
    await node.harness.ok(kubectl, "expose", "deployment", "steady", "--port=80", "--target-port=8080");
    const clusterIP = await clusterIPOf("steady");
    await node.until("the ClusterIP to answer", async () => (askFromNode(clusterIP).startsWith("steady-") ? true : undefined), 120_000);
    const before = node.inNode("iptables-save", "-t", "nat").split("\n").filter((l) => l.includes("EDGEPLANE")).sort();
    const redials = () => node.output.split("tunnel closed; redialing").length - 1;
    const redialsBefore = redials();
    // The node's way to the control plane goes: every packet to it is refused from now on.
    node.inNode("iptables", "-I", "OUTPUT", "1", "-d", node.options.hostIP, "-p", "tcp", "--dport", new URL(node.harness.plane.url).port, "-j", "REJECT", "--reject-with", "tcp-reset");
    // The agent has noticed (its tunnel dropped and failed to come back twice: a few seconds, past
    // the proxy's sync period) before the rules are looked at.
    await node.until("the agent to lose the control plane", async () => (redials() >= redialsBefore + 2 ? true : undefined));
    const after = node.inNode("iptables-save", "-t", "nat").split("\n").filter((l) => l.includes("EDGEPLANE")).sort();
    expect(after).toEqual(before);
    expect(askFromNode(clusterIP)).toMatch(/^steady-/);
  });
});
