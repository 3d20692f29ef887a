// Objects that expire (Events, after kube-apiserver's --event-ttl): each write attaches the object
// to a store lease, and one lease serves the writes of a short window, as kube's etcd lease manager
// reuses one: a lease of TTL + reuse window is granted and taken by every write whose own expiry
// would fall inside it, up to 1,000 objects. The cache is per isolate and per store shard.
import { LeaseNotFound, type ObjectStorage } from "../storage/object-storage.ts";

/** kube's defaults: a lease is reused for at most 60 s (or 5% of the TTL when that is shorter) and 1,000 objects. */
const MAX_REUSE_SECONDS = 60;
const REUSE_FRACTION = 0.05;
const MAX_OBJECTS_PER_LEASE = 1000;
export const DEFAULT_EVENT_TTL_SECONDS = 3600;

interface CachedLease {
  id: number;
  /** When the store lets it go (ms). */
  expiresAt: number;
  attached: number;
}

const leases = new Map<string, CachedLease>();
/** Grants under way, so concurrent writes share one instead of each asking for its own. */
const granting = new Map<string, Promise<CachedLease>>();

/** Everything under one resource prefix is in one shard: the prefix and the shard map name the cache entry. */
function cacheKey(storage: ObjectStorage, prefix: string, ttl: number): string {
  return `${storage.env.CLUSTER_NAME}\n${storage.env.STORE_SHARDS}\n${prefix}\n${ttl}`;
}

/** How long a lease of `ttl` seconds may be reused: the extra seconds it is granted with. */
export function reuseSeconds(ttl: number): number {
  return Math.min(Math.floor(ttl * REUSE_FRACTION), MAX_REUSE_SECONDS);
}

/** The lease an object under `prefix` written now should carry to live `ttl` seconds. */
export async function objectLease(storage: ObjectStorage, prefix: string, ttl: number, now = Date.now()): Promise<number> {
  const key = cacheKey(storage, prefix, ttl);
  const reuse = reuseSeconds(ttl);
  const cached = leases.get(key);
  // Reusable while an object written now would expire no later than the lease, and at most `reuse` earlier.
  if (cached && now + ttl * 1000 < cached.expiresAt && now + (ttl + reuse) * 1000 > cached.expiresAt && cached.attached < MAX_OBJECTS_PER_LEASE) {
    cached.attached++;
    return cached.id;
  }
  let pending = granting.get(key);
  if (!pending) {
    pending = storage.grantLease(prefix, ttl + reuse).then((id) => {
      const lease = { id, expiresAt: now + (ttl + reuse) * 1000, attached: 0 };
      leases.set(key, lease);
      return lease;
    }).finally(() => granting.delete(key));
    granting.set(key, pending);
  }
  const lease = await pending;
  lease.attached++;
  return lease.id;
}

/**
 * Runs a write under the object's lease; a lease the store has let go meanwhile (it expired, or
 * the cluster was restored) is forgotten and the write tried once more with a new one.
 */
export async function writeWithLease<T>(storage: ObjectStorage, prefix: string, ttl: number, write: (lease: number) => Promise<T>): Promise<T> {
  const lease = await objectLease(storage, prefix, ttl);
  try {
    return await write(lease);
  } catch (e) {
    if (!(e instanceof LeaseNotFound)) throw e;
    const key = cacheKey(storage, prefix, ttl);
    if (leases.get(key)?.id === lease) leases.delete(key);
    return write(await objectLease(storage, prefix, ttl));
  }
}

/** EVENT_TTL_SECONDS, a whole number of seconds > 0; kube's default hour otherwise. */
export function eventTTLSeconds(env: Env): number {
  const text = env.EVENT_TTL_SECONDS;
  const seconds = text ? Number(text) : NaN;
  return Number.isInteger(seconds) && seconds > 0 ? seconds : DEFAULT_EVENT_TTL_SECONDS;
}
