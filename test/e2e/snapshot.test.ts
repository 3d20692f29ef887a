// Snapshots and restore end to end: objects made through the Kubernetes API, a snapshot by
// `npm run admin -- snapshot save` and one by etcdctl through the bridge, changes and deletions
// after it, a refused restore into the (written) cluster itself, a restore into a new cluster name,
// and that cluster served by a control plane started with CLUSTER_NAME set to it: kubectl sees
// exactly the objects and resourceVersions of the snapshot, and the etcd lease is back.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Gateway } from "../../etcd-bridge/gateway.ts";
import { startEtcdBridge } from "../../etcd-bridge/server.ts";
import { readSnapshot } from "../../etcd-bridge/snapshot.ts";
import {
  kubeconfig, newAdminToken, newEncryptionKeys, newServiceAccountKey, PROJECT_ROOT, startControlPlane, type ControlPlane, type ControlPlaneOptions,
} from "../../scripts/dev-server.ts";

const run = promisify(execFile);
const KUBECTL = "/usr/bin/kubectl";
/** What kubectl is asked for before and after: the kinds this test writes, in every namespace. */
const KINDS = "namespaces,configmaps,secrets,services,serviceaccounts,deployments.apps,roles.rbac.authorization.k8s.io";

let dir: string;
let plane: ControlPlane | undefined;
let options: ControlPlaneOptions;
const tokenFile = () => join(dir, "admin-token");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgeplane-snapshot-"));
  const token = newAdminToken();
  writeFileSync(tokenFile(), token + "\n", { mode: 0o600 });
  // The restored cluster opens the same sealed Secrets, so both control planes share the keys.
  options = {
    stateDir: join(dir, "state"), tlsDir: join(dir, "tls"), token,
    encryptionKeys: newEncryptionKeys(), serviceAccountKey: newServiceAccountKey(),
    // Two snapshots taken one after the other are compared revision for revision: nothing but the
    // test may write meanwhile (no controller or scheduler wakes).
    vars: { KUBE_CONTROLLER_MANAGER_ENABLED: "false", KUBE_SCHEDULER_ENABLED: "false" },
  };
  plane = await startControlPlane(options);
});

