// The controller manager through real kubectl, against a control plane as npm start serves it: a
// Deployment gets its ReplicaSet and pods, scaling deletes the extras, and the rollout history
// lists each revision. No kubelet runs, so the pods stay Pending (and the rollout unavailable).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";
import { eventually } from "../support/until.ts";

let harness: KubectlHarness;
const kubectl = "/usr/bin/kubectl";

beforeAll(async () => {
  harness = await startKubectlHarness("controllers-e2e-");
});

afterAll(async () => {
  await harness?.stop();
});

const podNames = async (ns: string) =>
  (await harness.ok(kubectl, "get", "pods", "-n", ns, "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}")).split(" ").filter(Boolean);

describe("controllers with kubectl", () => {
  it("create deployment → a ReplicaSet and 3 pods; scale → 1; set image → revision 2 in the rollout history", async () => {
    await harness.ok(kubectl, "create", "namespace", "apps");
    await harness.ok(kubectl, "create", "deployment", "web", "-n", "apps", "--image=busybox", "--replicas=3");
    await eventually("3 pods", async () => (await podNames("apps")).length === 3);
    const listed = await harness.ok(kubectl, "get", "rs,pods", "-n", "apps", "-l", "app=web");
    expect(listed).toMatch(/replicaset\.apps\/web-[a-z0-9]+\s+3\s+3\s+0\s/);
    expect(listed.match(/^pod\/web-[a-z0-9]+-[a-z0-9]{5}\s+0\/1\s+Pending/gm)).toHaveLength(3);

    await harness.ok(kubectl, "scale", "deployment", "web", "-n", "apps", "--replicas=1");
    await eventually("1 pod", async () => (await podNames("apps")).length === 1);
    await eventually("the deployment's status", async () =>
      (await harness.ok(kubectl, "get", "deployment", "web", "-n", "apps", "-o", "jsonpath={.status.replicas}/{.status.updatedReplicas}")) === "1/1");

    const history = await harness.ok(kubectl, "rollout", "history", "deployment", "web", "-n", "apps");
    expect(history).toMatch(/REVISION\s+CHANGE-CAUSE\n1\s+<none>/);

    // A new image is a new ReplicaSet and revision 2 (its pods never become available: the old one stays up).
    await harness.ok(kubectl, "set", "image", "deployment/web", "-n", "apps", "busybox=busybox:1.36");
    await eventually("revision 2", async () => /\n2\s+<none>/.test(await harness.ok(kubectl, "rollout", "history", "deployment", "web", "-n", "apps")));
    const sets = await harness.ok(kubectl, "get", "rs", "-n", "apps", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.metadata.annotations.deployment\\.kubernetes\\.io/revision}={.spec.template.spec.containers[0].image}{\"\\n\"}{end}");
    expect(sets.trim().split("\n").sort()).toEqual(["1=busybox", "2=busybox:1.36"]);
    const described = await harness.ok(kubectl, "describe", "rs", "-n", "apps", "-l", "app=web");
    expect(described).toMatch(/Normal\s+SuccessfulCreate\s+\S+\s+replicaset-controller\s+Created pod: web-/);
    expect(described).toMatch(/Normal\s+SuccessfulDelete\s+\S+\s+replicaset-controller\s+Deleted pod: web-/);
  });
});
