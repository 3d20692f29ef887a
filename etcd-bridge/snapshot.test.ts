// The snapshot file format: what a writer produces is what the reader accepts, and the reader
// refuses damaged, truncated and disordered files.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Gateway, Json } from "./gateway.ts";
import { parseSnapshot, snapshotChunks, SNAPSHOT_FORMAT } from "./snapshot.ts";

const b64 = (text: string) => Buffer.from(text).toString("base64");

/** A gateway holding two shards, answering the snapshot endpoints from memory, two entries a page. */
function fakeGateway(): Gateway {
  const shards: Record<string, { head: Json; entries: Json[] }> = {
    main: {
      head: { revision: 5, compact_revision: 2, leases: [{ ID: 7, TTL: 60, remaining: 42 }] },
      entries: [
        { revision: 2, sub: 0, key: b64("/a"), create_revision: 2, version: 1, lease: 0, value: b64("1") },
        { revision: 4, sub: 0, key: b64("/a"), deleted: true },
        { revision: 5, sub: 0, key: b64("/b"), create_revision: 5, version: 1, lease: 7, value: b64("2") },
        { revision: 5, sub: 1, key: b64("/c"), create_revision: 5, version: 1, lease: 0, value: b64("3") },
      ],
    },
    audit: { head: { revision: 1, compact_revision: -1, leases: [] }, entries: [] },
  };
  return {
    cluster: async () => ({ cluster: "demo", shards: Object.keys(shards).map((name) => ({ name })) }),
    post: async (path: string, body: Json = {}) => {
      const [, shard, , step] = path.split("?")[0]!.split("/").filter(Boolean);
      const data = shards[shard!]!;
      if (step === "head") return data.head;
      const from = (body.after as { index: number } | undefined)?.index ?? 0;
      const entries = data.entries.slice(from, from + 2);
      return { entries, ...(from + 2 < data.entries.length ? { next: { index: from + 2 } } : {}) };
    },
  } as unknown as Gateway;
}

async function written(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of snapshotChunks(fakeGateway())) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe("snapshot files", () => {
  it("are JSON lines padded to 512-byte blocks with a SHA-256 at the end, as etcdctl expects", async () => {
    const file = await written();
    expect(file.length % 512).toBe(32);
    const body = file.subarray(0, file.length - 32);
    expect(createHash("sha256").update(body).digest().equals(file.subarray(file.length - 32))).toBe(true);
    const lines = body.toString().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ format: SNAPSHOT_FORMAT, cluster: "demo", shards: ["main", "audit"] });
    expect(lines[1]).toEqual({ shard: "main", revision: 5, compact_revision: 2, leases: [{ ID: 7, TTL: 60, remaining: 42 }] });
    expect(lines.at(-1)).toEqual({ end: true, shards: 2, entries: 4 });
  });

  it("read back shard by shard", async () => {
    const snapshot = parseSnapshot(await written());
    expect(snapshot.cluster).toBe("demo");
    expect(snapshot.shards.map((s) => [s.name, s.head.revision, s.entries.length])).toEqual([["main", 5, 4], ["audit", 1, 0]]);
    expect(snapshot.shards[0]!.entries[1]).toEqual({ revision: 4, sub: 0, key: b64("/a"), deleted: true });
  });

  it("refuse a damaged, truncated or disordered file", async () => {
    const file = await written();
    const damaged = Buffer.from(file);
    damaged[10] = damaged[10]! ^ 1;
    expect(() => parseSnapshot(damaged)).toThrow("checksum does not match");
    expect(() => parseSnapshot(file.subarray(0, file.length - 1))).toThrow("not a multiple of 512");
    const reseal = (text: string) => {
      const body = Buffer.from(text + "\n".repeat((512 - (Buffer.byteLength(text) % 512)) % 512));
      return Buffer.concat([body, createHash("sha256").update(body).digest()]);
    };
    const lines = file.subarray(0, file.length - 32).toString().split("\n").filter(Boolean);
    expect(() => parseSnapshot(reseal(lines.slice(0, -1).join("\n") + "\n"))).toThrow("no end line");
    const swapped = [...lines];
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    expect(() => parseSnapshot(reseal(swapped.join("\n") + "\n"))).toThrow("out of order");
  });
});
