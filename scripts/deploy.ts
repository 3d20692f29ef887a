// `npm run deploy [-- --dry-run]`: puts the control plane on Cloudflare with `wrangler deploy`,
// gives the Worker the secrets it needs when they are missing (the admin token's hash, the service
// account key, the encryption keys), and writes a kubeconfig for the deployed URL. The admin token
// itself is shown once and kept only in .edgeplane/deploy/admin-token (mode 0600); the Worker
// holds its SHA-256. `--dry-run` builds the upload and says which secrets it would create,
// touching nothing on Cloudflare.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { kubeconfig, newAdminToken, newEncryptionKeys, newServiceAccountKey, PROJECT_ROOT, sha256Hex } from "./dev-server.ts";

const { values } = parseArgs({ options: { "dry-run": { type: "boolean", default: false }, name: { type: "string" } } });
const dryRun = values["dry-run"]!;
const dir = join(PROJECT_ROOT, ".edgeplane/deploy");
const WRANGLER = join(PROJECT_ROOT, "node_modules/wrangler/bin/wrangler.js");

function wrangler(args: string[], input?: string): string {
  const nameArgs = values.name ? ["--name", values.name] : [];
  return execFileSync(process.execPath, [WRANGLER, ...args, ...nameArgs], {
    cwd: PROJECT_ROOT, input, encoding: "utf8", stdio: [input === undefined ? "inherit" : "pipe", "pipe", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
}

/** The secrets a deployed Worker needs, and how each is made when it is missing. */
function secretsToCreate(present: Set<string>): { name: string; value: string }[] {
  const made: { name: string; value: string }[] = [];
  if (!present.has("ADMIN_TOKEN_SHA256")) {
    const token = newAdminToken();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "admin-token"), token + "\n", { mode: 0o600 });
    chmodSync(join(dir, "admin-token"), 0o600);
    made.push({ name: "ADMIN_TOKEN_SHA256", value: sha256Hex(token) });
  }
  if (!present.has("SERVICE_ACCOUNT_KEY")) made.push({ name: "SERVICE_ACCOUNT_KEY", value: newServiceAccountKey() });
  if (!present.has("ENCRYPTION_KEYS")) made.push({ name: "ENCRYPTION_KEYS", value: newEncryptionKeys() });
  return made;
}

if (dryRun) {
  const outDir = join(PROJECT_ROOT, ".wrangler/dry-run");
  rmSync(outDir, { recursive: true, force: true });
  process.stdout.write(wrangler(["deploy", "--dry-run", "--outdir", outDir]));
  console.log("dry run: nothing was uploaded. A real deploy creates, when missing: ADMIN_TOKEN_SHA256, SERVICE_ACCOUNT_KEY, ENCRYPTION_KEYS");
  process.exit(0);
}

const output = wrangler(["deploy"]);
process.stdout.write(output);
const url = output.match(/https:\/\/[^\s]+\.workers\.dev/)?.[0] ?? process.env.EDGEPLANE_URL;
if (!url) throw new Error("wrangler deploy printed no workers.dev URL: set EDGEPLANE_URL to the Worker's route and run npm run admin -- kubeconfig --server URL");

const listed = JSON.parse(wrangler(["secret", "list", "--format", "json"])) as { name: string }[];
const missing = secretsToCreate(new Set(listed.map((s) => s.name)));
if (missing.length) {
  // One bulk upload: the Worker restarts once, with all of them.
  wrangler(["secret", "bulk"], JSON.stringify(Object.fromEntries(missing.map((s) => [s.name, s.value]))));
  console.log(`created secrets: ${missing.map((s) => s.name).join(", ")}`);
}

const tokenFile = join(dir, "admin-token");
if (!existsSync(tokenFile)) {
  console.log(`the Worker already had ADMIN_TOKEN_SHA256; no local admin token in ${tokenFile}. Rotate it with npm run admin -- rotate.`);
} else {
  const token = readFileSync(tokenFile, "utf8").trim();
  writeFileSync(join(dir, "kubeconfig"), kubeconfig(url, token), { mode: 0o600 });
  if (missing.some((s) => s.name === "ADMIN_TOKEN_SHA256")) console.log(`admin token (shown once; kept in ${tokenFile}): ${token}`);
  console.log(`\nexport KUBECONFIG=${join(dir, "kubeconfig")}\nkubectl get namespaces`);
}
