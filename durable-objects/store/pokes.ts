// After a commit, the Durable Objects that act on what changed are poked: a fire-and-forget call
// that carries no objects (they catch up through the API), only news: for each key prefix the target
// watches that lives in this shard, the revision of the last commit under it (PokeNews), so a woken
// object re-watches only what changed. At most one poke per target is in flight, and a target is
// poked at most once per POKE_HOLD_MS: commits meanwhile are told in one poke when the hold ends, so
// a busy store pokes each target a few dozen times a second, not once per commit. A first commit
// after a quiet spell is poked at once. Each poke carries every prefix's revision, so a lost poke's
// news comes with the next one.
import { prefixEnd } from "../../lib/etcd/keys.ts";
import { resourcePrefix } from "../../lib/k8s/registry-keys.ts";
import type { PokeNews } from "../../lib/client/store-changes.ts";
import { shardForKey, shardForRange, shardMapOf } from "../../lib/shards.ts";
import type { Commit } from "./mvcc.ts";

/** Who is poked for which keys: the binding of a Durable Object namespace with a `poke()` method. */
export interface PokeTarget {
  binding: string;
  prefixes: string[];
  /** Also every custom resource and CRD: keys whose segment after /registry/ is a dotted group. */
  customResources?: boolean;
}

/** Where the objects of resources live, by "group/resource" ("" for the core group). */
const prefixesOf = (...resources: string[]) => resources.map((r) => {
  const [group, resource] = r.split("/") as [string, string];
  return resourcePrefix(group, resource);
});

/** The scheduler reads pods, nodes, namespaces, disruption budgets, the workloads that spread pods, and volumes. */
export const SCHEDULER_POKES: PokeTarget = {
  binding: "SCHEDULER",
  prefixes: prefixesOf(
    "/pods", "/nodes", "/namespaces", "policy/poddisruptionbudgets",
    "/services", "/replicationcontrollers", "apps/replicasets", "apps/statefulsets",
    // VolumeBinding waits for claims and their volumes.
    "/persistentvolumes", "/persistentvolumeclaims", "storage.k8s.io/storageclasses",
  ),
};

/** The controller manager reads what its controllers watch (all but Leases: node lifecycle wakes at each node's deadline). */
export const CONTROLLER_POKES: PokeTarget = {
  binding: "CONTROLLERS",
  prefixes: prefixesOf(
    "apps/deployments", "apps/replicasets", "/pods",
    // The garbage collector's ownership graph.
    "/replicationcontrollers", "/services", "/configmaps", "/secrets", "/serviceaccounts",
    "/podtemplates", "apps/daemonsets", "apps/statefulsets", "apps/controllerrevisions", "batch/jobs",
    "batch/cronjobs", "discovery.k8s.io/endpointslices", "/endpoints", "policy/poddisruptionbudgets",
    "/namespaces", "rbac.authorization.k8s.io/clusterroles", "rbac.authorization.k8s.io/clusterrolebindings",
    // Custom resources' informers come and go with their definitions (news for the CRD informer).
    "apiextensions.k8s.io/customresourcedefinitions",
    // The DaemonSet controller places pods by node.
    "/nodes",
    // The PersistentVolume binder.
    "/persistentvolumes", "/persistentvolumeclaims", "storage.k8s.io/storageclasses",
    // The resourcequota and horizontal-pod-autoscaler controllers.
    "/resourcequotas", "autoscaling/horizontalpodautoscalers",
  ),
  // The garbage collector follows owner references to and from custom resources.
  customResources: true,
};

/** The cluster of a store object named "<cluster>/<shard>". */
export function clusterOfStoreObject(name: string | undefined): string | undefined {
  const slash = name?.lastIndexOf("/") ?? -1;
  return slash > 0 ? name!.slice(0, slash) : undefined;
}

/**
 * The least time between two pokes of one target. A poked object wakes POKE_BATCH_MS (100 ms,
 * lib/client/alarm-wakes.ts) after the poke that asked first, so news held this long still reaches
 * a wake that a poke before them asked for; each poke costs the store an RPC and the target an
 * alarm read or write.
 */
export const POKE_HOLD_MS = 25;

interface Pokeable {
  poke(news: PokeNews): Promise<void>;
}

const encoder = new TextEncoder();

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

