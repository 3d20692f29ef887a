// The rules in a real kernel (as root): a "node" network namespace holding the rules and a "pod"
// namespace behind a veth pair serving HTTP on two addresses; a ClusterIP and a NodePort reach
// both backends, affinity keeps a client on one, a Service without endpoints is refused at once,
// and cleanup leaves no rule or chain of ours.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import type { Service } from "kubernetes-types/core/v1";
import type { EndpointSlice } from "kubernetes-types/discovery/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostCommands, Iptables } from "./iptables.ts";
import { computeRules, type ProxyState, type Table } from "./rules.ts";

const NODE_NS = `edgeplane-proxy-node-${process.pid}`;
const POD_NS = `edgeplane-proxy-pod-${process.pid}`;
const NODE_IP = "10.213.0.1";
const BACKENDS = ["10.213.0.2", "10.213.0.3"];
const node = { name: "node-a", localCIDR: "10.213.0.0/24" };

function sh(...args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: "utf8" });
}

function inNode(...args: string[]): string {
  return sh("ip", "netns", "exec", NODE_NS, ...args);
}

let server: ChildProcess;

beforeAll(async () => {
  sh("ip", "netns", "add", NODE_NS);
  sh("ip", "netns", "add", POD_NS);
  sh("ip", "link", "add", "ep-node0", "netns", NODE_NS, "type", "veth", "peer", "name", "ep-pod0", "netns", POD_NS);
  inNode("ip", "addr", "add", `${NODE_IP}/24`, "dev", "ep-node0");
  inNode("ip", "link", "set", "ep-node0", "up");
  inNode("ip", "link", "set", "lo", "up");
  // A node has a default route; ClusterIPs are routed by it until DNAT says otherwise.
  inNode("ip", "route", "add", "default", "dev", "ep-node0");
  inNode("sysctl", "-qw", "net.ipv4.ip_forward=1");
  for (const ip of BACKENDS) sh("ip", "netns", "exec", POD_NS, "ip", "addr", "add", `${ip}/24`, "dev", "ep-pod0");
  sh("ip", "netns", "exec", POD_NS, "ip", "link", "set", "ep-pod0", "up");
  sh("ip", "netns", "exec", POD_NS, "ip", "link", "set", "lo", "up");
  sh("ip", "netns", "exec", POD_NS, "ip", "route", "add", "default", "via", NODE_IP);
  // Each backend answers with its own address and the client's, as seen after any NAT.
  const script = `require("http").createServer((q, s) => s.end(q.socket.localAddress + " " + q.socket.remoteAddress)).listen(8080, "0.0.0.0", () => console.log("listening"))`;
  server = spawn("ip", ["netns", "exec", POD_NS, process.execPath, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve) => server.stdout!.once("data", () => resolve()));
});

afterAll(() => {
  server?.kill();
  for (const ns of [NODE_NS, POD_NS]) execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
});

/** Requests from a namespace, one after another: each answer's body or error code, and the whole time taken. */
function get(ns: string, url: string, times: number): { answers: string[]; ms: number } {
  const script = `
    const http = require("http");
    const started = Date.now();
    (async () => {
      const answers = [];
      for (let i = 0; i < ${times}; i++) {
        answers.push(await new Promise((resolve) => {
          const req = http.get(${JSON.stringify(url)}, { agent: false, timeout: 5000 }, (res) => { let b = ""; res.on("data", (d) => b += d); res.on("end", () => resolve(b)); });
          req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
          req.on("error", (e) => resolve(e.code));
        }));
      }
      console.log(JSON.stringify({ answers, ms: Date.now() - started }));
    })();`;
  return JSON.parse(sh("ip", "netns", "exec", ns, process.execPath, "-e", script));
}

function web(spec: Service["spec"] = {}): Service {
  return { metadata: { namespace: "default", name: "web" }, spec: { clusterIP: "10.96.0.20", type: "NodePort", ports: [{ port: 80, nodePort: 30080, protocol: "TCP" }], ...spec } };
}

function slice(ips: string[]): EndpointSlice {
  return {
    metadata: { namespace: "default", name: "web-1", labels: { "kubernetes.io/service-name": "web" } },
    addressType: "IPv4", ports: [{ port: 8080, protocol: "TCP" }],
    endpoints: ips.map((ip) => ({ addresses: [ip], nodeName: "node-b", conditions: { ready: true } })),
  };
}

