// Admission in workerd: what each plugin adds to a pod, what it refuses (in kube-apiserver's
// words), and ResourceQuota staying exact under concurrent creates.
import { describe, expect, it } from "vitest";
import { createDefaultServiceAccount, rawApi } from "../../lib/client/testing.ts";

const api = (method: string, path: string, body?: unknown) => rawApi(method, path, body);

let counter = 0;
async function namespace(): Promise<string> {
  const name = `adm-${++counter}-${crypto.randomUUID().slice(0, 6)}`;
  expect((await api("POST", "/api/v1/namespaces", { metadata: { name } })).status).toBe(201);
  await createDefaultServiceAccount(name);
  return name;
}

const pod = (name: string, extra: Record<string, unknown> = {}, container: Record<string, unknown> = {}) => ({
  metadata: { name }, spec: { containers: [{ name: "c", image: "busybox", ...container }], ...extra },
});

describe("admission", () => {
  it("gives a pod its namespace's default service account, a token volume, tolerations and priority", async () => {
    const ns = await namespace();
    expect((await api("GET", `/api/v1/namespaces/${ns}/serviceaccounts/default`)).status).toBe(200);
    const created = (await api("POST", `/api/v1/namespaces/${ns}/pods`, pod("p"))).body;
    expect(created.spec).toMatchObject({ serviceAccountName: "default", serviceAccount: "default", priority: 0, preemptionPolicy: "PreemptLowerPriority" });
    const volume = created.spec.volumes.find((v: any) => v.name.startsWith("kube-api-access-"));
    expect(volume.projected.sources[0]).toEqual({ serviceAccountToken: { expirationSeconds: 3607, path: "token" } });
    expect(created.spec.containers[0].volumeMounts).toEqual([{ name: volume.name, readOnly: true, mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" }]);
    expect(created.spec.tolerations).toEqual([
      { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
      { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
    ]);
    const quiet = (await api("POST", `/api/v1/namespaces/${ns}/pods`, pod("q", { automountServiceAccountToken: false }))).body;
    expect(quiet.spec.volumes).toBeUndefined();
  });

  it("refuses a pod whose service account or priority class does not exist, and stores nothing", async () => {
    const ns = await namespace();
    const noAccount = await api("POST", `/api/v1/namespaces/${ns}/pods`, pod("p", { serviceAccountName: "ghost" }));
    expect(noAccount.status).toBe(403);
    expect(noAccount.body.message).toBe(`pods "p" is forbidden: error looking up service account ${ns}/ghost: serviceaccount "ghost" not found`);
    const noClass = await api("POST", `/api/v1/namespaces/${ns}/pods`, pod("p", { priorityClassName: "ghost" }));
    expect(noClass.status).toBe(403);
    expect(noClass.body.message).toBe(`pods "p" is forbidden: no PriorityClass with name ghost was found`);
    expect((await api("GET", `/api/v1/namespaces/${ns}/pods/p`)).status).toBe(404);
    const critical = await api("POST", `/api/v1/namespaces/${ns}/pods`, pod("c", { priorityClassName: "system-node-critical" }));
    expect(critical.status, JSON.stringify(critical.body)).toBe(201);
    expect(critical.body.spec.priority).toBe(2000001000);
  });

  it("applies LimitRange defaults and refuses containers above its max", async () => {
    const ns = await namespace();
    expect((await api("POST", `/api/v1/namespaces/${ns}/limitranges`, {
      metadata: { name: "limits" }, spec: { limits: [{ type: "Container", default: { cpu: "500m", memory: "128Mi" }, defaultRequest: { cpu: "100m" }, max: { cpu: "1" } }] },
    })).status).toBe(201);
    const created = (await api("POST", `/api/v1/namespaces/${ns}/pods`, pod("p"))).body;
    expect(created.spec.containers[0].resources).toEqual({ limits: { cpu: "500m", memory: "128Mi" }, requests: { cpu: "100m", memory: "128Mi" } });
    expect(created.metadata.annotations["kubernetes.io/limit-ranger"]).toContain("LimitRanger plugin set: cpu limit for container c");
    const big = await api("POST", `/api/v1/namespaces/${ns}/pods`, pod("big", {}, { resources: { limits: { cpu: "2" } } }));
    expect(big.status).toBe(403);
    expect(big.body.message).toBe(`pods "big" is forbidden: [maximum cpu usage per Container is 1, but limit is 2]`);
  });

  it("keeps ResourceQuota exact under concurrent creates, refuses past the limit and gives usage back on delete", async () => {
    const ns = await namespace();
    expect((await api("POST", `/api/v1/namespaces/${ns}/resourcequotas`, { metadata: { name: "q" }, spec: { hard: { configmaps: "5", "count/secrets": "1" } } })).status).toBe(201);
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => api("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: `cm-${i}` } })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(5);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused.every((r) => r.status === 403 || r.status === 409)).toBe(true);
    expect(refused.some((r) => /exceeded quota: q, requested: configmaps=1, used: configmaps=5, limited: configmaps=5/.test(r.body.message))).toBe(true);
    expect((await api("GET", `/api/v1/namespaces/${ns}/configmaps`)).body.items).toHaveLength(5);
    expect((await api("GET", `/api/v1/namespaces/${ns}/resourcequotas/q`)).body.status.used).toMatchObject({ configmaps: "5" });

    const kept = results.find((r) => r.status === 201)!.body.metadata.name;
    expect((await api("DELETE", `/api/v1/namespaces/${ns}/configmaps/${kept}`)).status).toBe(200);
    expect((await api("GET", `/api/v1/namespaces/${ns}/resourcequotas/q`)).body.status.used).toMatchObject({ configmaps: "4" });
    expect((await api("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "again" } })).status).toBe(201);

    expect((await api("POST", `/api/v1/namespaces/${ns}/secrets`, { metadata: { name: "s1" } })).status).toBe(201);
    const second = await api("POST", `/api/v1/namespaces/${ns}/secrets`, { metadata: { name: "s2" } });
    expect(second.body.message).toBe(`secrets "s2" is forbidden: exceeded quota: q, requested: count/secrets=1, used: count/secrets=1, limited: count/secrets=1`);
    // A create that fails after its charge (the name is taken) gives the charge back.
    expect((await api("DELETE", `/api/v1/namespaces/${ns}/configmaps/again`)).status).toBe(200);
    const taken = results.find((r) => r.status === 201 && r.body.metadata.name !== kept)!.body.metadata.name;
    expect((await api("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: taken } })).status).toBe(409);
    expect((await api("GET", `/api/v1/namespaces/${ns}/resourcequotas/q`)).body.status.used).toMatchObject({ configmaps: "4" });
  });

  it("charges pods' requests against compute quotas and asks for what a quota limits", async () => {
    const ns = await namespace();
    expect((await api("POST", `/api/v1/namespaces/${ns}/resourcequotas`, { metadata: { name: "compute" }, spec: { hard: { "requests.cpu": "1", "requests.memory": "1Gi" } } })).status).toBe(201);
    const bare = await api("POST", `/api/v1/namespaces/${ns}/pods`, pod("bare"));
    expect(bare.status).toBe(403);
    expect(bare.body.message).toBe(`pods "bare" is forbidden: failed quota: compute: must specify requests.cpu for: c; requests.memory for: c`);
    const sized = (cpu: string) => pod(`p-${cpu}`, {}, { resources: { requests: { cpu, memory: "256Mi" } } });
    expect((await api("POST", `/api/v1/namespaces/${ns}/pods`, sized("600m"))).status).toBe(201);
    const over = await api("POST", `/api/v1/namespaces/${ns}/pods`, sized("500m"));
    expect(over.body.message).toBe(`pods "p-500m" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1`);
    expect((await api("GET", `/api/v1/namespaces/${ns}/resourcequotas/compute`)).body.status.used).toEqual({ "requests.cpu": "600m", "requests.memory": "256Mi" });
  });
});

describe("PodSecurity admission", () => {
  it("refuses pods that break the namespace's enforced level and warns for the warned level", async () => {
    const name = `pss-${crypto.randomUUID().slice(0, 6)}`;
    const labels = { "pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/warn": "restricted" };
    expect((await api("POST", "/api/v1/namespaces", { metadata: { name, labels } })).status).toBe(201);
    await createDefaultServiceAccount(name);
    const privileged = await api("POST", `/api/v1/namespaces/${name}/pods`, pod("root", {}, { securityContext: { privileged: true } }));
    expect(privileged.status).toBe(403);
    expect(privileged.body.message).toBe(`pods "root" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`);
    expect((await api("GET", `/api/v1/namespaces/${name}/pods/root`)).status).toBe(404);
    const plain = await api("POST", `/api/v1/namespaces/${name}/pods`, pod("plain"));
    expect(plain.status).toBe(201);
    expect(plain.headers.get("Warning")).toContain(`would violate PodSecurity \\"restricted:latest\\": allowPrivilegeEscalation != false`);
    const deployment = await api("POST", `/apis/apps/v1/namespaces/${name}/deployments`, {
      metadata: { name: "d" }, spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "busybox", securityContext: { privileged: true } }] } } },
    });
    expect(deployment.status).toBe(201);
    expect(deployment.headers.get("Warning")).toContain("would violate PodSecurity");
  });

  it("refuses a namespace with an unknown level", async () => {
    const res = await api("POST", "/api/v1/namespaces", { metadata: { name: `pss-bad-${crypto.randomUUID().slice(0, 6)}`, labels: { "pod-security.kubernetes.io/enforce": "strict" } } });
    expect(res.status).toBe(422);
    expect(res.body.message).toContain(`Invalid value: "strict": must be one of privileged, baseline, restricted`);
  });
});
