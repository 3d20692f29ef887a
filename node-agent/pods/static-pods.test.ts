// Static pods from a manifest directory: YAML and JSON pods become `<name>-<node>` with the
// kubelet's file-source annotations, a hash uid that follows the file's content, and a toleration
// of every NoExecute taint; files that are not pods are skipped; the directory's changes are
// noticed; the mirror pod is the same pod marked with the hash and owned by the Node.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pod } from "kubernetes-types/core/v1";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CONFIG_HASH, CONFIG_MIRROR, CONFIG_SOURCE, isMirrorOf, isMirrorPod, mirrorPodFor, StaticPodSource } from "./static-pods.ts";

let dir: string;
let logged: string[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "static-pods-"));
  logged = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const source = (nodeName = "worker-1") => new StaticPodSource({ dir, nodeName, log: (m) => logged.push(m), checkEveryMs: 60_000 });
const YAML = `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
  labels: { component: etcd }
spec:
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.5.12-0
  tolerations:
  - key: example.com/dedicated
    operator: Exists
    effect: NoSchedule
`;

describe("static pods", () => {
  it("reads YAML and JSON pods as the kubelet's file source names and marks them", () => {
    writeFileSync(join(dir, "etcd.yaml"), YAML);
    writeFileSync(join(dir, "web.json"), JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "web" }, spec: { containers: [{ name: "c", image: "busybox" }] } }));
    const pods = source("Worker-1").read();
    expect(pods.map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`)).toEqual(["kube-system/etcd-worker-1", "default/web-worker-1"]);
    const [etcd] = pods as [Pod];
    expect(etcd.spec!.nodeName).toBe("Worker-1");
    expect(etcd.metadata!.labels).toEqual({ component: "etcd" });
    expect(etcd.metadata!.uid).toMatch(/^[0-9a-f]{32}$/);
    expect(etcd.metadata!.annotations).toMatchObject({ [CONFIG_HASH]: etcd.metadata!.uid, [CONFIG_SOURCE]: "file" });
    expect(Date.parse(etcd.metadata!.annotations!["kubernetes.io/config.seen"]!)).toBeGreaterThan(0);
    expect(etcd.spec!.tolerations).toEqual([
      { key: "example.com/dedicated", operator: "Exists", effect: "NoSchedule" },
      { operator: "Exists", effect: "NoExecute" },
    ]);
  });

  it("gives a pod a new uid when its file changes, the same one when read again, and another on another node", () => {
    const file = join(dir, "etcd.yaml");
    writeFileSync(file, YAML);
    const s = source();
    const first = s.read()[0]!.metadata!;
    const again = s.read()[0]!.metadata!;
    expect(again.uid).toBe(first.uid);
    expect(again.annotations).toEqual(first.annotations);
    expect(source("worker-2").read()[0]!.metadata!.uid).not.toBe(first.uid);
    writeFileSync(file, YAML.replace("3.5.12-0", "3.5.13-0"));
    expect(s.read()[0]!.metadata!.uid).not.toBe(first.uid);
  });

  it("skips hidden files, folders and files that are not pods, saying why once", () => {
    writeFileSync(join(dir, ".etcd.yaml.swp"), "garbage");
    writeFileSync(join(dir, "deployment.yaml"), "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n");
    writeFileSync(join(dir, "broken.yaml"), "kind: Pod\nmetadata: {name: [\n");
    writeFileSync(join(dir, "empty.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: e}\nspec: {}\n");
    const s = source();
    expect(s.read()).toEqual([]);
    expect(s.read()).toEqual([]);
    expect(logged).toHaveLength(3);
    expect(logged.find((m) => m.includes("deployment.yaml"))).toContain("kind apps/v1/Deployment: only v1 Pods run as static pods");
    expect(logged.find((m) => m.includes("empty.yaml"))).toContain("spec.containers: at least one container is required");
    expect(logged.find((m) => m.includes("broken.yaml"))).toContain("could not read a pod from");
  });

  it("a missing directory holds no pods", () => {
    expect(new StaticPodSource({ dir: join(dir, "absent"), nodeName: "n", log: () => {} }).read()).toEqual([]);
  });

  it("tells of a file written and removed", async () => {
    const s = source();
    const seen: string[][] = [];
    const abort = new AbortController();
    const running = s.run(abort.signal, (pods) => seen.push(pods.map((p) => p.metadata!.name!)));
    const until = async (test: () => boolean) => {
      const deadline = Date.now() + 5000;
      while (!test()) {
        if (Date.now() > deadline) throw new Error(`not seen: ${JSON.stringify(seen)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    writeFileSync(join(dir, "etcd.yaml"), YAML);
    await until(() => seen.at(-1)?.[0] === "etcd-worker-1");
    unlinkSync(join(dir, "etcd.yaml"));
    await until(() => seen.at(-1)?.length === 0);
    abort.abort();
    await running;
  });

  it("the mirror pod is the static pod marked with its hash and owned by the Node, without uid or status", () => {
    writeFileSync(join(dir, "etcd.yaml"), YAML);
    const pod = source().read()[0]!;
    const mirror = mirrorPodFor(pod, { metadata: { name: "worker-1", uid: "node-uid" } });
    expect(mirror.metadata!.uid).toBeUndefined();
    expect(mirror.status).toBeUndefined();
    expect(mirror.metadata!.name).toBe("etcd-worker-1");
    expect(mirror.metadata!.annotations![CONFIG_MIRROR]).toBe(pod.metadata!.uid);
    expect(mirror.metadata!.ownerReferences).toEqual([{ apiVersion: "v1", kind: "Node", name: "worker-1", uid: "node-uid", controller: true }]);
    expect(mirror.spec).toEqual(pod.spec);
    expect(isMirrorPod(mirror) && isMirrorOf(mirror, pod.metadata!.uid!)).toBe(true);
    expect(isMirrorPod(pod)).toBe(false);
  });
});
