// `npm run etcd-bridge -- --server URL [--token-file F] [--server-ca F] [--listen HOST:PORT] [--cert-dir D]`:
// serves etcd's gRPC API for etcdctl in front of any edgeplane Worker (local or deployed) and
// prints the etcdctl command line to use. Runs until interrupted.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CONNECTION_FLAGS, gatewayOptions, LOCAL_FILES } from "./connection.ts";
import { DEFAULT_LISTEN, startEtcdBridge } from "./server.ts";

const { values } = parseArgs({
  options: {
    ...CONNECTION_FLAGS,
    listen: { type: "string", default: DEFAULT_LISTEN },
    "cert-dir": { type: "string", default: join(LOCAL_FILES, "etcd") },
  },
});
const connection = gatewayOptions(values);
const bridge = await startEtcdBridge({
  server: connection.server, token: connection.token, serverCa: connection.ca, listen: values.listen, certDir: values["cert-dir"],
});
console.log(`etcd's gRPC API for ${connection.server} is on ${bridge.endpoint}; for example:
  ${bridge.etcdctl("get / --prefix --keys-only")}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void bridge.stop().then(() => process.exit(0)));
