// Garbage collection on a real node, as the kubelet's container and image GC: dead containers
// beyond the newest one per pod and container name (MaxPerPodContainer 1) and every dead
// container of a pod that is gone; dead sandboxes without containers (a live pod keeps its newest);
// and, when the image filesystem is 85% full or more (imageGCHighThresholdPercent), the least
// recently used images no container uses, until it is down to 80% (imageGCLowThresholdPercent).
// Images first seen less than 2 minutes ago (ImageMinimumGCAge), pinned images and the agent's own
// preloaded images (busybox, pause: no registry can give them back) are never removed.
// Containers are collected every minute, images every 5 minutes, as the kubelet's loops.
import { statfsSync } from "node:fs";
import { isNotFound, type Container, type CriClient, type Image, type PodSandbox } from "./client.ts";
import { normalizeImage } from "./images.ts";
import { CONTAINER_NAME, POD_UID } from "./labels.ts";

export const MAX_PER_POD_CONTAINER = 1;
/** A pod with nothing running and nothing created for this long is gone: all its dead things go. */
export const GONE_POD_AGE_MS = 60_000;
export const IMAGE_GC_HIGH_THRESHOLD_PERCENT = 85;
export const IMAGE_GC_LOW_THRESHOLD_PERCENT = 80;
export const IMAGE_MINIMUM_GC_AGE_MS = 2 * 60_000;
const CONTAINER_GC_PERIOD_MS = 60_000;
const IMAGE_GC_PERIOD_MS = 5 * 60_000;

const nsToMs = (ns: number) => Math.floor(Number(ns) / 1e6);

/** The pods (by uid) the runtime holds nothing live of, and has not for GONE_POD_AGE_MS. */
function gonePods(sandboxes: PodSandbox[], containers: Container[], now: number): Set<string> {
  const live = new Set<string>();
  const newest = new Map<string, number>();
  const note = (uid: string, createdNs: number) => newest.set(uid, Math.max(newest.get(uid) ?? 0, nsToMs(createdNs)));
  for (const s of sandboxes) {
    const uid = s.metadata?.uid ?? s.labels[POD_UID]!;
    if (s.state === "SANDBOX_READY") live.add(uid);
    note(uid, s.created_at);
  }
  for (const c of containers) {
    const uid = c.labels[POD_UID]!;
    if (c.state !== "CONTAINER_EXITED") live.add(uid);
    note(uid, c.created_at);
  }
  return new Set([...newest].filter(([uid, at]) => !live.has(uid) && now - at >= GONE_POD_AGE_MS).map(([uid]) => uid));
}

/**
 * The dead containers to remove: per pod and container name, the exited ones beyond the newest
 * MAX_PER_POD_CONTAINER (which hold the container's last state); all of them for a gone pod.
 */
export function containersToRemove(sandboxes: PodSandbox[], containers: Container[], now: number): Container[] {
  const gone = gonePods(sandboxes, containers, now);
  const byName = new Map<string, Container[]>();
  for (const c of containers) {
    if (c.state !== "CONTAINER_EXITED") continue;
    const key = `${c.labels[POD_UID]}/${c.labels[CONTAINER_NAME] ?? c.metadata.name}`;
    byName.set(key, [...(byName.get(key) ?? []), c]);
  }
  const remove: Container[] = [];
  for (const dead of byName.values()) {
    dead.sort((a, b) => b.created_at - a.created_at);
    remove.push(...(gone.has(dead[0]!.labels[POD_UID]!) ? dead : dead.slice(MAX_PER_POD_CONTAINER)));
  }
  return remove;
}

/**
 * The dead sandboxes to remove, given the containers that stay: a not-ready sandbox no container
 * belongs to, except the newest of a pod that is not gone and has no ready one.
 */
export function sandboxesToRemove(sandboxes: PodSandbox[], remainingContainers: Container[], now: number): PodSandbox[] {
  const gone = gonePods(sandboxes, remainingContainers, now);
  const used = new Set(remainingContainers.map((c) => c.pod_sandbox_id));
  const byPod = new Map<string, PodSandbox[]>();
  for (const s of sandboxes) {
    const uid = s.metadata?.uid ?? s.labels[POD_UID]!;
    byPod.set(uid, [...(byPod.get(uid) ?? []), s]);
  }
  const remove: PodSandbox[] = [];
  for (const [uid, own] of byPod) {
    own.sort((a, b) => b.created_at - a.created_at);
    const keepNewest = !gone.has(uid) && !own.some((s) => s.state === "SANDBOX_READY");
    remove.push(...own.filter((s, i) => s.state !== "SANDBOX_READY" && !used.has(s.id) && !(keepNewest && i === 0)));
  }
  return remove;
}

/** When an image was first seen and last seen in use (the kubelet's imageRecord). */
export interface ImageRecord {
  firstSeen: number;
  lastUsed: number;
}

export interface ImageUsage {
  capacityBytes: number;
  availableBytes: number;
}

/** Whether a container uses the image: by its ID, or by a name or digest the image carries. */
function usedBy(image: Image, containers: Container[]): boolean {
  const names = new Set([image.id, ...image.repo_tags, ...image.repo_digests]);
  return containers.some((c) => names.has(c.image_ref) || (c.image && names.has(c.image.image)) || (c.image && names.has(normalizeImage(c.image.image))));
}

