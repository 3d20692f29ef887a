// kubectl 1.32 and 1.33 where they speak protobuf to the local control plane: typed creates print
// the protobuf answer, describe reads objects and event lists as protobuf, `run --attach` follows a
// protobuf watch, and `drain` cordons, lists and deletes with protobuf DeleteOptions. kubectl 1.31
// (JSON only) describes the same objects as the reference.
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";

const BIN = "/usr/lib/google-cloud-sdk/bin";
const PROTOBUF_KUBECTLS = [32, 33].map((minor) => `${BIN}/kubectl.1.${minor}`).filter((path) => existsSync(path));
const JSON_KUBECTL = `${BIN}/kubectl.1.31`;

let harness: KubectlHarness;
let dir: string;

beforeAll(async () => {
  // No controllers or scheduler: typed creates and describes are compared with answers a status write or an Event would change.
  harness = await startKubectlHarness("edgeplane-e2e-protobuf-", { vars: { KUBE_CONTROLLER_MANAGER_ENABLED: "false", KUBE_SCHEDULER_ENABLED: "false" } }, 90_000);
  ({ dir } = harness);
});

afterAll(async () => {
  await harness?.stop();
});

const env = () => harness.env();
const kubectl = (binary: string, ...args: string[]) => harness.kubectl(binary, ...args);
const ok = (binary: string, ...args: string[]) => harness.ok(binary, ...args);

/**
 * What kubectl prints from a typed object, less the zero values Go prints for fields without
 * `omitempty` (PodDisruptionBudget status counters) that the server's JSON leaves out.
 */
function withoutUnsetZeros(typed: unknown, json: unknown): unknown {
  if (typed === null || typeof typed !== "object" || Array.isArray(typed)) return typed;
  const other = (json ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(typed)
    .filter(([key, value]) => key in other || !(value === null || value === 0 || value === false || value === ""))
    .map(([key, value]) => [key, withoutUnsetZeros(value, other[key])]));
}

it("finds kubectl binaries that speak protobuf", () => {
  expect(PROTOBUF_KUBECTLS.length).toBeGreaterThanOrEqual(1);
});

