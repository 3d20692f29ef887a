// A pod spec in CRI's words: sandbox settings, cgroup resources, QoS, DNS, runAsNonRoot.
import type { Container, Pod } from "kubernetes-types/core/v1";
import { describe, expect, it } from "vitest";
import { ContainerConfigError, containerConfig, linuxResources, parseResolvConf, qosClass, sandboxConfig, verifyRunAsNonRoot } from "./pod-config.ts";

function pod(containers: Container[], spec: Partial<Pod["spec"]> = {}): Pod {
  return { metadata: { name: "web", namespace: "shop", uid: "uid-1", labels: { app: "web" }, annotations: { note: "x" } }, spec: { ...spec, containers } };
}

describe("sandbox config", () => {
  it("carries the pod's identity, labels, hostname, log folder, DNS and hostPorts", () => {
    const p = pod([{ name: "web", ports: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 53, protocol: "UDP" }] }]);
    const config = sandboxConfig(p, { env: {}, volumes: {}, resolvConf: "nameserver 10.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local\noptions ndots:5\n" }, 2, "/var/log/pods");
    expect(config).toMatchObject({
      metadata: { name: "web", uid: "uid-1", namespace: "shop", attempt: 2 },
      hostname: "web",
      log_directory: "/var/log/pods/shop_web_uid-1",
      dns_config: { servers: ["10.96.0.10"], searches: ["shop.svc.cluster.local", "svc.cluster.local"], options: ["ndots:5"] },
      port_mappings: [{ protocol: "TCP", container_port: 80, host_port: 8080, host_ip: "" }],
      labels: { app: "web", "io.kubernetes.pod.name": "web", "io.kubernetes.pod.namespace": "shop", "io.kubernetes.pod.uid": "uid-1" },
      annotations: { note: "x" },
      linux: { security_context: { namespace_options: { network: "POD", pid: "CONTAINER", ipc: "POD" }, privileged: false } },
    });
  });

  it("uses the node's network and no hostname for hostNetwork pods", () => {
    const config = sandboxConfig(pod([{ name: "web" }], { hostNetwork: true }), { env: {}, volumes: {} }, 0, "/logs");
    expect(config.hostname).toBe("");
    expect(config.linux?.security_context?.namespace_options?.network).toBe("NODE");
  });
});

describe("resources", () => {
  it("turns requests and limits into shares, quota and a memory limit", () => {
    const c: Container = { name: "c", resources: { requests: { cpu: "250m", memory: "64Mi" }, limits: { cpu: "500m", memory: "128Mi" } } };
    expect(linuxResources(pod([c]), c)).toMatchObject({ cpu_shares: 256, cpu_period: 100_000, cpu_quota: 50_000, memory_limit_in_bytes: 134_217_728 });
  });

  it("gives a container without requests the minimum shares and no limits", () => {
    const c: Container = { name: "c" };
    expect(linuxResources(pod([c]), c)).toEqual({ cpu_shares: 2, memory_limit_in_bytes: 0, oom_score_adj: 1000 });
  });

  it.each<[string, Container["resources"], string, number]>([
    ["no requests", undefined, "BestEffort", 1000],
    ["requests = limits", { limits: { cpu: "1", memory: "1Gi" } }, "Guaranteed", -997],
    ["requests only", { requests: { cpu: "100m" } }, "Burstable", 999],
  ])("%s is %s", (_, resources, qos, oom) => {
    const c: Container = { name: "c", resources };
    expect(qosClass(pod([c]))).toBe(qos);
    expect(linuxResources(pod([c]), c).oom_score_adj).toBe(oom);
  });
});

