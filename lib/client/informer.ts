// An informer: list, then watch from the list's resourceVersion with bookmarks, resuming from the
// last resourceVersion seen after any disconnect and relisting (with the difference handed to the
// event handlers as adds, updates and deletes) when that resourceVersion is compacted away. It runs
// forever (`run`) or catches up to now and stops (`catchUp`, for a woken Durable Object).
import type { Pod } from "kubernetes-types/core/v1";
import { matchesLabels, parseLabelSelector, type LabelRequirement } from "../k8s/selectors.ts";
import { isGone, type KubeObject, type ResourceClient } from "./api-client.ts";
import { MemoryCache, objectKey, type IndexFunc, type Indexers, type InformerCache } from "./informer-cache.ts";
import { TRUST_POKES_MS, type StoreChanges } from "./store-changes.ts";

export const byNamespace: IndexFunc<KubeObject> = (object) => [object.metadata?.namespace ?? ""];
export const byNodeName: IndexFunc<KubeObject> = (object) => {
  const node = (object as Pod).spec?.nodeName;
  return node ? [node] : [];
};
export const byOwnerUid: IndexFunc<KubeObject> = (object) => (object.metadata?.ownerReferences ?? []).map((owner) => owner.uid);

/** The index every informer keeps, which `Lister.list(namespace)` reads. */
export const NAMESPACE_INDEX = "namespace";
/** Kept with `indexLabels`: objects by "namespace/key=value" of each label, which `Lister.list(namespace, selector)` reads. */
export const LABEL_INDEX = "labels";
export const byNamespacedLabel: IndexFunc<KubeObject> = (object) =>
  Object.entries(object.metadata?.labels ?? {}).map(([key, value]) => `${object.metadata?.namespace ?? ""}/${key}=${value}`);

export interface EventHandlers<T> {
  onAdd?(object: T): void;
  onUpdate?(old: T, object: T): void;
  onDelete?(object: T): void;
}

/** Read-only views of an informer's cache. */
export interface Lister<T> {
  get(namespace: string | undefined, name: string): T | undefined;
  /**
   * Objects in one namespace (or all), optionally matching a label selector ("app=web,tier!=db" or
   * its parsed requirements). With `indexLabels`, a selector with an `=` or `in` requirement reads
   * only the objects carrying one of its values, not the whole namespace.
   */
  list(namespace?: string, selector?: string | readonly LabelRequirement[]): T[];
  byIndex(index: string, value: string): T[];
  /** Visits every object in the cache, a page at a time: no caller holds the whole set at once. */
  each(visit: (object: T) => void): void;
  /** Up to `limit` objects in key order after the key `after` (from the first when undefined): a walk that may stop and go on later. */
  page(after: string | undefined, limit: number): T[];
}

/** Objects read or written at a time when a relist or a walk goes over a whole cache. */
const PAGE = 500;

export interface InformerOptions<T> {
  /** Watch one namespace; every namespace when unset. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Default: a MemoryCache. */
  cache?: InformerCache<T>;
  indexers?: Indexers<T>;
  /** Also index objects by their labels, so listing by a selector need not read the whole namespace. */
  indexLabels?: boolean;
  /** Keeps only what the caller needs of each object (applied before caching and before handlers). */
  project?: (object: T) => T;
  /** Objects per list page (default 500). */
  pageSize?: number;
  /** How long `run` asks each watch to last (default 300 s). */
  watchTimeoutSeconds?: number;
  /** Back-off after a failed list or watch in `run`: doubling from `initialMs` up to `maxMs` (800 ms, 30 s). */
  backoff?: { initialMs: number; maxMs: number };
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * What the store's pokes and the client's own writes say changed: `catchUp` skips its watch when
   * nothing under this resource was committed since its cursor (at most TRUST_POKES_MS at a time).
   */
  changes?: StoreChanges;
}

type Change<T> = { type: "add"; object: T } | { type: "update"; old: T; object: T } | { type: "delete"; object: T };

const abortableSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });

export class Informer<T extends KubeObject> {
  readonly lister: Lister<T>;
  private readonly resource: ResourceClient<T>;
  private readonly options: InformerOptions<T>;
  private readonly cache: InformerCache<T>;
  private readonly handlers: EventHandlers<T>[] = [];
  /** Own writes to this resource (StoreChanges.writesTo) when the last catch-up started, and when it ended. */
  private writesSeen: number | undefined;
  private caughtUpAt = 0;
  private listingNow: boolean | undefined;

  constructor(resource: ResourceClient<T>, options: InformerOptions<T> = {}) {
    this.resource = resource;
    this.options = options;
    this.cache = options.cache ?? new MemoryCache<T>();
    this.cache.open({ ...options.indexers, [NAMESPACE_INDEX]: byNamespace, ...(options.indexLabels ? { [LABEL_INDEX]: byNamespacedLabel } : {}) });
    const cache = this.cache;
    /** The objects that can match: those with one of the values of an `=`/`in` requirement when labels are indexed. */
    const candidates = (namespace: string | undefined, requirements: readonly LabelRequirement[]): T[] => {
      const narrowest = options.indexLabels && namespace !== undefined ? requirements.find((r) => r.operator === "=" || r.operator === "==" || r.operator === "in") : undefined;
      if (!narrowest) return namespace ? cache.byIndex(NAMESPACE_INDEX, namespace) : cache.list();
      return [...new Set(narrowest.values)].flatMap((value) => cache.byIndex(LABEL_INDEX, `${namespace}/${narrowest.key}=${value}`));
    };
    this.lister = {
      get: (namespace, name) => cache.get(namespace && resource.names.namespaced ? `${namespace}/${name}` : name),
      list: (namespace, selector) => {
        if (!selector || selector.length === 0) return namespace ? cache.byIndex(NAMESPACE_INDEX, namespace) : cache.list();
        const requirements = typeof selector === "string" ? parseLabelSelector(selector) : selector;
        return candidates(namespace || undefined, requirements).filter((o) => matchesLabels(requirements, o.metadata?.labels));
      },
      byIndex: (index, value) => cache.byIndex(index, value),
      each: (visit) => {
        for (let page = cache.page(undefined, PAGE); page.length; page = cache.page(objectKey(page.at(-1)!), PAGE)) page.forEach(visit);
      },
      page: (after, limit) => cache.page(after, limit),
    };
  }

  addEventHandler(handlers: EventHandlers<T>): void {
    this.handlers.push(handlers);
  }

  /** The resourceVersion the cache is up to; undefined before the first list. */
  get resourceVersion(): string | undefined {
    return this.cache.resourceVersion();
  }

  get hasSynced(): boolean {
    return this.cache.resourceVersion() !== undefined;
  }

  /**
   * Whether a list is under way: the first one, or a relist that stopped between pages (its
   * continue token kept in the cache). Until it ends the cache lacks objects or still has deleted
   * ones, so a controller should not act on it.
   */
  get listing(): boolean {
    // Read from the cache once, then kept by relist (the only writer of its progress): a woken
    // object asks before every catch-up of every informer.
    return (this.listingNow ??= !this.hasSynced || this.cache.relistProgress() !== undefined);
  }

  /**
   * Brings the cache up to now and returns, leaving no watch open: a list the first time (or after
   * the cursor was compacted away), else a watch from the cursor until the server's bookmark says
   * the replay is delivered; nothing at all when `changes` says nothing was committed since.
   * `signal` stops it early, between batches of events or list pages, with what it got so far kept
   * (the next catch-up goes on from there; `listing` says whether a list is under way). Answers
   * whether it got to now.
   */
  async catchUp(signal?: AbortSignal): Promise<boolean> {
    const changes = this.options.changes;
    const names = this.resource.names;
    if (!this.listing && changes?.upToDate(names, this.resourceVersion, this.writesSeen) && Date.now() - this.caughtUpAt < TRUST_POKES_MS) return true;
    const writes = changes?.writesTo(names);
    if (!(await this.catchUpNow(signal))) return false;
    this.writesSeen = writes;
    this.caughtUpAt = Date.now();
    return true;
  }

