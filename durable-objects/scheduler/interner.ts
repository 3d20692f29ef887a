// Interning of identical projections (the labels and scheduling spec that a Deployment's replicas
// share), so 150,000 pods hold a few hundred copies. A bounded LRU: dropping an entry only costs
// sharing, never correctness, since nothing compares projections by identity.

export class Interner<T> {
  private readonly entries = new Map<string, T>();

  private readonly capacity: number;

  constructor(capacity = 20_000) {
    this.capacity = capacity;
  }

  /** The value already held under `key`, or `make()`'s, kept from now on. */
  intern(key: string, make: () => T): T {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      // Refresh its place in the LRU order.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const made = make();
    this.entries.set(key, made);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return made;
  }

  get size(): number {
    return this.entries.size;
  }
}
