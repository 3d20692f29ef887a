// LoadBalancer Services through the edge on a real node (as root): a Deployment of three busybox
// httpd pods on the cri runtime (the agent in a network namespace of its own), exposed with
// `kubectl expose --type=LoadBalancer`, stays <pending> until it opts in with the
// edgeplane.dev/expose annotation; then `kubectl get svc` shows its hostname at the edge and `curl`
// reaches all three pods through the control plane's own URL, with no cluster credential, by the
// /lb/<ns>/<svc>/ prefix and by its hostname (as the Host header); the request's method, body and
// forwarding headers reach the pod (a CGI script echoes them); scaled to 0 the edge answers 503.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubectl, ServicesNode } from "../support/services.ts";

const run = promisify(execFile);
const node = new ServicesNode({ prefix: "loadbalancer-e2e-", node: "e2e-lb", netns: "ep-e2e-lb", hostIP: "10.99.79.1", nodeIP: "10.99.79.2", veth: "ep-e2e-lbveth", bridge: "ep-lb0", clusterCIDR: "10.250.0.0/16" });
let caFile = "";

beforeAll(async () => {
  await node.start();
  caFile = join(node.dir, "ca.pem");
  writeFileSync(caFile, node.harness.plane.caPem!);
  await node.join();
  // Every test's Service: three httpd pods behind a LoadBalancer Service, not yet opted in.
  await node.harness.ok(kubectl, "create", "deployment", "web", "--image=busybox", "--replicas=3", "--", "sh", "-c", SERVE);
  await node.harness.ok(kubectl, "expose", "deployment", "web", "--type=LoadBalancer", "--port=80", "--target-port=8080");
  await node.until("three ready endpoints", async () => ((await node.readyEndpoints("web")).length === 3 ? true : undefined), 120_000);
});

afterAll(() => node.stop());

/** curl against the control plane's URL (its CA trusted, no token); status and body. */
async function curl(path: string, ...args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await run("curl", ["-sS", "--max-time", "20", "--cacert", caFile, "-w", "\n%{http_code}", ...args, `${node.harness.plane.url}${path}`]);
  const cut = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

// httpd serves each pod's hostname at / and a CGI script that echoes what the request carried.
const CGI = [
  "#!/bin/sh",
  // CGI headers end in CRLF as HTTP's do: busybox httpd passes them on as the script writes them.
  "printf 'Content-Type: text/plain\\r\\n\\r\\n'",
  'echo "method=$REQUEST_METHOD host=$HTTP_HOST proto=$HTTP_X_FORWARDED_PROTO prefix=$HTTP_X_FORWARDED_PREFIX query=$QUERY_STRING"',
  'test -n "$CONTENT_LENGTH" && head -c "$CONTENT_LENGTH"',
  "exit 0",
].join("\n");
const SERVE = `mkdir -p /www/cgi-bin && hostname > /www/index.html && printf '%s\\n' '${CGI.replaceAll("'", "'\\''")}' > /www/cgi-bin/echo && chmod +x /www/cgi-bin/echo && httpd -p 8080 -h /www && trap 'exit 0' TERM && while :; do sleep 1 & wait $!; done`;

describe("LoadBalancer Services through the edge", () => {
  it("stay <pending> until they opt in, then show their hostname and answer from every pod through the control plane's URL", async () => {
    expect(await node.get("service", "web")).toMatch(/^web\s+LoadBalancer\s+[\d.]+\s+<pending>\s+80:\d+\/TCP/m);
    const notExposed = await curl("/lb/default/web/");
    expect(notExposed).toEqual({ status: 404, body: 'no load balancer for service "default/web": no such Service is exposed at the edge\n' });

    await node.harness.ok(kubectl, "annotate", "service", "web", "edgeplane.dev/expose=true");
    const table = await node.until("the Service's hostname", async () => {
      const out = await node.get("service", "web");
      return out.includes("web.default.lb.localhost") ? out : undefined;
    });
    expect(table).toMatch(/^web\s+LoadBalancer\s+[\d.]+\s+web\.default\.lb\.localhost\s+80:\d+\/TCP/m);
    const described = await node.harness.ok(kubectl, "describe", "service", "web");
    expect(described).toMatch(/LoadBalancer Ingress:\s+web\.default\.lb\.localhost/);
    expect(described).toMatch(/Normal\s+EnsuringLoadBalancer\s+.*Ensuring load balancer/);
    expect(described).toMatch(/Normal\s+EnsuredLoadBalancer\s+.*Ensured load balancer/);

    const backends = new Set<string>();
    for (let i = 0; i < 30 && backends.size < 3; i++) {
      const answer = await curl("/lb/default/web/");
      expect(answer.status, answer.body).toBe(200);
      backends.add(answer.body.trim());
    }
    expect([...backends].every((b) => b.startsWith("web-")), [...backends].join(",")).toBe(true);
    expect(backends.size).toBe(3);
    const byHost = await curl("/", "-H", "Host: web.default.lb.localhost");
    expect(byHost.status).toBe(200);
    expect(byHost.body).toMatch(/^web-/);
  });

  it("relays the method, query, body and forwarding headers to the pod, and the pod's own status back", async () => {
    await node.harness.ok(kubectl, "annotate", "--overwrite", "service", "web", "edgeplane.dev/expose=true");
    await node.until("the edge to answer", async () => ((await curl("/lb/default/web/")).status === 200 ? true : undefined));
    const echoed = await curl("/lb/default/web/cgi-bin/echo?x=1", "-X", "POST", "--data-binary", "hello edge");
    expect(echoed.status, echoed.body).toBe(200);
    const host = new URL(node.harness.plane.url).host;
    expect(echoed.body).toBe(`method=POST host=${host} proto=https prefix=/lb/default/web query=x=1\nhello edge`);
    const missing = await curl("/lb/default/web/no-such-page");
    expect(missing.status).toBe(404);
  });

  it("answers 503 once the Service has no ready endpoints", async () => {
    await node.harness.ok(kubectl, "create", "deployment", "gone", "--image=busybox", "--", "sh", "-c", SERVE);
    await node.harness.ok(kubectl, "expose", "deployment", "gone", "--type=LoadBalancer", "--port=80", "--target-port=8080");
    await node.harness.ok(kubectl, "annotate", "service", "gone", "edgeplane.dev/expose=true");
    await node.until("the edge to answer", async () => ((await curl("/lb/default/gone/")).status === 200 ? true : undefined), 120_000);
    await node.harness.ok(kubectl, "scale", "deployment", "gone", "--replicas=0");
    await node.until("no ready endpoints", async () => ((await node.readyEndpoints("gone")).length === 0 ? true : undefined), 60_000);
    expect(await curl("/lb/default/gone/")).toEqual({ status: 503, body: 'service "default/gone" has no ready endpoints\n' });
  });
});
