// The kubelet's service account token manager: projected tokens kept per (service account,
// namespace, audience, expirationSeconds, bound pod), so a pod's worker asks the TokenRequest API
// once per token lifetime rather than once per volume source or per retry; a token is renewed once
// 80% of its lifetime (at most 24 h) has passed, and a pod's tokens are forgotten with the pod.

/** What a TokenRequest answered: the token and when it expires (ms since the epoch). */
export interface IssuedToken {
  token: string;
  expiresAt: number;
}

export interface TokenKey {
  namespace: string;
  serviceAccount: string;
  audience: string | undefined;
  expirationSeconds: number;
  podName: string;
  podUID: string;
}

interface Entry {
  token: Promise<string>;
  /** When the token is renewed instead of served (ms since the epoch); Infinity while the request is in flight. */
  refreshAt: number;
}

const MAX_AGE_MS = 24 * 3600_000;

export class ServiceAccountTokens {
  private readonly request: (key: TokenKey) => Promise<IssuedToken>;
  private readonly now: () => number;
  /** By pod uid, then by the rest of the key. */
  private readonly byPod = new Map<string, Map<string, Entry>>();

  constructor(request: (key: TokenKey) => Promise<IssuedToken>, now: () => number = Date.now) {
    this.request = request;
    this.now = now;
  }

  /** The token for `key`: the one held while it is fresh (or being asked for), else a new one. */
  get(key: TokenKey): Promise<string> {
    const tokens = this.byPod.get(key.podUID) ?? new Map<string, Entry>();
    this.byPod.set(key.podUID, tokens);
    const id = JSON.stringify([key.namespace, key.serviceAccount, key.audience ?? "", key.expirationSeconds]);
    const held = tokens.get(id);
    if (held && this.now() < held.refreshAt) return held.token;
    const requestedAt = this.now();
    const entry: Entry = { refreshAt: Infinity, token: Promise.resolve("") };
    entry.token = this.request(key).then((issued) => {
      const lifetime = Math.max(0, issued.expiresAt - requestedAt);
      entry.refreshAt = requestedAt + Math.min(MAX_AGE_MS, lifetime * 0.8);
      return issued.token;
    }, (error: unknown) => {
      if (tokens.get(id) === entry) tokens.delete(id);
      throw error;
    });
    tokens.set(id, entry);
    return entry.token;
  }

  /** When the earliest of the pod's tokens is due for renewal (Infinity: none held). */
  refreshDue(podUID: string): number {
    let due = Infinity;
    for (const entry of this.byPod.get(podUID)?.values() ?? []) due = Math.min(due, entry.refreshAt);
    return due;
  }

  /** The pod is gone: its tokens go with it. */
  forgetPod(podUID: string): void {
    this.byPod.delete(podUID);
  }
}