describe("container config", () => {
  it("writes command, env, mounts, labels, restart count and log path", () => {
    const c: Container = { name: "app", image: "busybox", command: ["sh"], args: ["-c", "true"], workingDir: "/w", volumeMounts: [{ name: "data", mountPath: "/data", subPath: "sub", readOnly: true }], lifecycle: { preStop: { exec: { command: ["stop"] } } } };
    const config = containerConfig({ pod: pod([c]), container: c, type: "regular", inputs: { env: { app: [{ name: "A", value: "1" }] }, volumes: { data: { hostPath: "/var/lib/pods/uid-1/volumes/data" } } }, restartCount: 3, image: "sha256:abc", extraMounts: [] });
    expect(config).toMatchObject({
      metadata: { name: "app", attempt: 3 },
      image: { image: "sha256:abc", user_specified_image: "busybox" },
      command: ["sh"],
      args: ["-c", "true"],
      working_dir: "/w",
      envs: [{ key: "A", value: "1" }],
      mounts: [{ container_path: "/data", host_path: "/var/lib/pods/uid-1/volumes/data/sub", readonly: true, propagation: "PROPAGATION_PRIVATE" }],
      labels: { "io.kubernetes.container.name": "app", "io.kubernetes.pod.uid": "uid-1" },
      annotations: { "io.kubernetes.container.restartCount": "3", "io.kubernetes.container.preStopHandler": '{"exec":{"command":["stop"]}}' },
      log_path: "app/3.log",
    });
  });

  it("fails with the kubelet's message when a mounted volume was not prepared", () => {
    const c: Container = { name: "app", volumeMounts: [{ name: "data", mountPath: "/data" }] };
    expect(() => containerConfig({ pod: pod([c]), container: c, type: "regular", inputs: { env: {}, volumes: {} }, restartCount: 0, image: "x", extraMounts: [] })).toThrow(new ContainerConfigError('cannot find volume "data" to mount into container "app"'));
  });
});

describe("runAsNonRoot", () => {
  const nonRoot = (runAsUser?: number): Container => ({ name: "app", securityContext: { runAsNonRoot: true, runAsUser } });
  it.each<[string, Container, number | undefined, string, string | undefined]>([
    ["a non-root user", nonRoot(1000), undefined, "", undefined],
    ["an image with a non-root uid", nonRoot(), 1000, "", undefined],
    ["runAsUser 0", nonRoot(0), undefined, "", `container's runAsUser breaks non-root policy (pod: "web_shop(uid-1)", container: app)`],
    ["an image running as root", nonRoot(), 0, "", `container has runAsNonRoot and image will run as root (pod: "web_shop(uid-1)", container: app)`],
    ["an image with a user name", nonRoot(), undefined, "app", `container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root (pod: "web_shop(uid-1)", container: app)`],
  ])("%s", (_, c, imageUid, imageUser, error) => {
    const check = () => verifyRunAsNonRoot(pod([c]), c, imageUid, imageUser);
    if (error) expect(check).toThrow(error);
    else expect(check).not.toThrow();
  });
});

describe("resolv.conf", () => {
  it("reads nameservers, search domains and options, ignoring comments", () => {
    expect(parseResolvConf("# made by the agent\nnameserver 1.1.1.1\nnameserver 8.8.8.8 ; second\nsearch a b\noptions ndots:2 edns0\n")).toEqual({ servers: ["1.1.1.1", "8.8.8.8"], searches: ["a", "b"], options: ["ndots:2", "edns0"] });
  });
});

describe("seccomp", () => {
  const config = (p: Pod) => containerConfig({ pod: p, container: p.spec!.containers[0]!, type: "regular", inputs: { env: {}, volumes: {} }, restartCount: 0, image: "busybox", extraMounts: [] });

  it("runs a container with its own profile, else the pod's, else Unconfined (the kubelet's --seccomp-default is off)", () => {
    expect(config(pod([{ name: "c" }])).linux?.security_context?.seccomp).toEqual({ profile_type: "Unconfined" });
    const podDefault = pod([{ name: "c" }], { securityContext: { seccompProfile: { type: "RuntimeDefault" } } });
    expect(config(podDefault).linux?.security_context?.seccomp).toEqual({ profile_type: "RuntimeDefault" });
    expect(sandboxConfig(podDefault, { env: {}, volumes: {} }, 0, "/logs").linux?.security_context?.seccomp).toEqual({ profile_type: "RuntimeDefault" });
    const overridden = pod([{ name: "c", securityContext: { seccompProfile: { type: "Unconfined" } } }], { securityContext: { seccompProfile: { type: "RuntimeDefault" } } });
    expect(config(overridden).linux?.security_context?.seccomp).toEqual({ profile_type: "Unconfined" });
  });

  it("finds a Localhost profile under the kubelet's seccomp directory", () => {
    const local = pod([{ name: "c", securityContext: { seccompProfile: { type: "Localhost", localhostProfile: "profiles/audit.json" } } }]);
    expect(config(local).linux?.security_context?.seccomp).toEqual({ profile_type: "Localhost", localhost_ref: "/var/lib/kubelet/seccomp/profiles/audit.json" });
  });
});
