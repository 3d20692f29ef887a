// Storage object in-use protection through real kubectl against a control plane as npm start
// serves it: claims and volumes are created with their protection finalizers; `kubectl delete pvc`
// of a claim a scheduled pod uses leaves it Terminating (as kubectl get and describe show) until the
// pod is gone; an unused claim and an unbound volume go at once.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { until } from "../support/until.ts";

let harness: KubectlHarness;
const kubectl = "/usr/bin/kubectl";

async function apply(object: unknown): Promise<void> {
  const file = join(harness.dir, `object-${crypto.randomUUID()}.json`);
  writeFileSync(file, JSON.stringify(object));
  await harness.ok(kubectl, "apply", "-f", file);
}

const claim = (name: string, namespace: string) => ({
  apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name, namespace },
  spec: { accessModes: ["ReadWriteOnce"], storageClassName: "", resources: { requests: { storage: "1Gi" } } },
});

beforeAll(async () => {
  harness = await startKubectlHarness("controllers-storage-e2e-");
});

afterAll(async () => {
  await harness?.stop();
});

const gone = (...what: string[]) => async () => ((await harness.kubectl(kubectl, "get", ...what)).stderr.includes("NotFound") ? true : undefined);

describe("pvc-protection", () => {
  it("a claim a pod uses stays Terminating until the pod is gone", async () => {
    await harness.ok(kubectl, "create", "namespace", "storage");
    await apply(claim("data", "storage"));
    expect(await harness.ok(kubectl, "get", "pvc", "data", "-n", "storage", "-o", "jsonpath={.metadata.finalizers}")).toBe(`["kubernetes.io/pvc-protection"]`);
    // A node that exists (PodGC collects pods bound to none) and a pod on it that mounts the claim.
    await apply({ apiVersion: "v1", kind: "Node", metadata: { name: "storage-node" } });
    await apply({
      apiVersion: "v1", kind: "Pod", metadata: { name: "user", namespace: "storage" },
      spec: { nodeName: "storage-node", containers: [{ name: "c", image: "busybox" }], volumes: [{ name: "d", persistentVolumeClaim: { claimName: "data" } }] },
    });
    expect(await harness.ok(kubectl, "delete", "pvc", "data", "-n", "storage", "--wait=false")).toBe(`persistentvolumeclaim "data" deleted\n`);
    await until("the claim Terminating", async () => ((await harness.ok(kubectl, "get", "pvc", "data", "-n", "storage", "--no-headers")).includes("Terminating") ? true : undefined));
    // A namespace made after the delete has its default ServiceAccount once the controller manager
    // has caught up past it: by then it has looked at the claim too, and kept it.
    await harness.ok(kubectl, "create", "namespace", "storage-later");
    await until("the controller manager caught up", async () => ((await harness.kubectl(kubectl, "get", "serviceaccount", "default", "-n", "storage-later")).code === 0 ? true : undefined));
    expect(await harness.ok(kubectl, "get", "pvc", "data", "-n", "storage", "-o", "jsonpath={.metadata.finalizers}")).toBe(`["kubernetes.io/pvc-protection"]`);
    const described = await harness.ok(kubectl, "describe", "pvc", "data", "-n", "storage");
    expect(described).toMatch(/Status:\s+Terminating/);
    expect(described).toMatch(/Used By:\s+user/);
    await harness.ok(kubectl, "delete", "pod", "user", "-n", "storage", "--grace-period=0", "--force");
    await until("the claim gone", gone("pvc", "data", "-n", "storage"));
  });

  it("an unused claim goes at once", async () => {
    await harness.ok(kubectl, "create", "namespace", "storage-unused");
    await apply(claim("idle", "storage-unused"));
    await harness.ok(kubectl, "delete", "pvc", "idle", "-n", "storage-unused", "--timeout=30s");
    expect((await harness.kubectl(kubectl, "get", "pvc", "idle", "-n", "storage-unused")).stderr).toContain("NotFound");
  });
});

describe("pv-protection", () => {
  it("a volume is created with kubernetes.io/pv-protection and, not bound, goes when deleted", async () => {
    await apply({
      apiVersion: "v1", kind: "PersistentVolume", metadata: { name: "spare" },
      spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], storageClassName: "manual", hostPath: { path: "/tmp/spare" } },
    });
    expect(await harness.ok(kubectl, "get", "pv", "spare", "-o", "jsonpath={.metadata.finalizers}")).toBe(`["kubernetes.io/pv-protection"]`);
    await harness.ok(kubectl, "delete", "pv", "spare", "--timeout=30s");
    expect((await harness.kubectl(kubectl, "get", "pv", "spare")).stderr).toContain("NotFound");
  });
});
