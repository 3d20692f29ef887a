// The real kubectl, every version installed here, against the local control plane (wrangler dev,
// HTTPS with a kubeconfig as `npm start` writes it). Each step asserts what kubectl prints and
// what the server then holds.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubeconfig, startControlPlane, type ControlPlane } from "../../scripts/dev-server.ts";

const run = promisify(execFile);
const KUBECTLS = [
  ...[27, 28, 29, 30, 31, 32, 33].map((minor) => `/usr/lib/google-cloud-sdk/bin/kubectl.1.${minor}`),
  "/usr/bin/kubectl",
].filter((path) => existsSync(path));

let plane: ControlPlane;
let dir: string;
let kubeconfigPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgeplane-e2e-"));
  plane = await startControlPlane({ stateDir: join(dir, "state"), tlsDir: join(dir, "tls") });
  kubeconfigPath = join(dir, "kubeconfig");
  writeFileSync(kubeconfigPath, kubeconfig(plane.url, plane.token, plane.caPem));
});

afterAll(async () => {
  await plane?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function kubectl(binary: string, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(binary, args, { env: { ...process.env, KUBECONFIG: kubeconfigPath, HOME: dir }, timeout: 60_000 });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    return { stdout: err.stdout ?? "", stderr: err.stderr ?? "", code: err.code ?? 1 };
  }
}

async function ok(binary: string, ...args: string[]): Promise<string> {
  const res = await kubectl(binary, ...args);
  if (res.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${res.code}): ${res.stderr}`);
  return res.stdout;
}

it("finds kubectl binaries to test", () => {
  expect(KUBECTLS.length).toBeGreaterThanOrEqual(2);
});

describe.each(KUBECTLS)("%s", (binary) => {
  const ns = `e2e-${binary.match(/(\d+)$/)?.[1] ?? "default"}`;

  it("reports versions and lists namespaces and API resources", async () => {
    expect(await ok(binary, "version", "-o", "json")).toContain('"gitVersion": "v1.30.0"');
    const namespaces = await ok(binary, "get", "namespaces");
    for (const name of ["default", "kube-system", "kube-public", "kube-node-lease"]) expect(namespaces).toMatch(new RegExp(`^${name}\\s+Active`, "m"));
    const resources = await ok(binary, "api-resources");
    expect(resources).toMatch(/^pods\s+po\s+v1\s+true\s+Pod$/m);
    expect(resources).toMatch(/^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
  });

  it("creates, reads with every output format and selector, and deletes", async () => {
    const manifest = join(dir, `${ns}.json`);
    writeFileSync(manifest, JSON.stringify({
      apiVersion: "v1", kind: "List", items: [
        { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "alpha", namespace: ns, labels: { tier: "a" } }, data: { k: "1" } },
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "beta", namespace: ns, labels: { tier: "b" } }, data: { k: "2", l: "3" } },
        { apiVersion: "v1", kind: "Pod", metadata: { name: "web", namespace: ns, labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "busybox" }] } },
      ],
    }));
    expect(await ok(binary, "create", "--validate=false", "-f", manifest)).toContain(`configmap/beta created`);

    const table = await ok(binary, "get", "configmaps", "-n", ns);
    expect(table).toMatch(/^NAME\s+DATA\s+AGE$/m);
    expect(table).toMatch(/^alpha\s+1\s+\d+s$/m);
    expect(table).toMatch(/^beta\s+2\s+\d+s$/m);
    expect(await ok(binary, "get", "cm", "-n", ns, "-l", "tier=b", "-o", "name")).toBe("configmap/beta\n");
    expect(await ok(binary, "get", "cm", "-n", ns, "--field-selector", "metadata.name=alpha", "-o", "jsonpath={.items[*].data.k}")).toBe("1");
    expect(await ok(binary, "get", "cm", "-n", ns, "--show-labels")).toMatch(/^alpha\s+1\s+\S+\s+tier=a$/m);
    expect(await ok(binary, "get", "cm", "-n", ns, "-L", "tier", "--sort-by", "{.metadata.name}")).toMatch(/alpha.*a\n.*beta.*b\n/);
    expect(await ok(binary, "get", "cm", "-n", ns, "--chunk-size", "1", "-o", "name")).toBe("configmap/alpha\nconfigmap/beta\n");
    const yaml = await ok(binary, "get", "pod", "web", "-n", ns, "-o", "yaml");
    expect(yaml).toContain("imagePullPolicy: Always");
    expect(yaml).toContain("restartPolicy: Always");
    const pod = JSON.parse(await ok(binary, "get", "pod", "web", "-n", ns, "-o", "json"));
    expect(pod.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(await ok(binary, "get", "pods", "-n", ns, "-o", "wide")).toMatch(/^web\s+0\/1\s+Pending\s+0\s+\S+\s+<none>\s+<none>\s+<none>\s+<none>$/m);

    const missing = await kubectl(binary, "get", "cm", "nope", "-n", ns);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`Error from server (NotFound): configmaps "nope" not found`);

    expect(await ok(binary, "delete", "cm", "-n", ns, "-l", "tier=a")).toContain(`configmap "alpha" deleted`);
    expect(await ok(binary, "get", "cm", "-n", ns, "-o", "name")).toBe("configmap/beta\n");
  });

  it("refuses objects in a missing namespace and bad names with the Kubernetes message", async () => {
    const manifest = join(dir, `${ns}-bad.json`);
    writeFileSync(manifest, JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "no-such-ns" } }));
    const res = await kubectl(binary, "create", "--validate=false", "-f", manifest);
    expect(res.stderr).toContain(`namespaces "no-such-ns" not found`);
    writeFileSync(manifest, JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "Bad_Name", namespace: ns } }));
    const bad = await kubectl(binary, "create", "--validate=false", "-f", manifest);
    expect(bad.stderr).toContain(`The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain`);
  });
});
