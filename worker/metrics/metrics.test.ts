// metrics.k8s.io in workerd: discovery (legacy and aggregated) names the group so kubectl top finds
// it; NodeMetrics and PodMetrics are what a connected agent's Summary says (nanocores, working-set
// bytes), by namespace, label and field selector, with get; nodes not connected, pods not Running
// and containers without a CPU rate yet have no metrics; RBAC: a user without a grant gets kube's
// 403, system:aggregated-metrics-reader grants it. The test plays the agent over a real tunnel.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDefaultServiceAccount, rawApi, nodeCredential } from "../../lib/client/testing.ts";
import { TunnelMux, type TunnelStream } from "../../lib/tunnel/mux.ts";
import type { ProxyStreamHeader } from "../../lib/tunnel/streams.ts";

const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => rawApi(method, path, body, { headers });
const suffix = () => crypto.randomUUID().slice(0, 6);

/** Connects a node's tunnel whose agent answers /stats/summary with `summary` (and counts the asks). */
async function connectAgent(node: string, summary: unknown): Promise<{ asked: string[] }> {
  const token = await nodeCredential(node);
  const response = await exports.default.fetch(`https://edgeplane.test/api/v1/nodes/${node}/tunnel`, { headers: { Upgrade: "websocket", Authorization: `Bearer ${token}` } });
  expect(response.status).toBe(101);
  const socket = response.webSocket!;
  socket.accept();
  const asked: string[] = [];
  const serve = async (stream: TunnelStream) => {
    const header = stream.header as ProxyStreamHeader;
    asked.push(header.path);
    stream.respond({ status: 200, headers: { "Content-Type": "application/json" } });
    await stream.write(new TextEncoder().encode(JSON.stringify(summary)));
    stream.end();
  };
  const mux = new TunnelMux({ ids: "even", send: (frame) => socket.send(frame), onOpen: (stream) => void serve(stream) });
  let delivered = Promise.resolve();
  socket.addEventListener("message", (event) => {
    const data = event.data as string | ArrayBuffer | Blob;
    if (typeof data === "string") return;
    delivered = delivered.then(async () => mux.receive(new Uint8Array(data instanceof Blob ? await data.arrayBuffer() : data)));
  });
  return { asked };
}

async function createNode(name: string, labels: Record<string, string> = {}): Promise<void> {
  expect((await api("POST", "/api/v1/nodes", { metadata: { name, labels } })).status).toBe(201);
}

async function runningPod(namespace: string, name: string, node: string, labels: Record<string, string>, containers: string[]): Promise<string> {
  const created = await api("POST", `/api/v1/namespaces/${namespace}/pods`, {
    metadata: { name, labels }, spec: { nodeName: node, containers: containers.map((c) => ({ name: c, image: "busybox" })) },
  });
  expect(created.status).toBe(201);
  const patched = await api("PATCH", `/api/v1/namespaces/${namespace}/pods/${name}/status`, { status: { phase: "Running" } }, { "Content-Type": "application/merge-patch+json" });
  expect(patched.status).toBe(200);
  return created.body.metadata.uid;
}

const T = "2026-12-07T18:00:00Z";
const figures = (nanoCores: number | undefined, workingSetBytes: number) => ({
  cpu: { time: T, ...(nanoCores !== undefined ? { usageNanoCores: nanoCores } : {}), usageCoreNanoSeconds: 5e9 },
  memory: { time: T, workingSetBytes },
});

