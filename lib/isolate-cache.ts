// A value read from the store and shared, for a short while, by the requests one isolate serves
// (RBAC policy, CRDs, admission configuration): kube-apiserver follows such objects through an
// informer; an isolate instead reads them again once its copy is older than `freshMs`, or at once
// after it wrote them itself (invalidate). A read that fails is not kept.
export class IsolateCache<T> {
  private current: { value: Promise<T>; at: number } | undefined;
  private readonly freshMs: number;

  constructor(freshMs: number) {
    this.freshMs = freshMs;
  }

  get(load: () => Promise<T>, maxAgeMs = this.freshMs): Promise<T> {
    const now = Date.now();
    if (!this.current || now - this.current.at > maxAgeMs) {
      const value = load();
      this.current = { value, at: now };
      value.catch(() => {
        if (this.current?.value === value) this.current = undefined;
      });
    }
    return this.current.value;
  }

  invalidate(): void {
    this.current = undefined;
  }
}

/** An IsolateCache per key (a cluster and namespace, say); invalidate() forgets every key. */
export class KeyedIsolateCache<T> {
  private readonly entries = new Map<string, IsolateCache<T>>();
  private readonly freshMs: number;
  private readonly maxKeys: number;

  constructor(freshMs: number, maxKeys = 1000) {
    this.freshMs = freshMs;
    this.maxKeys = maxKeys;
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    let entry = this.entries.get(key);
    if (!entry) {
      if (this.entries.size >= this.maxKeys) this.entries.clear();
      entry = new IsolateCache<T>(this.freshMs);
      this.entries.set(key, entry);
    }
    return entry.get(load);
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  invalidate(): void {
    this.entries.clear();
  }
}
