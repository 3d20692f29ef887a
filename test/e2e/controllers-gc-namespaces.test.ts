// The garbage collector and the namespace controllers, through real kubectl against a control plane
// as npm start serves it: `kubectl delete --cascade=foreground|background|orphan` on a Deployment
// does what kubectl users expect; a new namespace gets its default ServiceAccount and the
// kube-root-ca.crt ConfigMap; `kubectl delete namespace` empties the namespace (Terminating, with
// conditions naming what is left, until then). No nodes: pods stay Pending.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { eventually } from "../support/until.ts";

let harness: KubectlHarness;
const kubectl = "/usr/bin/kubectl";

beforeAll(async () => {
  harness = await startKubectlHarness("controllers-gc-ns-e2e-");
});

afterAll(async () => {
  await harness?.stop();
});

const get = (ns: string, what: string, jsonpath: string) => harness.ok(kubectl, "get", what, "-n", ns, "-o", `jsonpath=${jsonpath}`);
const names = async (ns: string, what: string) => (await get(ns, what, "{.items[*].metadata.name}")).split(" ").filter(Boolean);

/** A Deployment of 2 and, once the controllers made them, its ReplicaSet's name. */
async function deploymentWithPods(ns: string, name: string): Promise<string> {
  await harness.ok(kubectl, "create", "deployment", name, "-n", ns, "--image=busybox", "--replicas=2");
  await eventually(`${name}'s 2 pods`, async () => (await names(ns, "pods")).length === 2);
  const [rs] = await names(ns, "rs");
  return rs!;
}

describe("kubectl delete --cascade", () => {
  it("foreground: the ReplicaSet and pods are gone by the time the Deployment is", async () => {
    await harness.ok(kubectl, "create", "namespace", "fg");
    await deploymentWithPods("fg", "web");
    // kubectl waits for the Deployment to be gone; its foregroundDeletion finalizer holds it until then.
    expect(await harness.ok(kubectl, "delete", "deployment", "web", "-n", "fg", "--cascade=foreground", "--timeout=30s")).toBe(`deployment.apps "web" deleted\n`);
    expect(await names("fg", "rs")).toEqual([]);
    expect(await names("fg", "pods")).toEqual([]);
  });

  it("background: the Deployment goes at once, its ReplicaSet and pods after", async () => {
    await harness.ok(kubectl, "create", "namespace", "bg");
    await deploymentWithPods("bg", "web");
    await harness.ok(kubectl, "delete", "deployment", "web", "-n", "bg", "--cascade=background");
    await eventually("the ReplicaSet and pods collected", async () => (await names("bg", "rs,pods")).length === 0);
  });

  it("orphan: the ReplicaSet stays, without an owner, with its pods", async () => {
    await harness.ok(kubectl, "create", "namespace", "orphan");
    const rs = await deploymentWithPods("orphan", "web");
    await harness.ok(kubectl, "delete", "deployment", "web", "-n", "orphan", "--cascade=orphan", "--timeout=30s");
    expect(await names("orphan", "deployments")).toEqual([]);
    await eventually("the ReplicaSet released", async () => (await get("orphan", `rs/${rs}`, "{.metadata.ownerReferences}")) === "");
    expect(await names("orphan", "pods")).toHaveLength(2);
    expect(await get("orphan", "pods", "{.items[*].metadata.ownerReferences[0].name}")).toBe(`${rs} ${rs}`);
  });
});

describe("a new namespace", () => {
  it("gets its default ServiceAccount and kube-root-ca.crt with the CA kubectl trusts, both made again when deleted", async () => {
    await harness.ok(kubectl, "create", "namespace", "fresh");
    const ca = () => harness.kubectl(kubectl, "get", "configmap", "kube-root-ca.crt", "-n", "fresh", "-o", "jsonpath={.data.ca\\.crt}");
    await eventually("the default ServiceAccount", async () => (await harness.kubectl(kubectl, "get", "serviceaccount", "default", "-n", "fresh")).code === 0);
    await eventually("kube-root-ca.crt", async () => (await ca()).stdout === harness.plane.caPem);
    await harness.ok(kubectl, "delete", "serviceaccount", "default", "-n", "fresh");
    await harness.ok(kubectl, "delete", "configmap", "kube-root-ca.crt", "-n", "fresh");
    await eventually("the default ServiceAccount again", async () => (await harness.kubectl(kubectl, "get", "serviceaccount", "default", "-n", "fresh")).code === 0);
    await eventually("kube-root-ca.crt again", async () => (await ca()).stdout === harness.plane.caPem);
    // A pod right after its namespace: admission waits for the default account, as kube's does.
    await harness.ok(kubectl, "create", "namespace", "quick");
    await harness.ok(kubectl, "run", "first", "-n", "quick", "--image=busybox");
    expect(await harness.ok(kubectl, "get", "pod", "first", "-n", "quick", "-o", "jsonpath={.spec.serviceAccountName}")).toBe("default");
  });
});

describe("kubectl delete namespace", () => {
  it("stays Terminating with conditions while a finalizer holds content, then is gone with everything in it", async () => {
    await harness.ok(kubectl, "create", "namespace", "doomed");
    await deploymentWithPods("doomed", "web");
    await harness.ok(kubectl, "create", "configmap", "held", "-n", "doomed");
    await harness.ok(kubectl, "patch", "configmap", "held", "-n", "doomed", "-p", `{"metadata":{"finalizers":["example.com/hold"]}}`);
    await harness.ok(kubectl, "delete", "namespace", "doomed", "--wait=false");

    const condition = (type: string) => harness.ok(kubectl, "get", "namespace", "doomed", "-o", `jsonpath={.status.conditions[?(@.type=="${type}")].message}`);
    await eventually("the finalizer named in the namespace's conditions", async () =>
      (await condition("NamespaceFinalizersRemaining")) === "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances");
    expect(await condition("NamespaceContentRemaining")).toBe("Some resources are remaining: configmaps has 1 resource instances");
    expect(await harness.ok(kubectl, "get", "namespace", "doomed", "-o", "jsonpath={.status.phase}")).toBe("Terminating");
    expect(await names("doomed", "deployments,rs,pods")).toEqual([]);

    await harness.ok(kubectl, "patch", "configmap", "held", "-n", "doomed", "--type=merge", "-p", `{"metadata":{"finalizers":null}}`);
    await harness.ok(kubectl, "wait", "--for=delete", "namespace/doomed", "--timeout=60s");
    const gone = await harness.kubectl(kubectl, "get", "namespace", "doomed");
    expect(gone.stderr).toContain(`namespaces "doomed" not found`);
  });
});