  /** Whether it got to now (false: `signal` stopped it first). */
  private async catchUpNow(signal?: AbortSignal): Promise<boolean> {
    if (this.listing) {
      await this.relist(signal);
      return !this.listing;
    }
    let failures = 0;
    for (;;) {
      const outcome = await this.watchOnce(signal, true);
      if (outcome === "caught-up") return true;
      if (outcome === "expired") {
        await this.relist(signal);
        return !this.listing;
      }
      if (signal?.aborted) return false;
      // The stream ended before the bookmark (a dropped connection): resume from the cursor.
      if (outcome === "ended-empty") await this.backOff(failures++, signal);
      else failures = 0;
    }
  }

  /** Lists and watches until `signal` aborts, resuming after disconnects and backing off after failures. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (this.listing) await this.relist(signal);
        if (signal.aborted) return;
        const outcome = await this.watchOnce(signal, false);
        if (outcome === "expired") await this.relist(signal);
        if (outcome === "ended-empty") await this.backOff(failures++, signal);
        else failures = 0;
      } catch (e) {
        if (signal.aborted) return;
        await this.backOff(failures++, signal);
      }
    }
  }

  private async backOff(failures: number, signal?: AbortSignal): Promise<void> {
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 800, maxMs: 30_000 };
    await (this.options.sleep ?? abortableSleep)(Math.min(maxMs, initialMs * 2 ** failures), signal);
  }

  /**
   * One watch from the cursor. "caught-up": the first bookmark arrived (only when `untilBookmark`);
   * "expired": the cursor was compacted (410); "ended"/"ended-empty": the stream ended, with or
   * without anything delivered.
   */
  private async watchOnce(signal: AbortSignal | undefined, untilBookmark: boolean): Promise<"caught-up" | "expired" | "ended" | "ended-empty"> {
    const { namespace, labelSelector, fieldSelector } = this.options;
    let delivered = false;
    // A catch-up writes its events a batch at a time (one cache transaction, the cursor moved once,
    // then the handlers): what each key ends up as, and the changes in order. A long-running watch
    // hands each event over as it comes.
    const batch = new Map<string, T | null>();
    let changes: Change<T>[] = [];
    let batchVersion: string | undefined;
    const flush = () => {
      if (batchVersion === undefined) return;
      const put: T[] = [];
      const gone: string[] = [];
      for (const [key, object] of batch) {
        if (object) put.push(object);
        else gone.push(key);
      }
      this.cache.apply({ put, delete: gone, resourceVersion: batchVersion });
      const handed = changes;
      batch.clear();
      changes = [];
      batchVersion = undefined;
      this.notify(handed);
    };
    try {
      // A catch-up stops only between batches (at least one gets through, however slow the answer):
      // a stop that cut every catch-up short before its first batch would never get anywhere.
      const events = this.resource.watch(namespace, {
        resourceVersion: this.cache.resourceVersion(), allowWatchBookmarks: true, labelSelector, fieldSelector,
        timeoutSeconds: untilBookmark ? undefined : this.options.watchTimeoutSeconds ?? 300,
      }, untilBookmark ? undefined : signal);
      for await (const event of events) {
        delivered = true;
        const resourceVersion = event.object.metadata?.resourceVersion;
        if (!resourceVersion) continue;
        batchVersion = resourceVersion;
        if (event.type === "BOOKMARK") {
          flush();
          if (untilBookmark) return "caught-up";
          continue;
        }
        const object = this.project(event.object);
        const key = objectKey(object);
        const old = batch.has(key) ? batch.get(key) ?? undefined : this.cache.get(key);
        if (event.type === "DELETED") {
          batch.set(key, null);
          changes.push({ type: "delete", object: old ?? object });
        } else {
          batch.set(key, object);
          changes.push(old ? { type: "update", old, object } : { type: "add", object });
        }
        if (!untilBookmark) flush();
        else if (changes.length >= PAGE) {
          flush();
          if (signal?.aborted) return "ended";
        }
      }
    } catch (e) {
      // What arrived before the stream broke (or was stopped) is as true as ever.
      flush();
      if (isGone(e)) return "expired";
      if (signal?.aborted) return "ended";
      throw e;
    }
    flush();
    return delivered ? "ended" : "ended-empty";
  }

