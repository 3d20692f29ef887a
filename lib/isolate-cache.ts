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
