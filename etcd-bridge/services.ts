// etcd's gRPC services as the bridge serves them, each call translated to the Worker's etcd path.
// Messages are loaded with etcd's proto field names, bytes as base64, int64 as decimal strings and
// enums by name: exactly etcd's JSON gateway encoding, so most calls pass through unchanged.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { GatewayError, type ClusterInfo, type Gateway, type GatewayStream, type Json } from "./gateway.ts";
import { mergeRangeResponses, shardForRequest, shardLayout, spansShards, type ShardLayout } from "./shard-ranges.ts";
import { snapshotChunks } from "./snapshot.ts";

const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), "proto");

/** The etcd version the bridge reports: the API it speaks. */
export const ETCD_API_VERSION = "3.4.0";
/** How long the cluster's shard layout is trusted before it is read again. */
const LAYOUT_TTL_MS = 30_000;

export function loadEtcdServices() {
  const definition = protoLoader.loadSync(join(PROTO_DIR, "rpc.proto"), {
    includeDirs: [PROTO_DIR], keepCase: true, longs: String, enums: String, bytes: String, defaults: false, oneofs: false,
  });
  const etcd = grpc.loadPackageDefinition(definition).etcdserverpb as Record<string, grpc.ServiceClientConstructor>;
  return {
    KV: etcd.KV!.service, Watch: etcd.Watch!.service, Lease: etcd.Lease!.service,
    Cluster: etcd.Cluster!.service, Maintenance: etcd.Maintenance!.service,
  };
}

type Unary = (call: grpc.ServerUnaryCall<Json, Json>, callback: grpc.sendUnaryData<Json>) => void;

function grpcError(e: unknown): Partial<grpc.StatusObject> {
  if (e instanceof GatewayError) return { code: e.code, details: e.message };
  return { code: grpc.status.INTERNAL, details: `edgeplane bridge: ${(e as Error)?.message ?? String(e)}` };
}

function unary(run: (request: Json) => Promise<Json>): Unary {
  return (call, callback) => {
    run(call.request).then((answer) => callback(null, answer), (e) => callback(grpcError(e)));
  };
}

export interface BridgeIdentity {
  /** Where etcdctl reaches the bridge, reported as the member's client URL. */
  clientURL: string;
}

export class EtcdServices {
  private layout: { value: ShardLayout; info: ClusterInfo; at: number } | undefined;
  private readonly gateway: Gateway;
  private readonly identity: BridgeIdentity;

  constructor(gateway: Gateway, identity: BridgeIdentity) {
    this.gateway = gateway;
    this.identity = identity;
  }

  /** The cluster's shards, read from the Worker at most every LAYOUT_TTL_MS. */
  private async cluster(): Promise<{ layout: ShardLayout; info: ClusterInfo }> {
    if (!this.layout || Date.now() - this.layout.at > LAYOUT_TTL_MS) {
      const info = await this.gateway.cluster();
      this.layout = { value: shardLayout(info.shards), info, at: Date.now() };
    }
    return { layout: this.layout.value, info: this.layout.info };
  }

  /** Fresh status of every shard (revisions move). */
  private async status(): Promise<{ info: ClusterInfo; main: ClusterInfo["shards"][number] }> {
    const info = await this.gateway.cluster();
    this.layout = { value: shardLayout(info.shards), info, at: Date.now() };
    return { info, main: info.shards[0]! };
  }

  // ---- KV ----

  readonly kv = {
    Range: unary(async (request) => {
      const { layout } = await this.cluster();
      if (!spansShards(layout, request)) return this.gateway.post("/v3/kv/range", request);
      if (request.revision && request.revision !== "0") {
        throw new GatewayError(grpc.status.INVALID_ARGUMENT,
          "edgeplane: a read at a past revision cannot span store shards (each has its own revisions); read each shard's keys on their own");
      }
      const answers = await Promise.all(layout.names.map((shard) => this.gateway.post(`/shards/${shard}/v3/kv/range`, request)));
      return mergeRangeResponses(request, answers);
    }),
    Put: unary((request) => this.gateway.post("/v3/kv/put", request)),
    DeleteRange: unary((request) => this.gateway.post("/v3/kv/deleterange", request)),
    Txn: unary((request) => this.gateway.post("/v3/kv/txn", request)),
    Compact: unary((request) => this.gateway.post("/v3/kv/compaction", request)),
  };

  // ---- Lease ----

  readonly lease = {
    LeaseGrant: unary((request) => this.gateway.post("/v3/lease/grant", request)),
    LeaseRevoke: unary((request) => this.gateway.post("/v3/lease/revoke", request)),
    LeaseTimeToLive: unary((request) => this.gateway.post("/v3/lease/timetolive", request)),
    LeaseLeases: unary((request) => this.gateway.post("/v3/lease/leases", request)),
    /** Each keep-alive request is one gateway call; answers go back in request order. */
    LeaseKeepAlive: (call: grpc.ServerDuplexStream<Json, Json>) => {
      let chain = Promise.resolve();
      let failed = false;
      call.on("data", (request: Json) => {
        chain = chain.then(async () => {
          if (failed) return;
          try {
            call.write(await this.gateway.post("/v3/lease/keepalive", request));
          } catch (e) {
            failed = true;
            call.emit("error", grpcError(e));
          }
        });
      });
      call.on("end", () => void chain.then(() => failed || call.end()));
    },
  };

