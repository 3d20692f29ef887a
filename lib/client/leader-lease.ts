// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection with a LeaseLock:
// acquire or renew with optimistic concurrency (an update carries the resourceVersion read; a
// conflict means someone else wrote first), take over a lease its holder stopped renewing, release
// on stop. A lease counts as expired once it has not changed for leaseDurationSeconds as this
// candidate observed it, so clocks that disagree between holders do not matter.
import type { Lease, LeaseSpec } from "kubernetes-types/coordination/v1";
import { builtin } from "../k8s/resources.ts";
import { isAlreadyExists, isConflict, isNotFound, type ApiClient, type ResourceClient } from "./api-client.ts";
import { microTime } from "./micro-time.ts";

export interface LeaderLeaseOptions {
  /** Default "kube-system", as kube-scheduler and kube-controller-manager use. */
  namespace?: string;
  /** The lease's name, e.g. "kube-scheduler". */
  name: string;
  /** This candidate, unique among candidates (kube uses "<hostname>_<uuid>"). */
  identity: string;
  /** Default 15, as kube's components. */
  leaseDurationSeconds?: number;
  now?: () => number;
}

export class LeaderLease {
  private readonly leases: ResourceClient<Lease>;
  private readonly namespace: string;
  private readonly name: string;
  private readonly identity: string;
  private readonly durationSeconds: number;
  private readonly now: () => number;
  /** The lease as last read or written, and when its spec was first seen as it is. */
  private observed: Lease | undefined;
  private observedAt = 0;
  private leading = false;

  constructor(client: ApiClient, options: LeaderLeaseOptions) {
    this.leases = client.resource<Lease>(builtin("coordination.k8s.io/v1", "leases"));
    this.namespace = options.namespace ?? "kube-system";
    this.name = options.name;
    this.identity = options.identity;
    this.durationSeconds = options.leaseDurationSeconds ?? 15;
    this.now = options.now ?? Date.now;
  }

  /** Whether the last round left this candidate holding the lease. */
  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * One round: creates the lease, renews it if this candidate holds it, or takes it over once it
   * expired. Answers whether this candidate holds the lease now; call again about every 2 s.
   */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.now();
    let lease: Lease;
    try {
      lease = await this.leases.get(this.namespace, this.name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      return this.create(now);
    }
    const spec = lease.spec ?? {};
    if (!this.observed || !sameRecord(this.observed.spec ?? {}, spec)) this.observedAt = now;
    this.observed = lease;
    const heldByOther = !!spec.holderIdentity && spec.holderIdentity !== this.identity;
    const durationMs = (spec.leaseDurationSeconds ?? this.durationSeconds) * 1000;
    if (heldByOther && this.observedAt + durationMs > now) return (this.leading = false);

    const mine = spec.holderIdentity === this.identity;
    const next: LeaseSpec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.durationSeconds,
      acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
    return this.write({ ...lease, spec: next }, now);
  }

  /** Gives the lease up (holder cleared, duration 1 s) so another candidate can take it at once. */
  async release(): Promise<boolean> {
    if (!this.leading || !this.observed) return false;
    this.leading = false;
    const now = this.now();
    const spec: LeaseSpec = {
      holderIdentity: "", leaseDurationSeconds: 1, acquireTime: microTime(now), renewTime: microTime(now),
      leaseTransitions: this.observed.spec?.leaseTransitions ?? 0,
    };
    try {
      this.observed = await this.leases.update(this.namespace, { ...this.observed, spec });
      this.observedAt = now;
      return true;
    } catch (e) {
      if (isConflict(e)) return false; // someone else wrote it since: it is not ours to release
      throw e;
    }
  }

  private async create(now: number): Promise<boolean> {
    try {
      this.observed = await this.leases.create(this.namespace, {
        metadata: { name: this.name, namespace: this.namespace },
        spec: {
          holderIdentity: this.identity, leaseDurationSeconds: this.durationSeconds,
          acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0,
        },
      });
      this.observedAt = now;
      return (this.leading = true);
    } catch (e) {
      if (isAlreadyExists(e)) return (this.leading = false); // another candidate created it first
      throw e;
    }
  }

  private async write(lease: Lease, now: number): Promise<boolean> {
    try {
      this.observed = await this.leases.update(this.namespace, lease);
      this.observedAt = now;
      return (this.leading = true);
    } catch (e) {
      if (isConflict(e)) return (this.leading = false); // someone else wrote it first: read again next round
      throw e;
    }
  }
}

function sameRecord(a: LeaseSpec, b: LeaseSpec): boolean {
  return a.holderIdentity === b.holderIdentity && a.renewTime === b.renewTime && a.acquireTime === b.acquireTime
    && a.leaseTransitions === b.leaseTransitions && a.leaseDurationSeconds === b.leaseDurationSeconds;
}
