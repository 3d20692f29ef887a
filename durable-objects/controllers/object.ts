// KubeControllerManager: kube-controller-manager as a Durable Object, one per cluster. It wakes when
// the store pokes it (the objects its controllers watch changed) and on its own alarm (the earliest
// queued key: retries, minReadySeconds, progress deadlines); catches up through the API as
// system:kube-controller-manager with informers whose caches and cursors live in its SQLite;
// reconciles the queued keys until nothing is due; and sleeps, holding no socket.
import { DurableObject } from "cloudflare:workers";
import { ApiClient, type KubeObject } from "../../lib/client/api-client.ts";
import { EventRecorder } from "../../lib/client/event-recorder.ts";
import { byNodeName, byOwnerUid, Informer } from "../../lib/client/informer.ts";
import { AlarmWakes, type WakeOutcome } from "../../lib/client/alarm-wakes.ts";
import { LeaderLease } from "../../lib/client/leader-lease.ts";
import { SqliteCache } from "../../lib/client/sqlite-cache.ts";
import { objectKey, type CacheWrite } from "../../lib/client/informer-cache.ts";
import type { Lister } from "../../lib/client/informer.ts";
import { SqliteQueueStore } from "../../lib/client/sqlite-queue.ts";
import type { PokeNews, StoreChanges } from "../../lib/client/store-changes.ts";
import { WorkQueue } from "../../lib/client/work-queue.ts";
import type { ResourceNames } from "../../lib/k8s/resources.ts";
import { kubeTime } from "../../lib/k8s/time.ts";
import { clusterRoleAggregationController } from "./clusterrole-aggregation.ts";
import { cronJobController } from "./cronjob.ts";
import { daemonSetController } from "./daemonset.ts";
import { deploymentController } from "./deployment.ts";
import { endpointsController } from "./endpoints.ts";
import { endpointSliceController } from "./endpointslice.ts";
import { NODE_NAME_INDEX, ORPHAN_INDEX, orphansByNamespace, OWNER_INDEX, resourceId, type Controller, type Listers, type ReconcileContext, type Watch } from "./framework.ts";
import { garbageCollector } from "./garbage-collector.ts";
import { jobController } from "./job.ts";
import { namespaceController } from "./namespace.ts";
import { nodeIpamController } from "./node-ipam.ts";
import { nodeLifecycleController } from "./node-lifecycle.ts";
import { podGcController } from "./pod-gc.ts";
import { persistentVolumeBinderController } from "./persistentvolume-binder.ts";
import { pvcProtectionController } from "./pvc-protection.ts";
import { pvProtectionController } from "./pv-protection.ts";
import { replicaSetController } from "./replicaset.ts";
import { replicationControllerController } from "./replicationcontroller.ts";
import { disruptionController, stalePodDisruptionController } from "./disruption.ts";
import { resourceQuotaController } from "./resourcequota.ts";
import { horizontalPodAutoscalerController } from "./horizontal-pod-autoscaler.ts";
import { NO_CA_NOTE, rootCaPublisher } from "./root-ca-publisher.ts";
import { serviceAccountController } from "./serviceaccount.ts";
import { serviceLoadBalancerController } from "./service-lb.ts";
import { statefulSetController } from "./statefulset.ts";
import { taintEvictionController } from "./taint-eviction.ts";
import { ttlAfterFinishedController } from "./ttlafterfinished.ts";
import { controllerSettings, type ControllerSettings } from "./settings.ts";


/** The controllers this manager runs, as kube-controller-manager's --controllers list. */
export const CONTROLLERS: readonly Controller[] = [replicaSetController, deploymentController, garbageCollector, namespaceController, jobController, cronJobController, daemonSetController, statefulSetController, ttlAfterFinishedController,
  nodeIpamController, nodeLifecycleController, taintEvictionController, podGcController, endpointSliceController, endpointsController,
  serviceAccountController, rootCaPublisher, clusterRoleAggregationController, persistentVolumeBinderController,
  pvcProtectionController, pvProtectionController,
  replicationControllerController, disruptionController, stalePodDisruptionController, resourceQuotaController, horizontalPodAutoscalerController(), serviceLoadBalancerController];

/**
 * How long one wake may work before it yields (and sets an alarm for now): a Durable Object's alarm
 * gets 30 s of CPU, and a first list of a large cluster takes minutes of it, so a wake lists, resyncs
 * and reconciles for about this long and the next wake goes on. Wall time bounds CPU time; workerd's
 * clock moves only at I/O (a page fetched, a write) and timers, so the CPU-only steps (a resync's
 * walk, a pass of reconciles that write nothing) are bounded by count too.
 */
