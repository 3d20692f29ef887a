// Joining nodes: a bootstrap token gets a node its own credential and can do nothing else; the node
// then reaches only what its pods need (Node authorizer) and writes only its own things (NodeRestriction).
import { describe, expect, it } from "vitest";
import { createDefaultServiceAccount, rawApi } from "../../lib/client/testing.ts";

const api = (method: string, path: string, body?: unknown, token = "test-admin-token") =>
  rawApi(method, path, body, { token, contentType: method === "PATCH" ? "application/merge-patch+json" : "application/json" });

const b64 = (s: string) => btoa(s);
let counter = 0;

/** A bootstrap token as kubeadm keeps it; returns "id.secret". */
async function bootstrapToken(extra: Record<string, string> = {}): Promise<string> {
  const id = `t${String(++counter).padStart(2, "0")}${crypto.randomUUID().replace(/-/g, "").slice(0, 3)}`.slice(0, 6);
  const secret = crypto.randomUUID().replace(/-/g, "").slice(0, 16);
  const data = { "token-id": id, "token-secret": secret, "usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true", ...extra };
  const created = await api("POST", "/api/v1/namespaces/kube-system/secrets", {
    metadata: { name: `bootstrap-token-${id}` }, type: "bootstrap.kubernetes.io/token", data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  });
  expect(created.status).toBe(201);
  return `${id}.${secret}`;
}

async function joinAs(node: string): Promise<string> {
  const token = await bootstrapToken();
  const issued = await api("POST", `/api/v1/nodes/${node}/token`, { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} }, token);
  expect(issued.status).toBe(201);
  return issued.body.status.token;
}

/** A node joined with its own credential, and a new namespace with its default service account. */
async function joinedNodeAndNamespace() {
  const node = `node-${crypto.randomUUID().slice(0, 6)}`;
  const credential = await joinAs(node);
  const ns = `nodes-${crypto.randomUUID().slice(0, 6)}`;
  expect((await api("POST", "/api/v1/namespaces", { metadata: { name: ns } })).status).toBe(201);
  await createDefaultServiceAccount(ns);
  return { node, credential, ns };
}

