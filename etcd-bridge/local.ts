// `npm start`'s etcd bridge: etcd's gRPC API for the local control plane on 127.0.0.1:2379
// (ETCD_BRIDGE_LISTEN to change), certificates in .edgeplane/etcd/, and the etcdctl line to use.
import { join } from "node:path";
import { LOCAL_FILES } from "./connection.ts";
import { DEFAULT_LISTEN, startEtcdBridge, type EtcdBridge } from "./server.ts";

/** Starts the bridge for a running control plane; a busy port is reported, not fatal. */
export async function startLocalEtcdBridge(plane: { url: string; token: string; caPem?: string }): Promise<EtcdBridge | undefined> {
  const listen = process.env.ETCD_BRIDGE_LISTEN ?? DEFAULT_LISTEN;
  try {
    const bridge = await startEtcdBridge({
      server: plane.url, token: plane.token, serverCa: plane.caPem, listen, certDir: join(LOCAL_FILES, "etcd"),
    });
    console.log(`  etcd's gRPC API (etcdctl 3.4, admin only) is on ${bridge.endpoint}:
    ${bridge.etcdctl("get / --prefix --keys-only")}`);
    return bridge;
  } catch (e) {
    console.log(`  the etcd bridge could not listen on ${listen} (${(e as Error).message}); set ETCD_BRIDGE_LISTEN, or run npm run etcd-bridge`);
    return undefined;
  }
}
