// How the bridge and the admin script reach a Worker's admin etcd path from the command line:
// --server URL (EDGEPLANE_URL, else the local npm start's), --token-file (the local admin token)
// and --server-ca (npm start's serving certificate for a loopback URL, else public CAs only).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { GatewayOptions } from "./gateway.ts";

/** The local control plane's files (npm start writes them): admin token, serving certificate, the bridge's PKI. */
export const LOCAL_FILES = join(dirname(fileURLToPath(import.meta.url)), "../.edgeplane");

export const CONNECTION_FLAGS = {
  server: { type: "string" },
  "token-file": { type: "string" },
  "server-ca": { type: "string" },
} as const;

export interface ConnectionFlags {
  server?: string;
  "token-file"?: string;
  "server-ca"?: string;
}

export function gatewayOptions(flags: ConnectionFlags): GatewayOptions {
  const server = flags.server ?? process.env.EDGEPLANE_URL ?? `https://127.0.0.1:${process.env.PORT ?? 8787}`;
  const tokenFile = flags["token-file"] ?? join(LOCAL_FILES, "admin-token");
  if (!existsSync(tokenFile)) throw new Error(`no admin token at ${tokenFile}: run npm start once first, or pass --token-file`);
  const localCa = join(LOCAL_FILES, "tls/serving.crt");
  const loopback = /^https:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(server);
  const caFile = flags["server-ca"] ?? (loopback && existsSync(localCa) ? localCa : undefined);
  return { server, token: readFileSync(tokenFile, "utf8").trim(), ca: caFile ? readFileSync(caFile, "utf8") : undefined };
}
