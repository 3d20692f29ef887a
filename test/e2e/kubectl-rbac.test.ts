// RBAC with the real kubectl, every version installed here: an admin makes a namespace, a Role and
// a RoleBinding for a service account; that account's token (kubectl create token) can do exactly
// what the Role allows, is refused the rest in kube-apiserver's words, cannot escalate, and loses
// access when its binding goes.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KUBECTLS, startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";

let harness: KubectlHarness;
let dir: string;

beforeAll(async () => {
  harness = await startKubectlHarness("edgeplane-rbac-");
  ({ dir } = harness);
});

afterAll(async () => {
  await harness?.stop();
});

const kubectl = (binary: string, ...args: string[]) => harness.kubectl(binary, ...args);
const ok = (binary: string, ...args: string[]) => harness.ok(binary, ...args);

describe.each(KUBECTLS)("%s", (binary) => {
  const ns = `rbac-${binary.match(/(\d+)$/)?.[1] ?? "default"}`;
  const user = `system:serviceaccount:${ns}:robot`;

  it("a service account token can do what its Role allows and nothing else", async () => {
    await ok(binary, "create", "namespace", ns);
    await ok(binary, "create", "serviceaccount", "robot", "-n", ns);
    await ok(binary, "create", "configmap", "settings", "-n", ns, "--from-literal=a=b");
    const role = join(dir, `${ns}-role.json`);
    writeFileSync(role, JSON.stringify({
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "reader", namespace: ns },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] }, { apiGroups: ["rbac.authorization.k8s.io"], resources: ["rolebindings"], verbs: ["create"] }],
    }));
    await ok(binary, "create", "-f", role);
    await ok(binary, "create", "rolebinding", "robot-reads", "-n", ns, "--role=reader", `--serviceaccount=${ns}:robot`);
    const token = (await ok(binary, "create", "token", "robot", "-n", ns, "--duration=15m")).trim();
    const as = (...args: string[]) => kubectl(binary, `--token=${token}`, ...args);

    // The namespace's kube-root-ca.crt (the root CA publisher's) may be listed beside it.
    expect((await as("get", "configmaps", "-n", ns, "-o", "name")).stdout).toContain("configmap/settings\n");
    expect((await as("get", "configmap", "settings", "-n", ns, "-o", "jsonpath={.data.a}")).stdout).toBe("b");
    const pods = await as("get", "pods", "-n", ns);
    expect(pods.code).not.toBe(0);
    expect(pods.stderr).toContain(`Error from server (Forbidden): pods is forbidden: User "${user}" cannot list resource "pods" in API group "" in the namespace "${ns}"`);
    const other = await as("get", "configmaps", "-n", "default");
    expect(other.stderr).toContain(`configmaps is forbidden: User "${user}" cannot list resource "configmaps" in API group "" in the namespace "default"`);
    const write = await as("delete", "configmap", "settings", "-n", ns);
    expect(write.stderr).toContain(`configmaps "settings" is forbidden: User "${user}" cannot delete resource "configmaps" in API group "" in the namespace "${ns}"`);

    // What the account may do, as kubectl auth can-i reports it.
    expect((await as("auth", "can-i", "list", "configmaps", "-n", ns)).stdout.trim()).toBe("yes");
    expect((await as("auth", "can-i", "create", "pods", "-n", ns)).stdout.trim()).toBe("no");
    const list = (await as("auth", "can-i", "--list", "-n", ns)).stdout;
    expect(list).toMatch(/^configmaps\s+\[\]\s+\[\]\s+\[get list watch\]$/m);
    expect(list).toMatch(/^rolebindings\.rbac\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]$/m);
    expect(list).not.toMatch(/^pods/m);
    // The admin may ask on its behalf.
    expect((await ok(binary, "auth", "can-i", "get", "configmaps", "-n", ns, `--as=${user}`)).trim()).toBe("yes");
    expect((await kubectl(binary, "auth", "can-i", "get", "secrets", "-n", ns, `--as=${user}`)).stdout.trim()).toBe("no");

    // Creating bindings is allowed, but not to a role with rights the account does not hold.
    const escalate = await as("create", "rolebinding", "grab", "-n", ns, "--clusterrole=cluster-admin", `--serviceaccount=${ns}:robot`);
    expect(escalate.code).not.toBe(0);
    expect(escalate.stderr).toContain(`rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "${user}"`);
    expect(escalate.stderr).toContain("is attempting to grant RBAC permissions not currently held");
    expect((await kubectl(binary, "get", "rolebinding", "grab", "-n", ns)).stderr).toContain("NotFound");

    // Without its binding the token is worth nothing more than discovery.
    await ok(binary, "delete", "rolebinding", "robot-reads", "-n", ns);
    expect((await as("get", "configmaps", "-n", ns)).stderr).toContain(`configmaps is forbidden: User "${user}"`);
  });

  it("kubectl auth whoami names the token's identity; a bad token is refused", async () => {
    await kubectl(binary, "create", "namespace", ns);
    await kubectl(binary, "create", "serviceaccount", "robot", "-n", ns);
    const token = (await ok(binary, "create", "token", "robot", "-n", ns)).trim();
    const whoami = await kubectl(binary, `--token=${token}`, "auth", "whoami");
    expect(whoami.stdout).toMatch(new RegExp(`^Username\\s+${user}$`, "m"));
    expect(whoami.stdout).toMatch(new RegExp(`^Groups\\s+\\[system:serviceaccounts system:serviceaccounts:${ns} system:authenticated\\]$`, "m"));
    // Spoil the first character of the signature: it carries six whole bits of the first byte (the
    // last character carries only two, so changing it leaves the signature valid one time in 16).
    const [header, payload, signature] = token.split(".");
    const spoiled = `${header}.${payload}.${signature![0] === "A" ? "B" : "A"}${signature!.slice(1)}`;
    const bad = await kubectl(binary, `--token=${spoiled}`, "get", "configmaps", "-n", ns);
    expect(bad.stderr).toContain("Unauthorized");
  });
});
