// A kernel to try the proxy's rules in (as root), for the iptables and nftables tests: a "node"
// network namespace that holds the rules and a "pod" namespace behind a veth pair serving HTTP on
// two addresses, each answering with its own address and the client's as seen after any NAT.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";

export const NODE_IP = "10.213.0.1";
export const BACKENDS = ["10.213.0.2", "10.213.0.3"];
export const LOCAL_CIDR = "10.213.0.0/24";

function sh(...args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: "utf8" });
}

export interface Testbed {
  nodeNs: string;
  podNs: string;
  /** A command run in the node namespace; its output. */
  inNode(...args: string[]): string;
  /** Requests from a namespace, one after another: each answer's body or error code, and the whole time taken. */
  get(ns: string, url: string, times: number): { answers: string[]; ms: number };
  stop(): void;
}

export async function startTestbed(name: string): Promise<Testbed> {
  const nodeNs = `edgeplane-${name}-node-${process.pid}`;
  const podNs = `edgeplane-${name}-pod-${process.pid}`;
  const inNode = (...args: string[]) => sh("ip", "netns", "exec", nodeNs, ...args);
  sh("ip", "netns", "add", nodeNs);
  sh("ip", "netns", "add", podNs);
  sh("ip", "link", "add", "ep-node0", "netns", nodeNs, "type", "veth", "peer", "name", "ep-pod0", "netns", podNs);
  inNode("ip", "addr", "add", `${NODE_IP}/24`, "dev", "ep-node0");
  inNode("ip", "link", "set", "ep-node0", "up");
  inNode("ip", "link", "set", "lo", "up");
  // A node has a default route; ClusterIPs are routed by it until DNAT says otherwise.
  inNode("ip", "route", "add", "default", "dev", "ep-node0");
  inNode("sysctl", "-qw", "net.ipv4.ip_forward=1");
  for (const ip of BACKENDS) sh("ip", "netns", "exec", podNs, "ip", "addr", "add", `${ip}/24`, "dev", "ep-pod0");
  sh("ip", "netns", "exec", podNs, "ip", "link", "set", "ep-pod0", "up");
  sh("ip", "netns", "exec", podNs, "ip", "link", "set", "lo", "up");
  sh("ip", "netns", "exec", podNs, "ip", "route", "add", "default", "via", NODE_IP);
  const script = `require("http").createServer((q, s) => s.end(q.socket.localAddress + " " + q.socket.remoteAddress)).listen(8080, "0.0.0.0", () => console.log("listening"))`;
  const server: ChildProcess = spawn("ip", ["netns", "exec", podNs, process.execPath, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve) => server.stdout!.once("data", () => resolve()));

  function get(ns: string, url: string, times: number): { answers: string[]; ms: number } {
    const client = `
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
    return JSON.parse(sh("ip", "netns", "exec", ns, process.execPath, "-e", client));
  }

  return {
    nodeNs, podNs, inNode, get,
    stop() {
      server.kill();
      for (const ns of [nodeNs, podNs]) execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    },
  };
}