  /**
   * Lists page by page: each page goes into the cache and its difference from what the cache held
   * to the handlers as it arrives; then what no page had is deleted, a page at a time, and the
   * cursor moves to the list's resourceVersion. Nothing holds more than a page of objects. Where
   * the list is up to (its continue token) is written with each page, so a relist cut short (a
   * restart, a failed page, `signal` between pages) leaves the old cursor and goes on from the next
   * page at the next catch-up; a token too old by then (410) starts the list again, as client-go's
   * pager does.
   */
  private async relist(signal?: AbortSignal): Promise<void> {
    const { namespace, labelSelector, fieldSelector, pageSize } = this.options;
    this.listingNow = true;
    let progress = this.cache.relistProgress();
    if (!progress) this.cache.resetSeen();
    // A first list into an empty cache has nothing to compare its pages with (150,000 lookups saved).
    let empty = !progress && this.cache.page(undefined, 1).length === 0;
    // undefined: from the first page; "": every page is in.
    let next = progress?.continue;
    while (next !== "") {
      let page: Awaited<ReturnType<ResourceClient<T>["list"]>>;
      try {
        page = await this.resource.list(namespace, { labelSelector, fieldSelector, limit: pageSize ?? PAGE, continue: next });
      } catch (e) {
        if (next === undefined || !isGone(e)) throw e;
        this.cache.resetSeen();
        this.cache.apply({ put: [], delete: [], relist: null });
        next = undefined;
        empty = false;
        continue;
      }
      const changes: Change<T>[] = [];
      const seen: string[] = [];
      for (const item of page.items) {
        const object = this.project(item);
        const key = objectKey(object);
        seen.push(key);
        const old = empty ? undefined : this.cache.get(key);
        if (!old) changes.push({ type: "add", object });
        else if (old.metadata?.resourceVersion !== object.metadata?.resourceVersion) changes.push({ type: "update", old, object });
      }
      next = page.metadata?.continue || "";
      progress = { resourceVersion: page.metadata?.resourceVersion ?? progress?.resourceVersion ?? "0", continue: next };
      this.cache.apply({ put: changes.map((c) => c.object), delete: [], seen, relist: progress });
      this.notify(changes);
      if (signal?.aborted) return;
    }
    for (let gone = this.cache.unseen(PAGE); gone.length; gone = this.cache.unseen(PAGE)) {
      const objects = gone.map((key) => this.cache.get(key)).filter((o): o is T => o !== undefined);
      this.cache.apply({ put: [], delete: gone });
      this.notify(objects.map((object) => ({ type: "delete", object })));
      if (signal?.aborted) return;
    }
    this.cache.apply({ put: [], delete: [], resourceVersion: progress!.resourceVersion, relist: null });
    this.cache.resetSeen();
    this.listingNow = false;
  }

  private project(object: T): T {
    return this.options.project ? this.options.project(object) : object;
  }

  private notify(changes: Change<T>[]): void {
    for (const change of changes) {
      for (const h of this.handlers) {
        if (change.type === "add") h.onAdd?.(change.object);
        else if (change.type === "update") h.onUpdate?.(change.old, change.object);
        else h.onDelete?.(change.object);
      }
    }
  }
}
