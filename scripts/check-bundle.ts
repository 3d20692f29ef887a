// Builds what `wrangler deploy` would upload (--dry-run) and checks it: within Workers' 3 MiB
// gzip limit for the free plan, and free of eval/new Function, which workerd refuses at deploy.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { PROJECT_ROOT } from "./dev-server.ts";

const LIMIT_GZIP_BYTES = 3 * 1024 * 1024;
const outDir = join(PROJECT_ROOT, ".wrangler/dry-run");
rmSync(outDir, { recursive: true, force: true });
execFileSync(process.execPath, [join(PROJECT_ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outDir], {
  cwd: PROJECT_ROOT, stdio: "inherit", env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
let gzipBytes = 0;
const problems: string[] = [];
for (const file of readdirSync(outDir).filter((f) => !f.endsWith(".map") && f !== "README.md")) {
  const content = readFileSync(join(outDir, file));
  gzipBytes += gzipSync(content).length;
  if (file.endsWith(".js") && /\bnew Function\s*\(|[^.\w]eval\s*\(/.test(content.toString())) problems.push(`${file} uses eval or new Function`);
}
if (gzipBytes > LIMIT_GZIP_BYTES) problems.push(`bundle is ${gzipBytes} bytes gzipped, over the ${LIMIT_GZIP_BYTES} limit`);
console.log(`bundle: ${(gzipBytes / 1024).toFixed(1)} KiB gzipped (limit ${LIMIT_GZIP_BYTES / 1024} KiB)`);
if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
