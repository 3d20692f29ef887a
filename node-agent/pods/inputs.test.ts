// What the kubelet half resolves for a pod before the runtime acts: env (envFrom, valueFrom of every
// kind, $(VAR) expansion, optional references, the kubelet's errors for missing ones), volume files
// written on disk with their modes (configMap, secret, downwardAPI, projected with the service
// account token and kube-root-ca.crt, emptyDir, hostPath, persistentVolumeClaim), resolv.conf per dnsPolicy, and hosts.
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConfigMap, Pod, Secret } from "kubernetes-types/core/v1";
import { afterAll, describe, expect, it } from "vitest";
import { containerEnv, ContainerConfigError, expand, podHosts, podResolvConf, resolvePodInputs, type NodeFacts, type ObjectSource } from "./inputs.ts";

const dir = mkdtempSync(join(tmpdir(), "pod-inputs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const b64 = (s: string) => Buffer.from(s).toString("base64");
const configMaps: Record<string, ConfigMap> = {
  "default/settings": { metadata: { name: "settings" }, data: { LOG_LEVEL: "debug", "app.conf": "port=80\n" }, binaryData: { blob: b64("\u0001\u0002") } },
  "default/kube-root-ca.crt": { metadata: { name: "kube-root-ca.crt" }, data: { "ca.crt": "-----BEGIN CERTIFICATE-----\n" } },
};
const secrets: Record<string, Secret> = { "default/db": { metadata: { name: "db" }, data: { password: b64("s3cret"), user: b64("admin") } } };
const tokens: string[] = [];

/** The objects a pod refers to, as the API would answer them. */
const source: ObjectSource = {
  persistentVolumeClaimPath: async (_namespace, claimName) => `/var/lib/volumes/${claimName}`,
  configMap: async (namespace, name) => configMaps[`${namespace}/${name}`],
  secret: async (namespace, name) => secrets[`${namespace}/${name}`],
  serviceAccountToken: async (pod, audience, expirationSeconds) => {
    tokens.push(`${pod.spec?.serviceAccountName}/${audience ?? ""}/${expirationSeconds}`);
    return "header.payload.signature";
  },
};

const facts: NodeFacts = {
  nodeName: "node-1", hostIPs: ["192.0.2.2"], podIPs: ["10.244.0.7"], allocatable: { cpu: "4", memory: "8Gi" },
  clusterDNS: ["10.96.0.10"], clusterDomain: "cluster.local",
  hostResolvConf: "# host\nnameserver 192.0.2.53\nsearch corp.example\noptions edns0\n",
};

function pod(spec: Partial<NonNullable<Pod["spec"]>>): Pod {
  return {
    metadata: { name: "web", namespace: "default", uid: "u-1", labels: { app: "web", tier: "front" }, annotations: { owner: "team-a" } },
    spec: { nodeName: "node-1", serviceAccountName: "default", containers: [{ name: "web", image: "busybox" }], ...spec },
  };
}

describe("container env", () => {
  it("builds env as the kubelet does: envFrom first, then env in order with every valueFrom and $(VAR) expansion", async () => {
    const p = pod({
      containers: [{
        name: "web", image: "busybox",
        resources: { requests: { cpu: "250m", memory: "64Mi" }, limits: { memory: "128Mi" } },
        envFrom: [{ configMapRef: { name: "settings" }, prefix: "CFG_" }, { secretRef: { name: "db" } }],
        env: [
          { name: "GREETING", value: "hello" },
          { name: "MESSAGE", value: "$(GREETING) from $(POD_NAME), $$(GREETING), $(UNKNOWN)" },
          { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          { name: "LABEL", valueFrom: { fieldRef: { fieldPath: "metadata.labels['tier']" } } },
          { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
          { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
          { name: "HOST_IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
          { name: "CPU_MILLIS", valueFrom: { resourceFieldRef: { resource: "requests.cpu", divisor: "1m" } } },
          { name: "CPU_LIMIT", valueFrom: { resourceFieldRef: { resource: "limits.cpu" } } },
          { name: "MEM_MI", valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Mi" } } },
          { name: "LEVEL", valueFrom: { configMapKeyRef: { name: "settings", key: "LOG_LEVEL" } } },
          { name: "PASSWORD", valueFrom: { secretKeyRef: { name: "db", key: "password" } } },
          { name: "MISSING_OK", valueFrom: { secretKeyRef: { name: "nope", key: "x", optional: true } } },
        ],
      }],
    });
    const env = await containerEnv(p, p.spec!.containers[0]!, source, facts);
    expect(Object.fromEntries(env.map((e) => [e.name, e.value]))).toEqual({
      CFG_LOG_LEVEL: "debug", "CFG_app.conf": "port=80\n", password: "s3cret", user: "admin",
      GREETING: "hello", MESSAGE: "hello from $(POD_NAME), $(GREETING), $(UNKNOWN)",
      POD_NAME: "web", LABEL: "front", NODE: "node-1", POD_IP: "10.244.0.7", HOST_IP: "192.0.2.2",
      CPU_MILLIS: "250", CPU_LIMIT: "4", MEM_MI: "128", LEVEL: "debug", PASSWORD: "s3cret",
    });
  });

  it("fails with the kubelet's words for a missing ConfigMap, Secret or key", async () => {
    const envOf = (env: NonNullable<Pod["spec"]>["containers"][number]["env"]) => {
      const p = pod({ containers: [{ name: "web", image: "busybox", env }] });
      return containerEnv(p, p.spec!.containers[0]!, source, facts);
    };
    await expect(envOf([{ name: "A", valueFrom: { configMapKeyRef: { name: "absent", key: "k" } } }])).rejects.toThrow(new ContainerConfigError('configmap "absent" not found'));
    await expect(envOf([{ name: "A", valueFrom: { configMapKeyRef: { name: "settings", key: "k" } } }])).rejects.toThrow("couldn't find key k in ConfigMap default/settings");
    await expect(envOf([{ name: "A", valueFrom: { secretKeyRef: { name: "absent", key: "k" } } }])).rejects.toThrow('secret "absent" not found');
    await expect(envOf([{ name: "A", valueFrom: { secretKeyRef: { name: "db", key: "k" } } }])).rejects.toThrow("couldn't find key k in Secret default/db");
  });

  it("expands $(VAR) as kube does", () => {
    const vars = new Map([["A", "1"]]);
    expect(expand("$(A)-$$(A)-$(B)-$A", vars)).toBe("1-$(A)-$(B)-$A");
  });
});

describe("volumes, resolv.conf and hosts", () => {
  it("writes configMap, secret, downwardAPI and projected volumes with their modes; emptyDir and hostPath are folders", async () => {
    const p = pod({
      volumes: [
        { name: "config", configMap: { name: "settings" } },
        { name: "picked", configMap: { name: "settings", items: [{ key: "app.conf", path: "conf/app.conf", mode: 0o600 }] } },
        { name: "creds", secret: { secretName: "db", defaultMode: 0o400 } },
        { name: "info", downwardAPI: { items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }, { path: "name", fieldRef: { fieldPath: "metadata.name" } }] } },
        { name: "kube-api-access", projected: { defaultMode: 0o644, sources: [
          { serviceAccountToken: { path: "token", expirationSeconds: 3607 } },
          { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
          { downwardAPI: { items: [{ path: "namespace", fieldRef: { fieldPath: "metadata.namespace" } }] } },
        ] } },
        { name: "scratch", emptyDir: {} },
        { name: "host", hostPath: { path: join(dir, "host-data"), type: "DirectoryOrCreate" } },
      ],
    });
    const inputs = await resolvePodInputs(p, join(dir, "pods/u-1"), source, facts);
    const read = (volume: string, file: string) => readFileSync(join(inputs.volumes[volume]!.hostPath, file), "utf8");
    const mode = (volume: string, file: string) => statSync(join(inputs.volumes[volume]!.hostPath, file)).mode & 0o777;
    expect(inputs.volumes.config!.hostPath).toBe(join(dir, "pods/u-1/volumes/kubernetes.io~configmap/config"));
    expect(read("config", "LOG_LEVEL")).toBe("debug");
    expect(readFileSync(join(inputs.volumes.config!.hostPath, "blob"))).toEqual(Buffer.from([1, 2]));
    expect(mode("config", "LOG_LEVEL")).toBe(0o644);
    expect(read("picked", "conf/app.conf")).toBe("port=80\n");
    expect(mode("picked", "conf/app.conf")).toBe(0o600);
    expect(read("creds", "password")).toBe("s3cret");
    expect(mode("creds", "password")).toBe(0o400);
    expect(read("info", "labels")).toBe('app="web"\ntier="front"');
    expect(read("info", "name")).toBe("web");
    expect(read("kube-api-access", "token")).toBe("header.payload.signature");
    expect(read("kube-api-access", "ca.crt")).toBe("-----BEGIN CERTIFICATE-----\n");
    expect(read("kube-api-access", "namespace")).toBe("default");
    expect(tokens).toContain("default//3607");
    expect(statSync(inputs.volumes.scratch!.hostPath).isDirectory()).toBe(true);
    expect(inputs.volumes.host).toEqual({ hostPath: join(dir, "host-data") });
    expect(statSync(join(dir, "host-data")).isDirectory()).toBe(true);
  });

  it("writes resolv.conf per dnsPolicy and dnsConfig", () => {
    expect(podResolvConf(pod({}), facts)).toBe("search default.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n");
    expect(podResolvConf(pod({ dnsPolicy: "Default" }), facts)).toBe("search corp.example\nnameserver 192.0.2.53\noptions edns0\n");
    expect(podResolvConf(pod({ hostNetwork: true }), facts)).toBe("search corp.example\nnameserver 192.0.2.53\noptions edns0\n");
    expect(podResolvConf(pod({ dnsPolicy: "None", dnsConfig: { nameservers: ["1.1.1.1"], searches: ["a.example"], options: [{ name: "ndots", value: "2" }, { name: "rotate" }] } }), facts))
      .toBe("search a.example\nnameserver 1.1.1.1\noptions ndots:2 rotate\n");
    expect(podResolvConf(pod({ dnsConfig: { options: [{ name: "ndots", value: "1" }] } }), facts)).toContain("options ndots:1\n");
    // No cluster DNS configured: ClusterFirst falls back to the host's, as the kubelet does.
    expect(podResolvConf(pod({}), { ...facts, clusterDNS: [] })).toBe("search corp.example\nnameserver 192.0.2.53\noptions edns0\n");
  });

  it("writes the kubelet-managed hosts file with the pod's own name and its hostAliases", () => {
    const hosts = podHosts(pod({ hostname: "db-0", subdomain: "db", hostAliases: [{ ip: "192.0.2.9", hostnames: ["foo.local", "bar.local"] }] }), ["10.244.0.7"], "cluster.local");
    expect(hosts).toBe([
      "# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet",
      "fe00::0\tip6-mcastprefix", "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters", "10.244.0.7\tdb-0.db.default.svc.cluster.local\tdb-0",
      "", "# Entries added by HostAliases.", "192.0.2.9\tfoo.local\tbar.local", "",
    ].join("\n"));
  });

  it("refuses volume kinds this node does not provide, in words", async () => {
    const p = pod({ volumes: [{ name: "data", nfs: { server: "nfs.example", path: "/export" } }] });
    await expect(resolvePodInputs(p, join(dir, "pods/u-2"), source, facts)).rejects.toThrow('volume "data": only emptyDir, configMap, secret, downwardAPI, projected, hostPath and persistentVolumeClaim volumes are supported by this node');
  });

  it("mounts a claim's bound volume where it is, read-only when the pod asks", async () => {
    const p = pod({ volumes: [{ name: "data", persistentVolumeClaim: { claimName: "www-web-0" } }, { name: "ro", persistentVolumeClaim: { claimName: "shared", readOnly: true } }] });
    const inputs = await resolvePodInputs(p, join(dir, "pods/u-3"), source, facts);
    expect(inputs.volumes).toEqual({ data: { hostPath: "/var/lib/volumes/www-web-0" }, ro: { hostPath: "/var/lib/volumes/shared", readOnly: true } });
  });
});
