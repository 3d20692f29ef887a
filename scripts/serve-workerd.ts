// Serves the Worker straight from workerd through Miniflare's API: no proxy in front of it.
// startControlPlane (scripts/dev-server.ts) runs this file as its own process with the settings as
// JSON in EDGEPLANE_SERVE; it bundles the Worker as `wrangler deploy` does, reads the bindings from
// wrangler.toml, starts workerd (HTTPS on Miniflare's entry socket when given a key pair, else plain
// HTTP on a socket straight into the Worker) and stops it on SIGINT/SIGTERM.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4WorkerOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

/** What startControlPlane hands over: everything the Worker and its socket need. */
export interface ServeSettings {
  projectRoot: string;
  port: number;
  /** workerd keeps Durable Object SQLite under `<stateDir>/v3/do/edgeplane-StoreShard/`, where wrangler dev keeps it. */
  stateDir: string;
  /** `[vars]` and secrets on top of wrangler.toml's. */
  bindings: Record<string, string>;
  tls?: { key: string; cert: string };
  /** workerd's DevTools inspector (CPU profiles of the Worker and its Durable Objects). */
  inspectorPort?: number;
}

/** Module types by file ending, as wrangler.toml's rules and wrangler's defaults give them. */
const MODULE_TYPES = { ".js": "ESModule", ".sql": "Text", ".txt": "Text", ".html": "Text", ".bin": "Data", ".wasm": "CompiledWasm" } as const;

/** The Worker as `wrangler deploy` uploads it: index.js first, then the migrations' .sql text modules. */
function bundle(projectRoot: string, outDir: string) {
  execFileSync(process.execPath, [join(projectRoot, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outDir], {
    cwd: projectRoot, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "warn" },
  });
  const files = readdirSync(outDir).filter((f) => extname(f) in MODULE_TYPES).sort((a, b) => Number(b === "index.js") - Number(a === "index.js"));
  return files.map((f) => ({ type: MODULE_TYPES[extname(f) as keyof typeof MODULE_TYPES], path: join(outDir, f) }));
}

async function serve(settings: ServeSettings): Promise<void> {
  const { projectRoot } = settings;
  const outDir = mkdtempSync(join(tmpdir(), "edgeplane-bundle-"));
  try {
    await start(settings, outDir);
  } finally {
    // workerd has read the modules (or failed to); the bundle is not needed any more.
    rmSync(outDir, { recursive: true, force: true });
  }
}

async function start(settings: ServeSettings, outDir: string): Promise<void> {
  const { projectRoot } = settings;
  const modules = bundle(projectRoot, outDir);
  // The bindings, compatibility date and Durable Object classes of wrangler.toml; the module rules
  // are for wrangler's own bundling, which is done.
  const { modulesRules: _rules, ...workerOptions } = unstable_getMiniflareWorkerOptions(join(projectRoot, "wrangler.toml")).workerOptions;
  const worker: V4WorkerOptions = {
    ...workerOptions,
    name: "edgeplane",
    rootPath: outDir,
    modules,
    // Plain HTTP goes straight into our Worker on a socket of its own: Miniflare's entry worker,
    // which otherwise passes each request on through a service binding, costs 25-45% of the put
    // rate. That socket cannot serve TLS, so HTTPS stays on the entry socket.
    ...(settings.tls ? {} : { unsafeDirectSockets: [{ host: "127.0.0.1", port: settings.port }] }),
    bindings: { ...(workerOptions.bindings as V4WorkerOptions["bindings"]), ...settings.bindings },
  };
  // wrangler describes a Worker in Miniflare's v4 option shape; Miniflare 5 converts it.
  const mf = new Miniflare(convertV4MiniflareOptions({
    host: "127.0.0.1",
    ...(settings.tls ? { port: settings.port, httpsKey: settings.tls.key, httpsCert: settings.tls.cert } : { port: 0 }),
    inspectorPort: settings.inspectorPort,
    resourcePersistencePath: join(settings.stateDir, "v3"),
    // Each request would otherwise be logged through a loopback call back into this process.
    logRequests: false,
    log: new Log(LogLevel.WARN),
    // Request.cf from a fixed object: fetching Cloudflare's needs the internet.
    cf: false,
    telemetry: { enabled: false },
    workers: [worker],
  }));
  await mf.ready;
  const stop = () => void mf.dispose().finally(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

await serve(JSON.parse(process.env.EDGEPLANE_SERVE ?? "null") as ServeSettings);
