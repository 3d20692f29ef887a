// StoreShard: one etcd member as a SQLite-backed Durable Object. This file is its surface: RPC
// methods for KV, txn, lease and compaction, WebSocket watch streams, and the alarm that expires
// leases, compacts history and sends progress notifications.
import { DurableObject } from "cloudflare:workers";
import { drizzle } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";
import migrations from "../../migrations/migrations.js";
import { settle, type StoreResult } from "../../lib/etcd/errors.ts";
import { headerIdentity } from "../../lib/etcd/gateway-json.ts";
import type { ShardSnapshotHead, SnapshotCursor, SnapshotEntry, SnapshotPage } from "../../lib/etcd/snapshot.ts";
import type {
  CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, LeaseGrantRequest, LeaseGrantResponse,
  LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse, PutRequest, PutResponse,
  RangeRequest, RangeResponse, ResponseHeader, TxnRequest, TxnResponse,
} from "../../lib/etcd/messages.ts";
import { CommitGroup } from "./commit-group.ts";
import { clusterOfStoreObject, CONTROLLER_POKES, Pokes, SCHEDULER_POKES } from "./pokes.ts";
import { Mvcc, type Commit } from "./mvcc.ts";
import * as schema from "./schema.ts";
import { ShardSnapshots } from "./snapshot.ts";
import { WatchHub } from "./watch.ts";

export interface StoreSettings {
  retainRevisions: number;
  retainMs: number;
  progressNotifyMs: number;
}

/** The store's settings when wrangler.toml's [vars] leave them out: the one place they are defaulted. */
export const STORE_DEFAULTS = { COMPACTION_RETAIN_REVISIONS: 10_000, COMPACTION_RETAIN_MINUTES: 5, WATCH_PROGRESS_NOTIFY_SECONDS: 60 };

export function storeSettings(env: Env): StoreSettings {
  const number = (text: string | undefined, fallback: number) => {
    const n = Number(text);
    return text !== undefined && text !== "" && Number.isFinite(n) && n >= 0 ? n : fallback;
  };
  return {
    retainRevisions: number(env.COMPACTION_RETAIN_REVISIONS, STORE_DEFAULTS.COMPACTION_RETAIN_REVISIONS),
    retainMs: number(env.COMPACTION_RETAIN_MINUTES, STORE_DEFAULTS.COMPACTION_RETAIN_MINUTES) * 60_000,
    progressNotifyMs: number(env.WATCH_PROGRESS_NOTIFY_SECONDS, STORE_DEFAULTS.WATCH_PROGRESS_NOTIFY_SECONDS) * 1000,
  };
}

/** How long after the first write the compaction policy is next looked at. */
const compactionCheckMs = (settings: StoreSettings) => Math.max(settings.retainMs, 60_000);