  // ---- Watch ----

  readonly watch = {
    Watch: (call: grpc.ServerDuplexStream<Json, Json>) => new WatchBridge(this.gateway, call, () => this.cluster()).start(),
  };

  // ---- Cluster and Maintenance ----

  readonly clusterService = {
    MemberList: unary(async () => {
      const { info, main } = await this.status();
      return {
        header: header(main),
        members: [{ ID: main.member_id, name: info.cluster, peerURLs: [this.gateway.server], clientURLs: [this.identity.clientURL] }],
      };
    }),
  };

  readonly maintenance = {
    Status: unary(async () => {
      const { info, main } = await this.status();
      const dbSize = String(info.shards.reduce((n, s) => n + s.db_size, 0));
      return {
        header: header(main), version: ETCD_API_VERSION, dbSize, dbSizeInUse: dbSize, leader: main.member_id,
        raftIndex: String(main.revision), raftTerm: "1", raftAppliedIndex: String(main.revision),
      };
    }),
    /** The cluster's snapshot (every shard at its own revision) in edgeplane's snapshot format. */
    Snapshot: (call: grpc.ServerWritableStream<Json, Json>) => {
      void (async () => {
        try {
          const { main } = await this.status();
          for await (const chunk of snapshotChunks(this.gateway)) {
            if (call.cancelled) return;
            if (!call.write({ header: header(main), blob: chunk.toString("base64") })) await new Promise((r) => call.once("drain", r));
          }
          call.end();
        } catch (e) {
          call.emit("error", grpcError(e));
        }
      })();
    },
  };
}

function header(shard: ClusterInfo["shards"][number]): Json {
  return { cluster_id: shard.cluster_id, member_id: shard.member_id, revision: String(shard.revision), raft_term: "1" };
}

/**
 * One gRPC watch stream: a gateway watch stream per shard its watchers need, opened on first use.
 * The bridge numbers watchers itself (as etcd does, from 0 on the stream) so that ids stay unique
 * across shards, and sends each cancel to the shard its watcher lives on.
 */
class WatchBridge {
  private readonly streams = new Map<string, GatewayStream>();
  private readonly shardOf = new Map<string, string>();
  private nextId = 0;
  private closed = false;
  private queue = Promise.resolve();
  private readonly gateway: Gateway;
  private readonly call: grpc.ServerDuplexStream<Json, Json>;
  private readonly layout: () => Promise<{ layout: ShardLayout; info: ClusterInfo }>;

  constructor(gateway: Gateway, call: grpc.ServerDuplexStream<Json, Json>, layout: () => Promise<{ layout: ShardLayout; info: ClusterInfo }>) {
    this.gateway = gateway;
    this.call = call;
    this.layout = layout;
  }

  start(): void {
    this.call.on("data", (request: Json) => {
      this.queue = this.queue.then(() => this.handle(request)).catch((e) => this.fail(grpcError(e)));
    });
    this.call.on("end", () => this.close());
    this.call.on("cancelled", () => this.close());
    this.call.on("error", () => this.close());
  }

  private async handle(request: Json): Promise<void> {
    if (this.closed) return;
    const create = request.create_request as Json | undefined;
    if (create) {
      const { layout, info } = await this.layout();
      if (spansShards(layout, create)) {
        // Refused as etcd refuses a watch it cannot make: created and canceled at once, with a header (clients read it).
        this.call.write({ header: header(info.shards[0]!), watch_id: "-1", created: true, canceled: true,
          cancel_reason: "edgeplane: a watch cannot span store shards (each has its own revisions); watch each shard's keys on their own" });
        return;
      }
      const shard = shardForRequest(layout, create);
      let id = Number(create.watch_id ?? 0);
      if (!id) {
        while (this.shardOf.has(String(this.nextId))) this.nextId++;
        id = this.nextId++;
      }
      this.shardOf.set(String(id), shard);
      this.send(shard, { create_request: { ...create, watch_id: String(id) } });
      return;
    }
    const cancel = request.cancel_request as Json | undefined;
    if (cancel) {
      const id = String(cancel.watch_id ?? 0);
      const shard = this.shardOf.get(id);
      if (shard) this.send(shard, request);
      return;
    }
    // A progress request: the first stream answers it with its shard's revision.
    const [first] = this.streams.values();
    first?.send(request);
  }

  private send(shard: string, request: Json): void {
    const open = this.streams.get(shard);
    if (open) return open.send(request);
    this.streams.set(shard, this.gateway.watch(`/shards/${shard}/v3/watch`, request,
      (message) => {
        if (this.closed) return;
        // A watcher the store canceled is gone: its id may be used again.
        if (message.canceled) this.shardOf.delete(String(message.watch_id ?? 0));
        this.call.write(message);
      },
      (error) => this.fail(grpcError(error ?? new GatewayError(grpc.status.UNAVAILABLE, "edgeplane: the watch stream ended")))));
  }

  private fail(status: Partial<grpc.StatusObject>): void {
    if (this.closed) return;
    this.close();
    this.call.emit("error", status);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.streams.values()) stream.close();
    this.streams.clear();
  }
}
