// The real kubectl, every version installed here, against the local control plane (wrangler dev,
// HTTPS with a kubeconfig as `npm start` writes it). Each step asserts what kubectl prints and
// what the server then holds.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KUBECTLS, startKubectlHarness, type KubectlHarness } from "../support/kubectl.ts";

const run = promisify(execFile);

let harness: KubectlHarness;
let dir: string;
let kubeconfigPath: string;

beforeAll(async () => {
  // No controllers or scheduler: this suite checks objects exactly as kubectl wrote them (a Deployment with no ReplicaSet,
  // a pod with no scheduling status or Events); test/e2e/scheduler.test.ts and controllers.test.ts cover those.
  harness = await startKubectlHarness("edgeplane-e2e-", { vars: { KUBE_CONTROLLER_MANAGER_ENABLED: "false", KUBE_SCHEDULER_ENABLED: "false" } });
  ({ dir, kubeconfigPath } = harness);
});

afterAll(async () => {
  await harness?.stop();
});

const kubectl = (binary: string, ...args: string[]) => harness.kubectl(binary, ...args);
const ok = (binary: string, ...args: string[]) => harness.ok(binary, ...args);

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

  it("lists component statuses with kube's columns and deprecation warning", async () => {
    const { stdout, stderr } = await kubectl(binary, "get", "componentstatuses");
    expect(stdout).toMatch(/^NAME\s+STATUS\s+MESSAGE\s+ERROR$/m);
    expect(stdout).toMatch(/^etcd-0\s+Healthy\s+ok \(revision \d+\)/m);
    expect(stderr).toContain("Warning: v1 ComponentStatus is deprecated in v1.19+");
  });

  it("creates, reads with every output format and selector, and deletes", async () => {
    const manifest = join(dir, `${ns}.json`);
    writeFileSync(manifest, JSON.stringify({
      apiVersion: "v1", kind: "List", items: [
        { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
        // What the serviceaccount controller makes in a new namespace (the controller manager is off here).
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: ns } },
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "alpha", namespace: ns, labels: { tier: "a" } }, data: { k: "1" } },
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "beta", namespace: ns, labels: { tier: "b" } }, data: { k: "2", l: "3" } },
        { apiVersion: "v1", kind: "Pod", metadata: { name: "web", namespace: ns, labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "busybox" }] } },
      ],
    }));
    expect(await ok(binary, "create", "-f", manifest)).toContain(`configmap/beta created`);

    const table = await ok(binary, "get", "configmaps", "-n", ns);
    expect(table).toMatch(/^NAME\s+DATA\s+AGE$/m);
    expect(table).toMatch(/^alpha\s+1\s+\d+s$/m);
    expect(table).toMatch(/^beta\s+2\s+\d+s$/m);
    expect(await ok(binary, "get", "cm", "-n", ns, "-l", "tier=b", "-o", "name")).toBe("configmap/beta\n");
    expect(await ok(binary, "get", "cm", "-A", "-l", "tier")).toMatch(new RegExp(`^NAMESPACE\\s+NAME\\s+DATA\\s+AGE\\n(.*\\n)*${ns}\\s+alpha\\s+1\\s`, "m"));
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

  it("applies, patches with every type, labels, annotates, replaces, edits and deletes", async () => {
    await kubectl(binary, "create", "namespace", ns); // exists already for most versions
    const manifest = join(dir, `${ns}-deploy.json`);
    const deployment = (image: string) => ({
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: ns },
      spec: {
        replicas: 2, selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [
          { name: "a", image, env: [{ name: "FOO", value: "1" }, { name: "BAR", value: "2" }] }, { name: "b", image: "redis:7" },
        ] } },
      },
    });
    writeFileSync(manifest, JSON.stringify(deployment("nginx:1.25")));
    expect(await ok(binary, "apply", "-f", manifest)).toBe("deployment.apps/web created\n");
    writeFileSync(manifest, JSON.stringify(deployment("nginx:1.26")));
    expect(await ok(binary, "apply", "-f", manifest)).toBe("deployment.apps/web configured\n");
    expect(await ok(binary, "apply", "-f", manifest)).toBe("deployment.apps/web unchanged\n");
    const get = (path: string) => ok(binary, "get", "deploy", "web", "-n", ns, "-o", `jsonpath=${path}`);
    expect(await get("{.spec.template.spec.containers[*].image} {.metadata.generation}")).toBe("nginx:1.26 redis:7 2");

    expect(await ok(binary, "label", "deploy", "web", "-n", ns, "tier=front")).toContain("labeled");
    expect(await ok(binary, "annotate", "deploy", "web", "-n", ns, "note=hi")).toMatch(/^deployment.apps\/web annotated?\n$/); // 1.27 prints "annotate"
    await ok(binary, "patch", "deploy", "web", "-n", ns, "--type=json", "-p", '[{"op":"replace","path":"/spec/replicas","value":3}]');
    await ok(binary, "patch", "deploy", "web", "-n", ns, "--type=merge", "-p", '{"metadata":{"annotations":{"note":null}}}');
    await ok(binary, "patch", "deploy", "web", "-n", ns, "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"b","image":"redis:8"}]}}}}');
    expect(await get("{.spec.template.spec.containers[*].image} {.spec.replicas} {.metadata.labels.tier} {.metadata.annotations.note}")).toBe("nginx:1.26 redis:8 3 front ");
    const failed = await kubectl(binary, "patch", "deploy", "web", "-n", ns, "--type=json", "-p", '[{"op":"test","path":"/spec/replicas","value":7}]');
    expect(failed.code).not.toBe(0);
    expect(await get("{.spec.replicas}")).toBe("3");

    const current = JSON.parse(await ok(binary, "get", "deploy", "web", "-n", ns, "-o", "json"));
    current.spec.replicas = 4;
    writeFileSync(manifest, JSON.stringify(current));
    expect(await ok(binary, "replace", "-f", manifest)).toBe("deployment.apps/web replaced\n");
    const editor = join(dir, "editor.sh");
    writeFileSync(editor, `#!/bin/sh\nsed -i 's/replicas: 4/replicas: 5/' "$1"\n`, { mode: 0o755 });
    const edited = await run(binary, ["edit", "deploy", "web", "-n", ns], { env: { ...process.env, KUBECONFIG: kubeconfigPath, HOME: dir, EDITOR: editor, KUBE_EDITOR: editor } });
    expect(edited.stdout).toBe("deployment.apps/web edited\n");
    expect(await get("{.spec.replicas}")).toBe("5");
    expect(await ok(binary, "describe", "deploy", "web", "-n", ns)).toMatch(/Replicas:\s+5 desired/);
    const all = await ok(binary, "get", "all", "-n", ns);
    expect(all).toMatch(/^deployment\.apps\/web\s+0\/5\s+0\s+0\s+\S+$/m);
    expect(all).toMatch(/^pod\/web\s+0\/1\s+Pending/m);

    expect(await ok(binary, "delete", "deploy", "web", "-n", ns, "--wait", "--cascade=background", "--grace-period=0")).toBe(`deployment.apps "web" deleted\n`);
    expect((await kubectl(binary, "get", "deploy", "web", "-n", ns)).stderr).toContain("NotFound");
  });

  it("watches: get -w sees a create, an update and a delete made by another client", async () => {
    const watcher = execFile(binary, ["get", "configmaps", "-n", ns, "-w", "--output-watch-events", "-o", "jsonpath={.type} {.object.metadata.name}{\"\\n\"}"], { env: { ...process.env, KUBECONFIG: kubeconfigPath, HOME: dir } });
    let output = "";
    watcher.stdout!.on("data", (d) => (output += d));
    try {
      // The watch is live once kubectl has printed the namespace's existing configmap.
      for (let i = 0; i < 200 && !output.includes("ADDED beta"); i++) await new Promise((r) => setTimeout(r, 100));
      const cm = join(dir, `${ns}-watched.json`);
      writeFileSync(cm, JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "watched", namespace: ns }, data: { a: "1" } }));
      await ok(binary, "create", "-f", cm);
      await ok(binary, "label", "cm", "watched", "-n", ns, "x=y");
      await ok(binary, "delete", "cm", "watched", "-n", ns);
      for (let i = 0; i < 200 && !output.includes("DELETED"); i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      watcher.kill();
    }
    expect(output).toContain("ADDED watched\n");
    expect(output).toContain("MODIFIED watched\n");
    expect(output).toContain("DELETED watched\n");
  });

  it("creates configmaps, secrets, namespaces, workloads, RBAC, quotas, services, ingresses and autoscalers with kubectl create subcommands", async () => {
    await kubectl(binary, "create", "namespace", ns); // exists already when the earlier tests ran
    // Cluster-scoped objects are named per kubectl: every version shares the control plane.
    const own = (name: string) => `${ns}-${name}`;
    // kubectl 1.32+ sends these typed creates with protobuf bodies.
    const args = [["create", "configmap", "sub-cm", "-n", ns, "--from-literal=a=b"], ["create", "secret", "generic", "sub-secret", "-n", ns, "--from-literal=p=q"],
      ["create", "serviceaccount", "sub-sa", "-n", ns], ["create", "namespace", `${ns}-sub`],
      ["create", "deployment", "sub-deploy", "-n", ns, "--image=nginx:1.25", "--replicas=2"],
      ["create", "job", "sub-job", "-n", ns, "--image=busybox:1.36", "--", "echo", "done"],
      ["create", "cronjob", "sub-cron", "-n", ns, "--image=busybox:1.36", "--schedule=*/5 * * * *"],
      // A cpu quota makes every later pod of its namespace state a cpu request (as kube's does), so it gets its own namespace.
      ["create", "quota", "sub-quota", "-n", `${ns}-sub`, "--hard=pods=10,cpu=2"],
      ["create", "priorityclass", own("pc"), "--value=1000", "--description=e2e"],
      ["create", "role", "sub-role", "-n", ns, "--verb=get,list", "--resource=pods"],
      ["create", "rolebinding", "sub-rb", "-n", ns, "--role=sub-role", `--serviceaccount=${ns}:sub-sa`],
      ["create", "clusterrole", own("cr"), "--verb=get", "--resource=nodes"],
      ["create", "clusterrolebinding", own("crb"), `--clusterrole=${own("cr")}`, "--user=alice"],
      ["create", "poddisruptionbudget", "sub-pdb", "-n", ns, "--selector=app=web", "--min-available=1"],
      ["create", "service", "clusterip", "sub-svc", "-n", ns, "--tcp=80:8080"],
      ["create", "service", "nodeport", "sub-np", "-n", ns, "--tcp=80:8080"],
      ["create", "ingress", "sub-ing", "-n", ns, "--rule=example.com/app*=sub-svc:80"],
      ["autoscale", "deployment", "sub-deploy", "-n", ns, "--min=2", "--max=5", "--cpu-percent=80"]];
    for (const command of args) {
      const res = await kubectl(binary, ...command);
      expect(res.code, `${command.join(" ")}: ${res.stderr}`).toBe(0);
    }
    const get = (...args: string[]) => ok(binary, "get", ...args);
    expect(await get("secret", "sub-secret", "-n", ns, "-o", "jsonpath={.data.p} {.type}")).toBe(`${btoa("q")} Opaque`);
    expect(await get("cm", "sub-cm", "-n", ns, "-o", "jsonpath={.data.a}")).toBe("b");
    expect(await get("deploy", "sub-deploy", "-n", ns, "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}")).toBe("2 nginx:1.25");
    expect(await get("ns", `${ns}-sub`, "-o", "name")).toBe(`namespace/${ns}-sub\n`);
    expect(await get("job", "sub-job", "-n", ns, "-o", "jsonpath={.spec.template.spec.containers[0].command} {.spec.template.spec.restartPolicy} {.spec.backoffLimit}"))
      .toBe('["echo","done"] Never 6');
    expect(await get("cronjob", "sub-cron", "-n", ns, "-o", "jsonpath={.spec.schedule}|{.spec.jobTemplate.spec.template.spec.containers[0].image}|{.spec.concurrencyPolicy}"))
      .toBe("*/5 * * * *|busybox:1.36|Allow");
    expect(await get("quota", "sub-quota", "-n", `${ns}-sub`, "-o", "jsonpath={.spec.hard.pods} {.spec.hard.cpu}")).toBe("10 2");
    expect(await get("priorityclass", own("pc"), "-o", "jsonpath={.value} {.description} {.preemptionPolicy}")).toBe("1000 e2e PreemptLowerPriority");
    expect(await get("role", "sub-role", "-n", ns, "-o", "jsonpath={.rules[0].verbs} {.rules[0].resources}")).toBe('["get","list"] ["pods"]');
    expect(await get("rolebinding", "sub-rb", "-n", ns, "-o", "jsonpath={.roleRef.kind}/{.roleRef.name} {.subjects[0].kind}/{.subjects[0].namespace}/{.subjects[0].name}"))
      .toBe(`Role/sub-role ServiceAccount/${ns}/sub-sa`);
    expect(await get("clusterrole", own("cr"), "-o", "jsonpath={.rules[0].verbs} {.rules[0].resources}")).toBe('["get"] ["nodes"]');
    expect(await get("clusterrolebinding", own("crb"), "-o", "jsonpath={.roleRef.kind}/{.roleRef.name} {.subjects[0].kind}/{.subjects[0].name}"))
      .toBe(`ClusterRole/${own("cr")} User/alice`);
    expect(await get("pdb", "sub-pdb", "-n", ns, "-o", "jsonpath={.spec.minAvailable} {.spec.selector.matchLabels.app}")).toBe("1 web");
    expect(await get("svc", "sub-svc", "-n", ns, "-o", "jsonpath={.spec.type} {.spec.ports[0].port}:{.spec.ports[0].targetPort} {.spec.selector.app}"))
      .toBe("ClusterIP 80:8080 sub-svc");
    expect(await get("svc", "sub-svc", "-n", ns, "-o", "jsonpath={.spec.clusterIP}")).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const [type, nodePort] = (await get("svc", "sub-np", "-n", ns, "-o", "jsonpath={.spec.type} {.spec.ports[0].nodePort}")).split(" ");
    expect(type).toBe("NodePort");
    expect(Number(nodePort)).toBeGreaterThanOrEqual(30000);
    expect(await get("ingress", "sub-ing", "-n", ns, "-o", "jsonpath={.spec.rules[0].host}{.spec.rules[0].http.paths[0].path} {.spec.rules[0].http.paths[0].pathType} {.spec.rules[0].http.paths[0].backend.service.name}:{.spec.rules[0].http.paths[0].backend.service.port.number}"))
      .toBe("example.com/app Prefix sub-svc:80");
    expect(await get("ing", "-n", ns)).toMatch(/^sub-ing\s+<none>\s+example\.com\s+80\s+\S+$/m);
    // autoscale writes autoscaling/v1 or v2 by kubectl version; either reads back as v2.
    expect(await get("hpa", "sub-deploy", "-n", ns, "-o", "jsonpath={.spec.scaleTargetRef.kind}/{.spec.scaleTargetRef.name} {.spec.minReplicas}-{.spec.maxReplicas} {.spec.metrics[0].resource.target.averageUtilization}"))
      .toBe("Deployment/sub-deploy 2-5 80");
  });

  it("describes a pod with its events", async () => {
    const manifest = join(dir, `${ns}-events.json`);
    writeFileSync(manifest, JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "described", namespace: ns }, spec: { containers: [{ name: "c", image: "busybox:1.36" }] } }));
    await ok(binary, "create", "-f", manifest);
    // kubectl describe finds a pod's events by the pod's uid, as the kubelet records them.
    const uid = await ok(binary, "get", "pod", "described", "-n", ns, "-o", "jsonpath={.metadata.uid}");
    writeFileSync(manifest, JSON.stringify({ apiVersion: "v1", kind: "List", items: [
      { apiVersion: "v1", kind: "Event", metadata: { name: "described.1", namespace: ns }, type: "Warning", reason: "BackOff", message: "Back-off pulling image",
        involvedObject: { apiVersion: "v1", kind: "Pod", name: "described", namespace: ns, uid }, source: { component: "kubelet" }, count: 1,
        firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"), lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z") },
    ] }));
    await ok(binary, "create", "-f", manifest);
    const described = await ok(binary, "describe", "pod", "described", "-n", ns);
    expect(described).toMatch(/^Name:\s+described$/m);
    expect(described).toMatch(/Image:\s+busybox:1.36/);
    expect(described).toMatch(/Warning\s+BackOff\s+.*kubelet\s+Back-off pulling image/);
  });

  it("validates manifests against the served OpenAPI and explains fields", async () => {
    const manifest = join(dir, `${ns}-invalid.json`);
    writeFileSync(manifest, JSON.stringify({
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "invalid", namespace: ns },
      spec: { replicaz: 2, selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "x", ports: [{ containerPort: "eighty" }] }] } } },
    }));
    const refused = await kubectl(binary, "create", "-f", manifest);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`unknown field "replicaz" in io.k8s.api.apps.v1.DeploymentSpec`);
    expect(refused.stderr).toContain(`invalid type for io.k8s.api.core.v1.ContainerPort.containerPort: got "string", expected "integer"`);
    expect((await kubectl(binary, "get", "deploy", "invalid", "-n", ns)).stderr).toContain("NotFound");
    const probe = await ok(binary, "explain", "pod.spec.containers.livenessProbe");
    expect(probe).toMatch(/FIELD:\s+livenessProbe <Probe>/);
    expect(probe).toMatch(/^\s+failureThreshold\s+<integer>/m);
    expect(await ok(binary, "explain", "deployment.spec", "--recursive")).toMatch(/^\s+template\s+<PodTemplateSpec> -required-/m);
  });

  it("applies server-side (create, conflict, --force-conflicts) and diffs", async () => {
    const manifest = join(dir, `${ns}-ssa.json`);
    const cm = (value: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ssa", namespace: ns }, data: { owned: value, other: "x" } });
    writeFileSync(manifest, JSON.stringify(cm("1")));
    expect(await ok(binary, "apply", "--server-side", "-f", manifest)).toBe("configmap/ssa serverside-applied\n");
    await ok(binary, "patch", "cm", "ssa", "-n", ns, "--type=merge", "-p", '{"data":{"owned":"2"}}', "--field-manager=someone-else");
    writeFileSync(manifest, JSON.stringify(cm("3")));
    const diff = await kubectl(binary, "diff", "-f", manifest);
    expect(diff.code).toBe(1); // kubectl diff exits 1 when there are differences
    expect(diff.stdout).toMatch(/^-\s+owned: "2"$/m);
    expect(diff.stdout).toMatch(/^\+\s+owned: "3"$/m);
    const conflict = await kubectl(binary, "apply", "--server-side", "-f", manifest);
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toContain(`Apply failed with 1 conflict: conflict with "someone-else" using v1: .data.owned`);
    expect(await ok(binary, "get", "cm", "ssa", "-n", ns, "-o", "jsonpath={.data.owned}")).toBe("2");
    expect(await ok(binary, "apply", "--server-side", "--force-conflicts", "-f", manifest)).toBe("configmap/ssa serverside-applied\n");
    expect(await ok(binary, "get", "cm", "ssa", "-n", ns, "-o", "jsonpath={.data.owned}")).toBe("3");
  });

  it("moves a client-side apply to server-side apply as kubectl expects", async () => {
    await kubectl(binary, "create", "namespace", ns);
    const manifest = join(dir, `${ns}-csa.json`);
    const cm = (data: Record<string, string>) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "csa", namespace: ns }, data });
    writeFileSync(manifest, JSON.stringify(cm({ a: "1", b: "2" })));
    expect(await ok(binary, "apply", "-f", manifest)).toBe("configmap/csa created\n");
    // The first server-side apply of the same configuration moves the client-side manager's fields to kubectl's.
    expect(await ok(binary, "apply", "--server-side", "-f", manifest)).toBe("configmap/csa serverside-applied\n");
    const managers = JSON.parse(await ok(binary, "get", "cm", "csa", "-n", ns, "-o", "json", "--show-managed-fields")).metadata.managedFields.map((e: { manager: string; operation: string }) => `${e.manager}/${e.operation}`);
    expect(managers).toContain("kubectl/Apply");
    expect(managers).not.toContain("kubectl-client-side-apply/Update");
    // So a changed value applies without a conflict, and a field no longer applied goes.
    writeFileSync(manifest, JSON.stringify(cm({ a: "changed" })));
    expect(await ok(binary, "apply", "--server-side", "-f", manifest)).toBe("configmap/csa serverside-applied\n");
    expect(await ok(binary, "get", "cm", "csa", "-n", ns, "-o", "jsonpath={.data}")).toBe('{"a":"changed"}');
  });

  it("installs a CRD, then creates, lists, explains, patches, scales, applies, watches and deletes its custom resources", async () => {
    await kubectl(binary, "create", "namespace", ns);
    const minor = binary.match(/(\d+)$/)?.[1] ?? "x";
    const group = `v${minor}.e2e.example.com`;
    const [kind, plural] = [`Tab${minor}`, `tab${minor}s`];
    const crd = join(dir, `${ns}-crd.json`);
    writeFileSync(crd, JSON.stringify({
      apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: `${plural}.${group}` },
      spec: {
        group, scope: "Namespaced", names: { plural, singular: kind.toLowerCase(), kind, shortNames: [`t${minor}`] },
        versions: [{
          name: "v1", served: true, storage: true,
          subresources: { status: {}, scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas" } },
          additionalPrinterColumns: [{ name: "Schedule", type: "string", jsonPath: ".spec.schedule" }, { name: "Replicas", type: "integer", jsonPath: ".spec.replicas" }, { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }],
          schema: { openAPIV3Schema: { type: "object", properties: {
            spec: { type: "object", description: "What the tab should do.", required: ["schedule"], "x-kubernetes-validations": [{ rule: "self.replicas <= 5", message: "at most 5 replicas" }], properties: {
              schedule: { type: "string", pattern: "^[0-9*/ ]+$", description: "When, in cron format." },
              image: { type: "string" }, replicas: { type: "integer", minimum: 1, default: 1 },
            } },
            status: { type: "object", properties: { replicas: { type: "integer" } } },
          } } },
        }],
      },
    }));
    expect(await ok(binary, "apply", "-f", crd)).toBe(`customresourcedefinition.apiextensions.k8s.io/${plural}.${group} created\n`);
    await ok(binary, "wait", "--for", "condition=established", `crd/${plural}.${group}`);

    const manifest = join(dir, `${ns}-cr.json`);
    const tab = (image: string, extra: Record<string, unknown> = {}) => ({ apiVersion: `${group}/v1`, kind, metadata: { name: "nightly", namespace: ns }, spec: { schedule: "0 3 * * *", image, ...extra } });
    writeFileSync(manifest, JSON.stringify(tab("busybox")));
    expect(await ok(binary, "apply", "-f", manifest)).toBe(`${kind.toLowerCase()}.${group}/nightly created\n`);
    writeFileSync(manifest, JSON.stringify(tab("busybox:2")));
    expect(await ok(binary, "apply", "-f", manifest)).toBe(`${kind.toLowerCase()}.${group}/nightly configured\n`);
    const table = await ok(binary, "get", `t${minor}`, "-n", ns);
    expect(table).toMatch(/^NAME\s+SCHEDULE\s+REPLICAS\s+AGE$/m);
    expect(table).toMatch(/^nightly\s+0 3 \* \* \*\s+1\s+\d+s$/m);
    expect(await ok(binary, "explain", `${plural}.spec`, "--recursive")).toMatch(/What the tab should do\.[\s\S]*schedule\s+<string>/);

    writeFileSync(manifest, JSON.stringify(tab("busybox", { replicas: 9, schedule: "soon" })));
    const invalid = await kubectl(binary, "apply", "-f", manifest);
    expect(invalid.stderr).toContain(`The ${kind} "nightly" is invalid`);
    expect(invalid.stderr).toContain(`spec.schedule: Invalid value: "soon": spec.schedule in body should match '^[0-9*/ ]+$'`);
    expect(await ok(binary, "patch", plural, "nightly", "-n", ns, "--type=merge", "-p", '{"spec":{"replicas":7}}').catch((e: Error) => e.message)).toContain("at most 5 replicas");
    expect(await ok(binary, "patch", plural, "nightly", "-n", ns, "--type=json", "-p", '[{"op":"replace","path":"/spec/replicas","value":2}]')).toContain("patched");
    expect(await ok(binary, "scale", plural, "nightly", "-n", ns, "--replicas=3")).toContain("scaled");
    expect(await ok(binary, "get", plural, "nightly", "-n", ns, "-o", "jsonpath={.spec.replicas} {.spec.image}")).toBe("3 busybox:2");

    const ssa = join(dir, `${ns}-cr-ssa.json`);
    const applied = (image: string) => ({ apiVersion: `${group}/v1`, kind, metadata: { name: "applied", namespace: ns }, spec: { schedule: "*/5 * * * *", image } });
    writeFileSync(ssa, JSON.stringify(applied("a")));
    expect(await ok(binary, "apply", "--server-side", "-f", ssa)).toBe(`${kind.toLowerCase()}.${group}/applied serverside-applied\n`);
    writeFileSync(ssa, JSON.stringify(applied("b")));
    const conflict = await kubectl(binary, "apply", "--server-side", "--field-manager=other", "-f", ssa);
    expect(conflict.stderr).toContain(`conflict with "kubectl" using ${group}/v1: .spec.image`);
    expect(await ok(binary, "apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", ssa)).toContain("serverside-applied");
    expect(await ok(binary, "get", plural, "applied", "-n", ns, "-o", "jsonpath={.spec.image}")).toBe("b");

    const watcher = execFile(binary, ["get", plural, "-n", ns, "-w", "--output-watch-events", "-o", "jsonpath={.type} {.object.metadata.name}{\"\\n\"}"], { env: { ...process.env, KUBECONFIG: kubeconfigPath, HOME: dir } });
    let output = "";
    watcher.stdout!.on("data", (d) => (output += d));
    try {
      for (let i = 0; i < 200 && !output.includes("ADDED nightly"); i++) await new Promise((r) => setTimeout(r, 100));
      await ok(binary, "delete", plural, "applied", "-n", ns);
      for (let i = 0; i < 200 && !output.includes("DELETED"); i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      watcher.kill();
    }
    expect(output).toContain("DELETED applied\n");

    expect(await ok(binary, "delete", "crd", `${plural}.${group}`)).toBe(`customresourcedefinition.apiextensions.k8s.io "${plural}.${group}" deleted\n`);
    const gone = await kubectl(binary, "get", plural, "-n", ns);
    expect(gone.code).not.toBe(0);
    // With discovery cached (as kubectl keeps it), the list itself answers 404.
    expect(gone.stderr).toMatch(/the server doesn't have a resource type|the server could not find the requested resource/);
  });

  it("refuses objects in a missing namespace and bad names with the Kubernetes message", async () => {
    const manifest = join(dir, `${ns}-bad.json`);
    writeFileSync(manifest, JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "no-such-ns" } }));
    const res = await kubectl(binary, "create", "-f", manifest);
    expect(res.stderr).toContain(`namespaces "no-such-ns" not found`);
    writeFileSync(manifest, JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "Bad_Name", namespace: ns } }));
    const bad = await kubectl(binary, "create", "-f", manifest);
    expect(bad.stderr).toContain(`The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain`);
  });

  it("refuses invalid workloads as kube-apiserver does: a selector its template does not match, a changed selector, negative replicas", async () => {
    await kubectl(binary, "create", "namespace", ns);
    const manifest = join(dir, `${ns}-workloads.json`);
    const deployment = (name: string, selector: Record<string, string>) => ({
      apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace: ns },
      spec: { selector: { matchLabels: selector }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "nginx:1.25" }] } } },
    });
    writeFileSync(manifest, JSON.stringify(deployment("mismatched", { app: "other" })));
    const mismatched = await kubectl(binary, "create", "-f", manifest);
    expect(mismatched.code).not.toBe(0);
    expect(mismatched.stderr).toContain('The Deployment "mismatched" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`');
    expect((await kubectl(binary, "get", "deploy", "mismatched", "-n", ns)).stderr).toContain("NotFound");

    writeFileSync(manifest, JSON.stringify(deployment("pinned", { app: "web" })));
    expect(await ok(binary, "create", "-f", manifest)).toBe("deployment.apps/pinned created\n");
    const moved = await kubectl(binary, "patch", "deploy", "pinned", "-n", ns, "-p", '{"spec":{"selector":{"matchLabels":{"app":"api"}},"template":{"metadata":{"labels":{"app":"api"}}}}}');
    expect(moved.code).not.toBe(0);
    expect(moved.stderr).toContain('The Deployment "pinned" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"api"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable');

    const negative = await kubectl(binary, "patch", "deploy", "pinned", "-n", ns, "--type=merge", "-p", '{"spec":{"replicas":-1}}');
    expect(negative.code).not.toBe(0);
    expect(negative.stderr).toContain('The Deployment "pinned" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0');
    const scaled = await kubectl(binary, "patch", "deploy", "pinned", "-n", ns, "--subresource=scale", "--type=merge", "-p", '{"spec":{"replicas":-1}}');
    expect(scaled.code).not.toBe(0);
    expect(scaled.stderr).toContain('The Scale "pinned" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0');
    expect(await ok(binary, "get", "deploy", "pinned", "-n", ns, "-o", "jsonpath={.spec.replicas} {.spec.selector.matchLabels.app}")).toBe("1 web");
  });
});
