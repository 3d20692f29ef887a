// `npm run rewrite-encrypted -- [resource ...]` (default: secrets): after ENCRYPTION_KEYS gains a
// new first key (or ENCRYPTED_RESOURCES changes), rewrites every object of each resource with the
// current key through the admin-only POST /admin/storage/rewrite of npm start's cluster
// (.edgeplane/admin-token, .edgeplane/tls), or of EDGEPLANE_URL with EDGEPLANE_TOKEN.
import { existsSync, readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { PROJECT_ROOT } from "./dev-server.ts";

const dir = join(PROJECT_ROOT, ".edgeplane");
const tokenFile = join(dir, "admin-token");
const caFile = join(dir, "tls/serving.crt");

const url = process.env.EDGEPLANE_URL ?? `https://127.0.0.1:${process.env.PORT ?? 8787}`;
const token = process.env.EDGEPLANE_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : undefined);
if (!token) throw new Error(`no ${tokenFile}: run npm start once first, or set EDGEPLANE_TOKEN`);
const ca = existsSync(caFile) ? readFileSync(caFile, "utf8") : undefined;

/** POST `path`, trusting npm start's serving certificate; answers the status and the parsed body. */
function post(path: string): Promise<{ status: number; body: any }> {
  const target = new URL(path, url);
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(target, { method: "POST", headers: { Authorization: `Bearer ${token}` }, ...(ca ? { ca } : {}) }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          reject(new Error(`${target.pathname}: HTTP ${res.statusCode}, not JSON`));
        }
      });
    });
    req.on("error", reject);
    req.end();
  });
}

const resources = process.argv.slice(2).length ? process.argv.slice(2) : ["secrets"];
for (const resource of resources) {
  const { status, body } = await post(`/admin/storage/rewrite?resource=${encodeURIComponent(resource)}`);
  if (status !== 200) {
    console.error(`${resource}: ${body.message ?? `HTTP ${status}`}`);
    process.exitCode = 1;
    continue;
  }
  console.log(`${resource}: ${body.rewritten} of ${body.objects} objects under ${body.prefix} rewritten`);
  for (const failure of body.failed) console.error(`  not rewritten: ${failure.message}`);
  if (body.failed.length) process.exitCode = 1;
}
