// The kubelet's two heartbeats: its Lease in kube-node-lease renewed every 10 s (the node
// lifecycle controller's liveness signal), and the Node's conditions written when they change and
// at least every 5 minutes otherwise (nodeStatusUpdateFrequency 10 s, nodeStatusReportFrequency 5 min).
// Many hollow nodes of one process must not beat in step: each loop's first period ends at a random
// point, and every period after it is jittered by up to 4% (the kubelet's JitterUntil factor).
import type { Lease } from "kubernetes-types/coordination/v1";
import type { Node } from "kubernetes-types/core/v1";
import { builtin } from "../lib/k8s/resources.ts";
import { isAlreadyExists, isNotFound, microTime, type ApiClient, type ResourceClient } from "../lib/client/index.ts";
import { conditionsChanged, desiredConditions, stampConditions } from "./node-status.ts";
import type { Runtime } from "./runtime/runtime.ts";

export const LEASE_NAMESPACE = "kube-node-lease";
export const LEASE_DURATION_SECONDS = 40;
export const LEASE_RENEW_MS = 10_000;
export const STATUS_UPDATE_MS = 10_000;
export const STATUS_REPORT_MS = 5 * 60_000;
/** The kubelet's jitter factor for its status loop (wait.JitterUntil(…, 0.04, …)). */
export const JITTER = 0.04;

export interface HeartbeatOptions {
  client: ApiClient;
  node: Node;
  runtime: Runtime;
  /** The agent sets up the pod network (cri), so it reports NetworkUnavailable. */
  reportsNetwork: boolean;
  log: (message: string) => void;
  /** The Node was created just now with its conditions (and so has no Lease yet): no status write is due. */
  registered?: boolean;
  now?: () => number;
  random?: () => number;
}

export class NodeHeartbeat {
  private readonly leases: ResourceClient<Lease>;
  private readonly nodes: ResourceClient<Node>;
  private readonly options: HeartbeatOptions;
  private readonly now: () => number;
  private readonly random: () => number;
  private lease: Lease | undefined;
  private node: Node;
  private lastReport = 0;
  /** The pod range the runtime was last told of. */
  private podCIDR: string | undefined;
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private stopped = false;
  private triedCreate = false;

  constructor(options: HeartbeatOptions) {
    this.options = options;
    this.leases = options.client.resource<Lease>(builtin("coordination.k8s.io/v1", "leases"));
    this.nodes = options.client.resource<Node>(builtin("v1", "nodes"));
    this.node = options.node;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    if (options.registered) this.lastReport = this.now();
  }

  /** The Node as last written. */
  get current(): Node {
    return this.node;
  }

  /**
   * Renews the Lease now (a new node has none yet), then at a random point of the first period and
   * every jittered period after; the status loop's first look is at a random point of its first
   * period when registration has just written the conditions, else now.
   */
  start(): void {
    this.loop("renewing the node Lease", () => this.renewLease(), LEASE_RENEW_MS, 0);
    this.loop("updating the node status", () => this.updateStatus(), STATUS_UPDATE_MS, this.options.registered ? this.random() * STATUS_UPDATE_MS : 0);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
  }

  /**
   * Runs `beat` after `firstMs`, then after a random part of the period the first time and a
   * period jittered by up to 4% after that; a failed beat is retried sooner (200 ms doubling to the period).
   */
  private loop(name: string, beat: () => Promise<void>, periodMs: number, firstMs: number): void {
    let failures = 0;
    let beats = 0;
    const tick = async () => {
      if (this.stopped) return;
      let delay = beats++ === 0 ? periodMs * (0.5 + 0.5 * this.random()) : periodMs * (1 + JITTER * this.random());
      try {
        await beat();
        failures = 0;
      } catch (e) {
        delay = Math.min(periodMs, 200 * 2 ** failures++);
        this.options.log(`${name} failed (retrying in ${delay} ms): ${(e as Error).message}`);
      }
      if (!this.stopped) this.timers.set(name, setTimeout(tick, delay));
    };
    this.timers.set(name, setTimeout(tick, firstMs));
  }

  /** The Lease as the kubelet writes it, owned by its Node so it goes when the Node goes. */
  private desiredLease(): Lease {
    const name = this.node.metadata!.name!;
    return {
      apiVersion: "coordination.k8s.io/v1", kind: "Lease",
      metadata: {
        name, namespace: LEASE_NAMESPACE,
        ownerReferences: [{ apiVersion: "v1", kind: "Node", name, uid: this.node.metadata!.uid! }],
        ...(this.lease?.metadata?.resourceVersion ? { resourceVersion: this.lease.metadata.resourceVersion } : {}),
      },
      spec: { holderIdentity: name, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: microTime(this.now()) },
    };
  }

  /**
   * Updates the Lease this node holds; the first time, reads it (it outlives an agent restart) or
   * creates it; a node registered just now creates it at once (one write), reading it only if one
   * was left from a Node of the same name.
   */
  async renewLease(): Promise<void> {
    const name = this.node.metadata!.name!;
    try {
      if (!this.lease && this.options.registered && !this.triedCreate) {
        this.triedCreate = true;
        this.lease = await this.leases.create(LEASE_NAMESPACE, this.desiredLease()).catch((e) => (isAlreadyExists(e) ? undefined : Promise.reject(e)));
        if (this.lease) return;
      }
      this.lease ??= await this.leases.get(LEASE_NAMESPACE, name).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
      this.lease = this.lease
        ? await this.leases.update(LEASE_NAMESPACE, this.desiredLease())
        : await this.leases.create(LEASE_NAMESPACE, this.desiredLease());
    } catch (e) {
      // The next try reads the Lease afresh: someone else wrote it, or it is gone.
      this.lease = undefined;
      throw e;
    }
  }

  /**
   * Writes the conditions when they differ from the Node's (read afresh: the node lifecycle
   * controller may have marked it Unknown) or when the last report is 5 minutes old. A podCIDR
   * the node IPAM controller assigned meanwhile goes to the runtime.
   */
  async updateStatus(): Promise<void> {
    const health = await this.options.runtime.health();
    const desired = desiredConditions(health, this.options.reportsNetwork);
    this.node = await this.nodes.get(undefined, this.node.metadata!.name!);
    if (this.node.spec?.podCIDR && this.node.spec.podCIDR !== this.podCIDR) {
      await this.options.runtime.updatePodCIDR?.(this.node.spec.podCIDR);
      this.podCIDR = this.node.spec.podCIDR;
    }
    const current = this.node.status?.conditions;
    if (!conditionsChanged(current, desired) && this.now() - this.lastReport < STATUS_REPORT_MS) return;
    const now = new Date(this.now()).toISOString().replace(/\.\d+Z$/, "Z");
    const conditions = stampConditions(current, desired, now);
    this.node = await this.nodes.patch(undefined, this.node.metadata!.name!, { status: { conditions } }, "merge", { subresource: "status" });
    this.lastReport = this.now();
  }
}
