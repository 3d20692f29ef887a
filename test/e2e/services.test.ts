// Services on a real node (as root): the agent bundle joins a control plane on the cri runtime in a
// network namespace of its own (its iptables and DNS port apart from any other agent on this host),
// and real kubectl drives it: a Deployment of three busybox httpd pods, each answering its own
// hostname, exposed with `kubectl expose`; a client pod reaches all three through the ClusterIP and
// through the Service's name (the agent's cluster DNS behind kube-dns); `nslookup` finds the
// kubernetes Service from a pod; a NodePort answers from the host; a headless Service resolves to
// the pods' addresses; scaled to 0 the ClusterIP refuses connections at once; `edgeplane-agent cleanup`
// leaves no rule or chain of the proxy behind.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pod } from "kubernetes-types/core/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgent } from "../../scripts/build-agent.ts";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { bootstrapToken } from "../../scripts/local-node.ts";
import { until as waitUntil } from "../support/until.ts";

const kubectl = "/usr/bin/kubectl";
const NODE = "e2e-services";
const NETNS = "ep-e2e-svc";
const HOST_IP = "10.99.78.1";
const NODE_IP = "10.99.78.2";
const VETH = "ep-e2e-svcveth";
const BRIDGE = "ep-svc0";
/** Pod ranges clear of the other e2e suites' and npm start's. */
const CLUSTER_CIDR = "10.247.0.0/16";
const HOST_NODE = existsSync("/usr/bin/node") ? "/usr/bin/node" : process.execPath;

let harness: KubectlHarness;
let dir: string;
let bundle: string;
let agent: ChildProcess | undefined;
const forwarders: { server?: Server; inNamespace?: ChildProcess } = {};
let output = "";
const stateDir = () => join(dir, "agent");

function sh(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: "utf8" });
}

function shQuiet(command: string, args: string[]): void {
  try {
    execFileSync(command, args, { stdio: "ignore" });
  } catch {
    // Already gone.
  }
}

/** The node's host: a namespace behind a veth pair, with forwarders to the control plane on 127.0.0.1. */
async function makeHost(port: number): Promise<void> {
  shQuiet("ip", ["netns", "del", NETNS]);
  shQuiet("ip", ["link", "del", VETH]);
  sh("ip", ["netns", "add", NETNS]);
  sh("ip", ["link", "add", VETH, "type", "veth", "peer", "name", "eth0", "netns", NETNS]);
  sh("ip", ["addr", "add", `${HOST_IP}/24`, "dev", VETH]);
  sh("ip", ["link", "set", VETH, "up"]);
  const inNs = (...args: string[]) => sh("ip", ["-n", NETNS, ...args]);
  inNs("addr", "add", `${NODE_IP}/24`, "dev", "eth0");
  inNs("link", "set", "eth0", "up");
  inNs("link", "set", "lo", "up");
  inNs("route", "add", "default", "via", HOST_IP);
  forwarders.server = createServer((socket) => socket.pipe(createConnection(port, "127.0.0.1")).pipe(socket).on("error", () => socket.destroy()));
  forwarders.server.listen(port, HOST_IP);
  await once(forwarders.server, "listening");
  const script = `require("net").createServer((s) => s.pipe(require("net").createConnection(${port}, "${HOST_IP}")).pipe(s).on("error", () => s.destroy())).listen(${port}, "127.0.0.1", () => console.log("listening"))`;
  forwarders.inNamespace = spawn("nsenter", [`--net=/run/netns/${NETNS}`, HOST_NODE, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  await once(forwarders.inNamespace.stdout!, "data");
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "services-e2e-"));
  bundle = join(dir, "edgeplane-agent.mjs");
  await buildAgent(bundle);
  harness = await startKubectlHarness("services-e2e-", { vars: { CLUSTER_CIDR } });
  await makeHost(Number(new URL(harness.plane.url).port));
});

function cleanupNode(): string {
  return sh("nsenter", [`--net=/run/netns/${NETNS}`, HOST_NODE, bundle, "cleanup", "--state-dir", stateDir()]);
}