const REGISTRY = encoder.encode("/registry/");

/** "/registry/example.com/widgets/…" and "/registry/apiextensions.k8s.io/…": kube keeps custom resources under their group. */
export function isCustomResourceKey(key: Uint8Array): boolean {
  if (!startsWith(key, REGISTRY)) return false;
  for (let i = REGISTRY.length; i < key.length && key[i] !== 0x2f; i++) if (key[i] === 0x2e) return true;
  return false;
}

interface Target {
  binding: string;
  prefixes: { text: string; bytes: Uint8Array }[];
  /** Poked for custom resource and CRD writes too (no news: their informers always catch up). */
  customResources: boolean;
  inFlight: boolean;
  again: boolean;
  failures: number;
  /** When the last poke was sent, and the timer of a poke held until POKE_HOLD_MS after it. */
  sentAt: number;
  held: ReturnType<typeof setTimeout> | undefined;
}

export class Pokes {
  private readonly targets: Target[];
  /**
   * Per watched prefix held by this shard: the revision of its last commit. Before the first commit
   * this object sees, every prefix gets that commit's revision less one (no commit under it can be
   * later). Prefixes of other shards are never reported: their revisions are not this shard's.
   */
  private heads: Map<string, number> | undefined;

  constructor(
    private readonly env: Env,
    /** The cluster this shard belongs to: the poked object is the one named after it. */
    private readonly cluster: string,
    targets: PokeTarget[],
    private readonly holdMs = POKE_HOLD_MS,
  ) {
    this.targets = targets
      .filter((t) => (env as unknown as Record<string, unknown>)[t.binding] !== undefined)
      .map((t) => ({
        binding: t.binding, prefixes: t.prefixes.map((p) => ({ text: p, bytes: encoder.encode(p) })), customResources: !!t.customResources,
        inFlight: false, again: false, failures: 0, sentAt: -Infinity, held: undefined,
      }));
  }

  committed(commit: Commit): void {
    if (commit.events.length === 0) return;
    this.heads ??= this.startHeads(commit);
    for (const target of this.targets) {
      let touched = false;
      for (const e of commit.events) {
        if (target.customResources && isCustomResourceKey(e.kv.key)) touched = true;
        for (const p of target.prefixes) {
          if (!startsWith(e.kv.key, p.bytes)) continue;
          this.heads.set(p.text, commit.revision);
          touched = true;
        }
      }
      if (touched) this.poke(target);
    }
  }

  /** The prefixes this shard holds (every key under them), known from the shard of the first key it commits. */
  private startHeads(first: Commit): Map<string, number> {
    const shards = shardMapOf(this.env.STORE_SHARDS);
    const shard = shardForKey(shards, first.events[0]!.kv.key);
    const heads = new Map<string, number>();
    for (const target of this.targets) {
      for (const p of target.prefixes) if (shardForRange(shards, p.bytes, prefixEnd(p.bytes)) === shard) heads.set(p.text, first.revision - 1);
    }
    return heads;
  }

  private news(target: Target): PokeNews {
    const revisions: Record<string, number> = {};
    for (const p of target.prefixes) {
      const revision = this.heads?.get(p.text);
      if (revision !== undefined) revisions[p.text] = revision;
    }
    return { revisions };
  }

  private poke(target: Target): void {
    if (target.held) return; // the held poke, when it goes, tells the news as of then
    if (target.inFlight) {
      target.again = true;
      return;
    }
    const wait = target.sentAt + this.holdMs - Date.now();
    if (wait > 0) {
      target.held = setTimeout(() => {
        target.held = undefined;
        this.poke(target);
      }, wait);
      return;
    }
    target.inFlight = true;
    target.again = false;
    target.sentAt = Date.now();
    const namespace = (this.env as unknown as Record<string, DurableObjectNamespace>)[target.binding]!;
    const stub = namespace.get(namespace.idFromName(this.cluster)) as unknown as Pokeable;
    // Fire and forget: the commit's answer never waits for it.
    stub.poke(this.news(target)).then(
      () => void (target.failures = 0),
      // A failed poke is sent again a few times; then the next commit tries anew.
      () => void (++target.failures <= 3 && (target.again = true)),
    ).finally(() => {
      target.inFlight = false;
      if (target.again) this.poke(target);
    });
  }
}