const BATCH_MS = 2_000;
/** Keys taken from the queues for one pass of reconciles (the next pass first catches up to see their writes). */
const PASS_KEYS = 1_000;
/** Cached objects a resync walks between two looks at the clock. */
const RESYNC_OBJECTS = 5_000;
/** Keys reconciled at once. */
const CONCURRENCY = 16;
/** Informers caught up at once. */
const CATCH_UP_CONCURRENCY = 4;

/** "pods", "replicasets.apps": a resource as kube names it, from its informer's id (group/version/resource). */
const resourceName = (id: string) => {
  const [group, , resource] = id.split("/");
  return group ? `${resource}.${group}` : resource!;
};

/** Lets workerd's clock move (it stands still while the isolate computes), so the next look at it means something. */
const clockTick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export interface ControllerManagerStatus {
  lastWake?: string;
  /**
   * Resources ("pods", "replicasets.apps") whose list is still under way (a first list, or a
   * relist after its cursor was compacted, spread over several wakes): nothing is reconciled until
   * every cache is full, as kube's controllers wait for their caches to sync.
   */
  listing?: string[];
  /** Keys reconciled by the last wake, and how many of them failed (they are retried with back-off). */
  reconciled: number;
  failed: number;
  error?: string;
  /** What the controllers cannot do as configured (no CLUSTER_CA_PEM: no kube-root-ca.crt). */
  notes?: string[];
}

const slim = <T extends KubeObject>(object: T): T => {
  const { managedFields: _managed, ...metadata } = object.metadata ?? {};
  return { ...object, metadata };
};

/** What a cache keeps of objects only read for their metadata (the garbage collector's). */
const metadataOnly = <T extends KubeObject>(object: T): T => {
  const { managedFields: _managed, ...metadata } = object.metadata ?? {};
  return { apiVersion: object.apiVersion, kind: object.kind, metadata } as T;
};

/** An informer cache that says when it changes (so lookups remembered for event handlers are dropped). */
class ManagerCache<T extends KubeObject> extends SqliteCache<T> {
  private readonly changed: () => void;

  constructor(storage: DurableObjectStorage, name: string, changed: () => void) {
    super(storage, name);
    this.changed = changed;
  }

  override apply(write: CacheWrite<T>): void {
    super.apply(write);
    this.changed();
  }
}

interface Running {
  controller: Controller;
  queue: WorkQueue;
  recorder: EventRecorder;
}

class Runtime {
  readonly client: ApiClient;
  readonly lease: LeaderLease;
  readonly running: Running[] = [];
  private readonly informers = new Map<string, Informer<KubeObject>>();
  /** The informers made for dynamic watches, by resource id: dropped when no controller names their resource. */
  private readonly dynamic = new Set<string>();
  readonly listers: Listers;
  /**
   * The resync after a (re)start, as kube's controllers queue every object on start: for each
   * controller, the key of the last object of its primary resource queued so far (walked in key
   * order, a page at a time, over as many wakes as it takes); `done` once every controller's is.
   */
  private readonly resync = { next: 0, after: undefined as string | undefined, done: false };
  /**
   * Resources whose caches had been listed before this (re)start. A cache listed since handed every
   * object to the handlers as an add, which queued each key every controller derives from it (pages
   * listed before a restart in the middle were queued then, and queues survive restarts), so the
   * resync walks only these.
   */
  private readonly listedBefore: Set<string>;

  readonly settings: ControllerSettings;
  private readonly storage: DurableObjectStorage;
  private readonly wholeObjectsRead: Set<string>;
  private readonly changes: StoreChanges;
  /**
   * What event handlers' `keysFor` read, remembered until a cache changes: a batch of pod events
   * asks for the same Node, the same owner and the same namespace's Services again and again.
   * keysFor only reads what it is given, so the objects are shared.
   */
  private readonly remembered = new Map<string, unknown>();
  /** Resources caught up at most every so many ms (Watch.catchUpEveryMs), and when each last was. */
  private readonly catchUpEvery = new Map<string, number>();
  private readonly caughtUpAt = new Map<string, number>();
  private readonly handlerListers: Listers;

  private readonly listPageSize: number;

