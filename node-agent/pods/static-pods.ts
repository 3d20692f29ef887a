// Static pods, as the kubelet's file source reads them: every YAML or JSON Pod manifest in a
// directory on the host (kubeadm's /etc/kubernetes/manifests) runs on this node without the API,
// named `<name>-<node>`, its uid the hash of what the file says, with a toleration of every
// NoExecute taint; the API sees it through a mirror pod (the same pod created by the node, marked
// kubernetes.io/config.mirror and owned by the Node). The directory is read again on every change
// and at least every 20 s (the kubelet's fileCheckFrequency).
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, watch } from "node:fs";
import { join } from "node:path";
import type { Node, Pod } from "kubernetes-types/core/v1";
import { parse } from "yaml";

export const CONFIG_SOURCE = "kubernetes.io/config.source";
export const CONFIG_HASH = "kubernetes.io/config.hash";
export const CONFIG_SEEN = "kubernetes.io/config.seen";
export const CONFIG_MIRROR = "kubernetes.io/config.mirror";
/** The kubelet's default staticPodPath on a kubeadm host. */
export const DEFAULT_POD_MANIFEST_PATH = "/etc/kubernetes/manifests";
const FILE_CHECK_MS = 20_000;

export const isMirrorPod = (pod: Pod): boolean => !!pod.metadata?.annotations?.[CONFIG_MIRROR];
export const isStaticPod = (pod: Pod): boolean => pod.metadata?.annotations?.[CONFIG_SOURCE] === "file";

/** Whether `mirror` is the mirror pod of the static pod whose hash is `hash` (not of an older version of its file). */
export function isMirrorOf(mirror: Pod, hash: string): boolean {
  return mirror.metadata?.annotations?.[CONFIG_MIRROR] === hash;
}

/**
 * The static pod one manifest describes on `nodeName`: the kubelet's defaults for a file source.
 * `seen` is when this version of the file was first read.
 */
export function staticPodFrom(manifest: Pod, file: string, nodeName: string, seen: string): Pod {
  const hash = createHash("md5").update(JSON.stringify(manifest)).update(`host:${nodeName}`).update(`file:${file}`).digest("hex");
  const tolerations = [...(manifest.spec?.tolerations ?? []), { operator: "Exists", effect: "NoExecute" }];
  return {
    ...manifest,
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      ...manifest.metadata,
      name: `${manifest.metadata!.name}-${nodeName.toLowerCase()}`,
      namespace: manifest.metadata?.namespace || "default",
      uid: hash,
      annotations: { ...manifest.metadata?.annotations, [CONFIG_HASH]: hash, [CONFIG_SEEN]: seen, [CONFIG_SOURCE]: "file" },
    },
    spec: { ...manifest.spec!, nodeName, tolerations },
    status: { phase: "Pending" },
  };
}

/** The mirror pod the node creates for a static pod: the same pod, marked with its hash and owned by the Node (as kube 1.30's kubelet). */
export function mirrorPodFor(pod: Pod, node: Node): Pod {
  const { uid: _uid, resourceVersion: _rv, ...metadata } = pod.metadata!;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      ...metadata,
      annotations: { ...metadata.annotations, [CONFIG_MIRROR]: pod.metadata!.annotations![CONFIG_HASH]! },
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name: node.metadata!.name!, uid: node.metadata!.uid!, controller: true }],
    },
    spec: pod.spec,
  };
}

/** Why a manifest file is not a pod this node can run, or undefined when it is one. */
function manifestProblem(manifest: unknown): string | undefined {
  if (!manifest || typeof manifest !== "object") return "not a Kubernetes object";
  const pod = manifest as Pod;
  if (pod.kind !== "Pod" || (pod.apiVersion ?? "v1") !== "v1") return `kind ${pod.apiVersion ?? ""}/${pod.kind ?? ""}: only v1 Pods run as static pods`;
  if (!pod.metadata?.name) return "metadata.name is required";
  if (!pod.spec?.containers?.length) return "spec.containers: at least one container is required";
  return undefined;
}

export interface StaticPodSourceOptions {
  dir: string;
  nodeName: string;
  log: (message: string) => void;
  /** How often the directory is read again without a change being noticed (default 20 s). */
  checkEveryMs?: number;
}

/** The static pods of one manifest directory, read again when it changes. */
export class StaticPodSource {
  private readonly options: StaticPodSourceOptions;
  /** When each version of each file (by hash) was first read: its kubernetes.io/config.seen. */
  private readonly seen = new Map<string, string>();
  /** The last problem logged per file, so a bad file is reported once, not on every read. */
  private readonly problems = new Map<string, string>();

  constructor(options: StaticPodSourceOptions) {
    this.options = options;
  }

  /** The pods the directory holds now: files that do not parse as a Pod are logged and skipped, as the kubelet does. */
  read(): Pod[] {
    const { dir, nodeName } = this.options;
    if (!existsSync(dir)) return [];
    const pods: Pod[] = [];
    for (const entry of readdirSync(dir).sort()) {
      const file = join(dir, entry);
      // Hidden files (editors' swap files) are skipped, as the kubelet skips them.
      if (entry.startsWith(".") || !statSync(file, { throwIfNoEntry: false })?.isFile()) continue;
      let manifest: unknown;
      try {
        manifest = parse(readFileSync(file, "utf8"));
      } catch (e) {
        this.report(file, `could not read a pod from ${file}: ${(e as Error).message}`);
        continue;
      }
      const problem = manifestProblem(manifest);
      if (problem) {
        this.report(file, `static pod manifest ${file}: ${problem}`);
        continue;
      }
      this.problems.delete(file);
      const key = createHash("md5").update(file).update(JSON.stringify(manifest)).digest("hex");
      if (!this.seen.has(key)) this.seen.set(key, new Date().toISOString());
      pods.push(staticPodFrom(manifest as Pod, file, nodeName, this.seen.get(key)!));
    }
    return pods;
  }

  /** Calls `onChange` with the directory's pods whenever a file changes, and every checkEveryMs, until `signal` aborts. */
  async run(signal: AbortSignal, onChange: (pods: Pod[]) => void): Promise<void> {
    const update = () => {
      try {
        onChange(this.read());
      } catch (e) {
        this.options.log(`reading static pods from ${this.options.dir}: ${(e as Error).message}`);
      }
    };
    let watcher: ReturnType<typeof watch> | undefined;
    const startWatching = () => {
      if (watcher || !existsSync(this.options.dir)) return;
      watcher = watch(this.options.dir, update);
      watcher.on("error", () => {
        watcher?.close();
        watcher = undefined;
      });
    };
    startWatching();
    const timer = setInterval(() => {
      startWatching();
      update();
    }, this.options.checkEveryMs ?? FILE_CHECK_MS);
    if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    clearInterval(timer);
    watcher?.close();
  }

  private report(file: string, message: string): void {
    if (this.problems.get(file) === message) return;
    this.problems.set(file, message);
    this.options.log(message);
  }
}