describe.each(PROTOBUF_KUBECTLS)("%s", (binary) => {
  const ns = `pb-${binary.match(/(\d+)$/)![1]}`;

  beforeAll(async () => {
    await ok(binary, "create", "namespace", ns);
    // What the serviceaccount controller makes in a new namespace (the controller manager is off here).
    await ok(binary, "create", "serviceaccount", "default", "-n", ns);
  });

  it("prints the protobuf answer of typed creates as get prints the server's JSON", async () => {
    const creates: [resource: string, name: string, args: string[]][] = [
      ["configmap", "cfg", ["create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=two"]],
      ["secret", "sec", ["create", "secret", "generic", "sec", "--from-literal=p=q"]],
      ["deployment", "web", ["create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "--port=80"]],
      ["service", "web", ["create", "service", "clusterip", "web", "--tcp=80:8080"]],
      ["serviceaccount", "robot", ["create", "serviceaccount", "robot"]],
      ["role", "reader", ["create", "role", "reader", "--verb=get,list", "--resource=pods"]],
      ["rolebinding", "reader", ["create", "rolebinding", "reader", "--role=reader", "--serviceaccount", `${ns}:robot`]],
      // Object counts only: a cpu or memory quota would make every later pod here state its requests, as kube's does.
      ["resourcequota", "q", ["create", "quota", "q", "--hard=pods=10,services=5,count/deployments.apps=5"]],
      ["poddisruptionbudget", "pdb", ["create", "poddisruptionbudget", "pdb", "--selector=app=web", "--min-available=1"]],
      ["job", "once", ["create", "job", "once", "--image=busybox:1.36", "-n", ns, "-o", "json", "--", "echo", "hi"]],
    ];
    for (const [resource, name, args] of creates) {
      const created = JSON.parse(await ok(binary, ...(args.includes("--") ? args : [...args, "-n", ns, "-o", "json"])));
      const got = JSON.parse(await ok(binary, "get", resource, name, "-n", ns, "-o", "json"));
      expect(withoutUnsetZeros(created, got), resource).toEqual(got);
    }
  });

  it("describes a pod's volumes, probes and references as kubectl 1.31 does from JSON", async () => {
    const manifest = join(dir, `${ns}-rich.json`);
    writeFileSync(manifest, JSON.stringify({
      apiVersion: "v1", kind: "List", items: [
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: ns }, data: { a: "1" } },
        {
          apiVersion: "v1", kind: "Pod", metadata: { name: "rich", namespace: ns, labels: { app: "rich" }, annotations: { note: "ünïcode ✓" } },
          spec: {
            volumes: [{ name: "cfg", configMap: { name: "settings", defaultMode: 420 } }, { name: "scratch", emptyDir: { sizeLimit: "1Gi" } }, { name: "sec", secret: { secretName: "creds", optional: true } }],
            containers: [{
              name: "web", image: "nginx:1.25", ports: [{ name: "http", containerPort: 8080 }],
              env: [{ name: "A", valueFrom: { configMapKeyRef: { name: "settings", key: "a" } } }, { name: "B", value: "two" }, { name: "P", valueFrom: { secretKeyRef: { name: "creds", key: "p", optional: true } } }],
              envFrom: [{ configMapRef: { name: "settings" } }, { secretRef: { name: "creds", optional: true }, prefix: "S_" }],
              resources: { limits: { cpu: "500m", memory: "128Mi" }, requests: { cpu: "250m" } },
              livenessProbe: { httpGet: { path: "/healthz", port: "http" }, initialDelaySeconds: 3, periodSeconds: 10 },
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 5 },
              startupProbe: { exec: { command: ["cat", "/tmp/ready"] }, failureThreshold: 30 },
              volumeMounts: [{ name: "cfg", mountPath: "/etc/cfg", readOnly: true }, { name: "scratch", mountPath: "/scratch" }],
            }],
            tolerations: [{ key: "dedicated", operator: "Equal", value: "web", effect: "NoSchedule" }],
            // Without the service account token volume: kubectl 1.31 and 1.33 describe projected volumes differently.
            automountServiceAccountToken: false,
            nodeSelector: { "kubernetes.io/os": "linux" },
          },
        },
      ],
    }));
    await ok(binary, "create", "-f", manifest);
    const described = await ok(binary, "describe", "pod", "rich", "-n", ns);
    expect(described).toMatch(/A:\s+<set to the key 'a' of config map 'settings'>/);
    expect(described).toMatch(/Liveness:\s+http-get http:\/\/:http\/healthz delay=3s/); // kube defaults the scheme to HTTP
    expect(described).toMatch(/Startup:\s+exec \[cat \/tmp\/ready\]/);
    expect(described).toMatch(/Type:\s+ConfigMap \(a volume populated by a ConfigMap\)\n\s+Name:\s+settings/);
    expect(described).toMatch(/creds\s+Secret with prefix 'S_'\s+Optional: true/);
    expect(described).toContain("ünïcode ✓");
    if (existsSync(JSON_KUBECTL)) expect(described).toBe(await ok(JSON_KUBECTL, "describe", "pod", "rich", "-n", ns));
    // The pod and its events came as protobuf (kubectl logs the response headers at -v=8).
    const verbose = await kubectl(binary, "describe", "pod", "rich", "-n", ns, "-v=8");
    expect(verbose.stderr.match(/Content-Type: application\/vnd\.kubernetes\.protobuf\s*$/gm)?.length).toBeGreaterThanOrEqual(2);
    expect(await ok(binary, "describe", "deployment", "web", "-n", ns)).toMatch(/Replicas:\s+2 desired/);
  });

  it("follows a protobuf watch: run --attach sees its pod deleted", async () => {
    const name = `attach-${ns}`;
    const child = spawn(binary, ["run", name, "-n", ns, "--image=busybox:1.36", "--restart=Never", "--attach", "--pod-running-timeout=60s", "-v=6", "--", "true"], { env: env() });
    let stderr = "";
    const listed = new Promise<void>((resolve) => child.stderr.on("data", (d) => {
      stderr += d;
      // kubectl lists the pod, then watches from the list's resourceVersion: a delete after the list is a watch event.
      if (new RegExp(`fieldSelector=metadata.name%3D${name}&limit=500&resourceVersion=0.*200 OK`).test(stderr)) resolve();
    }));
    const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
    await listed;
    await ok(binary, "delete", "pod", name, "-n", ns, "--grace-period=0", "--force");
    expect(await exited).toBe(1);
    // The DELETED event, decoded from the protobuf stream: kubectl's own NotFound without a name.
    expect(stderr).toContain('Error from server (NotFound): pods "" not found');
    // The one decode complaint allowed: the stream closing when kubectl stops watching.
    expect(stderr.split("\n").filter((line) => line.includes("Unable to decode") && !line.includes("use of closed network connection"))).toEqual([]);
  });

  it("drains a node: cordon, pod list and deletes with protobuf DeleteOptions, then uncordons", async () => {
    const node = `node-${ns}`;
    const manifest = join(dir, `${ns}-node.json`);
    writeFileSync(manifest, JSON.stringify({
      apiVersion: "v1", kind: "List", items: [
        { apiVersion: "v1", kind: "Node", metadata: { name: node }, spec: {} },
        ...["one", "two"].map((pod) => ({ apiVersion: "v1", kind: "Pod", metadata: { name: `${node}-${pod}`, namespace: ns }, spec: { nodeName: node, containers: [{ name: "c", image: "busybox:1.36" }] } })),
      ],
    }));
    await ok(binary, "create", "-f", manifest);
    const drained = await ok(binary, "drain", node, "--force", "--disable-eviction", "--grace-period=0", "--timeout=60s");
    expect(drained).toContain(`node/${node} cordoned`);
    expect(drained).toContain(`pod/${node}-one deleted`);
    expect(drained).toContain(`node/${node} drained`);
    expect(await ok(binary, "get", "pods", "-n", ns, "--field-selector", `spec.nodeName=${node}`, "-o", "name")).toBe("");
    expect(await ok(binary, "get", "node", node, "-o", "jsonpath={.spec.unschedulable}")).toBe("true");
    expect(await ok(binary, "uncordon", node)).toContain(`node/${node} uncordoned`);
    expect(await ok(binary, "get", "node", node, "-o", "jsonpath={.spec.unschedulable}")).toBe("");
  });
});
