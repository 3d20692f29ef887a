import { env } from "cloudflare:workers";
import { expect, it } from "vitest";

const te = new TextEncoder();
it("puts and reads", async () => {
  const stub = env.STORE.get(env.STORE.idFromName("smoke"));
  const put = await stub.put({ key: te.encode("a"), value: te.encode("1") });
  expect(put).toMatchObject({ ok: true, value: { header: { revision: 2 } } });
  const got = await stub.range({ key: te.encode("a") });
  expect(got.ok && got.value.kvs[0]?.version).toBe(1);
});