const iptables = new Iptables(hostCommands(NODE_NS));
let existing: Record<Table, string[]> = { nat: [], filter: [] };

async function apply(state: ProxyState): Promise<void> {
  const rules = computeRules(state);
  await iptables.apply(rules, existing);
  await iptables.ensureJumps();
  existing = rules.chains;
}

describe("iptables rules in a network namespace", () => {
  it("a ClusterIP reaches every ready backend", async () => {
    await apply({ services: [web()], slices: [slice(BACKENDS)], node });
    const { answers } = get(NODE_NS, "http://10.96.0.20/", 30);
    expect(new Set(answers.map((a) => a.split(" ")[0]))).toEqual(new Set(BACKENDS));
  });

  it("a NodePort reaches the backends, its traffic masqueraded to the node's address", async () => {
    const { answers } = get(POD_NS, `http://${NODE_IP}:30080/`, 10);
    for (const answer of answers) expect(answer).toMatch(new RegExp(`^10\\.213\\.0\\.[23] ${NODE_IP.replaceAll(".", "\\.")}$`));
  });

  it("sessionAffinity ClientIP keeps a client on one backend", async () => {
    await apply({ services: [web({ sessionAffinity: "ClientIP" })], slices: [slice(BACKENDS)], node });
    const { answers } = get(NODE_NS, "http://10.96.0.20/", 10);
    const backends = new Set(answers.map((a) => a.split(" ")[0]));
    expect(backends.size).toBe(1);
    expect(BACKENDS).toContain([...backends][0]);
  });

  it("without endpoints the ClusterIP and the NodePort refuse connections at once", async () => {
    await apply({ services: [web()], slices: [slice([])], node });
    const cluster = get(NODE_NS, "http://10.96.0.20/", 3);
    expect(cluster.answers).toEqual(["ECONNREFUSED", "ECONNREFUSED", "ECONNREFUSED"]);
    expect(cluster.ms).toBeLessThan(1000);
    const nodePort = get(POD_NS, `http://${NODE_IP}:30080/`, 1);
    expect(nodePort.answers).toEqual(["ECONNREFUSED"]);
  });

  it("a partial sync (only the changed chains written) moves new connections to the new endpoint", async () => {
    await apply({ services: [web()], slices: [slice([BACKENDS[0]!])], node });
    const rules = computeRules({ services: [web()], slices: [slice([BACKENDS[1]!])], node });
    await iptables.apply(rules, existing, computeRules({ services: [web()], slices: [slice([BACKENDS[0]!])], node }));
    const { answers } = get(NODE_NS, "http://10.96.0.20/", 5);
    expect(new Set(answers.map((a) => a.split(" ")[0]))).toEqual(new Set([BACKENDS[1]]));
    // The old endpoint's chain is left, unreferenced, until a full sync deletes it.
    expect(inNode("iptables-save", "-t", "nat")).toContain(`${BACKENDS[0]}:8080`);
    await iptables.apply(rules, await iptables.ourChains());
    existing = rules.chains;
    expect(inNode("iptables-save", "-t", "nat")).not.toContain(`${BACKENDS[0]}:8080`);
  });

  it("a Service deleted leaves no chain of its own", async () => {
    await apply({ services: [web()], slices: [slice(BACKENDS)], node });
    expect(inNode("iptables-save", "-t", "nat")).toMatch(/EDGEPLANE-SEP-/);
    await apply({ services: [], slices: [], node });
    expect(inNode("iptables-save", "-t", "nat")).not.toMatch(/EDGEPLANE-(SVC|SEP|EXT)-/);
  });

  it("cleanup removes every rule and chain of ours", async () => {
    await apply({ services: [web()], slices: [slice(BACKENDS)], node });
    await iptables.ensureJumps();
    expect(await iptables.hasChain("nat", "EDGEPLANE-MARK-MASQ")).toBe(true);
    const done = await iptables.cleanup();
    expect(done.length).toBeGreaterThan(0);
    expect(inNode("iptables-save")).not.toContain("EDGEPLANE");
    expect(await iptables.hasChain("nat", "EDGEPLANE-MARK-MASQ")).toBe(false);
  });
});
