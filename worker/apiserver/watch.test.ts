// Watches across compaction: a watcher whose resourceVersion is just before the compaction
// revision must never silently miss what happened at it.
import { describe, expect, it } from "vitest";
import type { ConfigMap } from "kubernetes-types/core/v1";
import { builtin } from "../../lib/k8s/resources.ts";
import { compactStore, freshNamespace, testClient } from "../../lib/client/testing.ts";

const client = testClient();
const configMaps = client.resource<ConfigMap>(builtin("v1", "configmaps"));

describe("watch after compaction", () => {
  it("answers 410 Expired when a delete at exactly the compaction revision lost its earlier value", async () => {
    const ns = await freshNamespace(client, "watch-compact");
    const created = await configMaps.create(ns, { metadata: { name: "doomed" } });
    await configMaps.delete(ns, "doomed");
    // The delete is the newest revision: compacting at it removes the value it deleted.
    const deletedAt = (await configMaps.list(ns)).metadata!.resourceVersion!;
    await compactStore(deletedAt);
    const seen: string[] = [];
    const failure = await (async () => {
      for await (const event of configMaps.watch(ns, { resourceVersion: created.metadata!.resourceVersion })) seen.push(event.type);
    })().catch((e) => e);
    expect(seen).toEqual([]);
    expect(failure).toMatchObject({ code: 410, reason: "Expired" });
  });

  it("reports an update whose earlier value was compacted as MODIFIED", async () => {
    const ns = await freshNamespace(client, "watch-compact");
    const created = await configMaps.create(ns, { metadata: { name: "kept" }, data: { v: "1" } });
    await configMaps.update(ns, { ...created, data: { v: "2" } });
    const updatedAt = (await configMaps.list(ns)).metadata!.resourceVersion!;
    await compactStore(updatedAt);
    const abort = new AbortController();
    for await (const event of configMaps.watch(ns, { resourceVersion: created.metadata!.resourceVersion }, abort.signal)) {
      expect(event.type).toBe("MODIFIED");
      expect((event.object as ConfigMap).data).toEqual({ v: "2" });
      abort.abort();
      break;
    }
  });
});
