// What the node's garbage collection removes, as the kubelet's: dead containers beyond the newest
// one per pod and name, everything dead of a gone pod, dead sandboxes without containers (a live
// pod's newest kept), and unused images, least recently used first, only past 85% and down to
// 80%, never pinned, preloaded, young or used ones.
import { describe, expect, it } from "vitest";
import type { Container, Image, PodSandbox } from "./client.ts";
import { containersToRemove, imagesToRemove, sandboxesToRemove, type ImageRecord } from "./gc.ts";
import { CONTAINER_NAME, POD_UID } from "./labels.ts";

const NOW = 10_000_000;
const ns = (ms: number) => ms * 1e6;

function sandbox(id: string, uid: string, state: PodSandbox["state"], createdMs: number): PodSandbox {
  return { id, metadata: { name: uid, uid, namespace: "default", attempt: 0 }, state, created_at: ns(createdMs), labels: { [POD_UID]: uid }, annotations: {} };
}

function container(id: string, uid: string, name: string, state: Container["state"], createdMs: number, sandboxId = `sb-${uid}`, image = "docker.io/library/busybox:latest"): Container {
  return { id, pod_sandbox_id: sandboxId, metadata: { name, attempt: 0 }, image: { image }, image_ref: `sha256:${image}`, state, created_at: ns(createdMs), labels: { [POD_UID]: uid, [CONTAINER_NAME]: name }, annotations: {} };
}

const ids = (items: { id: string }[]) => items.map((i) => i.id).sort();

describe("container garbage collection", () => {
  it("keeps the newest dead instance per pod and container name, and every running one", () => {
    const sandboxes = [sandbox("sb-a", "a", "SANDBOX_READY", NOW - 5000)];
    const containers = [
      container("web-3", "a", "web", "CONTAINER_RUNNING", NOW - 1000, "sb-a"),
      container("web-2", "a", "web", "CONTAINER_EXITED", NOW - 2000, "sb-a"),
      container("web-1", "a", "web", "CONTAINER_EXITED", NOW - 3000, "sb-a"),
      container("web-0", "a", "web", "CONTAINER_EXITED", NOW - 4000, "sb-a"),
      container("init-0", "a", "init", "CONTAINER_EXITED", NOW - 4500, "sb-a"),
    ];
    expect(ids(containersToRemove(sandboxes, containers, NOW))).toEqual(["web-0", "web-1"]);
  });

  it("removes everything dead of a pod with nothing live for a minute, nothing of one that just stopped", () => {
    const sandboxes = [sandbox("sb-gone", "gone", "SANDBOX_NOTREADY", NOW - 120_000), sandbox("sb-new", "new", "SANDBOX_NOTREADY", NOW - 10_000)];
    const containers = [
      container("g1", "gone", "web", "CONTAINER_EXITED", NOW - 110_000, "sb-gone"),
      container("g2", "gone", "side", "CONTAINER_EXITED", NOW - 100_000, "sb-gone"),
      container("n1", "new", "web", "CONTAINER_EXITED", NOW - 9_000, "sb-new"),
    ];
    expect(ids(containersToRemove(sandboxes, containers, NOW))).toEqual(["g1", "g2"]);
  });

  it("removes dead sandboxes without containers; a live pod keeps its newest; ready ones and ones in use stay", () => {
    const sandboxes = [
      sandbox("ready", "a", "SANDBOX_READY", NOW - 1000),
      sandbox("old-a", "a", "SANDBOX_NOTREADY", NOW - 50_000),
      sandbox("newest-b", "b", "SANDBOX_NOTREADY", NOW - 2000),
      sandbox("older-b", "b", "SANDBOX_NOTREADY", NOW - 30_000),
      sandbox("used-c", "c", "SANDBOX_NOTREADY", NOW - 40_000),
      sandbox("gone-d", "d", "SANDBOX_NOTREADY", NOW - 300_000),
    ];
    const remaining = [container("c1", "c", "web", "CONTAINER_EXITED", NOW - 39_000, "used-c")];
    expect(ids(sandboxesToRemove(sandboxes, remaining, NOW))).toEqual(["gone-d", "old-a", "older-b"]);
  });
});

