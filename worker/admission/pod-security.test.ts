// The Pod Security Standards checks, table-driven: each row is a pod and what kube's
// pod-security-admission 1.30 finds wrong with it, in its words.
import type { Container, PodSpec, SecurityContext } from "kubernetes-types/core/v1";
import type { ObjectMeta } from "kubernetes-types/meta/v1";
import { describe, expect, it } from "vitest";
import { checkPodSpec, forbiddenMessage, isSignificantPodUpdate, type Level, namespacePolicy, podSpecOf, warningMessage } from "./pod-security.ts";

const container = (name: string, securityContext?: SecurityContext, extra: Partial<Container> = {}): Container =>
  ({ name, image: "nginx", ...(securityContext ? { securityContext } : {}), ...extra });

/** Everything the restricted level asks of a container. */
const hardened: SecurityContext = { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } };
const restrictedContainer = (name: string, extra: SecurityContext = {}): Container => container(name, { ...hardened, ...extra });
const spec = (parts: Partial<PodSpec>): PodSpec => ({ containers: [container("c")], ...parts });

/** checkPodSpec's findings of one check, as `reason (detail)` or undefined when it passes. */
function finding(id: string, level: Level, podSpec: PodSpec, meta: ObjectMeta = {}, version?: string): string | undefined {
  const v = checkPodSpec(level, meta, podSpec, version).find((x) => x.id === id);
  return v && `${v.reason} (${v.detail})`;
}

type Row = [name: string, podSpec: PodSpec, expected: string | undefined, meta?: ObjectMeta];

function table(id: string, level: Level, rows: Row[], version?: string) {
  describe(`${id} at ${level}${version ? `:${version}` : ""}`, () => {
    for (const [name, podSpec, expected, meta] of rows) {
      it(name, () => expect(finding(id, level, podSpec, meta, version)).toBe(expected));
    }
  });
}

describe("levels", () => {
  const worst = spec({
    hostNetwork: true, hostPID: true,
    containers: [container("c", { privileged: true, capabilities: { add: ["SYS_ADMIN"] }, runAsUser: 0, seccompProfile: { type: "Unconfined" } })],
    volumes: [{ name: "root", hostPath: { path: "/" } }],
  });

  it("privileged allows everything", () => {
    expect(checkPodSpec("privileged", {}, worst)).toEqual([]);
  });

  it("baseline allows a pod that asks for nothing", () => {
    expect(checkPodSpec("baseline", { name: "x" }, spec({}))).toEqual([]);
  });

  it("baseline findings come in kube's order, by check id", () => {
    expect(checkPodSpec("baseline", {}, worst).map((v) => v.id)).toEqual(["capabilities_baseline", "hostNamespaces", "hostPathVolumes", "privileged", "seccompProfile_baseline"]);
  });

  it("restricted runs baseline checks first, then its own, and restricted checks replace the baseline ones they cover", () => {
    expect(checkPodSpec("restricted", {}, worst).map((v) => v.id)).toEqual([
      "hostNamespaces", "privileged", "allowPrivilegeEscalation", "capabilities_restricted", "restrictedVolumes", "runAsNonRoot", "runAsUser", "seccompProfile_restricted",
    ]);
  });

  it("restricted allows a hardened pod", () => {
    const pod = spec({
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
      initContainers: [restrictedContainer("init")],
      containers: [restrictedContainer("c", { capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } })],
      volumes: [{ name: "cm", configMap: { name: "x" } }, { name: "tmp", emptyDir: {} }, { name: "token", projected: { sources: [] } }],
    });
    expect(checkPodSpec("restricted", {}, pod)).toEqual([]);
  });
});

describe("messages", () => {
  const plain = spec({});
  const expected = 'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ' +
    'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ' +
    'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ' +
    'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")';

  it("refuses a plain pod at restricted in kube's words", () => {
    expect(forbiddenMessage("x", "restricted", "latest", checkPodSpec("restricted", {}, plain))).toBe(`pods "x" is forbidden: violates PodSecurity "restricted:latest": ${expected}`);
  });

  it("warns about it in kube's words", () => {
    expect(warningMessage("restricted", "latest", checkPodSpec("restricted", {}, plain))).toBe(`would violate PodSecurity "restricted:latest": ${expected}`);
  });

  it("names the version the namespace pins", () => {
    const pod = spec({ hostNetwork: true, containers: [container("c", { privileged: true })] });
    expect(forbiddenMessage("web", "baseline", "v1.29", checkPodSpec("baseline", {}, pod, "v1.29"))).toBe(
      'pods "web" is forbidden: violates PodSecurity "baseline:v1.29": host namespaces (hostNetwork), privileged (container "c" must not set securityContext.privileged=true)',
    );
  });

  it("leaves the name out when there is none, as kube's Forbidden does", () => {
    expect(forbiddenMessage("", "baseline", "latest", [{ id: "hostNamespaces", reason: "host namespaces", detail: "hostPID" }])).toBe(
      'pods is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostPID)',
    );
  });
});

