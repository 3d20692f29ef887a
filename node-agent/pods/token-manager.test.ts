// The token manager asks the TokenRequest API as the kubelet's does: once per (service account,
// audience, expirationSeconds, pod) while the token is fresh, again once 80% of its lifetime has
// passed, afresh after a failed request, and never again for a forgotten pod's held token.
import { describe, expect, it } from "vitest";
import { ServiceAccountTokens, type TokenKey } from "./token-manager.ts";

function manager() {
  let now = 1_000_000;
  const asked: TokenKey[] = [];
  let fail = false;
  const tokens = new ServiceAccountTokens(async (key) => {
    asked.push(key);
    if (fail) throw new Error("apiserver unavailable");
    return { token: `token-${asked.length}`, expiresAt: now + key.expirationSeconds * 1000 };
  }, () => now);
  return { tokens, asked, advance: (ms: number) => (now += ms), failing: (f: boolean) => (fail = f), now: () => now };
}

const key = (over: Partial<TokenKey> = {}): TokenKey => ({
  namespace: "default", serviceAccount: "default", audience: undefined, expirationSeconds: 3607, podName: "web", podUID: "uid-1", ...over,
});

describe("ServiceAccountTokens", () => {
  it("asks once for concurrent and repeated requests of the same token, and separately per audience, lifetime and pod", async () => {
    const { tokens, asked } = manager();
    const [a, b] = await Promise.all([tokens.get(key()), tokens.get(key())]);
    expect(a).toBe("token-1");
    expect(b).toBe("token-1");
    expect(await tokens.get(key())).toBe("token-1");
    expect(await tokens.get(key({ audience: "vault" }))).toBe("token-2");
    expect(await tokens.get(key({ expirationSeconds: 600 }))).toBe("token-3");
    expect(await tokens.get(key({ podUID: "uid-2", podName: "web-2" }))).toBe("token-4");
    expect(asked).toHaveLength(4);
    expect(asked[3]).toMatchObject({ podName: "web-2", podUID: "uid-2" });
  });

  it("renews a token once 80% of its lifetime has passed, and says when that is due", async () => {
    const { tokens, asked, advance, now } = manager();
    const start = now();
    await tokens.get(key({ expirationSeconds: 600 }));
    expect(tokens.refreshDue("uid-1")).toBe(start + 480_000);
    expect(tokens.refreshDue("uid-other")).toBe(Infinity);
    advance(479_000);
    expect(await tokens.get(key({ expirationSeconds: 600 }))).toBe("token-1");
    advance(1_000);
    expect(await tokens.get(key({ expirationSeconds: 600 }))).toBe("token-2");
    expect(asked).toHaveLength(2);
  });

  it("asks again after a failed request, and forgets a pod's tokens", async () => {
    const { tokens, asked, failing } = manager();
    failing(true);
    await expect(tokens.get(key())).rejects.toThrow("apiserver unavailable");
    failing(false);
    expect(await tokens.get(key())).toBe("token-2");
    tokens.forgetPod("uid-1");
    expect(tokens.refreshDue("uid-1")).toBe(Infinity);
    expect(await tokens.get(key())).toBe("token-3");
    expect(asked).toHaveLength(3);
  });
});