describe("metrics.k8s.io", () => {
  it("is in discovery, legacy and aggregated, with get and list of nodes and pods", async () => {
    const groups = await api("GET", "/apis");
    expect(groups.body.groups).toContainEqual({
      name: "metrics.k8s.io", versions: [{ groupVersion: "metrics.k8s.io/v1beta1", version: "v1beta1" }], preferredVersion: { groupVersion: "metrics.k8s.io/v1beta1", version: "v1beta1" },
    });
    const list = await api("GET", "/apis/metrics.k8s.io/v1beta1");
    expect(list.body.resources.map((r: { name: string; kind: string; namespaced: boolean; verbs: string[] }) => [r.name, r.kind, r.namespaced, r.verbs])).toEqual([
      ["nodes", "NodeMetrics", false, ["get", "list"]],
      ["pods", "PodMetrics", true, ["get", "list"]],
    ]);
    const aggregated = await api("GET", "/apis", undefined, { Accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" });
    const group = aggregated.body.items.find((g: { metadata: { name: string } }) => g.metadata.name === "metrics.k8s.io");
    expect(group.versions[0].resources.map((r: { resource: string; responseKind: { kind: string }; scope: string }) => [r.resource, r.responseKind.kind, r.scope]))
      .toEqual([["nodes", "NodeMetrics", "Cluster"], ["pods", "PodMetrics", "Namespaced"]]);
  });

  it("NodeMetrics are the connected agents' figures; a node not connected has none", async () => {
    const node = `mn-${suffix()}`;
    const away = `mn-away-${suffix()}`;
    await createNode(node, { pool: "metrics" });
    await createNode(away, { pool: "metrics" });
    const agent = await connectAgent(node, { node: { nodeName: node, ...figures(250_000_000, 512 * 2 ** 20) }, pods: [] });

    const listed = await api("GET", "/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=pool%3Dmetrics");
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ kind: "NodeMetricsList", apiVersion: "metrics.k8s.io/v1beta1" });
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0]).toMatchObject({
      kind: "NodeMetrics", apiVersion: "metrics.k8s.io/v1beta1", metadata: { name: node, labels: { pool: "metrics" } },
      timestamp: T, window: "10s", usage: { cpu: "250m", memory: "512Mi" },
    });
    expect(agent.asked).toEqual(["/stats/summary?only_cpu_and_memory=true"]);

    const one = await api("GET", `/apis/metrics.k8s.io/v1beta1/nodes/${node}`);
    expect(one.body.usage).toEqual({ cpu: "250m", memory: "512Mi" });
    // Cached for the metrics resolution: the agent was asked once.
    expect(agent.asked).toHaveLength(1);

    const none = await api("GET", `/apis/metrics.k8s.io/v1beta1/nodes/${away}`);
    expect(none.status).toBe(404);
    expect(none.body.message).toBe(`nodemetrics.metrics.k8s.io "${away}" not found`);
    const missing = await api("GET", "/apis/metrics.k8s.io/v1beta1/nodes/no-such-node");
    expect(missing.body.message).toBe('nodes "no-such-node" not found');
    expect((await api("GET", "/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=pool%3Dnone")).body.items).toEqual([]);
  });

  it("PodMetrics per namespace, selector and name; pods not Running or without a CPU rate yet have none", async () => {
    const node = `mp-${suffix()}`;
    await createNode(node);
    const ns = `metrics-${suffix()}`;
    expect((await api("POST", "/api/v1/namespaces", { metadata: { name: ns } })).status).toBe(201);
    await createDefaultServiceAccount(ns);
    const web = await runningPod(ns, "web", node, { app: "web" }, ["app", "log"]);
    const db = await runningPod(ns, "db", node, { app: "db" }, ["db"]);
    const fresh = await runningPod(ns, "fresh", node, { app: "web" }, ["app"]);
    expect((await api("POST", `/api/v1/namespaces/${ns}/pods`, { metadata: { name: "pending", labels: { app: "web" } }, spec: { nodeName: node, containers: [{ name: "app", image: "busybox" }] } })).status).toBe(201);
    const pod = (name: string, uid: string, containers: unknown[]) => ({ podRef: { name, namespace: ns, uid }, containers });
    await connectAgent(node, {
      node: { nodeName: node, ...figures(1e9, 2 ** 30) },
      pods: [
        pod("web", web, [{ name: "app", ...figures(123_456_789, 10 * 2 ** 20) }, { name: "log", ...figures(2_000_000, 4096 * 3) }]),
        pod("db", db, [{ name: "db", ...figures(1_500_000_000, 300 * 2 ** 20 + 1) }]),
        pod("fresh", fresh, [{ name: "app", ...figures(undefined, 2 ** 20) }]),
      ],
    });

    const all = await api("GET", `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods`);
    expect(all.body.kind).toBe("PodMetricsList");
    expect(all.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(["db", "web"]);
    expect(all.body.items[1]).toMatchObject({
      kind: "PodMetrics", metadata: { name: "web", namespace: ns, labels: { app: "web" } }, timestamp: T, window: "10s",
      containers: [{ name: "app", usage: { cpu: "123456789n", memory: "10Mi" } }, { name: "log", usage: { cpu: "2m", memory: "12Ki" } }],
    });
    expect(all.body.items[0].containers).toEqual([{ name: "db", usage: { cpu: "1500m", memory: String(300 * 2 ** 20 + 1) } }]);

    const selected = await api("GET", `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods?labelSelector=app%3Dweb`);
    expect(selected.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(["web"]);
    const byField = await api("GET", `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods?fieldSelector=metadata.name%3Ddb`);
    expect(byField.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(["db"]);
    const everywhere = await api("GET", "/apis/metrics.k8s.io/v1beta1/pods");
    expect(everywhere.body.items.filter((i: { metadata: { namespace: string } }) => i.metadata.namespace === ns)).toHaveLength(2);

    expect((await api("GET", `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods/db`)).body.containers[0].usage.cpu).toBe("1500m");
    const pending = await api("GET", `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods/fresh`);
    expect(pending.status).toBe(404);
    expect(pending.body.message).toBe(`podmetrics.metrics.k8s.io "${ns}/fresh" not found`);
    expect((await api("GET", `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods/nope`)).body.message).toBe('pods "nope" not found');

    // kubectl get podmetrics: metrics-server's table, usage summed over containers.
    const table = await api("GET", `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods`, undefined, { Accept: "application/json;as=Table;v=v1;g=meta.k8s.io" });
    expect(table.body.columnDefinitions.map((c: { name: string }) => c.name)).toEqual(["Name", "cpu", "memory", "Window"]);
    expect(table.body.rows.map((r: { cells: unknown[] }) => r.cells)).toEqual([["db", "1500m", String(300 * 2 ** 20 + 1), "10s"], ["web", "125456789n", "10252Ki", "10s"]]);

    expect((await api("POST", `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods`, { metadata: { name: "x" } })).status).toBe(405);
  });

  it("needs RBAC: 403 in kube's words without a grant, allowed by system:aggregated-metrics-reader", async () => {
    const user = `metrics-reader-${suffix()}`;
    const as = { "Impersonate-User": user };
    const refused = await api("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", undefined, as);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe(`pods.metrics.k8s.io is forbidden: User "${user}" cannot list resource "pods" in API group "metrics.k8s.io" in the namespace "default"`);
    const nodes = await api("GET", "/apis/metrics.k8s.io/v1beta1/nodes", undefined, as);
    expect(nodes.body.message).toBe(`nodes.metrics.k8s.io is forbidden: User "${user}" cannot list resource "nodes" in API group "metrics.k8s.io" at the cluster scope`);

    // The HPA controller reads pods' metrics as the controller manager.
    expect((await api("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", undefined, { "Impersonate-User": "system:kube-controller-manager" })).status).toBe(200);

    const role = await api("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:aggregated-metrics-reader");
    expect(role.body.rules).toEqual([{ apiGroups: ["metrics.k8s.io"], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] }]);
    expect(role.body.metadata.labels).toMatchObject({ "rbac.authorization.k8s.io/aggregate-to-view": "true", "rbac.authorization.k8s.io/aggregate-to-edit": "true", "rbac.authorization.k8s.io/aggregate-to-admin": "true" });
    expect((await api("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      metadata: { name: user }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:aggregated-metrics-reader" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
    })).status).toBe(201);
    expect((await api("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", undefined, as)).status).toBe(200);
    expect((await api("GET", "/apis/metrics.k8s.io/v1beta1/nodes", undefined, as)).status).toBe(200);
  });
});