table("windowsHostProcess", "baseline", [
  ["hostProcess unset or false", spec({ securityContext: { windowsOptions: { hostProcess: false } }, containers: [container("a", { windowsOptions: {} })] }), undefined],
  ["pod and container", spec({ securityContext: { windowsOptions: { hostProcess: true } }, containers: [container("a", { windowsOptions: { hostProcess: true } }), container("b")] }),
    'hostProcess (pod and container "a" must not set securityContext.windowsOptions.hostProcess=true)'],
  ["containers only", spec({ containers: [container("a", { windowsOptions: { hostProcess: true } }), container("b", { windowsOptions: { hostProcess: true } })] }),
    'hostProcess (containers "a", "b" must not set securityContext.windowsOptions.hostProcess=true)'],
]);

table("hostNamespaces", "baseline", [
  ["none", spec({ hostNetwork: false, hostPID: false, hostIPC: false }), undefined],
  ["one", spec({ hostPID: true }), "host namespaces (hostPID)"],
  ["all, sorted", spec({ hostNetwork: true, hostPID: true, hostIPC: true }), "host namespaces (hostIPC, hostNetwork, hostPID)"],
]);

table("privileged", "baseline", [
  ["false", spec({ containers: [container("a", { privileged: false })] }), undefined],
  ["a container", spec({ containers: [container("a", { privileged: true })] }), 'privileged (container "a" must not set securityContext.privileged=true)'],
  ["init containers come first", spec({ initContainers: [container("init", { privileged: true })], containers: [container("a", { privileged: true })] }),
    'privileged (containers "init", "a" must not set securityContext.privileged=true)'],
  ["an ephemeral container", spec({ ephemeralContainers: [{ name: "debug", securityContext: { privileged: true } }] }),
    'privileged (container "debug" must not set securityContext.privileged=true)'],
]);

table("capabilities_baseline", "baseline", [
  ["the default set", spec({ containers: [container("a", { capabilities: { add: ["CHOWN", "NET_BIND_SERVICE", "SYS_CHROOT"], drop: ["NET_RAW"] } })] }), undefined],
  ["beyond it, sorted and distinct", spec({
    containers: [container("a", { capabilities: { add: ["SYS_ADMIN", "CHOWN", "NET_ADMIN"] } }), container("b", { capabilities: { add: ["NET_ADMIN"] } })],
  }), 'non-default capabilities (containers "a", "b" must not include "NET_ADMIN", "SYS_ADMIN" in securityContext.capabilities.add)'],
]);

table("hostPathVolumes", "baseline", [
  ["other volumes", spec({ volumes: [{ name: "tmp", emptyDir: {} }] }), undefined],
  ["one", spec({ volumes: [{ name: "root", hostPath: { path: "/" } }] }), 'hostPath volumes (volume "root")'],
  ["two", spec({ volumes: [{ name: "a", hostPath: { path: "/a" } }, { name: "tmp", emptyDir: {} }, { name: "b", hostPath: { path: "/b" } }] }), 'hostPath volumes (volumes "a", "b")'],
]);

table("hostPorts", "baseline", [
  ["container ports only", spec({ containers: [container("a", undefined, { ports: [{ containerPort: 80 }, { containerPort: 81, hostPort: 0 }] })] }), undefined],
  ["one", spec({ containers: [container("a", undefined, { ports: [{ containerPort: 80, hostPort: 80 }] })] }), 'hostPort (container "a" uses hostPort 80)'],
  ["several, sorted as strings", spec({
    containers: [container("a", undefined, { ports: [{ containerPort: 1, hostPort: 8080 }, { containerPort: 2, hostPort: 80 }] }), container("b", undefined, { ports: [{ containerPort: 3, hostPort: 80 }] })],
  }), 'hostPort (containers "a", "b" use hostPorts 80, 8080)'],
]);

