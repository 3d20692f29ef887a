// Bootstrap tokens ("abcdef.0123456789abcdef"), kept as bootstrap.kubernetes.io/token Secrets
// named bootstrap-token-<id> in kube-system, as kubeadm makes them: a joining node presents one to
// get its own node credential, and (by RBAC) nothing else. Checked as kube-apiserver's bootstrap
// authenticator checks them: type, secret, expiry, the authentication usage, extra groups.
import type { UserInfo } from "../context.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { builtinStore } from "../registry/builtins.ts";

export const BOOTSTRAP_TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const EXTRA_GROUP = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;

function text(data: Record<string, string> | undefined, key: string): string | undefined {
  const value = data?.[key];
  if (value === undefined) return undefined;
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
}

function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export async function authenticateBootstrapToken(env: Env, token: string, now = Date.now()): Promise<UserInfo | undefined> {
  const match = BOOTSTRAP_TOKEN.exec(token);
  if (!match) return undefined;
  const [, id, secret] = match as unknown as [string, string, string];
  const object = await builtinStore(new ObjectStorage(env), "v1", "secrets").find("kube-system", `bootstrap-token-${id}`);
  if (!object || object.type !== "bootstrap.kubernetes.io/token" || object.metadata?.deletionTimestamp) return undefined;
  const data = object.data as Record<string, string> | undefined;
  if (text(data, "token-id") !== id || !sameText(text(data, "token-secret") ?? "", secret)) return undefined;
  if (text(data, "usage-bootstrap-authentication") !== "true") return undefined;
  const expiration = text(data, "expiration");
  if (expiration && !(Date.parse(expiration) > now)) return undefined;
  const extra = (text(data, "auth-extra-groups") ?? "").split(",").map((g) => g.trim()).filter((g) => EXTRA_GROUP.test(g));
  return { name: `system:bootstrap:${id}`, uid: "", groups: ["system:bootstrappers", ...extra, "system:authenticated"] };
}
