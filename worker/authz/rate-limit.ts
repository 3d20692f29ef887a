// Per-identity request rate limits, in the spirit of API Priority and Fairness: each user has a
// token bucket (RATE_LIMIT_QPS, burst RATE_LIMIT_BURST), system components (nodes, controllers,
// kube-system service accounts) a larger one of their own (SYSTEM_RATE_LIMIT_QPS), and
// system:masters is exempt, as APF exempts it. Past the budget: 429 with Retry-After. Buckets are
// per isolate, so a runaway client is held back wherever its requests land.
import { ApiError } from "../../lib/k8s/status.ts";
import type { UserInfo } from "../context.ts";

interface Bucket {
  tokens: number;
  at: number;
}

const buckets = new Map<string, Bucket>();
const MAX_BUCKETS = 10_000;

function number(text: string | undefined, fallback: number): number {
  const n = Number(text);
  return text !== undefined && text !== "" && Number.isFinite(n) && n > 0 ? n : fallback;
}

function isSystemComponent(user: UserInfo): boolean {
  return user.groups.includes("system:nodes") || user.name === "system:kube-scheduler" || user.name === "system:kube-controller-manager"
    || user.name.startsWith("system:serviceaccount:kube-system:");
}

/** Takes one request from the user's budget, or throws 429 TooManyRequests with when to retry. */
export function takeRequest(env: Env, user: UserInfo, now = Date.now()): void {
  if (user.groups.includes("system:masters")) return;
  const system = isSystemComponent(user);
  const qps = system ? number(env.SYSTEM_RATE_LIMIT_QPS, 500) : number(env.RATE_LIMIT_QPS, 100);
  const burst = system ? qps * 2 : number(env.RATE_LIMIT_BURST, qps * 2);
  const key = `${system ? "system" : "user"}\u0000${user.name}`;
  let bucket = buckets.get(key);
  if (!bucket) {
    if (buckets.size >= MAX_BUCKETS) buckets.clear();
    bucket = { tokens: burst, at: now };
    buckets.set(key, bucket);
  }
  bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * qps);
  bucket.at = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return;
  }
  const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / qps));
  throw new ApiError(429, "TooManyRequests", "Too many requests, please try again later.", { retryAfterSeconds });
}
