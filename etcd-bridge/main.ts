// `npm run etcd-bridge -- --server URL [--token-file F] [--server-ca F] [--listen HOST:PORT] [--cert-dir D]`:
// serves etcd's gRPC API for etcdctl in front of any edgeplane Worker (local or deployed) and
// prints the etcdctl command line to use. Runs until interrupted.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PROJECT_ROOT } from "../scripts/dev-server.ts";
import { DEFAULT_LISTEN, startEtcdBridge } from "./server.ts";

const { values } = parseArgs({
  options: {
    server: { type: "string" },
    "token-file": { type: "string", default: join(PROJECT_ROOT, ".edgeplane/admin-token") },
    "server-ca": { type: "string" },
    listen: { type: "string", default: DEFAULT_LISTEN },
    "cert-dir": { type: "string", default: join(PROJECT_ROOT, ".edgeplane/etcd") },
  },
});
if (!values.server) {
  console.error("usage: npm run etcd-bridge -- --server URL [--token-file FILE] [--server-ca FILE] [--listen HOST:PORT] [--cert-dir DIR]");
  process.exit(2);
}
const token = readFileSync(values["token-file"], "utf8").trim();
// A local control plane's serving certificate (npm start's) is trusted for loopback URLs unless told otherwise.
const localCa = join(PROJECT_ROOT, ".edgeplane/tls/serving.crt");
const loopback = /^https:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(values.server);
const caFile = values["server-ca"] ?? (loopback && existsSync(localCa) ? localCa : undefined);
const bridge = await startEtcdBridge({
  server: values.server, token, serverCa: caFile ? readFileSync(caFile, "utf8") : undefined,
  listen: values.listen, certDir: values["cert-dir"],
});
console.log(`etcd's gRPC API for ${values.server} is on ${bridge.endpoint}; for example:
  ${bridge.etcdctl("get / --prefix --keys-only")}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void bridge.stop().then(() => process.exit(0)));
