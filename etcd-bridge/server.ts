// The bridge: a gRPC server speaking etcd's v3 API (KV, Watch, Lease, Cluster.MemberList,
// Maintenance.Status and Snapshot) with TLS and client certificates, in front of an edgeplane
// Worker's admin etcd path. etcdctl and other etcd clients point at it unchanged.
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { Gateway } from "./gateway.ts";
import { etcdCertificates, type EtcdCertificates } from "./pki.ts";
import { EtcdServices, loadEtcdServices } from "./services.ts";

export const DEFAULT_LISTEN = "127.0.0.1:2379";

export interface EtcdBridgeOptions {
  /** The edgeplane URL, e.g. https://127.0.0.1:8787. */
  server: string;
  /** The cluster admin's bearer token. */
  token: string;
  /** PEM of the CA behind the server's certificate when it is not publicly trusted. */
  serverCa?: string;
  /** host:port to listen on (port 0 picks a free one). */
  listen?: string;
  /** Where the bridge's CA, server and client certificates live (made when missing). */
  certDir: string;
}

export interface EtcdBridge {
  /** https://host:port, what etcdctl's --endpoints takes. */
  endpoint: string;
  certificates: EtcdCertificates;
  /** The etcdctl command line (ETCDCTL_API=3 and the TLS flags) followed by `args`. */
  etcdctl(args: string): string;
  stop(): Promise<void>;
}

function splitHostPort(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(":");
  const port = Number(listen.slice(at + 1));
  if (at < 1 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--listen ${listen} is not host:port`);
  return { host: listen.slice(0, at).replace(/^\[|\]$/g, ""), port };
}

export async function startEtcdBridge(options: EtcdBridgeOptions): Promise<EtcdBridge> {
  const { host, port } = splitHostPort(options.listen ?? DEFAULT_LISTEN);
  const certificates = etcdCertificates(options.certDir, [host]);
  const credentials = grpc.ServerCredentials.createSsl(
    readFileSync(certificates.caCert),
    [{ private_key: readFileSync(certificates.serverKey), cert_chain: readFileSync(certificates.serverCert) }],
    true,
  );
  const gateway = new Gateway({ server: options.server, token: options.token, ca: options.serverCa });
  const server = new grpc.Server({ "grpc.max_receive_message_length": 2 * 1024 * 1024, "grpc.keepalive_permit_without_calls": 1 });
  // The member's client URL is known once the port is bound.
  const identity = { clientURL: "" };
  const services = new EtcdServices(gateway, identity);
  const definitions = loadEtcdServices();
  server.addService(definitions.KV, services.kv);
  server.addService(definitions.Watch, services.watch);
  server.addService(definitions.Lease, services.lease);
  server.addService(definitions.Cluster, services.clusterService);
  server.addService(definitions.Maintenance, services.maintenance);
  const address = host.includes(":") ? `[${host}]` : host;
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${address}:${port}`, credentials, (e, p) => (e ? reject(e) : resolve(p))));
  const endpoint = `https://${address}:${bound}`;
  identity.clientURL = endpoint;
  return {
    endpoint,
    certificates,
    etcdctl: (args) => `ETCDCTL_API=3 etcdctl --endpoints=${endpoint} --cacert ${certificates.caCert} --cert ${certificates.clientCert} --key ${certificates.clientKey} ${args}`,
    stop: () => new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.forceShutdown(), 2000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        gateway.close();
        resolve();
      });
    }),
  };
}