  constructor(storage: DurableObjectStorage, api: Fetcher, identity: string, settings: ControllerSettings, changes: StoreChanges, listPageSize: number) {
    this.settings = settings;
    this.listPageSize = listPageSize;
    this.storage = storage;
    this.changes = changes;
    this.client = new ApiClient({
      fetch: (request) => api.fetch(request), baseUrl: "https://kube-controller-manager.internal", userAgent: "kube-controller-manager/edgeplane",
      // The next catch-up re-watches what this wake wrote, so no key is reconciled again before its own writes are seen.
      onWrite: (resource) => changes.wrote(resource),
    });
    this.lease = new LeaderLease(this.client, { name: "kube-controller-manager", identity });
    this.listers = {
      of: <T extends KubeObject>(resource: ResourceNames) => {
        const informer = this.informers.get(resourceId(resource));
        if (!informer) throw new Error(`no controller watches ${resourceId(resource)}`);
        return informer.lister as unknown as import("../../lib/client/informer.ts").Lister<T>;
      },
      has: (resource) => this.informers.has(resourceId(resource)),
    };
    this.handlerListers = {
      of: <T extends KubeObject>(resource: ResourceNames): Lister<T> => {
        const lister = this.listers.of<T>(resource);
        const id = resourceId(resource);
        return {
          get: (namespace, name) => this.remember(`${id} get ${namespace ?? ""}/${name}`, () => lister.get(namespace, name)),
          list: (...args: Parameters<Lister<T>["list"]>) => this.remember(`${id} list ${JSON.stringify(args)}`, () => lister.list(...args)),
          byIndex: (index, value) => this.remember(`${id} index ${index}=${value}`, () => lister.byIndex(index, value)),
          each: (visit) => lister.each(visit),
          page: (after, limit) => lister.page(after, limit),
        };
      },
      has: (resource) => this.listers.has(resource),
    };
    const watches = CONTROLLERS.flatMap((c) => c.watches);
    for (const id of new Set(watches.map((w) => resourceId(w.resource)))) {
      const every = watches.filter((w) => resourceId(w.resource) === id).map((w) => w.catchUpEveryMs);
      if (every.every((ms) => ms !== undefined)) this.catchUpEvery.set(id, Math.min(...(every as number[])));
    }
    this.wholeObjectsRead = new Set(CONTROLLERS.flatMap((c) => c.watches.filter((w) => !w.metadataOnly).map((w) => resourceId(w.resource))));
    for (const controller of CONTROLLERS) {
      const queue = new WorkQueue({ store: new SqliteQueueStore(storage, `controllers/${controller.name}`) });
      // kube-controller-manager's recorder (tools/record) aggregates similar Events and drops spam about one object.
      const recorder = new EventRecorder(this.client, { reportingController: controller.name, reportingInstance: identity, correlate: true });
      const running = { controller, queue, recorder };
      this.running.push(running);
      for (const watch of controller.watches) this.watch(running, watch);
    }
    this.listedBefore = new Set([...this.informers].filter(([, informer]) => informer.hasSynced).map(([id]) => id));
  }

  /** Feeds a watch's keys to a controller's queue, from the resource's one informer (made on first use). */
  private watch({ queue }: Running, watch: Watch): Informer<KubeObject> {
    const id = resourceId(watch.resource);
    let informer = this.informers.get(id);
    if (!informer) {
      // A cache of another projection is another cache: switching lists afresh.
      const [project, cacheName] = this.wholeObjectsRead.has(id) ? [slim, `controllers/${id}`] : [metadataOnly, `controllers/${id}#metadata`];
      informer = new Informer<KubeObject>(this.client.resource<KubeObject>(watch.resource), { cache: new ManagerCache<KubeObject>(this.storage, cacheName, () => this.remembered.clear()), project, changes: this.changes, pageSize: this.listPageSize, indexLabels: true, indexers: { [OWNER_INDEX]: byOwnerUid, [NODE_NAME_INDEX]: byNodeName, [ORPHAN_INDEX]: orphansByNamespace } });
      this.informers.set(id, informer);
    }
    const enqueue = (...objects: KubeObject[]) => {
      for (const object of objects) for (const key of watch.keysFor(object, this.handlerListers)) queue.add(key);
    };
    informer.addEventHandler({ onAdd: (o) => enqueue(o), onUpdate: (old, o) => enqueue(old, o), onDelete: (o) => enqueue(o) });
    return informer;
  }

  private remember<R>(key: string, read: () => R): R {
    if (this.remembered.has(key)) return this.remembered.get(key) as R;
    const value = read();
    this.remembered.set(key, value);
    return value;
  }

