// The OpenAPI data the apiserver serves is what scripts/gen-openapi.ts builds from the registry
// today: the generator still runs in Node (nothing the registry imports reaches a `cloudflare:`
// module), and no hand edit or registry change has left the served file behind it.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "openapi-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("worker/openapi/spec.generated.json is what the generator builds from the registry", async () => {
  const output = join(dir, "spec.json");
  await promisify(execFile)(process.execPath, ["--experimental-transform-types", "--no-warnings", "scripts/gen-openapi.ts"], {
    env: { ...process.env, OPENAPI_OUTPUT: output },
  });
  // Compared as text: the served file is byte for byte what the generator writes.
  expect(readFileSync(output, "utf8") === readFileSync("worker/openapi/spec.generated.json", "utf8")).toBe(true);
}, 120_000);