const unconfinedAnnotation = { annotations: { "container.apparmor.security.beta.kubernetes.io/a": "unconfined" } };
table("appArmorProfile", "baseline", [
  ["RuntimeDefault and Localhost", spec({ securityContext: { appArmorProfile: { type: "RuntimeDefault" } }, containers: [container("a", { appArmorProfile: { type: "Localhost", localhostProfile: "p" } })] }), undefined],
  ["allowed annotations", spec({}), undefined,
    { annotations: { "container.apparmor.security.beta.kubernetes.io/a": "runtime/default", "container.apparmor.security.beta.kubernetes.io/b": "localhost/p" } }],
  ["an unconfined pod", spec({ securityContext: { appArmorProfile: { type: "Unconfined" } } }), 'forbidden AppArmor profile (pod must not set AppArmor profile type to "Unconfined")'],
  ["an unconfined init container", spec({ initContainers: [container("i", { appArmorProfile: { type: "Unconfined" } })] }),
    'forbidden AppArmor profile (container "i" must not set AppArmor profile type to "Unconfined")'],
  ["an unconfined annotation", spec({}), 'forbidden AppArmor profile (annotation must not set AppArmor profile type to "container.apparmor.security.beta.kubernetes.io/a="unconfined"")',
    unconfinedAnnotation],
  ["a container and an annotation", spec({ containers: [container("b", { appArmorProfile: { type: "Unconfined" } })] }),
    'forbidden AppArmor profiles (container "b" and annotation must not set AppArmor profile type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/a="unconfined"")',
    unconfinedAnnotation],
]);

table("seLinuxOptions", "baseline", [
  ["allowed types and a level", spec({ securityContext: { seLinuxOptions: { level: "s0:c123,c456" } }, containers: [container("a", { seLinuxOptions: { type: "container_init_t" } })] }), undefined],
  ["pod sets type, user and role", spec({ securityContext: { seLinuxOptions: { type: "foo", user: "bar", role: "baz" } } }),
    'seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "foo"; user may not be set; role may not be set)'],
  ["pod and containers", spec({
    securityContext: { seLinuxOptions: { type: "foo" } },
    containers: [container("a", { seLinuxOptions: { type: "container_t" } }), container("e", { seLinuxOptions: { type: "bar" } }), container("f", { seLinuxOptions: { user: "u" } })],
  }), 'seLinuxOptions (pod and containers "e", "f" set forbidden securityContext.seLinuxOptions: types "bar", "foo"; user may not be set)'],
  ["only a role", spec({ containers: [container("a", { seLinuxOptions: { role: "r" } })] }), 'seLinuxOptions (container "a" set forbidden securityContext.seLinuxOptions: role may not be set)'],
  // container_engine_t is allowed from 1.31 only.
  ["container_engine_t", spec({ containers: [container("a", { seLinuxOptions: { type: "container_engine_t" } })] }),
    'seLinuxOptions (container "a" set forbidden securityContext.seLinuxOptions: type "container_engine_t")'],
]);

table("procMount", "baseline", [
  ["Default", spec({ containers: [container("a", { procMount: "Default" })] }), undefined],
  ["Unmasked", spec({ containers: [container("a", { procMount: "Unmasked" })] }), 'procMount (container "a" must not set securityContext.procMount to "Unmasked")'],
]);

table("seccompProfile_baseline", "baseline", [
  ["unset, RuntimeDefault or Localhost", spec({ securityContext: { seccompProfile: { type: "RuntimeDefault" } }, containers: [container("a", { seccompProfile: { type: "Localhost", localhostProfile: "p" } }), container("b")] }), undefined],
  ["Unconfined pod and container", spec({ securityContext: { seccompProfile: { type: "Unconfined" } }, containers: [container("a", { seccompProfile: { type: "Unconfined" } })] }),
    'seccompProfile (pod and container "a" must not set securityContext.seccompProfile.type to "Unconfined")'],
  ["annotations no longer count", spec({}), undefined, { annotations: { "seccomp.security.alpha.kubernetes.io/pod": "unconfined" } }],
]);