  /**
   * Informers for the resources the controllers' dynamic watches name now (a CRD established),
   * none for those they no longer name (a CRD deleted). A dropped informer's cache stays in SQLite
   * with its cursor: a resource served again resumes from it (or relists on 410).
   */
  private async syncDynamicWatches(signal?: AbortSignal): Promise<void> {
    const wanted = new Map<string, { running: Running; watch: Watch }[]>();
    for (const running of this.running) {
      for (const watch of running.controller.dynamicWatches?.(this.listers) ?? []) {
        const id = resourceId(watch.resource);
        if (this.informers.has(id) && !this.dynamic.has(id)) continue;
        wanted.set(id, [...(wanted.get(id) ?? []), { running, watch }]);
      }
    }
    for (const id of this.dynamic) {
      if (wanted.has(id)) continue;
      this.informers.delete(id);
      this.dynamic.delete(id);
    }
    for (const [id, watches] of wanted) {
      if (this.dynamic.has(id)) continue;
      let informer: Informer<KubeObject> | undefined;
      for (const { running, watch } of watches) informer = this.watch(running, watch);
      this.dynamic.add(id);
      await informer!.catchUp(signal);
    }
  }

  /**
   * Brings every cache up to now (no watch stays open; caches of resources with no commit since
   * their cursor, by the pokes' news, are skipped). Once `signal` says the wake's time is up, each
   * catch-up stops after its next batch of events or list page (a small one still gets to now).
   * Answers the resources not caught up: those still listing, and those `signal` cut short. While
   * any is, nothing may be reconciled: a list under way lacks objects, and a cache behind this
   * wake's own writes could have a key's work done twice.
   */
  async catchUp(signal?: AbortSignal): Promise<{ behind: string[]; listing: string[] }> {
    const due = [...this.informers].filter(([id, informer]) => {
      const every = this.catchUpEvery.get(id);
      return every === undefined || informer.listing || Date.now() - (this.caughtUpAt.get(id) ?? -Infinity) >= every;
    });
    // A few side by side: on a busy isolate each catch-up is mostly waiting for its answer, and a
    // few relists' pages at once still fit in memory.
    let next = 0;
    const failures: unknown[] = [];
    const behind = new Set<string>();
    const worker = async () => {
      while (next < due.length) {
        const [id, informer] = due[next++]!;
        try {
          if (!(await informer.catchUp(signal))) behind.add(id);
          else if (this.catchUpEvery.has(id)) this.caughtUpAt.set(id, Date.now());
        } catch (e) {
          // A custom resource stops being served before its CRD's deletion reaches the cache: that
          // informer's failure leaves the others to catch up, and the next sync drops it.
          if (this.dynamic.has(id)) console.warn(JSON.stringify({ informer: id, error: (e as Error)?.message ?? String(e) }));
          else failures.push(e);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CATCH_UP_CONCURRENCY, due.length) }, worker));
    if (failures.length) throw failures[0];
    // Dynamic watches are named from full caches (the CRDs'); a new one's list then counts as listing.
    if (!behind.size) await this.syncDynamicWatches(signal);
    this.remembered.clear();
    const listing = [...this.informers].filter(([, informer]) => informer.listing).map(([id]) => id);
    return { behind: [...new Set([...behind, ...listing])], listing };
  }

  /**
   * Queues every object each controller owns, a page of its primary resource at a time, until
   * `deadline`; answers whether it is done. The first wake after a (re)start does it (after the
   * caches are full), and a wake that runs out of time leaves the rest to the next.
   */
  async resyncUntil(deadline: number): Promise<boolean> {
    const r = this.resync;
    let walked = 0;
    while (!r.done) {
      const { controller, queue } = this.running[r.next]!;
      const primary = controller.watches[0]!;
      // A page at a time: 150,000 pods parsed at once would not fit in the object's 128 MB.
      const page = this.listedBefore.has(resourceId(primary.resource)) ? this.listers.of(primary.resource).page(r.after, 500) : [];
      // Through the remembering listers (a page's pods mostly share their owners and nodes), forgotten after each page.
      for (const object of page) for (const key of primary.keysFor(object, this.handlerListers)) queue.add(key);
      this.remembered.clear();
      walked += page.length;
      if (page.length) r.after = objectKey(page.at(-1)!);
      else {
        r.after = undefined;
        r.next++;
        r.done = r.next === this.running.length;
      }
      if (walked >= RESYNC_OBJECTS) {
        walked = 0;
        await clockTick();
        if (Date.now() >= deadline) return r.done;
      }
    }
    return true;
  }

  /** The next catch-up looks at every resource, those caught up at most every so often too (tests that force a wake). */
  forgetCatchUps(): void {
    this.caughtUpAt.clear();
  }

  /** The earliest time any queue has a key due. */
  nextDueAt(): number | undefined {
    const due = this.running.map((r) => r.queue.nextDueAt()).filter((t): t is number => t !== undefined);
    return due.length ? Math.min(...due) : undefined;
  }

  /**
   * Reconciles the keys due now, once each, up to PASS_KEYS of them taken from the queues in turn
   * (so no controller's backlog holds up the others'); answers how many it took (status counts how
   * many and how many failed).
   */
  async reconcileDue(status: ControllerManagerStatus): Promise<number> {
    const work: { running: Running; key: string }[] = [];
    const open = new Set(this.running);
    while (open.size && work.length < PASS_KEYS) {
      for (const running of open) {
        const key = running.queue.get();
        if (key === undefined) open.delete(running);
        else work.push({ running, key });
        if (work.length >= PASS_KEYS) break;
      }
    }
    let next = 0;
    const worker = async () => {
      while (next < work.length) {
        const { running, key } = work[next++]!;
        const ctx: ReconcileContext = { client: this.client, listers: this.listers, recorder: running.recorder, now: Date.now, settings: this.settings };
        try {
          const result = await running.controller.reconcile(key, ctx);
          running.queue.forget(key);
          if (result?.requeueAfter !== undefined) running.queue.addAfter(key, result.requeueAfter);
        } catch (e) {
          status.failed++;
          console.warn(JSON.stringify({ controller: running.controller.name, key, error: (e as Error)?.message ?? String(e) }));
          running.queue.addRateLimited(key);
        } finally {
          running.queue.done(key);
          status.reconciled++;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, work.length) }, worker));
    for (const { recorder } of this.running) await recorder.flush().catch(() => undefined);
    return work.length;
  }
}

