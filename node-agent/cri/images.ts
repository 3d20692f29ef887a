// Image references as the kubelet reads them: the full name containerd stores ("busybox" is
// docker.io/library/busybox:latest), the default imagePullPolicy, and the registry credentials a
// pod's imagePullSecrets give for an image.
import type { AuthConfig } from "./client.ts";

export type PullPolicy = "Always" | "IfNotPresent" | "Never";

/** Splits off the registry host: the first component when it has a dot, a port, or is localhost. */
function splitRegistry(image: string): { registry: string; remainder: string } {
  const slash = image.indexOf("/");
  const first = slash < 0 ? "" : image.slice(0, slash);
  if (first && (first.includes(".") || first.includes(":") || first === "localhost")) return { registry: first, remainder: image.slice(slash + 1) };
  return { registry: "docker.io", remainder: image };
}

function hasTagOrDigest(remainder: string): { tag: boolean; digest: boolean } {
  const digest = remainder.includes("@");
  const lastPart = remainder.split("@")[0]!.split("/").pop()!;
  return { tag: lastPart.includes(":"), digest };
}

/** The fully qualified reference: docker.io/library/busybox:latest for "busybox". */
export function normalizeImage(image: string): string {
  const { registry, remainder } = splitRegistry(image);
  const path = registry === "docker.io" && !remainder.includes("/") ? `library/${remainder}` : remainder;
  const { tag, digest } = hasTagOrDigest(path);
  return `${registry}/${path}${tag || digest ? "" : ":latest"}`;
}

/** As the apiserver defaults it: Always for :latest or no tag, else IfNotPresent. */
export function defaultPullPolicy(image: string): PullPolicy {
  const { remainder } = splitRegistry(image);
  const { tag, digest } = hasTagOrDigest(remainder);
  if (digest) return "IfNotPresent";
  if (!tag || remainder.endsWith(":latest")) return "Always";
  return "IfNotPresent";
}

interface DockerAuth {
  auth?: string;
  username?: string;
  password?: string;
}

/** The first credential among the pull secrets' docker config JSON whose registry matches the image's. */
export function pullAuth(image: string, pullSecrets: string[] = []): AuthConfig | undefined {
  const { registry } = splitRegistry(image);
  const wanted = registry === "docker.io" ? ["docker.io", "index.docker.io", "registry-1.docker.io"] : [registry];
  for (const secret of pullSecrets) {
    let parsed: { auths?: Record<string, DockerAuth> } & Record<string, unknown>;
    try {
      parsed = JSON.parse(secret);
    } catch {
      continue;
    }
    // .dockerconfigjson has "auths"; the older .dockercfg is the map itself.
    const auths = (parsed.auths ?? parsed) as Record<string, DockerAuth>;
    for (const [server, entry] of Object.entries(auths)) {
      const host = server.replace(/^https?:\/\//, "").split("/")[0]!;
      if (!wanted.includes(host)) continue;
      const [username, password] = entry.auth ? Buffer.from(entry.auth, "base64").toString("utf8").split(/:(.*)/s) : [entry.username, entry.password];
      return { username: username ?? "", password: password ?? "", server_address: host };
    }
  }
  return undefined;
}