table("seccompProfile_baseline", "baseline", [
  ["annotations before 1.19", spec({}), 'seccompProfile (forbidden annotations container.seccomp.security.alpha.kubernetes.io/c="unconfined", seccomp.security.alpha.kubernetes.io/pod="unconfined")',
    { annotations: { "seccomp.security.alpha.kubernetes.io/pod": "unconfined", "container.seccomp.security.alpha.kubernetes.io/c": "unconfined" } }],
  ["allowed annotation values", spec({}), undefined, { annotations: { "seccomp.security.alpha.kubernetes.io/pod": "runtime/default", "container.seccomp.security.alpha.kubernetes.io/c": "localhost/p" } }],
], "v1.18");

const sysctlSpec = (...names: string[]) => spec({ securityContext: { sysctls: names.map((name) => ({ name, value: "1" })) } });
table("sysctls", "baseline", [
  ["the safe set", sysctlSpec("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout"), undefined],
  ["unsafe ones, in the pod's order", sysctlSpec("net.ipv4.ip_forward", "kernel.shm_rmid_forced", "kernel.msgmax"), "forbidden sysctls (net.ipv4.ip_forward, kernel.msgmax)"],
]);
table("sysctls", "baseline", [
  ["keepalive sysctls came in 1.29", sysctlSpec("net.ipv4.tcp_keepalive_time", "net.ipv4.ip_local_reserved_ports"), "forbidden sysctls (net.ipv4.tcp_keepalive_time)"],
], "v1.28");
table("sysctls", "baseline", [
  ["ip_local_reserved_ports came in 1.27", sysctlSpec("net.ipv4.ip_local_reserved_ports"), "forbidden sysctls (net.ipv4.ip_local_reserved_ports)"],
], "v1.26");