afterAll(async () => {
  await plane?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function kubectl(...args: string[]): Promise<string> {
  writeFileSync(join(dir, "kubeconfig"), kubeconfig(plane!.url, options.token!, plane!.caPem));
  const { stdout } = await run(KUBECTL, args, { env: { ...process.env, KUBECONFIG: join(dir, "kubeconfig"), HOME: dir }, timeout: 60_000 });
  return stdout;
}

/** Every object of KINDS as kubectl shows it, in a stable order. */
async function visibleObjects(): Promise<object[]> {
  const list = JSON.parse(await kubectl("get", KINDS, "-A", "-o", "json")) as { items: { kind: string; metadata: { namespace?: string; name: string } }[] };
  const id = (o: (typeof list.items)[number]) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
  return list.items.sort((a, b) => (id(a) < id(b) ? -1 : 1));
}

async function admin(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(PROJECT_ROOT, "scripts/admin.ts"), ...args,
      "--server", plane!.url, "--token-file", tokenFile(), "--server-ca", join(dir, "tls/serving.crt")], { timeout: 60_000 });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

describe("snapshot and restore", () => {
  let seen: object[];

  it("restores a cluster as kubectl saw it at the snapshot, into a new cluster name", async () => {
    const manifest = join(dir, "objects.json");
    writeFileSync(manifest, JSON.stringify({
      apiVersion: "v1", kind: "List", items: [
        { apiVersion: "v1", kind: "Namespace", metadata: { name: "snap" } },
        ...["alpha", "beta", "gamma"].map((name) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "snap" }, data: { name } })),
        { apiVersion: "v1", kind: "Secret", metadata: { name: "credentials", namespace: "snap" }, stringData: { password: "s3cret" } },
        { apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: "snap" }, spec: { selector: { app: "web" }, ports: [{ port: 80 }] } },
        {
          apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "snap" },
          spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx" }] } } },
        },
        { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "reader", namespace: "snap" }, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }] },
      ],
    }));
    await kubectl("create", "-f", manifest);
    // An etcd lease with a key on it, through the admin etcd path.
    const gateway = new Gateway({ server: plane!.url, token: options.token!, ca: plane!.caPem });
    await gateway.post("/v3/lease/grant", { ID: "4242", TTL: "3600" });
    await gateway.post("/v3/kv/put", { key: Buffer.from("/leased/key").toString("base64"), value: Buffer.from("v").toString("base64"), lease: "4242" });
    gateway.close();
    seen = await visibleObjects();
    expect(seen.length).toBeGreaterThan(10);

    const saved = await admin("snapshot", "save", join(dir, "cluster.snap"));
    expect(saved.code, saved.stderr).toBe(0);
    expect(saved.stdout).toMatch(/^snapshot of cluster default saved at .*cluster\.snap \(\d+ bytes\)\n  shard main: revision \d+/);

    // etcdctl's snapshot through the bridge holds the same shards at the same revisions.
    const bridge = await startEtcdBridge({ server: plane!.url, token: options.token!, serverCa: plane!.caPem, listen: "127.0.0.1:0", certDir: join(dir, "etcd-pki") });
    try {
      const c = bridge.certificates;
      const { stdout } = await run("/usr/bin/etcdctl", [`--endpoints=${bridge.endpoint}`, "--cacert", c.caCert, "--cert", c.clientCert, "--key", c.clientKey,
        "snapshot", "save", join(dir, "etcdctl.snap")], { env: { ...process.env, ETCDCTL_API: "3" } });
      expect(stdout).toBe(`Snapshot saved at ${join(dir, "etcdctl.snap")}\n`);
    } finally {
      await bridge.stop();
    }
    const [ours, theirs] = [readSnapshot(join(dir, "cluster.snap")), readSnapshot(join(dir, "etcdctl.snap"))];
    expect(theirs.shards.map((s) => [s.name, s.head.revision, s.entries])).toEqual(ours.shards.map((s) => [s.name, s.head.revision, s.entries]));
    expect(ours.shards[0]!.head.leases).toEqual([expect.objectContaining({ ID: 4242, TTL: 3600 })]);

    // Life goes on after the snapshot.
    await kubectl("delete", "configmap", "beta", "-n", "snap");
    await kubectl("delete", "secret", "credentials", "-n", "snap");
    await kubectl("patch", "configmap", "alpha", "-n", "snap", "--type=merge", "-p", '{"data":{"name":"changed"}}');
    await kubectl("scale", "deployment", "web", "-n", "snap", "--replicas=5");
    await kubectl("create", "configmap", "delta", "-n", "snap", "--from-literal=k=v");
    expect(await visibleObjects()).not.toEqual(seen);

    // The cluster itself has been written: the restore refuses and changes nothing.
    const refused = await admin("snapshot", "restore", join(dir, "cluster.snap"));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("snapshot restore: cluster default cannot take the snapshot: shard main: edgeplane: the store shard is not empty");
    // A damaged file is refused before anything is written.
    const damaged = readFileSync(join(dir, "cluster.snap"));
    damaged[100] = damaged[100]! ^ 1;
    writeFileSync(join(dir, "damaged.snap"), damaged);
    expect((await admin("snapshot", "restore", join(dir, "damaged.snap"), "--cluster", "restored")).stderr).toContain("checksum does not match");

    const restored = await admin("snapshot", "restore", join(dir, "cluster.snap"), "--cluster", "restored");
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain("into cluster restored");
    // Restoring twice is refused too: the restored cluster is not empty any more.
    expect((await admin("snapshot", "restore", join(dir, "etcdctl.snap"), "--cluster", "restored")).stderr).toContain("not empty");

    // The same deployment and state, now serving the restored cluster.
    await plane!.stop();
    plane = undefined;
    plane = await startControlPlane({ ...options, vars: { ...options.vars, CLUSTER_NAME: "restored" } });
    expect(await visibleObjects()).toEqual(seen);
    expect(JSON.parse(await kubectl("get", "secret", "credentials", "-n", "snap", "-o", "json")).data.password).toBe(Buffer.from("s3cret").toString("base64"));

    const restoredGateway = new Gateway({ server: plane.url, token: options.token!, ca: plane.caPem });
    const ttl = await restoredGateway.post("/v3/lease/timetolive", { ID: "4242", keys: true });
    restoredGateway.close();
    expect(ttl).toMatchObject({ ID: "4242", grantedTTL: "3600", keys: [Buffer.from("/leased/key").toString("base64")] });

    // New writes go on from the snapshot's revision.
    const created = JSON.parse(await kubectl("create", "configmap", "after", "-n", "snap", "-o", "json")) as { metadata: { resourceVersion: string } };
    expect(Number(created.metadata.resourceVersion)).toBeGreaterThan(Number(ours.shards[0]!.head.revision));
  });
});
