// `kubectl port-forward` to real containers through the node tunnel (as root): the agent bundle
// joins on the cri runtime with its own containerd; a busybox pod serves HTTP on two ports, and
// every kubectl here that speaks port-forward over WebSocket (1.31+) forwards both at once, with
// several requests on each; a file arrives whole; a port nothing listens on answers with the kubelet's words; the
// SPDY-only kubectls get the Status naming 1.31.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KUBECTLS } from "../support/kubectl.ts";
import { exchange, startPortForward } from "../support/port-forward.ts";
import { criSuite } from "../support/agent-suite.ts";

const kubectl = "/usr/bin/kubectl";
const NODE = "pf-cri";
const BRIDGE = "ep-pf0";
/** A pod range clear of npm start's (10.244.0.0/16) and the other cri e2e's (10.246–10.249). */
const CLUSTER_CIDR = "10.250.0.0/16";
/** kubectl port-forward speaks WebSocket from 1.31; /usr/bin/kubectl runs the server's version (1.30). */
const minor = (binary: string) => Number(/kubectl\.1\.(\d+)$/.exec(binary)?.[1] ?? 30);
const WEBSOCKET_KUBECTLS = KUBECTLS.filter((b) => minor(b) >= 31);
const SPDY_KUBECTLS = KUBECTLS.filter((b) => minor(b) < 31);

const suite = criSuite({ prefix: "node-portforward-cri-e2e", node: NODE, bridge: BRIDGE, clusterCidr: CLUSTER_CIDR });
const {} = suite;

const get = (path: string) => `GET ${path} HTTP/1.0\r\nHost: localhost\r\n\r\n`;

describe("kubectl port-forward to real containers through the tunnel", () => {
  it("the agent joins on containerd and a pod serves HTTP on ports 80 and 8080", async () => {
    await suite.join(["--kill-pods-on-exit"]);
    const pod = {
      apiVersion: "v1", kind: "Pod", metadata: { name: "web" },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [{
          name: "web", image: "busybox",
          command: ["sh", "-c", "mkdir -p /a /b && echo eighty > /a/index.html && echo eighty-eighty > /b/index.html && dd if=/dev/urandom of=/a/big bs=1048576 count=8 2>/dev/null && httpd -p 80 -h /a && exec httpd -f -p 8080 -h /b"],
        }],
      },
    };
    const file = join(suite.dir, "web.json");
    writeFileSync(file, JSON.stringify(pod));
    await suite.harness.ok(kubectl, "apply", "-f", file);
    await suite.harness.ok(kubectl, "wait", "pod/web", "--for=condition=Ready", "--timeout=120s");
  });

  it("every kubectl 1.31+ forwards both ports, several requests at once on each", async () => {
    expect(WEBSOCKET_KUBECTLS.length).toBeGreaterThan(0);
    for (const binary of WEBSOCKET_KUBECTLS) {
      const forward = await startPortForward(binary, suite.harness.env(), "pod/web", [80, 8080]);
      try {
        const [eighty, eightyEighty] = forward.locals as [number, number];
        const requests = [eighty, eightyEighty, eighty, eightyEighty, eighty, eightyEighty];
        const answers = (await Promise.all(requests.map((port) => exchange(port, get("/index.html"))))).map(String);
        for (const [i, answer] of answers.entries()) {
          expect(answer, binary).toMatch(/^HTTP\/1\.[01] 200 OK\r\n/);
          expect(answer.endsWith(requests[i] === eighty ? "\r\n\r\neighty\n" : "\r\n\r\neighty-eighty\n"), `${binary}: ${answer}`).toBe(true);
        }
        for (let i = 0; i < 3; i++) expect(String(await exchange(eighty, get("/missing"))), binary).toMatch(/^HTTP\/1\.[01] 404 /);
      } finally {
        forward.stop();
      }
    }
  });

  it("a file the pod sends and closes after arrives whole (its last bytes too)", async () => {
    const newest = WEBSOCKET_KUBECTLS.at(-1)!;
    const expected = (await suite.harness.ok(kubectl, "exec", "web", "--", "sha256sum", "/a/big")).split(" ")[0];
    const forward = await startPortForward(newest, suite.harness.env(), "pod/web", [80]);
    try {
      for (let i = 0; i < 3; i++) {
        const answer = await exchange(forward.locals[0]!, get("/big"));
        const body = answer.subarray(answer.indexOf("\r\n\r\n") + 4);
        expect(body.byteLength).toBe(8 * 1024 * 1024);
        expect(createHash("sha256").update(body).digest("hex")).toBe(expected);
      }
    } finally {
      forward.stop();
    }
  });

  it("a port nothing listens on: the connection ends with the kubelet's words, and kubectl says it lost the pod", async () => {
    const newest = WEBSOCKET_KUBECTLS.at(-1)!;
    const forward = await startPortForward(newest, suite.harness.env(), "pod/web", [9999]);
    expect((await exchange(forward.locals[0]!, get("/"))).byteLength).toBe(0);
    expect(await forward.exited).not.toBe(0);
    expect(forward.output()).toMatch(/error forwarding port 9999 to pod web_default, uid [0-9a-f-]+: connect ECONNREFUSED 10\.250\.\d+\.\d+:9999/);
    expect(forward.output()).toContain("lost connection to pod");
  });

  it("a SPDY-only kubectl gets the Status naming the kubectl it needs", async () => {
    expect(SPDY_KUBECTLS.length).toBeGreaterThan(0);
    for (const binary of SPDY_KUBECTLS) {
      const result = await suite.harness.kubectl(binary, "port-forward", "pod/web", ":80");
      expect(result.code, binary).not.toBe(0);
      expect(result.stderr, binary).toContain("port-forward needs kubectl 1.31 or newer");
    }
  });
});