describe("restricted: an otherwise hardened pod", () => {
  const hardenedSpec = (parts: Partial<PodSpec>): PodSpec => ({ containers: [restrictedContainer("c")], ...parts });
  const only = (podSpec: PodSpec, version?: string) => checkPodSpec("restricted", {}, podSpec, version).map((v) => `${v.reason} (${v.detail})`);

  it("restrictedVolumes: other sources are refused, hostPath by this check alone", () => {
    expect(only(hardenedSpec({ volumes: [{ name: "h", hostPath: { path: "/" } }] }))).toEqual(['restricted volume types (volume "h" uses restricted volume type "hostPath")']);
    expect(only(hardenedSpec({
      volumes: [{ name: "h", hostPath: { path: "/" } }, { name: "pvc", persistentVolumeClaim: { claimName: "x" } }, { name: "n", nfs: { server: "s", path: "/" } }, { name: "x" } as never],
    }))).toEqual(['restricted volume types (volumes "h", "n", "x" use restricted volume types "hostPath", "nfs", "unknown")']);
    expect(only(hardenedSpec({
      volumes: [{ name: "a", csi: { driver: "d" } }, { name: "b", downwardAPI: {} }, { name: "c", ephemeral: {} }, { name: "d", secret: { secretName: "s" } }],
    }))).toEqual([]);
  });

  it("allowPrivilegeEscalation must be false, not unset or true", () => {
    expect(only(hardenedSpec({ containers: [restrictedContainer("a", { allowPrivilegeEscalation: true })], initContainers: [container("i", { ...hardened, allowPrivilegeEscalation: undefined })] }))).toEqual([
      'allowPrivilegeEscalation != false (containers "i", "a" must set securityContext.allowPrivilegeEscalation=false)',
    ]);
  });

  it("runAsNonRoot: the pod's true covers containers, a container's false is refused", () => {
    const unset = { ...hardened, runAsNonRoot: undefined };
    expect(only(hardenedSpec({ securityContext: { runAsNonRoot: true }, containers: [container("a", unset)] }))).toEqual([]);
    expect(only(hardenedSpec({ securityContext: { runAsNonRoot: true }, containers: [container("a", { ...hardened, runAsNonRoot: false })] }))).toEqual([
      'runAsNonRoot != true (container "a" must not set securityContext.runAsNonRoot=false)',
    ]);
    expect(only(hardenedSpec({ securityContext: { runAsNonRoot: false } }))).toEqual(["runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)"]);
    expect(only(hardenedSpec({ containers: [container("a", unset), container("b", unset), restrictedContainer("c")] }))).toEqual([
      'runAsNonRoot != true (pod or containers "a", "b" must set securityContext.runAsNonRoot=true)',
    ]);
  });

  it("runAsUser may not be 0, at pod or container level (from 1.23)", () => {
    const pod = hardenedSpec({ securityContext: { runAsUser: 0 }, containers: [restrictedContainer("a", { runAsUser: 0 }), restrictedContainer("b", { runAsUser: 1000 })] });
    expect(only(pod)).toEqual(['runAsUser=0 (pod and container "a" must not set runAsUser=0)']);
    expect(only(pod, "v1.22")).toEqual([]);
    expect(only(hardenedSpec({ securityContext: { runAsUser: 1000 } }))).toEqual([]);
  });

  it("seccompProfile: a pod-level RuntimeDefault or Localhost covers containers; Unconfined is refused once", () => {
    const unset = { ...hardened, seccompProfile: undefined };
    expect(only(hardenedSpec({ securityContext: { seccompProfile: { type: "Localhost", localhostProfile: "p" } }, containers: [container("a", unset)] }))).toEqual([]);
    expect(only(hardenedSpec({ containers: [container("a", unset), restrictedContainer("b")] }))).toEqual([
      'seccompProfile (pod or container "a" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    ]);
    expect(only(hardenedSpec({ securityContext: { seccompProfile: { type: "Unconfined" } }, containers: [container("a", unset)] }))).toEqual([
      'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")',
    ]);
  });

  it("capabilities: drop ALL, add nothing but NET_BIND_SERVICE, and the baseline check steps aside", () => {
    expect(only(hardenedSpec({ containers: [restrictedContainer("a", { capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } })] }))).toEqual([]);
    expect(only(hardenedSpec({ containers: [restrictedContainer("a", { capabilities: { drop: ["ALL"], add: ["SYS_TIME", "CHOWN"] } })] }))).toEqual([
      'unrestricted capabilities (container "a" must not include "CHOWN", "SYS_TIME" in securityContext.capabilities.add)',
    ]);
    expect(only(hardenedSpec({ containers: [restrictedContainer("a", { capabilities: { drop: ["NET_RAW"], add: ["SYS_ADMIN"] } }), restrictedContainer("b", { capabilities: undefined })] }))).toEqual([
      'unrestricted capabilities (containers "a", "b" must set securityContext.capabilities.drop=["ALL"]; container "a" must not include "SYS_ADMIN" in securityContext.capabilities.add)',
    ]);
  });

  it("before 1.22 only the baseline capabilities check applies", () => {
    expect(only(hardenedSpec({ containers: [restrictedContainer("a", { capabilities: { add: ["SYS_ADMIN"] } })] }), "v1.21")).toEqual([
      'non-default capabilities (container "a" must not include "SYS_ADMIN" in securityContext.capabilities.add)',
    ]);
  });

  it("init and ephemeral containers are held to it too", () => {
    const pod = hardenedSpec({
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
      initContainers: [container("init")],
      ephemeralContainers: [{ name: "debug", image: "busybox" }],
    });
    expect(only(pod)).toEqual([
      'allowPrivilegeEscalation != false (containers "init", "debug" must set securityContext.allowPrivilegeEscalation=false)',
      'unrestricted capabilities (containers "init", "debug" must set securityContext.capabilities.drop=["ALL"])',
    ]);
  });

  it("from 1.25 a Windows pod is exempt from the Linux-only fields", () => {
    const windows = spec({ os: { name: "windows" }, securityContext: { runAsNonRoot: true } });
    expect(only(windows)).toEqual([]);
    expect(only(windows, "v1.24").map((v) => v.split(" (")[0])).toEqual(["allowPrivilegeEscalation != false", "unrestricted capabilities", "seccompProfile"]);
  });
});

describe("namespacePolicy", () => {
  const latest = (level: Level) => ({ level, version: "latest" });

  it("is privileged:latest for every mode without labels", () => {
    expect(namespacePolicy(undefined)).toEqual({ enforce: latest("privileged"), audit: latest("privileged"), warn: latest("privileged"), errors: [] });
  });

  it("reads each mode's level and version", () => {
    expect(namespacePolicy({
      "pod-security.kubernetes.io/enforce": "baseline",
      "pod-security.kubernetes.io/enforce-version": "v1.29",
      "pod-security.kubernetes.io/warn": "restricted",
      "kubernetes.io/metadata.name": "web",
    })).toEqual({ enforce: { level: "baseline", version: "v1.29" }, audit: latest("privileged"), warn: latest("restricted"), errors: [] });
  });

  it("fails closed for a bad enforce level, open for audit and warn, and reads a bad version as latest", () => {
    const policy = namespacePolicy({
      "pod-security.kubernetes.io/enforce": "strict",
      "pod-security.kubernetes.io/audit": "loud",
      "pod-security.kubernetes.io/warn-version": "1.29",
    });
    expect([policy.enforce, policy.audit, policy.warn]).toEqual([latest("restricted"), latest("privileged"), latest("privileged")]);
    expect(policy.errors).toEqual([
      { reason: "FieldValueInvalid", field: "metadata.labels[pod-security.kubernetes.io/enforce]", message: 'Invalid value: "strict": must be one of privileged, baseline, restricted' },
      { reason: "FieldValueInvalid", field: "metadata.labels[pod-security.kubernetes.io/audit]", message: 'Invalid value: "loud": must be one of privileged, baseline, restricted' },
      { reason: "FieldValueInvalid", field: "metadata.labels[pod-security.kubernetes.io/warn-version]", message: 'Invalid value: "1.29": must be "latest" or "v1.x"' },
    ]);
  });
});

describe("podSpecOf", () => {
  const template = { metadata: { labels: { app: "web" } }, spec: { containers: [container("c")] } };

  it("finds the pod template of each workload kind", () => {
    const objects: [string, Record<string, any>][] = [
      ["Deployment", { apiVersion: "apps/v1", spec: { template } }],
      ["ReplicaSet", { apiVersion: "apps/v1", spec: { template } }],
      ["StatefulSet", { apiVersion: "apps/v1", spec: { template } }],
      ["DaemonSet", { apiVersion: "apps/v1", spec: { template } }],
      ["Job", { apiVersion: "batch/v1", spec: { template } }],
      ["CronJob", { apiVersion: "batch/v1", spec: { jobTemplate: { spec: { template } } } }],
      ["ReplicationController", { apiVersion: "v1", spec: { template } }],
      ["PodTemplate", { apiVersion: "v1", template }],
    ];
    for (const [kind, object] of objects) expect(podSpecOf(kind, object), kind).toEqual(template);
  });

  it("reads a pod as itself", () => {
    expect(podSpecOf("Pod", { apiVersion: "v1", metadata: { name: "p" }, spec: template.spec })).toEqual({ metadata: { name: "p" }, spec: template.spec });
  });

  it("has nothing for other kinds, same-named kinds of other groups, or a missing template", () => {
    expect(podSpecOf("ConfigMap", { apiVersion: "v1", data: {} })).toBeUndefined();
    expect(podSpecOf("Deployment", { apiVersion: "example.com/v1", spec: { template } })).toBeUndefined();
    expect(podSpecOf("ReplicationController", { apiVersion: "v1", spec: { replicas: 0 } })).toBeUndefined();
  });

  it("feeds the warning for a workload", () => {
    const deployment = podSpecOf("Deployment", { apiVersion: "apps/v1", spec: { template: { spec: { hostPID: true, containers: [container("c")] } } } })!;
    expect(warningMessage("baseline", "latest", checkPodSpec("baseline", deployment.metadata, deployment.spec))).toBe('would violate PodSecurity "baseline:latest": host namespaces (hostPID)');
  });
});

describe("isSignificantPodUpdate", () => {
  const pod = { metadata: { name: "p", labels: { a: "1" }, annotations: {} }, spec: { containers: [container("c")], initContainers: [container("i")] } };

  it("ignores what a policy does not see", () => {
    expect(isSignificantPodUpdate({ ...pod, metadata: { ...pod.metadata, labels: { a: "2" } } }, pod)).toBe(false);
  });

  it("checks image changes, seccomp annotations and new ephemeral containers", () => {
    expect(isSignificantPodUpdate({ ...pod, spec: { ...pod.spec, containers: [{ ...container("c"), image: "nginx:2" }] } }, pod)).toBe(true);
    expect(isSignificantPodUpdate({ ...pod, metadata: { ...pod.metadata, annotations: { "container.seccomp.security.alpha.kubernetes.io/i": "unconfined" } } }, pod)).toBe(true);
    expect(isSignificantPodUpdate({ ...pod, spec: { ...pod.spec, ephemeralContainers: [{ name: "debug", image: "busybox" }] } }, pod)).toBe(true);
  });
});