export class KubeControllerManager extends DurableObject<Env> {
  private runtime: Runtime | undefined;
  private lastStatus: ControllerManagerStatus = { reconciled: 0, failed: 0 };
  private readonly wakes = new AlarmWakes(this.ctx.storage, () => this.wake());
  /** How long a wake works before it yields, and the informers' list page size (tests make both small). */
  private readonly budget = { wakeMs: BATCH_MS, listPageSize: 500 };

  /** The store's fire-and-forget call after something the controllers watch changed, with what changed. */
  poke(news?: PokeNews): Promise<void> {
    return this.wakes.poke(news);
  }

  /** For /readyz and componentstatuses. */
  status(): ControllerManagerStatus {
    return controllerSettings(this.env).clusterCaPem ? this.lastStatus : { ...this.lastStatus, notes: [NO_CA_NOTE] };
  }

  /** Every reconcile is idempotent, so a repeated wake just finds nothing to do. */
  override alarm(): Promise<void> {
    return this.wakes.alarm();
  }

  private async wake(): Promise<WakeOutcome> {
    const status: ControllerManagerStatus = { reconciled: 0, failed: 0 };
    try {
      this.runtime ??= new Runtime(this.ctx.storage, this.env.KUBE_CONTROLLER_MANAGER_API, `kube-controller-manager-${this.ctx.id.toString().slice(0, 16)}`, controllerSettings(this.env), this.wakes.changes, this.budget.listPageSize);
      const runtime = this.runtime;
      await runtime.lease.tryAcquireOrRenew();
      if (!runtime.lease.isLeader) return { retryAt: Date.now() + 15_000 };
      const { wakeMs } = this.budget;
      const deadline = Date.now() + wakeMs;
      const timeUp = new AbortController();
      const timer = setTimeout(() => timeUp.abort(), wakeMs);
      if (wakeMs <= 0) timeUp.abort();
      let more = false;
      try {
        // Each pass sees the previous pass's writes before it reconciles again (a ReplicaSet created,
        // then its pods, then the statuses), so no key is reconciled twice against the same cache.
        for (;;) {
          const { behind, listing } = await runtime.catchUp(timeUp.signal);
          if (behind.length) {
            if (listing.length) status.listing = listing.map(resourceName);
            more = true;
            break;
          }
          if (!(await runtime.resyncUntil(deadline))) {
            more = true;
            break;
          }
          const taken = await runtime.reconcileDue(status);
          if (taken === 0) break;
          // A full pass may have been all computing (reconciles that wrote nothing): let the clock
          // move before looking at it. A timer after every pass cost the controller manager about
          // half again its CPU per pod in a 300-pod Deployment (more, smaller catch-ups between).
          if (taken >= PASS_KEYS) await clockTick();
          if (Date.now() >= deadline) {
            more = true;
            break;
          }
        }
      } finally {
        clearTimeout(timer);
      }
      status.lastWake = kubeTime();
      return { more, nextDueAt: runtime.nextDueAt() };
    } catch (e) {
      status.error = (e as Error)?.message ?? String(e);
      throw e;
    } finally {
      this.lastStatus = status;
    }
  }
}