async function whoami(token: string) {
  return api("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }, token);
}

describe("bootstrap tokens and node credentials", () => {
  it("a bootstrap token authenticates as system:bootstrap:<id> and may only ask for a node credential", async () => {
    const token = await bootstrapToken({ "auth-extra-groups": "system:bootstrappers:edgeplane:default" });
    const id = token.split(".")[0];
    expect((await whoami(token)).body.status.userInfo).toMatchObject({ username: `system:bootstrap:${id}`, groups: ["system:bootstrappers", "system:bootstrappers:edgeplane:default", "system:authenticated"] });
    const pods = await api("GET", "/api/v1/pods", undefined, token);
    expect(pods.status).toBe(403);
    expect(pods.body.message).toBe(`pods is forbidden: User "system:bootstrap:${id}" cannot list resource "pods" in API group "" at the cluster scope`);
    const issued = await api("POST", "/api/v1/nodes/worker-1/token", { spec: {} }, token);
    expect(issued.status).toBe(201);
    expect((await whoami(issued.body.status.token)).body.status.userInfo).toMatchObject({ username: "system:node:worker-1", groups: ["system:nodes", "system:authenticated"] });
    expect(Date.parse(issued.body.status.expirationTimestamp) - Date.now()).toBeGreaterThan(364 * 24 * 3600 * 1000);
  });

  it("refuses expired, unusable, wrong-secret and deleted bootstrap tokens", async () => {
    const expired = await bootstrapToken({ expiration: "2020-01-01T00:00:00Z" });
    const unusable = await bootstrapToken({ "usage-bootstrap-authentication": "false" });
    const good = await bootstrapToken();
    for (const token of [expired, unusable, `${good.split(".")[0]}.0000000000000000`]) expect((await whoami(token)).status).toBe(401);
    expect((await whoami(good)).status).toBe(201);
    expect((await api("DELETE", `/api/v1/namespaces/kube-system/secrets/bootstrap-token-${good.split(".")[0]}`)).status).toBe(200);
    expect((await whoami(good)).status).toBe(401);
  });

  it("a node reads only what pods bound to it reference, and writes only its own objects", async () => {
    const { node, credential, ns } = await joinedNodeAndNamespace();
    for (const name of ["mine", "other"]) expect((await api("POST", `/api/v1/namespaces/${ns}/secrets`, { metadata: { name }, stringData: { k: "v" } })).status).toBe(201);
    expect((await api("POST", `/api/v1/namespaces/${ns}/pods`, {
      metadata: { name: "p" }, spec: { nodeName: node, containers: [{ name: "c", image: "busybox", envFrom: [{ secretRef: { name: "mine" } }] }] },
    })).status).toBe(201);

    expect((await api("GET", `/api/v1/namespaces/${ns}/secrets/mine`, undefined, credential)).status).toBe(200);
    const other = await api("GET", `/api/v1/namespaces/${ns}/secrets/other`, undefined, credential);
    expect(other.status).toBe(403);
    expect(other.body.message).toBe(`secrets "other" is forbidden: User "system:node:${node}" cannot get resource "secrets" in API group "" in the namespace "${ns}": no relationship found between node '${node}' and this object`);
    expect((await api("GET", `/api/v1/namespaces/${ns}/secrets`, undefined, credential)).status).toBe(403);
    expect((await api("GET", `/api/v1/pods?fieldSelector=spec.nodeName=${node}`, undefined, credential)).status).toBe(200);

    expect((await api("POST", "/api/v1/nodes", { metadata: { name: node } }, credential)).status).toBe(201);
    const notMine = await api("POST", "/api/v1/nodes", { metadata: { name: `${node}-x` } }, credential);
    expect(notMine.status).toBe(403);
    expect(notMine.body.message).toBe(`nodes "${node}-x" is forbidden: node "${node}" is not allowed to modify node "${node}-x"`);
    const label = await api("PATCH", `/api/v1/nodes/${node}`, { metadata: { labels: { "node-restriction.kubernetes.io/pool": "gold" } } }, credential);
    expect(label.status).toBe(403);

    const lease = (name: string) => ({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name }, spec: { holderIdentity: node } });
    expect((await api("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease(node), credential)).status).toBe(201);
    expect((await api("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease("someone"), credential)).status).toBe(403);

    const pod = await api("POST", `/api/v1/namespaces/${ns}/pods`, { metadata: { name: "q" }, spec: { nodeName: node, containers: [{ name: "c", image: "busybox" }] } }, credential);
    expect(pod.status).toBe(403);
    expect(pod.body.message).toContain(`node "${node}" can only create mirror pods`);
    const status = await api("PATCH", `/api/v1/namespaces/${ns}/pods/p/status`, { status: { phase: "Running" } }, credential);
    expect(status.status).toBe(200);
    expect(status.body.status.phase).toBe("Running");
  });
  it("a name that a bound pod only mentions grants nothing; a reference behind many pods that mention it is found", async () => {
    const { node, credential, ns } = await joinedNodeAndNamespace();
    for (const name of ["late", "other"]) expect((await api("POST", `/api/v1/namespaces/${ns}/secrets`, { metadata: { name }, stringData: { k: "v" } })).status).toBe(201);
    // Twelve pods on the node name both secrets in a label and an env value, which are not references.
    for (let i = 0; i < 12; i++) {
      expect((await api("POST", `/api/v1/namespaces/${ns}/pods`, {
        metadata: { name: `a-${i}`, labels: { app: "other" } },
        spec: { nodeName: node, containers: [{ name: "c", image: "busybox", env: [{ name: "X", value: "late" }, { name: "Y", value: "other" }] }] },
      })).status).toBe(201);
    }
    expect((await api("POST", `/api/v1/namespaces/${ns}/pods`, {
      metadata: { name: "z-last" }, spec: { nodeName: node, containers: [{ name: "c", image: "busybox", envFrom: [{ secretRef: { name: "late" } }] }] },
    })).status).toBe(201);
    expect((await api("GET", `/api/v1/namespaces/${ns}/secrets/late`, undefined, credential)).status).toBe(200);
    const other = await api("GET", `/api/v1/namespaces/${ns}/secrets/other`, undefined, credential);
    expect(other.status).toBe(403);
    expect(other.body.message).toContain(`no relationship found between node '${node}' and this object`);
  });

  it("among other nodes' pods, a node gets tokens and objects only for pods bound to it", async () => {
    const { node, credential, ns } = await joinedNodeAndNamespace();
    // Another node whose name starts with this one's: only the exact node name counts.
    const neighbour = `${node}-2`;
    for (const name of ["for-mine", "for-theirs"]) expect((await api("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name } })).status).toBe(201);
    const pod = (name: string, nodeName: string, configMap: string) => ({
      metadata: { name }, spec: { nodeName, containers: [{ name: "c", image: "busybox", envFrom: [{ configMapRef: { name: configMap } }] }] },
    });
    expect((await api("POST", `/api/v1/namespaces/${ns}/pods`, pod("mine", node, "for-mine"))).status).toBe(201);
    for (let i = 0; i < 5; i++) expect((await api("POST", `/api/v1/namespaces/${ns}/pods`, pod(`theirs-${i}`, neighbour, "for-theirs"))).status).toBe(201);

    const tokenFor = (podName: string) => api("POST", `/api/v1/namespaces/${ns}/serviceaccounts/default/token`, {
      apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { boundObjectRef: { kind: "Pod", apiVersion: "v1", name: podName } },
    }, credential);
    expect((await tokenFor("mine")).status).toBe(201);
    for (const podName of ["theirs-0", "missing"]) {
      const refused = await tokenFor(podName);
      expect(refused.status).toBe(403);
      expect(refused.body.message).toBe(`serviceaccounts "default" is forbidden: node requested token not bound to a pod scheduled on the node`);
    }
    expect((await api("GET", `/api/v1/namespaces/${ns}/configmaps/for-mine`, undefined, credential)).status).toBe(200);
    const theirs = await api("GET", `/api/v1/namespaces/${ns}/configmaps/for-theirs`, undefined, credential);
    expect(theirs.status).toBe(403);
    expect(theirs.body.message).toContain(`no relationship found between node '${node}' and this object`);
  });

  it("a node reaches what a pod bound a moment ago refers to, though it read its pods just before", async () => {
    const { node, credential, ns } = await joinedNodeAndNamespace();
    const pod = (name: string, configMap: string) => ({ metadata: { name }, spec: { nodeName: node, containers: [{ name: "c", image: "busybox", envFrom: [{ configMapRef: { name: configMap } }] }] } });
    for (const name of ["first", "second"]) expect((await api("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name } })).status).toBe(201);
    expect((await api("POST", `/api/v1/namespaces/${ns}/pods`, pod("a", "first"))).status).toBe(201);
    expect((await api("GET", `/api/v1/namespaces/${ns}/configmaps/first`, undefined, credential)).status).toBe(200);
    expect((await api("GET", `/api/v1/namespaces/${ns}/configmaps/second`, undefined, credential)).status).toBe(403);
    expect((await api("POST", `/api/v1/namespaces/${ns}/pods`, pod("b", "second"))).status).toBe(201);
    expect((await api("GET", `/api/v1/namespaces/${ns}/configmaps/second`, undefined, credential)).status).toBe(200);
  });

  it("a node creates mirror pods owned by its own Node and referring to no other object (static pods)", async () => {
    const node = `node-${crypto.randomUUID().slice(0, 6)}`;
    const credential = await joinAs(node);
    const registered = await api("POST", "/api/v1/nodes", { metadata: { name: node } }, credential);
    expect(registered.status).toBe(201);
    const owner = { apiVersion: "v1", kind: "Node", name: node, uid: registered.body.metadata.uid, controller: true };
    const mirror = (name: string, extra: { owner?: Record<string, unknown>; spec?: Record<string, unknown> } = {}) => ({
      metadata: { name, annotations: { "kubernetes.io/config.mirror": "abc", "kubernetes.io/config.source": "file" }, ownerReferences: [extra.owner ?? owner] },
      spec: { nodeName: node, containers: [{ name: "c", image: "busybox" }], ...extra.spec },
    });
    const create = (body: unknown) => api("POST", "/api/v1/namespaces/default/pods", body, credential);
    const created = await create(mirror(`static-${node}`));
    expect(created.status).toBe(201);
    expect(created.body.metadata.ownerReferences).toEqual([owner]);
    expect(created.body.spec.serviceAccountName).toBeUndefined();
    const refused: [unknown, string][] = [
      [mirror("a", { owner: { ...owner, name: "other" } }), `node "${node}" can only create pods with an owner reference set to itself`],
      [mirror("b", { owner: { ...owner, controller: false } }), `node "${node}" can only create pods with a controller owner reference set to itself`],
      [mirror("c", { owner: { ...owner, uid: "not-the-node" } }), `node ${node} UID mismatch: expected not-the-node got ${owner.uid}`],
      [mirror("d", { spec: { volumes: [{ name: "s", secret: { secretName: "x" } }] } }), `node "${node}" can not create pods that reference secrets`],
      [mirror("e", { spec: { serviceAccountName: "default" } }), `node "${node}" can not create pods that reference a service account`],
    ];
    for (const [body, message] of refused) {
      const answer = await create(body);
      expect(answer.status).toBe(403);
      expect(answer.body.message).toContain(message);
    }
    expect((await api("DELETE", `/api/v1/namespaces/default/pods/static-${node}?gracePeriodSeconds=0`, undefined, credential)).status).toBe(200);
  });
  it("a node creates and deletes only its own local-path volumes, pinned to itself (the provisioner in the agent)", async () => {
    const node = "worker-pv";
    const credential = await joinAs(node);
    const volume = (name: string, owner: string, pinnedTo: string) => ({
      apiVersion: "v1", kind: "PersistentVolume",
      metadata: { name, labels: { "edgeplane.dev/local-path-node": owner } },
      spec: {
        capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], hostPath: { path: `/var/lib/edgeplane/local-path/${name}` },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [pinnedTo] }] }] } },
      },
    });
    expect((await api("POST", "/api/v1/persistentvolumes", volume("pv-mine", node, node), credential)).status).toBe(201);
    const foreign = await api("POST", "/api/v1/persistentvolumes", volume("pv-other", "worker-x", "worker-x"), credential);
    expect(foreign.status).toBe(403);
    expect(foreign.body.message).toBe(`persistentvolumes "pv-other" is forbidden: node "${node}" may only create or delete local-path volumes with node affinity to itself`);
    expect((await api("POST", "/api/v1/persistentvolumes", volume("pv-elsewhere", node, "worker-x"), credential)).status).toBe(403);
    expect((await api("POST", "/api/v1/persistentvolumes", volume("pv-admin", "worker-x", "worker-x"))).status).toBe(201);
    expect((await api("DELETE", "/api/v1/persistentvolumes/pv-admin", undefined, credential)).status).toBe(403);
    expect((await api("PATCH", "/api/v1/persistentvolumes/pv-mine", { metadata: { labels: { x: "y" } } }, credential)).status).toBe(403);
    const listed = await api("GET", `/api/v1/persistentvolumes?labelSelector=edgeplane.dev/local-path-node%3D${node}`, undefined, credential);
    expect(listed.body.items.map((v: { metadata: { name: string } }) => v.metadata.name)).toEqual(["pv-mine"]);
    expect((await api("DELETE", "/api/v1/persistentvolumes/pv-mine", undefined, credential)).status).toBe(200);
  });
});