describe("image garbage collection", () => {
  const GB = 1e9;
  function image(id: string, sizeGB: number, extra: Partial<Image> = {}): Image {
    return { id, repo_tags: [`example.com/${id}:1`], repo_digests: [], size: sizeGB * GB, uid: null, username: "", pinned: false, ...extra };
  }
  const preloaded = new Set(["docker.io/library/busybox:latest", "registry.k8s.io/pause:3.9"]);
  /** Records of images first seen long ago, last used at the given times. */
  const records = (lastUsed: Record<string, number>) =>
    new Map<string, ImageRecord>(Object.entries(lastUsed).map(([id, at]) => [id, { firstSeen: NOW - 3_600_000, lastUsed: at }]));

  it("removes nothing below 85% full", () => {
    const images = [image("old", 5)];
    expect(imagesToRemove(images, [], { capacityBytes: 100 * GB, availableBytes: 15.5 * GB }, records({ old: 0 }), preloaded, NOW)).toEqual([]);
  });

  it("past 85%, the least recently used unused images go until usage is down to 80%", () => {
    const images = [image("a", 3), image("b", 3), image("c", 3), image("d", 3)];
    // 90% full: 10 GB available, 20 GB wanted: 10 GB to free, so the four oldest-used 3 GB images go until 12 GB are freed.
    const removed = imagesToRemove(images, [], { capacityBytes: 100 * GB, availableBytes: 10 * GB }, records({ a: NOW - 1000, b: NOW - 9000, c: NOW - 5000, d: NOW - 7000 }), preloaded, NOW);
    expect(removed.map((i) => i.id)).toEqual(["b", "d", "c", "a"]);
    const fewer = imagesToRemove(images, [], { capacityBytes: 100 * GB, availableBytes: 14 * GB }, records({ a: NOW - 1000, b: NOW - 9000, c: NOW - 5000, d: NOW - 7000 }), preloaded, NOW);
    expect(fewer.map((i) => i.id)).toEqual(["b", "d"]);
  });

  it("never removes images in use (by ID or name), pinned, preloaded, or first seen under 2 minutes ago", () => {
    const images = [
      image("used-by-id", 5), image("used-by-name", 5, { repo_tags: ["docker.io/library/nginx:1.25"] }), image("pinned", 5, { pinned: true }),
      image("pause", 5, { repo_tags: ["registry.k8s.io/pause:3.9"] }), image("busybox", 5, { repo_tags: ["docker.io/library/busybox:latest"] }),
      image("young", 5), image("free", 5),
    ];
    const containers = [
      { ...container("x", "a", "web", "CONTAINER_EXITED", NOW), image_ref: "used-by-id", image: { image: "something" } },
      { ...container("y", "a", "web", "CONTAINER_RUNNING", NOW), image_ref: "", image: { image: "nginx:1.25" } },
    ];
    const known = records({});
    for (const i of images) known.set(i.id, { firstSeen: i.id === "young" ? NOW - 60_000 : NOW - 3_600_000, lastUsed: 0 });
    const removed = imagesToRemove(images, containers, { capacityBytes: 100 * GB, availableBytes: 1 * GB }, known, preloaded, NOW);
    expect(removed.map((i) => i.id)).toEqual(["free"]);
    expect(known.get("used-by-id")!.lastUsed).toBe(NOW);
    expect(known.get("used-by-name")!.lastUsed).toBe(NOW);
  });

  it("an image seen for the first time is recorded now, and one no longer there is forgotten", () => {
    const known = records({ removed: 0 });
    expect(imagesToRemove([image("new", 5)], [], { capacityBytes: 100 * GB, availableBytes: 1 * GB }, known, preloaded, NOW)).toEqual([]);
    expect([...known.keys()]).toEqual(["new"]);
    expect(known.get("new")).toEqual({ firstSeen: NOW, lastUsed: 0 });
  });
});
