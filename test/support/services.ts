// The Services e2e suites' node (as root): a control plane of its own with a kubectl harness, and
// the agent bundle joined on the cri runtime in a network namespace of its own (its packet filter
// rules and DNS port apart from any other agent on this host) behind a veth pair, with forwarders
// to the control plane on 127.0.0.1; pods that run a script once and hand back their log; HTTP by
// hand from busybox; and `edgeplane-agent cleanup`.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pod } from "kubernetes-types/core/v1";
import { buildAgent } from "../../scripts/build-agent.ts";
import { bootstrapToken } from "../../scripts/local-node.ts";
import { startKubectlHarness, type KubectlHarness } from "./kubectl.ts";
import { until as waitUntil } from "./until.ts";

export const kubectl = "/usr/bin/kubectl";
const HOST_NODE = existsSync("/usr/bin/node") ? "/usr/bin/node" : process.execPath;

export function sh(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: "utf8" });
}

function shQuiet(command: string, args: string[]): void {
  try {
    execFileSync(command, args, { stdio: "ignore" });
  } catch {
    // Already gone.
  }
}

export interface ServicesNodeOptions {
  /** The harness's temporary folder prefix. */
  prefix: string;
  node: string;
  netns: string;
  hostIP: string;
  nodeIP: string;
  veth: string;
  bridge: string;
  /** The cluster's pod ranges, clear of the other suites'. */
  clusterCIDR: string;
  /** The agent's --proxy-mode (its default, auto, when not given). */
  proxyMode?: string;
}

/** Asks `target` port 80 for / `times` times with HTTP by hand (Debian's busybox-static wget crashes); prints each answer's last line. */
export function askScript(target: string, times: number): string {
  return `for i in $(seq ${times}); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${target} 80 | tail -n 1 | grep . || exit 1; done`;
}

/** The distinct backends a client's log names (one hostname per line of the container log). */
export function backendsIn(log: string): Set<string> {
  return new Set(log.split("\n").map((line) => line.split(" ").slice(3).join(" ").trim()).filter((l) => l.startsWith("web-")));
}

export class ServicesNode {
  readonly options: ServicesNodeOptions;
  harness!: KubectlHarness;
  dir = "";
  bundle = "";
  agent: ChildProcess | undefined;
  output = "";
  private readonly forwarders: { server?: Server; inNamespace?: ChildProcess } = {};

  constructor(options: ServicesNodeOptions) {
    this.options = options;
  }

  get stateDir(): string {
    return join(this.dir, "agent");
  }

