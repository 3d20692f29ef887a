// After a commit, the Durable Objects that act on what changed are poked: a fire-and-forget call
// that carries no data (they catch up through the API). At most one poke per target is in flight;
// commits meanwhile send one more when it returns, so a burst of writes costs a couple of calls.
import type { Commit } from "./mvcc.ts";

/** Who is poked for which keys: the binding of a Durable Object namespace with a `poke()` method. */
export interface PokeTarget {
  binding: string;
  prefixes: string[];
  /** Also every custom resource and CRD: keys whose segment after /registry/ is a dotted group. */
  customResources?: boolean;
}

/** The scheduler reads pods, nodes, namespaces, disruption budgets, the workloads that spread pods, and volumes. */
export const SCHEDULER_POKES: PokeTarget = {
  binding: "SCHEDULER",
  prefixes: [
    "/registry/pods/", "/registry/minions/", "/registry/namespaces/", "/registry/poddisruptionbudgets/",
    "/registry/services/specs/", "/registry/controllers/", "/registry/replicasets/", "/registry/statefulsets/",
    // VolumeBinding waits for claims and their volumes.
    "/registry/persistentvolumes/", "/registry/persistentvolumeclaims/", "/registry/storageclasses/",
  ],
};

/** The controller manager reads what its controllers watch. */
export const CONTROLLER_POKES: PokeTarget = {
  binding: "CONTROLLERS",
  prefixes: [
    "/registry/deployments/", "/registry/replicasets/", "/registry/pods/",
    // The garbage collector's ownership graph.
    "/registry/controllers/", "/registry/services/specs/", "/registry/configmaps/", "/registry/secrets/", "/registry/serviceaccounts/",
    "/registry/podtemplates/", "/registry/daemonsets/", "/registry/statefulsets/", "/registry/controllerrevisions/", "/registry/jobs/",
    "/registry/cronjobs/", "/registry/endpointslices/", "/registry/poddisruptionbudgets/",
    "/registry/namespaces/", "/registry/clusterroles/",
    // The DaemonSet controller places pods by node.
    "/registry/minions/",
    // The PersistentVolume binder.
    "/registry/persistentvolumes/", "/registry/persistentvolumeclaims/", "/registry/storageclasses/",
    // The resourcequota and horizontal-pod-autoscaler controllers.
    "/registry/resourcequotas/", "/registry/horizontalpodautoscalers/",
  ],
  // The garbage collector follows owner references to and from custom resources.
  customResources: true,
};

/** The cluster of a store object named "<cluster>/<shard>". */
export function clusterOfStoreObject(name: string | undefined): string | undefined {
  const slash = name?.lastIndexOf("/") ?? -1;
  return slash > 0 ? name!.slice(0, slash) : undefined;
}

interface Pokeable {
  poke(): Promise<void>;
}

const encoder = new TextEncoder();

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

const REGISTRY = encoder.encode("/registry/");

/** "/registry/example.com/widgets/…" and "/registry/apiextensions.k8s.io/…": kube keeps custom resources under their group. */
function isCustomResourceKey(key: Uint8Array): boolean {
  if (!startsWith(key, REGISTRY)) return false;
  for (let i = REGISTRY.length; i < key.length && key[i] !== 0x2f; i++) if (key[i] === 0x2e) return true;
  return false;
}

export class Pokes {
  private readonly targets: { binding: string; prefixes: Uint8Array[]; customResources: boolean; inFlight: boolean; again: boolean; failures: number }[];

  constructor(
    private readonly env: Env,
    /** The cluster this shard belongs to: the poked object is the one named after it. */
    private readonly cluster: string,
    targets: PokeTarget[],
  ) {
    this.targets = targets
      .filter((t) => (env as unknown as Record<string, unknown>)[t.binding] !== undefined)
      .map((t) => ({ binding: t.binding, prefixes: t.prefixes.map((p) => encoder.encode(p)), customResources: !!t.customResources, inFlight: false, again: false, failures: 0 }));
  }

  committed(commit: Commit): void {
    for (const target of this.targets) {
      if (commit.events.some((e) => target.prefixes.some((p) => startsWith(e.kv.key, p)) || (target.customResources && isCustomResourceKey(e.kv.key)))) this.poke(target);
    }
  }

  private poke(target: (typeof this.targets)[number]): void {
    if (target.inFlight) {
      target.again = true;
      return;
    }
    target.inFlight = true;
    target.again = false;
    const namespace = (this.env as unknown as Record<string, DurableObjectNamespace>)[target.binding]!;
    const stub = namespace.get(namespace.idFromName(this.cluster)) as unknown as Pokeable;
    // Fire and forget: the commit's answer never waits for it.
    stub.poke().then(
      () => void (target.failures = 0),
      // A failed poke is sent again a few times; then the next commit tries anew.
      () => void (++target.failures <= 3 && (target.again = true)),
    ).finally(() => {
      target.inFlight = false;
      if (target.again) this.poke(target);
    });
  }
}
