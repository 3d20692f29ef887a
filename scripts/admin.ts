// `npm run admin -- kubeconfig [--server URL [--token-file F]]`: prints a kubeconfig for the local
// cluster's admin (npm start's), or for a cluster deployed with npm run deploy.
// `npm run admin -- bootstrap-token [--ttl 24h]`: makes a bootstrap token (a kube-system Secret, as
// kubeadm keeps them) on the running cluster and prints the command a node joins with.
// `npm run admin -- rotate`: makes a new admin token; the old one stops working once the control
// plane restarts with the new hash (npm start reads the file on start). For a deployed Worker it
// prints the hash to store with `wrangler secret put ADMIN_TOKEN_SHA256` (the token itself is
// written only to the file, never printed).
// `npm run admin -- snapshot save FILE [--cluster NAME]`: a consistent snapshot of the cluster
// (every store shard at its own revision, leases included; README "Snapshots and restore").
// `npm run admin -- snapshot restore FILE [--cluster NAME]`: restores one into a cluster that has
// never been written. Both take --server URL, --token-file F and --server-ca F for other clusters.
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CONNECTION_FLAGS, gatewayOptions } from "../etcd-bridge/connection.ts";
import { Gateway } from "../etcd-bridge/gateway.ts";
import { readSnapshot, restoreSnapshot, saveSnapshot, type SnapshotSummary } from "../etcd-bridge/snapshot.ts";
import { kubeconfig, newAdminToken, PROJECT_ROOT, sha256Hex } from "./dev-server.ts";

const dir = join(PROJECT_ROOT, ".edgeplane");
const tokenFile = join(dir, "admin-token");
const command = process.argv[2];

if (command === "kubeconfig") {
  // --server URL: a cluster deployed with npm run deploy (its token in .edgeplane/deploy/, a public certificate).
  const { values } = parseArgs({ args: process.argv.slice(3), options: { server: { type: "string" }, "token-file": { type: "string" } } });
  const deployed = values.server !== undefined;
  const file = values["token-file"] ?? (deployed ? join(dir, "deploy/admin-token") : tokenFile);
  if (!existsSync(file)) throw new Error(`no ${file}: ${deployed ? "pass --token-file with the deployed cluster's admin token" : "run npm start once first"}`);
  const token = readFileSync(file, "utf8").trim();
  const caFile = join(dir, "tls/serving.crt");
  const url = values.server ?? process.env.EDGEPLANE_URL ?? `https://127.0.0.1:${process.env.PORT ?? 8787}`;
  process.stdout.write(kubeconfig(url, token, !deployed && existsSync(caFile) ? readFileSync(caFile, "utf8") : undefined));
} else if (command === "bootstrap-token") {
  if (!existsSync(tokenFile)) throw new Error(`no ${tokenFile}: run npm start once first`);
  const admin = readFileSync(tokenFile, "utf8").trim();
  const ca = readFileSync(join(dir, "tls/serving.crt"), "utf8");
  const url = process.env.EDGEPLANE_URL ?? `https://127.0.0.1:${process.env.PORT ?? 8787}`;
  const ttlArg = process.argv.indexOf("--ttl");
  const hours = ttlArg > 0 ? Number(String(process.argv[ttlArg + 1]).replace(/h$/, "")) : 24;
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const word = (n: number) => [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join("");
  const [id, secret] = [word(6), word(16)];
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const body = JSON.stringify({
    apiVersion: "v1", kind: "Secret", type: "bootstrap.kubernetes.io/token",
    metadata: { name: `bootstrap-token-${id}`, namespace: "kube-system" },
    data: {
      "token-id": b64(id), "token-secret": b64(secret), "usage-bootstrap-authentication": b64("true"),
      expiration: b64(new Date(Date.now() + hours * 3600_000).toISOString().replace(/\.\d+Z$/, "Z")),
      "auth-extra-groups": b64("system:bootstrappers:edgeplane:default-node-token"),
    },
  });
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${url}/api/v1/namespaces/kube-system/secrets`, { method: "POST", ca, headers: { Authorization: `Bearer ${admin}`, "Content-Type": "application/json" } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end(body);
  });
  if (status !== 201) throw new Error(`creating the bootstrap token answered ${status}`);
  const caHash = createHash("sha256").update(ca).digest("hex");
  console.log(`bootstrap token ${id}.****** made (valid ${hours} h). A node joins with:
  node dist/edgeplane-agent.mjs join --server ${url} --token ${id}.${secret} --ca-cert-sha256 ${caHash}   (npm run build:agent makes it)`);
} else if (command === "rotate") {
  const token = newAdminToken();
  writeFileSync(tokenFile, token + "\n", { mode: 0o600 });
  chmodSync(tokenFile, 0o600);
  console.log(`a new admin token is in ${tokenFile}.
  local cluster: restart npm start; the old token stops working then.
  deployed Worker: echo ${sha256Hex(token)} | npx wrangler secret put ADMIN_TOKEN_SHA256`);
} else if (command === "snapshot" && ["save", "restore"].includes(process.argv[3] ?? "")) {
  const { values, positionals } = parseArgs({ args: process.argv.slice(4), allowPositionals: true, options: { ...CONNECTION_FLAGS, cluster: { type: "string" } } });
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new Error(`usage: npm run admin -- snapshot ${process.argv[3]} FILE [--cluster NAME] [--server URL] [--token-file F] [--server-ca F]`);
  const gateway = new Gateway(gatewayOptions(values));
  const shards = (summary: SnapshotSummary) =>
    summary.shards.map((s) => `  shard ${s.name}: revision ${s.revision}, compacted at ${s.compact_revision}, ${s.entries} log entries, ${s.leases} leases`).join("\n");
  try {
    if (process.argv[3] === "save") {
      const summary = await saveSnapshot(gateway, file, values.cluster);
      console.log(`snapshot of cluster ${summary.cluster} saved at ${file} (${summary.bytes} bytes)\n${shards(summary)}`);
    } else {
      const summary = await restoreSnapshot(gateway, readSnapshot(file), values.cluster);
      console.log(`restored ${file} into cluster ${summary.cluster}\n${shards(summary)}
  a Worker serves it with CLUSTER_NAME=${summary.cluster} (wrangler.toml [vars])`);
    }
  } catch (e) {
    console.error(`snapshot ${process.argv[3]}: ${(e as Error).message}`);
    process.exitCode = 1;
  } finally {
    gateway.close();
  }
} else {
  console.error("usage: npm run admin -- kubeconfig | rotate | bootstrap-token [--ttl HOURS] | snapshot save|restore FILE [--cluster NAME]");
  process.exitCode = 2;
}
