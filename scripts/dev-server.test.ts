// The local serving paths keep one state folder: a cluster written under `wrangler dev` is the same
// cluster when workerd serves it through Miniflare (and back), with the same secrets.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { newAdminToken, newEncryptionKeys, newServiceAccountKey, startControlPlane, type ServingEngine } from "./dev-server.ts";

const dir = mkdtempSync(join(tmpdir(), "edgeplane-dev-server-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const secrets = { token: newAdminToken(), serviceAccountKey: newServiceAccountKey(), encryptionKeys: newEncryptionKeys() };

async function withPlane<T>(engine: ServingEngine, body: (call: (path: string, init?: RequestInit) => Promise<Response>) => Promise<T>): Promise<T> {
  const plane = await startControlPlane({ engine, stateDir: join(dir, "state"), ...secrets });
  try {
    return await body((path, init) => fetch(`${plane.url}${path}`, { ...init, headers: { Authorization: `Bearer ${plane.token}`, "Content-Type": "application/json" } }));
  } finally {
    await plane.stop();
  }
}

describe("serving engines", () => {
  it("a cluster written under wrangler dev is served by workerd with its objects, revisions and sealed Secrets", async () => {
    const created = await withPlane("wrangler", async (call) => {
      const secret = await call("/api/v1/namespaces/default/secrets", {
        method: "POST", body: JSON.stringify({ metadata: { name: "carried" }, stringData: { word: "over" } }),
      });
      expect(secret.status).toBe(201);
      return (await secret.json()) as { metadata: { resourceVersion: string; uid: string } };
    });
    await withPlane("workerd", async (call) => {
      const answer = await call("/api/v1/namespaces/default/secrets/carried");
      expect(answer.status).toBe(200);
      const secret = (await answer.json()) as { metadata: { resourceVersion: string; uid: string }; data: Record<string, string> };
      expect(secret.metadata).toMatchObject(created.metadata);
      expect(Buffer.from(secret.data.word!, "base64").toString()).toBe("over");
    });
  });
});
