// Where an informer keeps its objects and its resourceVersion cursor: the InformerCache contract,
// written atomically one batch at a time, and the in-memory implementation (the node agent's).
import type { KubeObject } from "./api-client.ts";

/** An index: the values under which an object is found (a namespace, a node name, owner uids). */
export type IndexFunc<T> = (object: T) => string[];
export type Indexers<T> = Record<string, IndexFunc<T>>;

/**
 * One atomic change: `replace` drops everything first; the cursor moves with it. A page of a relist
 * leaves the cursor where it is (no `resourceVersion`) and names the keys it found (`seen`).
 */
export interface CacheWrite<T> {
  replace?: boolean;
  put: T[];
  delete: string[];
  resourceVersion?: string;
  /** Keys the relist under way found (see `unseen`), changed or not. */
  seen?: string[];
  /** Where the relist under way is up to after this write; null once it is over (or starts again). */
  relist?: RelistProgress | null;
}

/**
 * A relist between two pages, kept with the page written last so that a relist stopped there (a
 * wake's budget spent, a restart) goes on from the next page instead of starting again: the list's
 * resourceVersion and the continue token of its next page, "" once every page is in (what is left
 * is deleting what no page had).
 */
export interface RelistProgress {
  resourceVersion: string;
  continue: string;
}

export interface InformerCache<T> {
  /** Called once, before anything else, with the informer's indexers. */
  open(indexers: Indexers<T>): void;
  get(key: string): T | undefined;
  list(): T[];
  /**
   * Up to `limit` objects in key order after the key `after` (from the first when undefined): a walk
   * over the whole cache a page at a time, so no caller need hold every object at once.
   */
  page(after: string | undefined, limit: number): T[];
  byIndex(index: string, value: string): T[];
  /** Forgets which keys the last relist saw (a relist starts with none seen). */
  resetSeen(): void;
  /** Up to `limit` keys, in key order, that no write named `seen` since `resetSeen`: what a relist did not find. */
  unseen(limit: number): string[];
  /** Where the cache is up to: the resourceVersion of the last list, event or bookmark written. */
  resourceVersion(): string | undefined;
  /** The relist under way, if one stopped between pages. */
  relistProgress(): RelistProgress | undefined;
  /** Applies the puts and deletes and moves the cursor, all or nothing. */
  apply(write: CacheWrite<T>): void;
}

/** client-go's MetaNamespaceKeyFunc: "namespace/name", or "name" for cluster-scoped objects. */
export function objectKey(object: KubeObject): string {
  const { namespace, name } = object.metadata ?? {};
  return namespace ? `${namespace}/${name}` : String(name);
}

export class MemoryCache<T extends KubeObject> implements InformerCache<T> {
  private readonly objects = new Map<string, T>();
  /** index name → value → keys */
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  private indexers: Indexers<T> = {};
  private cursor: string | undefined;
  private seen = new Set<string>();
  private relist: RelistProgress | undefined;

  open(indexers: Indexers<T>): void {
    this.indexers = indexers;
    for (const name of Object.keys(indexers)) this.indexes.set(name, new Map());
    for (const [key, object] of this.objects) this.index(key, object);
  }

  get(key: string): T | undefined {
    return this.objects.get(key);
  }

  list(): T[] {
    return [...this.objects.values()];
  }

  page(after: string | undefined, limit: number): T[] {
    const keys = [...this.objects.keys()].filter((key) => after === undefined || key > after).sort();
    return keys.slice(0, limit).map((key) => this.objects.get(key)!);
  }

  resetSeen(): void {
    this.seen.clear();
  }

  unseen(limit: number): string[] {
    return [...this.objects.keys()].filter((key) => !this.seen.has(key)).sort().slice(0, limit);
  }

  byIndex(index: string, value: string): T[] {
    const values = this.indexes.get(index);
    if (!values) throw new Error(`no index named ${index}`);
    return [...(values.get(value) ?? [])].map((key) => this.objects.get(key)!);
  }

  resourceVersion(): string | undefined {
    return this.cursor;
  }

  relistProgress(): RelistProgress | undefined {
    return this.relist;
  }

  apply(write: CacheWrite<T>): void {
    // Work out every index entry first, so an indexer that throws changes nothing.
    const puts = write.put.map((object) => ({ key: objectKey(object), object, values: this.indexValues(object) }));
    if (write.replace) {
      this.objects.clear();
      for (const values of this.indexes.values()) values.clear();
    }
    for (const key of write.delete) this.remove(key);
    for (const { key, object, values } of puts) {
      this.remove(key);
      this.objects.set(key, object);
      this.addIndex(key, values);
    }
    for (const key of write.seen ?? []) this.seen.add(key);
    if (write.relist !== undefined) this.relist = write.relist ?? undefined;
    if (write.resourceVersion !== undefined) this.cursor = write.resourceVersion;
  }

  private indexValues(object: T): [string, string[]][] {
    return Object.entries(this.indexers).map(([name, fn]) => [name, fn(object)]);
  }

  private index(key: string, object: T): void {
    this.addIndex(key, this.indexValues(object));
  }

  private addIndex(key: string, values: [string, string[]][]): void {
    for (const [name, list] of values) {
      const byValue = this.indexes.get(name)!;
      for (const value of list) {
        let keys = byValue.get(value);
        if (!keys) byValue.set(value, (keys = new Set()));
        keys.add(key);
      }
    }
  }

  private remove(key: string): void {
    const old = this.objects.get(key);
    if (!old) return;
    this.objects.delete(key);
    for (const [name, list] of this.indexValues(old)) {
      const byValue = this.indexes.get(name)!;
      for (const value of list) {
        const keys = byValue.get(value);
        keys?.delete(key);
        if (keys?.size === 0) byValue.delete(value);
      }
    }
  }
}
