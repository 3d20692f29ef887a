// What a woken client knows of the store's commits without asking it: each poke carries, for every
// key prefix its target watches, the revision of the last commit under it; the client's own writes
// mark their resource as changed. An informer whose cursor is at or past both has nothing to catch
// up and skips its watch, so a wake after a pod's status write re-watches pods, not 30 resources.
import { resourcePrefix } from "../k8s/registry-keys.ts";
import type { ResourceNames } from "../k8s/resources.ts";

/** What a store shard's poke says: the last commit revision under each prefix the target watches that lives in that shard. */
export interface PokeNews {
  revisions: Record<string, number>;
}

/** How long an informer may go on trusting pokes alone before it catches up anyway (a safety net for a lost poke). */
export const TRUST_POKES_MS = 60_000;

export class StoreChanges {
  /** Per key prefix: the last commit revision a poke reported. No entry: unknown, so catch up. */
  private readonly heads = new Map<string, number>();
  /** Per key prefix: own writes finished so far. */
  private readonly writes = new Map<string, number>();

  /** Takes in a poke's news (revisions only grow; a late poke cannot move a head back). */
  note(news: PokeNews | undefined): void {
    for (const [prefix, revision] of Object.entries(news?.revisions ?? {})) {
      if (typeof revision === "number" && Number.isFinite(revision) && revision > (this.heads.get(prefix) ?? -1)) this.heads.set(prefix, revision);
    }
  }

  /** Forgets every poke's news: the next catch-up of every informer watches (a wake forced before the pokes of the latest writes arrived). */
  forget(): void {
    this.heads.clear();
  }

  /** After a write to `resource` has been answered (or failed): its effect is in the store, so the next catch-up must look. */
  wrote(resource: ResourceNames): void {
    const prefix = prefixOf(resource);
    this.writes.set(prefix, (this.writes.get(prefix) ?? 0) + 1);
  }

  /** The count of own writes to `resource` so far, which an informer remembers when it starts a catch-up. */
  writesTo(resource: ResourceNames): number {
    return this.writes.get(prefixOf(resource)) ?? 0;
  }

  /** Whether an informer of `resource` at `resourceVersion`, having caught up after `writesSeen` own writes, has nothing new to see. */
  upToDate(resource: ResourceNames, resourceVersion: string | undefined, writesSeen: number | undefined): boolean {
    if (resourceVersion === undefined || writesSeen === undefined) return false;
    const prefix = prefixOf(resource);
    const head = this.heads.get(prefix);
    if (head === undefined || (this.writes.get(prefix) ?? 0) !== writesSeen) return false;
    const cursor = Number(resourceVersion);
    return Number.isFinite(cursor) && cursor >= head;
  }
}

function prefixOf(resource: ResourceNames): string {
  return resourcePrefix(resource.group, resource.resource);
}