/**
 * Brings the records up to date (new images first seen now, images in use used now, removed images
 * forgotten) and answers the images to remove: none below the high threshold; else, the least
 * recently used (then the first seen) unused, unprotected images older than the minimum age,
 * until the bytes freed bring usage down to the low threshold.
 */
export function imagesToRemove(images: Image[], containers: Container[], usage: ImageUsage, records: Map<string, ImageRecord>, preloaded: Set<string>, now: number): Image[] {
  for (const id of [...records.keys()]) if (!images.some((i) => i.id === id)) records.delete(id);
  const candidates: Image[] = [];
  for (const image of images) {
    const record = records.get(image.id) ?? { firstSeen: now, lastUsed: 0 };
    records.set(image.id, record);
    if (usedBy(image, containers)) record.lastUsed = now;
    else if (!image.pinned && !image.repo_tags.some((t) => preloaded.has(normalizeImage(t)))) candidates.push(image);
  }
  const { capacityBytes, availableBytes } = usage;
  if (capacityBytes <= 0) return [];
  const usedPercent = 100 - (availableBytes * 100) / capacityBytes;
  if (usedPercent < IMAGE_GC_HIGH_THRESHOLD_PERCENT) return [];
  const toFree = (capacityBytes * (100 - IMAGE_GC_LOW_THRESHOLD_PERCENT)) / 100 - availableBytes;
  const order = (i: Image) => records.get(i.id)!;
  candidates.sort((a, b) => order(a).lastUsed - order(b).lastUsed || order(a).firstSeen - order(b).firstSeen);
  const remove: Image[] = [];
  let freed = 0;
  for (const image of candidates) {
    if (freed >= toFree) break;
    if (now - order(image).firstSeen < IMAGE_MINIMUM_GC_AGE_MS) continue;
    remove.push(image);
    freed += Number(image.size);
  }
  return remove;
}

export interface NodeGarbageCollectorOptions {
  client: CriClient;
  /** The agent's own images, as imported: never removed. */
  preloadedImages: string[];
  log: (message: string) => void;
  now?: () => number;
}

/** Runs the container and image collections on the kubelet's periods against one containerd. */
export class NodeGarbageCollector {
  private readonly options: NodeGarbageCollectorOptions;
  private readonly preloaded: Set<string>;
  private readonly records = new Map<string, ImageRecord>();
  private timers: NodeJS.Timeout[] = [];

  constructor(options: NodeGarbageCollectorOptions) {
    this.options = options;
    this.preloaded = new Set(options.preloadedImages.map(normalizeImage));
  }

  start(): void {
    const every = (ms: number, collect: () => Promise<unknown>, what: string) =>
      setInterval(() => void collect().catch((e: Error) => this.options.log(`${what} garbage collection failed: ${e.message}`)), ms).unref();
    this.timers = [every(CONTAINER_GC_PERIOD_MS, () => this.collectContainers(), "container"), every(IMAGE_GC_PERIOD_MS, () => this.collectImages(), "image")];
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** Removes dead containers, then the dead sandboxes left without any; answers how many of each went. */
  async collectContainers(): Promise<{ containers: number; sandboxes: number }> {
    const { client } = this.options;
    const [sandboxes, containers] = await Promise.all([client.listPodSandbox(), client.listContainers()]);
    const deadContainers = containersToRemove(sandboxes, containers, this.now());
    for (const c of deadContainers) await ignoreGone(client.removeContainer(c.id));
    const removed = new Set(deadContainers.map((c) => c.id));
    const deadSandboxes = sandboxesToRemove(sandboxes, containers.filter((c) => !removed.has(c.id)), this.now());
    for (const s of deadSandboxes) await ignoreGone(client.removePodSandbox(s.id));
    return { containers: deadContainers.length, sandboxes: deadSandboxes.length };
  }

  /** Removes unused images when the image filesystem is past the high threshold; answers the images removed. */
  async collectImages(): Promise<string[]> {
    const { client, log } = this.options;
    const [images, containers, filesystems] = await Promise.all([client.listImages(), client.listContainers(), client.imageFsInfo()]);
    const mountpoint = filesystems[0]?.fs_id?.mountpoint;
    if (!mountpoint) return [];
    const fs = statfsSync(mountpoint);
    const usage = { capacityBytes: fs.blocks * fs.bsize, availableBytes: fs.bavail * fs.bsize };
    const remove = imagesToRemove(images, containers, usage, this.records, this.preloaded, this.now());
    for (const image of remove) {
      log(`image garbage collection: removing ${image.repo_tags[0] ?? image.id} (${image.size} bytes); the image filesystem is ${Math.round(100 - (usage.availableBytes * 100) / usage.capacityBytes)}% full`);
      await ignoreGone(client.removeImage(image.id));
      this.records.delete(image.id);
    }
    return remove.map((i) => i.id);
  }
}

/** Something already removed (by the pod's own worker meanwhile) is not an error here. */
async function ignoreGone(removal: Promise<void>): Promise<void> {
  try {
    await removal;
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
