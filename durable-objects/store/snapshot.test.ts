// Snapshots of a shard: export at a fixed revision in pages, restore into a shard never written,
// refusal otherwise, and a compaction during the export detected.
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ShardSnapshotHead, SnapshotCursor, SnapshotEntry } from "../../lib/etcd/snapshot.ts";
import { b, failure, freshStore, ok, show } from "./testing.ts";

type Store = ReturnType<typeof freshStore>;

async function exportShard(store: Store): Promise<{ head: ShardSnapshotHead; entries: SnapshotEntry[] }> {
  const head = ok(await store.snapshotHead());
  const entries: SnapshotEntry[] = [];
  let after: SnapshotCursor | undefined;
  do {
    const page = ok(await store.snapshotPage(head, after));
    entries.push(...page.entries);
    after = page.next;
  } while (after);
  return { head, entries };
}

async function everything(store: Store, revision?: number): Promise<string[]> {
  return ok(await store.range({ key: b("\0"), range_end: b("\0"), revision })).kvs.map(show);
}

describe("shard snapshots", () => {
  it("restores keys, history, the clock, the compaction floor and leases into a new shard", async () => {
    const source = freshStore("snap-source");
    ok(await source.leaseGrant({ TTL: 600, ID: 77 }));
    ok(await source.put({ key: b("a"), value: b("1") })); // 2
    ok(await source.put({ key: b("b"), value: b("1") })); // 3
    ok(await source.put({ key: b("a"), value: b("2") })); // 4
    ok(await source.deleteRange({ key: b("b") })); // 5
    ok(await source.put({ key: b("c"), value: b("leased"), lease: 77 })); // 6
    ok(await source.compact({ revision: 4 }));
    ok(await source.put({ key: b("a"), value: b("3") })); // 7
    const { head, entries } = await exportShard(source);
    expect(head).toMatchObject({ revision: 7, compact_revision: 4, leases: [{ ID: 77, TTL: 600 }] });
    // A write after the head is not part of this snapshot.
    ok(await source.put({ key: b("late"), value: b("x") }));
    const again = ok(await source.snapshotPage(head));
    expect(again.entries.map((e) => e.revision)).toEqual(entries.map((e) => e.revision));
    expect(Math.max(...entries.map((e) => e.revision))).toBe(7);

    const target = freshStore("snap-target");
    ok(await target.restoreBegin());
    ok(await target.restoreEntries(entries.slice(0, 2)));
    ok(await target.restoreEntries(entries.slice(2)));
    ok(await target.restoreFinish(head));

    expect(await everything(target)).toEqual(["a=3@7 v3", "c=leased@6 v1"]);
    expect(await everything(target, 5)).toEqual(await everything(source, 5));
    expect(await target.status()).toMatchObject({ header: { revision: 7 }, compactRevision: 4 });
    expect(failure(await target.range({ key: b("a"), revision: 3 })).message).toBe("etcdserver: mvcc: required revision has been compacted");
    const ttl = ok(await target.leaseTimeToLive({ ID: 77, keys: true }));
    expect(ttl).toMatchObject({ ID: 77, grantedTTL: 600 });
    expect(ttl.keys.map((k) => new TextDecoder().decode(k))).toEqual(["c"]);
    // The clock goes on from the snapshot's revision.
    expect(ok(await target.put({ key: b("d"), value: b("new") })).header.revision).toBe(8);
    expect(ok(await target.leaseRevoke(77)).header.revision).toBe(9);
  });

  it("refuses to restore into a shard that has been written or holds a lease", async () => {
    const written = freshStore("snap-written");
    ok(await written.put({ key: b("x"), value: b("1") }));
    expect(failure(await written.restoreBegin())).toMatchObject({ code: 9, message: expect.stringContaining("not empty (revision 2, 1 keys, 0 leases)") });
    const leased = freshStore("snap-leased");
    ok(await leased.leaseGrant({ TTL: 60, ID: 5 }));
    expect(failure(await leased.restoreBegin()).message).toContain("0 keys, 1 leases");
    expect(failure(await leased.restoreFinish({ revision: 3, compact_revision: -1, leases: [] })).code).toBe(9);
  });

  it("a restore cut off by a restart begins again; a shard written after an abandoned restore keeps its clock", async () => {
    const source = freshStore("snap-cut-source");
    for (let i = 0; i < 3; i++) ok(await source.put({ key: b(`k${i}`), value: b(`v${i}`) }));
    const { head, entries } = await exportShard(source);
    const target = freshStore("snap-cut-target");
    ok(await target.restoreBegin());
    ok(await target.restoreEntries(entries));
    await evictDurableObject(target, { webSockets: "close" });
    // The restore's log is not yet the shard's: it is still never written, so the restore starts over.
    expect(await target.status()).toMatchObject({ header: { revision: 1 }, compactRevision: -1 });
    ok(await target.restoreBegin());
    ok(await target.restoreEntries(entries));
    ok(await target.restoreFinish(head));
    await evictDurableObject(target, { webSockets: "close" });
    expect(await everything(target)).toEqual(await everything(source));
    expect(ok(await target.put({ key: b("k9"), value: b("new") })).header.revision).toBe(5);

    const abandoned = freshStore("snap-abandoned");
    ok(await abandoned.restoreBegin());
    ok(await abandoned.put({ key: b("x"), value: b("1") })); // 2
    ok(await abandoned.put({ key: b("x"), value: b("2") })); // 3
    await evictDurableObject(abandoned, { webSockets: "close" });
    expect(await abandoned.status()).toMatchObject({ header: { revision: 3 }, compactRevision: -1 });
    expect(await everything(abandoned)).toEqual(["x=2@3 v2"]);
  });

  it("notices a compaction between pages", async () => {
    const source = freshStore("snap-compacted");
    for (let i = 0; i < 3; i++) ok(await source.put({ key: b(`k${i}`), value: b("v") }));
    const head = ok(await source.snapshotHead());
    ok(await source.compact({ revision: 3 }));
    expect(failure(await source.snapshotPage(head))).toMatchObject({ code: 11, message: expect.stringContaining("take the snapshot again") });
  });
});
