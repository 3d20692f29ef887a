// What `npm start` is asked to serve: the port (PORT) and the cluster name (`--cluster NAME` or
// CLUSTER_NAME; wrangler.toml's "default" otherwise), so a snapshot restored into a new cluster
// name can be served locally.
import { parseArgs } from "node:util";

export interface StartOptions {
  port: number;
  /** The cluster the Worker serves; undefined keeps wrangler.toml's CLUSTER_NAME. */
  cluster?: string;
}

/** The names the Worker's admin endpoints accept for `?cluster=` (worker/etcd-admin.ts). */
const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export const START_USAGE = "usage: npm start [-- --cluster NAME]   (or CLUSTER_NAME=NAME npm start; PORT=… for another port)";

export function startOptions(args: string[], env: NodeJS.ProcessEnv): StartOptions {
  const { values } = parseArgs({ args, options: { cluster: { type: "string" } } });
  const cluster = values.cluster ?? (env.CLUSTER_NAME || undefined);
  if (cluster !== undefined && !CLUSTER_NAME.test(cluster)) {
    throw new Error(`${JSON.stringify(cluster)} is not a cluster name: letters, digits, ".", "_" and "-", at most 63, starting with a letter or digit`);
  }
  const port = Number(env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`PORT=${JSON.stringify(env.PORT)} is not a TCP port`);
  return { port, cluster };
}

/** The Worker vars these options set on top of wrangler.toml's. */
export function startVars(options: StartOptions): Record<string, string> {
  return options.cluster ? { CLUSTER_NAME: options.cluster } : {};
}
