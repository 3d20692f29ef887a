// The Kubernetes API in workerd: object semantics, errors, selectors on watches, Services.
import { evictDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDefaultServiceAccount, rawApi } from "../../lib/client/testing.ts";

const AUTH = { Authorization: "Bearer test-admin-token" };

const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => rawApi(method, path, body, { headers });

/** Reads `count` watch events (or until the stream ends) as "TYPE name", then stops watching. */
async function watchEvents(reader: ReadableStreamDefaultReader<string>, count: number): Promise<string[]> {
  const events: string[] = [];
  let buffered = "";
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const e = JSON.parse(buffered.slice(0, nl));
      events.push(`${e.type} ${e.object.metadata?.name}`);
      buffered = buffered.slice(nl + 1);
    }
  }
  await reader.cancel();
  return events;
}

let namespaces = 0;
async function freshNamespace(): Promise<string> {
  const name = `t${++namespaces}-${crypto.randomUUID().slice(0, 8)}`;
  expect((await api("POST", "/api/v1/namespaces", { metadata: { name } })).status).toBe(201);
  await createDefaultServiceAccount(name);
  return name;
}

describe("Kubernetes API", () => {
  it("refuses requests without a token with 401 Status", async () => {
    const res = await exports.default.fetch("https://edgeplane.test/api/v1/namespaces");
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ kind: "Status", reason: "Unauthorized", code: 401 });
  });

  it("creates with uid, timestamps, generation, defaults; updates with resourceVersion preconditions", async () => {
    const ns = await freshNamespace();
    const created = (await api("POST", `/apis/apps/v1/namespaces/${ns}/deployments`, {
      metadata: { generateName: "web-" }, spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "nginx" }] } } },
    })).body;
    expect(created.metadata.name).toMatch(/^web-[a-z0-9]{5}$/);
    expect(created.metadata).toMatchObject({ namespace: ns, generation: 1 });
    expect(created.spec).toMatchObject({ replicas: 1, revisionHistoryLimit: 10, strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } } });
    expect(created.spec.template.spec.containers[0]).toMatchObject({ imagePullPolicy: "Always", terminationMessagePath: "/dev/termination-log" });
    const path = `/apis/apps/v1/namespaces/${ns}/deployments/${created.metadata.name}`;

    const scaled = (await api("PUT", path, { ...created, spec: { ...created.spec, replicas: 3 } })).body;
    expect(scaled.metadata.generation).toBe(2);
    const stale = await api("PUT", path, { ...created, spec: { ...created.spec, replicas: 5 } });
    expect(stale.status).toBe(409);
    expect(stale.body.message).toBe(`Operation cannot be fulfilled on deployments.apps "${created.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`);
    expect((await api("GET", path)).body.spec.replicas).toBe(3);

    // A main update cannot touch status; /status can touch only status.
    const withStatus = (await api("PUT", `${path}/status`, { ...scaled, spec: { ...scaled.spec, replicas: 9 }, status: { replicas: 3 } })).body;
    expect(withStatus.status).toEqual({ replicas: 3 });
    expect(withStatus.spec.replicas).toBe(3);
    expect(withStatus.metadata.generation).toBe(2);
  });

  it("answers bad input with the right Status and stores nothing", async () => {
    const ns = await freshNamespace();
    const cases: [string, string, unknown, number, string][] = [
      ["POST", `/api/v1/namespaces/${ns}/configmaps`, "{not json", 400, "BadRequest"],
      ["POST", `/api/v1/namespaces/${ns}/configmaps`, { kind: "Secret", metadata: { name: "x" } }, 400, "BadRequest"],
      ["POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "Bad_Name" } }, 422, "Invalid"],
      ["POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "ok", labels: { a: "x".repeat(64) } } }, 422, "Invalid"],
      ["POST", `/api/v1/namespaces/missing-ns/configmaps`, { metadata: { name: "ok" } }, 404, "NotFound"],
      ["GET", `/api/v1/namespaces/${ns}/configmaps/none`, undefined, 404, "NotFound"],
      ["GET", `/api/v1/namespaces/${ns}/frobs`, undefined, 404, "NotFound"],
      ["GET", `/api/v1/namespaces/${ns}/configmaps?labelSelector=a%20in%20(`, undefined, 400, "BadRequest"],
    ];
    for (const [method, path, body, code, reason] of cases) {
      const res = await api(method, path, body);
      expect([method, path, res.status, res.body.reason]).toEqual([method, path, code, reason]);
    }
    const invalid = (await api("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "Bad_Name" } })).body;
    expect(invalid.details.causes[0]).toMatchObject({ field: "metadata.name", reason: "FieldValueInvalid" });
    expect((await api("GET", `/api/v1/namespaces/${ns}/configmaps`)).body.items).toEqual([]);
  });

  it("pages a list with limit and continue at one consistent revision", async () => {
    const ns = await freshNamespace();
    for (let i = 0; i < 5; i++) await api("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: `cm${i}` } });
    const first = (await api("GET", `/api/v1/namespaces/${ns}/configmaps?limit=2`)).body;
    expect(first.items.map((i: any) => i.metadata.name)).toEqual(["cm0", "cm1"]);
    expect(first.metadata.remainingItemCount).toBe(3);
    await api("DELETE", `/api/v1/namespaces/${ns}/configmaps/cm3`);
    const second = (await api("GET", `/api/v1/namespaces/${ns}/configmaps?limit=2&continue=${first.metadata.continue}`)).body;
    expect(second.items.map((i: any) => i.metadata.name)).toEqual(["cm2", "cm3"]); // the snapshot still has cm3
    expect(second.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
  });

  it("watches with a label selector: objects entering the selection are ADDED, leaving it DELETED", async () => {
    const ns = await freshNamespace();
    const list = (await api("GET", `/api/v1/namespaces/${ns}/configmaps`)).body;
    const res = await exports.default.fetch(`https://edgeplane.test/api/v1/namespaces/${ns}/configmaps?watch=true&labelSelector=app%3Dweb&resourceVersion=${list.metadata.resourceVersion}`, { headers: AUTH });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    await api("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "a", labels: { app: "web" } } });
    await api("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "b", labels: { app: "db" } } });
    const a = (await api("GET", `/api/v1/namespaces/${ns}/configmaps/a`)).body;
    await api("PUT", `/api/v1/namespaces/${ns}/configmaps/a`, { ...a, metadata: { ...a.metadata, labels: { app: "gone" } } });
    const b = (await api("GET", `/api/v1/namespaces/${ns}/configmaps/b`)).body;
    await api("PUT", `/api/v1/namespaces/${ns}/configmaps/b`, { ...b, metadata: { ...b.metadata, labels: { app: "web" } } });
    await api("DELETE", `/api/v1/namespaces/${ns}/configmaps/b`);
    expect(await watchEvents(reader, 4)).toEqual(["ADDED a", "DELETED a", "ADDED b", "DELETED b"]);
  });

  it("keeps a watch going across a store restart: the client sees every event once", async () => {
    const ns = await freshNamespace();
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    const rv = (await api("GET", path)).body.metadata.resourceVersion;
    const res = await exports.default.fetch(`https://edgeplane.test${path}?watch=true&resourceVersion=${rv}`, { headers: AUTH });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    await api("POST", path, { metadata: { name: "before" } });
    const store = env.STORE.get(env.STORE.idFromName(`${env.CLUSTER_NAME}/main`));
    await evictDurableObject(store, { webSockets: "close" });
    await api("POST", path, { metadata: { name: "after" } });
    expect(await watchEvents(reader, 2)).toEqual(["ADDED before", "ADDED after"]);
  });

  it("honours dryRun=All, refuses bodies over 3 MiB, and answers 410 for compacted lists and watches", async () => {
    const ns = await freshNamespace();
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    const dry = await api("POST", `${path}?dryRun=All`, { metadata: { name: "dry" } });
    expect(dry.status).toBe(201);
    expect(dry.body.metadata.uid).toBeDefined();
    expect((await api("GET", `${path}/dry`)).status).toBe(404);
    const big = await api("POST", path, { metadata: { name: "big" }, data: { x: "y".repeat(3 * 1024 * 1024) } });
    expect([big.status, big.body.reason]).toEqual([413, "RequestEntityTooLarge"]);

    const old = (await api("GET", path)).body.metadata.resourceVersion;
    await api("POST", path, { metadata: { name: "a" } });
    const now = (await api("POST", path, { metadata: { name: "b" } })).body.metadata.resourceVersion;
    const compacted = await exports.default.fetch("https://edgeplane.test/etcd/v3/kv/compaction", { method: "POST", headers: AUTH, body: JSON.stringify({ revision: now }) });
    expect(compacted.status).toBe(200);
    const list = await api("GET", `${path}?resourceVersion=${old}&resourceVersionMatch=Exact`);
    expect([list.status, list.body.reason]).toEqual([410, "Expired"]);
    const res = await exports.default.fetch(`https://edgeplane.test${path}?watch=true&resourceVersion=${old}`, { headers: AUTH });
    const line = JSON.parse((await res.text()).split("\n")[0]!);
    expect(line).toMatchObject({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } });
  });

  it("allocates distinct ClusterIPs and NodePorts under concurrency, and frees them on delete", async () => {
    const ns = await freshNamespace();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) =>
      api("POST", `/api/v1/namespaces/${ns}/services`, { metadata: { name: `s${i}` }, spec: { type: "NodePort", ports: [{ port: 80 }] } })));
    const ips = results.map((r) => r.body.spec.clusterIP);
    const ports = results.map((r) => r.body.spec.ports[0].nodePort);
    expect(new Set(ips).size).toBe(12);
    expect(new Set(ports).size).toBe(12);
    for (const ip of ips) expect(ip).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$/);
    for (const port of ports) expect(port).toBeGreaterThanOrEqual(30000);
    const taken = await api("POST", `/api/v1/namespaces/${ns}/services`, { metadata: { name: "dup" }, spec: { clusterIP: ips[0], ports: [{ port: 80 }] } });
    expect(taken.status).toBe(422);
    expect(taken.body.message).toContain("provided IP is already allocated");
    await api("DELETE", `/api/v1/namespaces/${ns}/services/s0`);
    const reused = await api("POST", `/api/v1/namespaces/${ns}/services`, { metadata: { name: "dup" }, spec: { clusterIP: ips[0], ports: [{ port: 80 }] } });
    expect(reused.status).toBe(201);
    const headless = (await api("POST", `/api/v1/namespaces/${ns}/services`, { metadata: { name: "headless" }, spec: { clusterIP: "None", ports: [{ port: 80 }] } })).body;
    expect(headless.spec.clusterIP).toBe("None");
    const kubernetes = (await api("GET", "/api/v1/namespaces/default/services/kubernetes")).body;
    expect(kubernetes.spec.clusterIP).toBe("10.96.0.1");
  });

  it("deleting a namespace marks it Terminating and leaves its content to the namespace controller", async () => {
    const ns = await freshNamespace();
    await api("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "cm" } });
    const deleted = await api("DELETE", `/api/v1/namespaces/${ns}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.status.phase).toBe("Terminating");
    expect(deleted.body.metadata.deletionTimestamp).toBeDefined();
    expect(deleted.body.spec.finalizers).toEqual(["kubernetes"]);
    // The apiserver empties nothing itself (durable-objects/controllers/namespace.test.ts covers the controller).
    expect((await api("GET", `/api/v1/namespaces/${ns}/configmaps`)).body.items.map((o: { metadata: { name: string } }) => o.metadata.name)).toEqual(["cm"]);
    expect((await api("GET", `/api/v1/namespaces/${ns}`)).body.status.phase).toBe("Terminating");
    expect((await api("DELETE", "/api/v1/namespaces/kube-system")).status).toBe(403);
  });

  it("serves scale, binding and eviction subresources", async () => {
    const ns = await freshNamespace();
    const rs = `/apis/apps/v1/namespaces/${ns}/replicasets`;
    await api("POST", rs, { metadata: { name: "r" }, spec: { selector: { matchLabels: { app: "r" } }, template: { metadata: { labels: { app: "r" } }, spec: { containers: [{ name: "c", image: "x" }] } } } });
    const scale = (await api("GET", `${rs}/r/scale`)).body;
    expect(scale).toMatchObject({ kind: "Scale", apiVersion: "autoscaling/v1", spec: { replicas: 1 }, status: { replicas: 0, selector: "app=r" } });
    expect((await api("PUT", `${rs}/r/scale`, { ...scale, spec: { replicas: 3 } })).body.spec.replicas).toBe(3);
    expect((await api("PUT", `${rs}/r/scale`, { ...scale, spec: { replicas: 4 } })).status).toBe(409); // stale resourceVersion
    expect((await api("PATCH", `${rs}/r/scale`, { spec: { replicas: 5 } }, { "Content-Type": "application/merge-patch+json" })).body.spec.replicas).toBe(5);
    expect((await api("PATCH", `${rs}/r/scale`, { spec: { replicas: -1 } }, { "Content-Type": "application/merge-patch+json" })).status).toBe(422);
    expect((await api("GET", `${rs}/r`)).body.spec.replicas).toBe(5);

    const pods = `/api/v1/namespaces/${ns}/pods`;
    await api("POST", pods, { metadata: { name: "p", labels: { app: "guarded" } }, spec: { containers: [{ name: "c", image: "x" }] } });
    const bound = await api("POST", `${pods}/p/binding`, { apiVersion: "v1", kind: "Binding", metadata: { name: "p" }, target: { kind: "Node", name: "node-1" } });
    expect(bound.status).toBe(201);
    expect((await api("GET", `${pods}/p`)).body.spec.nodeName).toBe("node-1");
    const again = await api("POST", `${pods}/p/binding`, { target: { kind: "Node", name: "node-2" } });
    expect(again.status).toBe(409);
    expect(again.body.message).toContain(`is already assigned to node "node-1"`);

    // A running, ready pod guarded by a budget that allows no disruption cannot be evicted.
    const running = (await api("GET", `${pods}/p`)).body;
    await api("PUT", `${pods}/p/status`, { ...running, status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] } });
    await api("POST", `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, { metadata: { name: "pdb" }, spec: { minAvailable: 1, selector: { matchLabels: { app: "guarded" } } } });
    const pdb = (await api("GET", `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/pdb`)).body;
    await api("PUT", `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/pdb/status`, { ...pdb, status: { observedGeneration: 1, disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 } });
    const refused = await api("POST", `${pods}/p/eviction`, { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: "p" } });
    expect(refused.status).toBe(429);
    expect(refused.body.details.causes[0]).toEqual({ reason: "DisruptionBudget", message: "The disruption budget pdb needs 1 healthy pods and has 1 currently" });
    const pdbNow = (await api("GET", `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/pdb`)).body;
    await api("PUT", `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/pdb/status`, { ...pdbNow, status: { ...pdbNow.status, disruptionsAllowed: 1 } });
    expect((await api("POST", `${pods}/p/eviction`, { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: "p" }, deleteOptions: { gracePeriodSeconds: 0 } })).status).toBe(201);
    expect((await api("GET", `${pods}/p`)).status).toBe(404);
    const spent = (await api("GET", `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/pdb`)).body.status;
    expect(spent).toMatchObject({ disruptionsAllowed: 0, disruptedPods: { p: expect.any(String) } });
    expect(spent.conditions).toEqual([expect.objectContaining({ type: "DisruptionAllowed", status: "False", reason: "InsufficientPods" })]);
  });

  it("binds a pod as kube's BindingREST: node, annotations and PodScheduled in one write, no managedFields entry, kube's conflicts", async () => {
    const ns = await freshNamespace();
    const pods = `/api/v1/namespaces/${ns}/pods`;
    const created = (await api("POST", `${pods}?fieldManager=creator`, { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "x" }] } })).body;
    // A refused binding changes nothing: a stale uid, a gated pod.
    const stale = await api("POST", `${pods}/p/binding`, { metadata: { name: "p", uid: "not-the-uid" }, target: { kind: "Node", name: "node-1" } });
    expect(stale.status).toBe(409);
    expect(stale.body.message).toBe(`Operation cannot be fulfilled on pods/binding "p": Precondition failed: UID in precondition: not-the-uid, UID in object meta: ${created.metadata.uid}`);
    expect((await api("POST", `${pods}/p/binding`, { metadata: { name: "other" }, target: { kind: "Node", name: "node-1" } })).status).toBe(400);
    expect((await api("GET", `${pods}/p`)).body.metadata.resourceVersion).toBe(created.metadata.resourceVersion);

    const staleVersion = await api("POST", `${pods}/p/binding`, { metadata: { name: "p", resourceVersion: "1" }, target: { kind: "Node", name: "node-1" } });
    expect(staleVersion.status).toBe(409);
    expect(staleVersion.body.message).toBe(`Operation cannot be fulfilled on pods/binding "p": Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: ${created.metadata.resourceVersion}`);
    const bound = await api("POST", `${pods}/p/binding?fieldManager=scheduler`, {
      apiVersion: "v1", kind: "Binding", metadata: { name: "p", uid: created.metadata.uid, resourceVersion: created.metadata.resourceVersion, annotations: { "example.com/placed": "yes" } },
      target: { kind: "Node", name: "node-1" },
    });
    expect(bound.status).toBe(201);
    const pod = (await api("GET", `${pods}/p`)).body;
    expect(pod.spec.nodeName).toBe("node-1");
    expect(pod.metadata.annotations).toEqual({ "example.com/placed": "yes" });
    expect(pod.status.conditions).toEqual([{ type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: expect.any(String) }]);
    expect(pod.metadata.managedFields).toEqual(created.metadata.managedFields);

    await api("POST", pods, { metadata: { name: "gated" }, spec: { schedulingGates: [{ name: "example.com/wait" }], containers: [{ name: "c", image: "x" }] } });
    const gated = await api("POST", `${pods}/gated/binding`, { metadata: { name: "gated" }, target: { kind: "Node", name: "node-1" } });
    expect(gated.status).toBe(409);
    expect(gated.body.message).toBe(`Operation cannot be fulfilled on pods/binding "gated": pod gated has non-empty .spec.schedulingGates`);
    expect((await api("GET", `${pods}/gated`)).body.spec.nodeName).toBeUndefined();
    expect((await api("POST", `${pods}/missing/binding`, { target: { kind: "Node", name: "node-1" } })).status).toBe(404);
  });

  it("validates a pod's /status write by its status alone, as kube's status strategy does", async () => {
    const ns = await freshNamespace();
    const pods = `/api/v1/namespaces/${ns}/pods`;
    await api("POST", pods, { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "x" }] } });
    const merge = { "Content-Type": "application/merge-patch+json" };
    const running = await api("PATCH", `${pods}/p/status`, { status: { phase: "Running", podIP: "10.244.0.5" } }, merge);
    expect(running.status).toBe(200);
    expect(running.body.status).toMatchObject({ phase: "Running", podIP: "10.244.0.5" });
    const refused = await api("PATCH", `${pods}/p/status`, { status: { nominatedNodeName: "Not_A_Node" } }, merge);
    expect(refused.status).toBe(422);
    expect(refused.body.details.causes).toEqual([expect.objectContaining({ reason: "FieldValueInvalid", field: "status.nominatedNodeName" })]);
    expect((await api("GET", `${pods}/p`)).body.status.nominatedNodeName).toBeUndefined();
  });

  it("records managedFields per field manager", async () => {
    const ns = await freshNamespace();
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    const created = (await api("POST", `${path}?fieldManager=creator`, { metadata: { name: "m", labels: { a: "1" } }, data: { x: "1" } })).body;
    expect(created.metadata.managedFields).toEqual([expect.objectContaining({
      manager: "creator", operation: "Update", apiVersion: "v1", fieldsType: "FieldsV1",
      fieldsV1: { "f:metadata": { "f:labels": { "f:a": {} } }, "f:data": { "f:x": {} } },
    })]);
    const patched = (await api("PATCH", `${path}/m`, { data: { x: "2", y: "3" } }, { "Content-Type": "application/merge-patch+json", "User-Agent": "kubectl-edit/v1.30.0 (linux/amd64)" })).body;
    const byManager = Object.fromEntries(patched.metadata.managedFields.map((e: any) => [e.manager, e.fieldsV1]));
    expect(byManager).toEqual({
      creator: { "f:metadata": { "f:labels": { "f:a": {} } } },
      "kubectl-edit": { "f:data": { "f:x": {}, "f:y": {} } },
    });
  });

  it("serves HorizontalPodAutoscalers in autoscaling/v1 and v2 over one stored object", async () => {
    const ns = await freshNamespace();
    const v1 = (await api("POST", `/apis/autoscaling/v1/namespaces/${ns}/horizontalpodautoscalers`, {
      metadata: { name: "h" }, spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, minReplicas: 1, maxReplicas: 5, targetCPUUtilizationPercentage: 70 },
    })).body;
    expect(v1).toMatchObject({ apiVersion: "autoscaling/v1", spec: { targetCPUUtilizationPercentage: 70, maxReplicas: 5 } });
    const v2 = (await api("GET", `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers/h`)).body;
    expect(v2.apiVersion).toBe("autoscaling/v2");
    expect(v2.spec.metrics).toEqual([{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }]);
    expect(v2.metadata.resourceVersion).toBe(v1.metadata.resourceVersion);
    await api("PUT", `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers/h`, { ...v2, spec: { ...v2.spec, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 40 } } }] } });
    const list = (await api("GET", `/apis/autoscaling/v1/namespaces/${ns}/horizontalpodautoscalers`)).body;
    expect(list.items[0]).toMatchObject({ apiVersion: "autoscaling/v1", spec: { targetCPUUtilizationPercentage: 40 } });
  });

  it("serves events.k8s.io/v1 and core/v1 Events over the same objects", async () => {
    const ns = await freshNamespace();
    const created = (await api("POST", `/apis/events.k8s.io/v1/namespaces/${ns}/events`, {
      metadata: { name: "e1" }, eventTime: "2026-11-21T10:00:00.000000Z", reportingController: "default-scheduler", reportingInstance: "s1",
      action: "Binding", reason: "Scheduled", note: "Successfully assigned", type: "Normal", regarding: { kind: "Pod", name: "p", namespace: ns },
    })).body;
    expect(created).toMatchObject({ apiVersion: "events.k8s.io/v1", note: "Successfully assigned", regarding: { name: "p" } });
    const core = (await api("GET", `/api/v1/namespaces/${ns}/events/e1`)).body;
    expect(core).toMatchObject({ apiVersion: "v1", message: "Successfully assigned", involvedObject: { kind: "Pod", name: "p" }, reportingComponent: "default-scheduler" });
    const byReason = (await api("GET", `/apis/events.k8s.io/v1/namespaces/${ns}/events?fieldSelector=reason%3DScheduled`)).body;
    expect(byReason.items.map((e: any) => e.metadata.name)).toEqual(["e1"]);
  });

  it("validates fields: unknown and duplicate fields warn by default, fail with Strict, pass with Ignore", async () => {
    const ns = await freshNamespace();
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    const body = '{"metadata":{"name":"fv","labels":{"a":"1"},"labels":{"a":"2"}},"data":{"k":"v"},"bogus":1}';
    const strict = await api("POST", `${path}?fieldValidation=Strict`, body);
    expect(strict.status).toBe(400);
    expect(strict.body.message).toBe('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: duplicate field "metadata.labels", unknown field "bogus"');
    expect((await api("GET", `${path}/fv`)).status).toBe(404);
    const warned = await exports.default.fetch(`https://edgeplane.test${path}`, { method: "POST", headers: { ...AUTH, "Content-Type": "application/json" }, body });
    expect(warned.status).toBe(201);
    expect(warned.headers.get("Warning")).toBe('299 - "duplicate field \\"metadata.labels\\"", 299 - "unknown field \\"bogus\\""');
    const ignored = await exports.default.fetch(`https://edgeplane.test${path}/fv?fieldValidation=Ignore`, { method: "PATCH", headers: { ...AUTH, "Content-Type": "application/merge-patch+json" }, body: '{"spec":{"nope":true}}' });
    expect(ignored.status).toBe(200);
    expect(ignored.headers.get("Warning")).toBeNull();
    expect((await api("PATCH", `${path}/fv?fieldValidation=Strict`, '{"spec":{"nope":true}}', { "Content-Type": "application/merge-patch+json" })).status).toBe(400);
    expect((await api("GET", `${path}?fieldValidation=Bogus`, undefined)).status).toBe(200); // only writes read it
    expect((await api("POST", `${path}?fieldValidation=Bogus`, { metadata: { name: "x" } })).status).toBe(400);
  });

  it("serves aggregated discovery when asked for it", async () => {
    for (const version of ["v2", "v2beta1"]) {
      const accept = `application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList,application/json`;
      const res = await exports.default.fetch("https://edgeplane.test/apis", { headers: { ...AUTH, Accept: accept } });
      expect(res.headers.get("Content-Type")).toBe(`application/json;g=apidiscovery.k8s.io;v=${version};as=APIGroupDiscoveryList`);
      const body = await res.json() as any;
      expect(body.kind).toBe("APIGroupDiscoveryList");
      const apps = body.items.find((g: any) => g.metadata.name === "apps");
      const deployments = apps.versions[0].resources.find((r: any) => r.resource === "deployments");
      expect(deployments).toMatchObject({ scope: "Namespaced", singularResource: "deployment", shortNames: ["deploy"], responseKind: { group: "apps", version: "v1", kind: "Deployment" } });
      expect(deployments.subresources.map((s: any) => s.subresource)).toEqual(["status", "scale"]);
    }
    const core = await (await exports.default.fetch("https://edgeplane.test/api", { headers: { ...AUTH, Accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" } })).json() as any;
    expect(core.items).toHaveLength(1);
    expect(core.items[0].versions[0].resources.find((r: any) => r.resource === "pods").subresources.map((s: any) => s.subresource)).toEqual(["status", "binding", "eviction", "log", "attach", "exec", "portforward"]);
  });

  it("serves discovery and Tables", async () => {
    expect((await api("GET", "/api")).body.versions).toEqual(["v1"]);
    const groups = (await api("GET", "/apis")).body.groups.map((g: any) => g.name);
    expect(groups).toEqual(expect.arrayContaining(["apps", "batch", "rbac.authorization.k8s.io", "autoscaling"]));
    const core = (await api("GET", "/api/v1")).body.resources;
    expect(core.find((r: any) => r.name === "pods")).toMatchObject({ namespaced: true, kind: "Pod", shortNames: ["po"], categories: ["all"] });
    expect(core.find((r: any) => r.name === "pods/status")).toMatchObject({ verbs: ["get", "patch", "update"] });
    const table = (await api("GET", "/api/v1/namespaces", undefined, { Accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" })).body;
    expect(table.kind).toBe("Table");
    expect(table.columnDefinitions.map((c: any) => c.name)).toEqual(["Name", "Status", "Age"]);
    expect(table.rows.find((r: any) => r.cells[0] === "kube-system").cells[1]).toBe("Active");
    const partial = (await api("GET", "/api/v1/namespaces", undefined, { Accept: "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io" })).body;
    expect(partial.kind).toBe("PartialObjectMetadataList");
    expect(partial.items[0]).toEqual({ kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: expect.objectContaining({ name: expect.any(String) }) });
    const yaml = await exports.default.fetch("https://edgeplane.test/api/v1/namespaces/default", { headers: { ...AUTH, Accept: "application/yaml" } });
    expect(yaml.headers.get("Content-Type")).toBe("application/yaml");
    expect(await yaml.text()).toContain("kind: Namespace\n");
    expect((await api("GET", "/api/v1/namespaces", undefined, { Accept: "text/html" })).status).toBe(406);
  });
});