export class StoreShard extends DurableObject<Env> {
  private readonly mvcc: Mvcc;
  private readonly watches: WatchHub;
  private readonly settings: StoreSettings;
  private readonly commits: CommitGroup;
  private readonly pokes: Pokes | undefined;
  private readonly snapshots: ShardSnapshots;
  private alarmAt: number | null = null;
  private compactionDue: number | null = null;
  private progressDue: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const db = drizzle(ctx.storage, { schema });
    this.settings = storeSettings(env);
    this.mvcc = new Mvcc(db, ctx.storage);
    this.commits = new CommitGroup(ctx.storage);
    this.snapshots = new ShardSnapshots(db, ctx.storage, this.mvcc);
    this.watches = new WatchHub(ctx, this.mvcc, headerIdentity(ctx.id.toString()));
    this.mvcc.wantsPrevKv = (key) => this.watches.wantsPrevKv(key);
    const cluster = clusterOfStoreObject(ctx.id.name);
    if (cluster) {
      const targets = [
        ...(env.KUBE_SCHEDULER_ENABLED === "false" ? [] : [SCHEDULER_POKES]),
        ...(env.KUBE_CONTROLLER_MANAGER_ENABLED === "false" ? [] : [CONTROLLER_POKES]),
      ];
      this.pokes = new Pokes(env, cluster, targets);
    }
    void ctx.blockConcurrencyWhile(async () => {
      migrate(db, migrations);
      this.mvcc.load();
      this.alarmAt = await ctx.storage.getAlarm();
      if (this.watches.hasProgressWatchers()) this.scheduleProgress();
    });
  }

  // ---- KV ----

  range(req: RangeRequest): StoreResult<RangeResponse> {
    return settle(() => this.mvcc.range(req));
  }

  put(req: PutRequest): Promise<StoreResult<PutResponse>> {
    return this.commits.run(() => settle(() => this.committed(this.mvcc.put(req))));
  }

  deleteRange(req: DeleteRangeRequest): Promise<StoreResult<DeleteRangeResponse>> {
    return this.commits.run(() => settle(() => this.committed(this.mvcc.deleteRange(req))));
  }

  txn(req: TxnRequest): Promise<StoreResult<TxnResponse>> {
    return this.commits.run(() => settle(() => this.committed(this.mvcc.txn(req))));
  }

  compact(req: CompactionRequest): StoreResult<CompactionResponse> {
    return settle(() => this.mvcc.compact(req.revision));
  }

  /** The current revision, compaction floor and database size; readiness and etcd's Status ask this. */
  status(): { header: ResponseHeader; compactRevision: number; dbSize: number } {
    return { header: { revision: this.mvcc.revision }, compactRevision: this.mvcc.compactRevision, dbSize: this.ctx.storage.sql.databaseSize };
  }

  // ---- leases ----

  leaseGrant(req: LeaseGrantRequest): StoreResult<LeaseGrantResponse> {
    return settle(() => {
      const response = this.mvcc.leaseGrant(req);
      this.alarmBy(Date.now() + response.TTL * 1000);
      return response;
    });
  }

  leaseRevoke(id: number): Promise<StoreResult<{ header: ResponseHeader }>> {
    return this.commits.run(() => settle(() => this.committed(this.mvcc.leaseRevoke(id))));
  }

  leaseKeepAlive(id: number): StoreResult<LeaseKeepAliveResponse> {
    return settle(() => this.mvcc.leaseKeepAlive(id));
  }

  leaseTimeToLive(req: LeaseTimeToLiveRequest): StoreResult<LeaseTimeToLiveResponse> {
    return settle(() => this.mvcc.leaseTimeToLive(req));
  }

  leaseLeases(): StoreResult<LeaseLeasesResponse> {
    return settle(() => this.mvcc.leaseLeases());
  }

  // ---- snapshots (admin only, through the Worker's etcd path) ----

  snapshotHead(): StoreResult<ShardSnapshotHead> {
    return settle(() => this.snapshots.head());
  }

  snapshotPage(head: ShardSnapshotHead, after?: SnapshotCursor): StoreResult<SnapshotPage> {
    return settle(() => this.snapshots.page(head, after));
  }

  restoreBegin(): StoreResult<{ header: ResponseHeader }> {
    return settle(() => (this.snapshots.restoreBegin(), { header: { revision: this.mvcc.revision } }));
  }

  restoreEntries(entries: SnapshotEntry[]): StoreResult<{ header: ResponseHeader }> {
    return settle(() => (this.snapshots.restoreEntries(entries), { header: { revision: this.mvcc.revision } }));
  }

  restoreFinish(head: ShardSnapshotHead): StoreResult<{ header: ResponseHeader }> {
    return settle(() => {
      this.snapshots.restoreFinish(head);
      const expiry = this.mvcc.nextLeaseExpiry();
      if (expiry !== undefined) this.alarmBy(expiry);
      return { header: { revision: this.mvcc.revision } };
    });
  }

  // ---- watch ----

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("the store answers watch streams over WebSocket only", { status: 426 });
    }
    return this.watches.accept(new URL(request.url).searchParams.get("events") === "binary");
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.watches.onMessage(ws, message);
    if (this.progressDue === null && this.watches.hasProgressWatchers()) this.scheduleProgress();
  }

  override async webSocketClose(ws: WebSocket): Promise<void> {
    this.watches.onClose(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.watches.onClose(ws);
  }

  // ---- the alarm: lease expiry, compaction, progress notifications ----

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const now = Date.now();
    for (const id of this.mvcc.expiredLeases()) this.committed(this.mvcc.leaseRevoke(id));
    if (this.compactionDue !== null && now >= this.compactionDue) {
      this.compactionDue = null;
      const target = this.mvcc.autoCompactionTarget(this.settings.retainRevisions, this.settings.retainMs);
      if (target !== undefined) this.mvcc.compact(target);
    }
    if (this.progressDue !== null && now >= this.progressDue) {
      this.progressDue = null;
      this.watches.notifyProgress();
      if (this.watches.hasProgressWatchers()) this.scheduleProgress();
    }
    const next = [this.mvcc.nextLeaseExpiry(), this.compactionDue, this.progressDue].filter((t) => t != null);
    if (next.length) this.alarmBy(Math.min(...next));
  }

  /** After a write: tell watchers, and make sure the compaction policy looks at it later. */
  private committed<R>(result: { response: R; commit: Commit }): R {
    if (result.commit.events.length) {
      this.watches.publish(result.commit);
      this.pokes?.committed(result.commit);
      if (this.compactionDue === null) {
        this.compactionDue = Date.now() + compactionCheckMs(this.settings);
        this.alarmBy(this.compactionDue);
      }
    }
    return result.response;
  }

  private scheduleProgress(): void {
    this.progressDue = Date.now() + this.settings.progressNotifyMs;
    this.alarmBy(this.progressDue);
  }

  /** Makes sure the alarm fires no later than `at`. */
  private alarmBy(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }
}