afterAll(async () => {
  agent?.kill("SIGKILL");
  if (dir && existsSync(join(stateDir(), "agent.json"))) shQuiet("nsenter", [`--net=/run/netns/${NETNS}`, HOST_NODE, bundle, "cleanup", "--state-dir", stateDir()]);
  forwarders.server?.close();
  forwarders.inNamespace?.kill("SIGKILL");
  shQuiet("ip", ["link", "del", VETH]);
  shQuiet("ip", ["netns", "del", NETNS]);
  await harness?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function create(object: object): Promise<void> {
  const file = join(dir, `${randomBytes(4).toString("hex")}.json`);
  writeFileSync(file, JSON.stringify(object));
  await harness.ok(kubectl, "create", "-f", file);
}

async function get(...args: string[]): Promise<string> {
  return harness.ok(kubectl, "get", ...args);
}

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) =>
  waitUntil(what, probe, { timeoutMs, detail: () => `agent output:\n${output.slice(-4000)}` });

/** A pod that runs `script` once; how it ended and what it printed (its log is on this host). */
async function runClient(name: string, script: string): Promise<{ phase: string; log: string }> {
  await create({ apiVersion: "v1", kind: "Pod", metadata: { name }, spec: { restartPolicy: "Never", containers: [{ name: "client", image: "busybox", command: ["sh", "-c", script] }] } });
  const phase = await until(`pod ${name} to finish`, async () => {
    const current = await get("pod", name, "-o", "jsonpath={.status.phase}");
    return ["Succeeded", "Failed"].includes(current) ? current : undefined;
  });
  const pod = JSON.parse(await get("pod", name, "-o", "json")) as Pod;
  const log = join(stateDir(), "logs", `default_${name}_${pod.metadata!.uid}`, "client", "0.log");
  return { phase, log: existsSync(log) ? readFileSync(log, "utf8") : "(no log)" };
}

/** Asks `target` port 80 for / `times` times with HTTP by hand (Debian's busybox-static wget crashes); prints each answer's last line. */
function askScript(target: string, times: number): string {
  return `for i in $(seq ${times}); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${target} 80 | tail -n 1 | grep . || exit 1; done`;
}

/** The distinct backends a client's log names (one hostname per line of the container log). */
function backendsIn(log: string): Set<string> {
  return new Set(log.split("\n").map((line) => line.split(" ").slice(3).join(" ").trim()).filter((l) => l.startsWith("web-")));
}

describe("Services on a node agent", () => {
  let clusterIP = "";

  it("the node joins, its pods resolve names through the cluster DNS at kube-dns's ClusterIP", async () => {
    const token = await bootstrapToken(harness.plane);
    const caHash = createHash("sha256").update(harness.plane.caPem!).digest("hex");
    agent = spawn("nsenter", [`--net=/run/netns/${NETNS}`, HOST_NODE, bundle, "join", "--server", harness.plane.url, "--token", token, "--ca-cert-sha256", caHash,
      "--node-name", NODE, "--node-ip", NODE_IP, "--state-dir", stateDir(), "--bridge", BRIDGE, "--pod-logs-dir", join(stateDir(), "logs")], { stdio: ["ignore", "pipe", "pipe"] });
    agent.stdout!.on("data", (d) => (output += d));
    agent.stderr!.on("data", (d) => (output += d));
    await until("the Node to be registered", () => get("node", NODE, "-o", "name"));
    await harness.ok(kubectl, "wait", `node/${NODE}`, "--for=condition=Ready", "--timeout=60s");
    expect(await get("service", "kube-dns", "-n", "kube-system", "-o", "jsonpath={.spec.clusterIP}")).toBe("10.96.0.10");
    // The full name: busybox's nslookup (past 1.28) does not apply the search list.
    const lookup = await runClient("lookup", "cat /etc/resolv.conf; nslookup kubernetes.default.svc.cluster.local");
    expect(lookup.log).toContain("nameserver 10.96.0.10");
    expect(lookup.log).toContain("search default.svc.cluster.local svc.cluster.local cluster.local");
    expect(lookup.log).toContain("options ndots:5");
    expect(lookup.log).toMatch(/Address:?\s+10\.96\.0\.1\s*$/m);
    expect(lookup.phase, lookup.log).toBe("Succeeded");
  });

  it("a Deployment exposed with kubectl expose answers from all its pods by ClusterIP and by name", async () => {
    await harness.ok(kubectl, "create", "deployment", "web", "--image=busybox", "--replicas=3", "--",
      // httpd in the background and a shell that ends on SIGTERM, so scaling down takes seconds, not the grace period.
      "sh", "-c", "mkdir -p /www && hostname > /www/index.html && httpd -p 8080 -h /www && trap 'exit 0' TERM && while :; do sleep 1 & wait $!; done");
    await harness.ok(kubectl, "expose", "deployment", "web", "--port=80", "--target-port=8080");
    clusterIP = await get("service", "web", "-o", "jsonpath={.spec.clusterIP}");
    await until("three ready endpoints", async () => {
      const ready = await get("endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "jsonpath={.items[*].endpoints[?(@.conditions.ready==true)].addresses[0]}");
      return ready.split(" ").filter(Boolean).length === 3 ? true : undefined;
    }, 120_000);
    const byIP = await runClient("by-ip", askScript(clusterIP, 30));
    expect(byIP.phase, byIP.log).toBe("Succeeded");
    expect(backendsIn(byIP.log).size, byIP.log).toBe(3);
    const byName = await runClient("by-name", askScript("web", 10));
    expect(byName.phase, byName.log).toBe("Succeeded");
  });

  it("a NodePort answers from the host, and a headless Service resolves to the pods' addresses", async () => {
    await harness.ok(kubectl, "expose", "deployment", "web", "--name=web-nodeport", "--type=NodePort", "--port=80", "--target-port=8080");
    await harness.ok(kubectl, "expose", "deployment", "web", "--name=web-headless", "--cluster-ip=None", "--port=80", "--target-port=8080");
    const nodePort = await get("service", "web-nodeport", "-o", "jsonpath={.spec.ports[0].nodePort}");
    // From this host, through the veth, to the node's address.
    const answers: string[] = [];
    await until("the NodePort to answer 10 times", async () => {
      answers.push((await (await fetch(`http://${NODE_IP}:${nodePort}/`, { signal: AbortSignal.timeout(3000) })).text()).trim());
      return answers.length >= 10 ? true : undefined;
    });
    expect(answers.every((a) => a.startsWith("web-")), answers.join(",")).toBe(true);
    const podIPs = await until("the headless Service's three ready endpoints", async () => {
      const ready = await get("endpointslices", "-l", "kubernetes.io/service-name=web-headless", "-o", "jsonpath={.items[*].endpoints[?(@.conditions.ready==true)].addresses[0]}");
      const ips = ready.split(" ").filter(Boolean);
      return ips.length === 3 ? ips : undefined;
    });
    const lookup = await runClient("headless", "nslookup web-headless.default.svc.cluster.local");
    expect(lookup.phase, lookup.log).toBe("Succeeded");
    for (const ip of podIPs) expect(lookup.log).toMatch(new RegExp(`Address:?\\s+${ip.replaceAll(".", "\\.")}\\s*$`, "m"));
  });

  it("scaled to 0, the ClusterIP refuses connections at once", async () => {
    await harness.ok(kubectl, "scale", "deployment", "web", "--replicas=0");
    await until("no endpoints", async () => {
      const ready = await get("endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "jsonpath={.items[*].endpoints[*].addresses[0]}");
      return ready.trim() === "" ? true : undefined;
    }, 60_000);
    // Refused, not timed out: the whole attempt well within nc's 5 s.
    const refused = await runClient("refused", `start=$(date +%s); nc -w 5 ${clusterIP} 80 </dev/null; status=$?; echo "took $(( $(date +%s) - start ))s"; test $status -ne 0 && test $(( $(date +%s) - start )) -lt 3`);
    expect(refused.log).toMatch(/Connection refused/);
    expect(refused.phase, refused.log).toBe("Succeeded");
  });

  it("edgeplane-agent cleanup leaves no rule or chain of the service proxy", async () => {
    agent!.kill("SIGTERM");
    await once(agent!, "exit");
    agent = undefined;
    expect(sh("ip", ["netns", "exec", NETNS, "iptables-save"])).toContain("EDGEPLANE-SERVICES");
    const cleaned = cleanupNode();
    expect(cleaned).toMatch(/deleted \d+ nat and \d+ filter chains of the service proxy/);
    expect(sh("ip", ["netns", "exec", NETNS, "iptables-save"])).not.toContain("EDGEPLANE");
  });
});
