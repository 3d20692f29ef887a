// LoadBalancer Services through the edge on hollow nodes: the agent bundle runs two simulated
// nodes, real kubectl exposes a Deployment with `--type=LoadBalancer` and opts it in, and plain
// fetches with no credential reach the pods' simulated answers (which echo the request) through the
// control plane's URL and the nodes' tunnels, from both nodes; a Service not exposed is 404, and
// with every node away the edge answers 503.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgent } from "../../scripts/build-agent.ts";
import { bootstrapToken } from "../../scripts/local-node.ts";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { until as waitUntil } from "../support/until.ts";

const kubectl = "/usr/bin/kubectl";
const HOST_NODE = existsSync("/usr/bin/node") ? "/usr/bin/node" : process.execPath;
let harness: KubectlHarness;
let dir: string;
let agent: ChildProcess | undefined;
let output = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "loadbalancer-sim-e2e-"));
  const bundle = join(dir, "edgeplane-agent.mjs");
  await buildAgent(bundle);
  harness = await startKubectlHarness("loadbalancer-sim-e2e-");
  const caHash = createHash("sha256").update(harness.plane.caPem!).digest("hex");
  agent = spawn(HOST_NODE, [bundle, "join", "--server", harness.plane.url, "--token", await bootstrapToken(harness.plane), "--ca-cert-sha256", caHash,
    "--runtime", "simulated", "--nodes", "2", "--node-name-prefix", "lbsim-", "--state-dir", join(dir, "agent")], { stdio: ["ignore", "pipe", "pipe"] });
  agent.stdout!.on("data", (d) => (output += d));
  agent.stderr!.on("data", (d) => (output += d));
});

afterAll(async () => {
  agent?.kill("SIGKILL");
  await harness?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) =>
  waitUntil(what, probe, { timeoutMs, detail: () => `agent output:\n${output.slice(-4000)}` });

/**
 * A request to the control plane's URL (its CA trusted) with no credential; the certificate is
 * checked for localhost whatever Host header is sent (Node's https would check the Host's name).
 */
function edge(path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${harness.plane.url}${path}`, { method: init.method ?? "GET", headers: init.headers, ca: harness.plane.caPem, servername: "localhost" }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

interface Echo {
  pod: string;
  method: string;
  path: string;
  headers: [string, string][];
  body: string;
}

describe("LoadBalancer Services through the edge on hollow nodes", () => {
  it("answer from pods on both nodes, with the request as the pod received it", async () => {
    await until("two Ready nodes", async () => {
      const ready = await harness.ok(kubectl, "get", "nodes", "-o", "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}");
      return ready.split(" ").filter((s) => s === "True").length === 2 ? true : undefined;
    });
    await harness.ok(kubectl, "create", "deployment", "web", "--image=busybox", "--replicas=4");
    await harness.ok(kubectl, "expose", "deployment", "web", "--type=LoadBalancer", "--port=80", "--target-port=8080");
    expect(await edge("/lb/default/web/")).toEqual({ status: 404, text: 'no load balancer for service "default/web": no such Service is exposed at the edge\n' });
    await harness.ok(kubectl, "annotate", "service", "web", "edgeplane.dev/expose=true");
    await until("four ready endpoints on two nodes", async () => {
      const nodes = await harness.ok(kubectl, "get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "jsonpath={.items[*].endpoints[?(@.conditions.ready==true)].nodeName}");
      const names = nodes.split(" ").filter(Boolean);
      return names.length === 4 && new Set(names).size === 2 ? true : undefined;
    });
    expect(await harness.ok(kubectl, "get", "service", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].hostname}")).toBe("web.default.lb.localhost");

    const posted = await edge("/lb/default/web/orders?id=7", { method: "POST", body: "one order", headers: { "X-Request-Id": "r-1" } });
    expect(posted.status).toBe(200);
    const echo = JSON.parse(posted.text) as Echo;
    expect(echo).toMatchObject({ method: "POST", path: "/orders?id=7", body: "one order" });
    expect(echo.pod).toMatch(/^default\/web-/);
    const headers = new Map(echo.headers);
    expect(headers.get("x-request-id")).toBe("r-1");
    expect(headers.get("host")).toBe(new URL(harness.plane.url).host);
    expect(headers.get("x-forwarded-proto")).toBe("https");
    expect(headers.get("x-forwarded-prefix")).toBe("/lb/default/web");

    const pods = new Set<string>();
    await until("answers from all four pods", async () => {
      const answer = await edge("/", { headers: { Host: "web.default.lb.localhost" } });
      expect(answer.status).toBe(200);
      pods.add((JSON.parse(answer.text) as Echo).pod);
      return pods.size === 4 ? true : undefined;
    });
  });

  it("answers 503 when no node with a ready endpoint is connected", async () => {
    agent!.kill("SIGKILL");
    await once(agent!, "exit");
    agent = undefined;
    const answer = await until("the edge to find no node connected", async () => {
      const current = await edge("/lb/default/web/");
      return current.status === 503 ? current : undefined;
    });
    expect(answer.text).toMatch(/^service "default\/web": no node with a ready endpoint could serve the request \(node "lbsim-\d+" is not connected\)\n$/);
  });
});