  /** Builds the agent bundle, starts the control plane and makes the node's host. */
  async start(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), this.options.prefix));
    this.bundle = join(this.dir, "edgeplane-agent.mjs");
    await buildAgent(this.bundle);
    this.harness = await startKubectlHarness(this.options.prefix, { vars: { CLUSTER_CIDR: this.options.clusterCIDR } });
    await this.makeHost(Number(new URL(this.harness.plane.url).port));
  }

  /** The node's host: a namespace behind a veth pair, with forwarders to the control plane on 127.0.0.1. */
  private async makeHost(port: number): Promise<void> {
    const { netns, veth, hostIP, nodeIP } = this.options;
    shQuiet("ip", ["netns", "del", netns]);
    shQuiet("ip", ["link", "del", veth]);
    sh("ip", ["netns", "add", netns]);
    sh("ip", ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns]);
    sh("ip", ["addr", "add", `${hostIP}/24`, "dev", veth]);
    sh("ip", ["link", "set", veth, "up"]);
    const inNs = (...args: string[]) => sh("ip", ["-n", netns, ...args]);
    inNs("addr", "add", `${nodeIP}/24`, "dev", "eth0");
    inNs("link", "set", "eth0", "up");
    inNs("link", "set", "lo", "up");
    inNs("route", "add", "default", "via", hostIP);
    // Either side failing (a node's forwarder killed, the control plane stopped) ends the other: no error goes unhandled.
    this.forwarders.server = createServer((socket) => {
      const upstream = createConnection(port, "127.0.0.1").on("error", () => socket.destroy());
      socket.on("error", () => upstream.destroy());
      socket.pipe(upstream).pipe(socket);
    });
    this.forwarders.server.listen(port, hostIP);
    await once(this.forwarders.server, "listening");
    const script = `require("net").createServer((s) => s.pipe(require("net").createConnection(${port}, "${hostIP}")).pipe(s).on("error", () => s.destroy())).listen(${port}, "127.0.0.1", () => console.log("listening"))`;
    this.forwarders.inNamespace = spawn("nsenter", [`--net=/run/netns/${netns}`, HOST_NODE, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    await once(this.forwarders.inNamespace.stdout!, "data");
  }

  /** A command in the node's network namespace; its output. */
  inNode(command: string, ...args: string[]): string {
    return sh("ip", ["netns", "exec", this.options.netns, command, ...args]);
  }

  /** Joins the node (the agent runs in its namespace) and waits for it to be Ready. */
  async join(): Promise<void> {
    const { node, nodeIP, bridge, netns, proxyMode } = this.options;
    const token = await bootstrapToken(this.harness.plane);
    const caHash = createHash("sha256").update(this.harness.plane.caPem!).digest("hex");
    this.agent = spawn("nsenter", [`--net=/run/netns/${netns}`, HOST_NODE, this.bundle, "join", "--server", this.harness.plane.url, "--token", token, "--ca-cert-sha256", caHash,
      "--node-name", node, "--node-ip", nodeIP, "--state-dir", this.stateDir, "--bridge", bridge, "--pod-logs-dir", join(this.stateDir, "logs"),
      ...(proxyMode ? ["--proxy-mode", proxyMode] : [])], { stdio: ["ignore", "pipe", "pipe"] });
    this.agent.stdout!.on("data", (d) => (this.output += d));
    this.agent.stderr!.on("data", (d) => (this.output += d));
    await this.until("the Node to be registered", () => this.get("node", node, "-o", "name"));
    await this.harness.ok(kubectl, "wait", `node/${node}`, "--for=condition=Ready", "--timeout=60s");
  }

  /** Stops the agent (SIGTERM: pods and rules stay). */
  async stopAgent(): Promise<void> {
    if (!this.agent) return;
    this.agent.kill("SIGTERM");
    await once(this.agent, "exit");
    this.agent = undefined;
  }

  /** `edgeplane-agent cleanup` on the node; what it printed. */
  cleanup(): string {
    return sh("nsenter", [`--net=/run/netns/${this.options.netns}`, HOST_NODE, this.bundle, "cleanup", "--state-dir", this.stateDir]);
  }

  async stop(): Promise<void> {
    this.agent?.kill("SIGKILL");
    if (this.dir && existsSync(join(this.stateDir, "agent.json"))) shQuiet("nsenter", [`--net=/run/netns/${this.options.netns}`, HOST_NODE, this.bundle, "cleanup", "--state-dir", this.stateDir]);
    this.forwarders.server?.close();
    this.forwarders.inNamespace?.kill("SIGKILL");
    shQuiet("ip", ["link", "del", this.options.veth]);
    shQuiet("ip", ["netns", "del", this.options.netns]);
    await this.harness?.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  async create(object: object): Promise<void> {
    const file = join(this.dir, `${randomBytes(4).toString("hex")}.json`);
    writeFileSync(file, JSON.stringify(object));
    await this.harness.ok(kubectl, "create", "-f", file);
  }

  get(...args: string[]): Promise<string> {
    return this.harness.ok(kubectl, "get", ...args);
  }

  until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    return waitUntil(what, probe, { timeoutMs, detail: () => `agent output:\n${this.output.slice(-4000)}` });
  }

  /** A pod that runs `script` once; how it ended and what it printed (its log is on this host). */
  async runClient(name: string, script: string): Promise<{ phase: string; log: string }> {
    await this.create({ apiVersion: "v1", kind: "Pod", metadata: { name }, spec: { restartPolicy: "Never", containers: [{ name: "client", image: "busybox", command: ["sh", "-c", script] }] } });
    const phase = await this.until(`pod ${name} to finish`, async () => {
      const current = await this.get("pod", name, "-o", "jsonpath={.status.phase}");
      return ["Succeeded", "Failed"].includes(current) ? current : undefined;
    });
    const pod = JSON.parse(await this.get("pod", name, "-o", "json")) as Pod;
    const log = join(this.stateDir, "logs", `default_${name}_${pod.metadata!.uid}`, "client", "0.log");
    return { phase, log: existsSync(log) ? readFileSync(log, "utf8") : "(no log)" };
  }

  /** The ready endpoint addresses of a Service's slices. */
  async readyEndpoints(service: string): Promise<string[]> {
    const ready = await this.get("endpointslices", "-l", `kubernetes.io/service-name=${service}`, "-o", "jsonpath={.items[*].endpoints[?(@.conditions.ready==true)].addresses[0]}");
    return ready.split(" ").filter(Boolean);
  }
}
