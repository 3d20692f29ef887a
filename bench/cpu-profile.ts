// Reading workerd's V8 CPU profiles: a DevTools session with the inspector, the profiler started and
// stopped, and the samples summed by part of the control plane, by source file and by function (the
// bundle's lines mapped back to their modules). bench:profile and bench:controllers-memory use it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "../scripts/dev-server.ts";

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** A DevTools protocol session with workerd's inspector for one worker. */
export async function inspect(port: number, target: string) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/${target}`);
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", () => reject(new Error(`inspector ${target}: cannot connect`)), { once: true });
  });
  let next = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id!);
    if (message.error) waiter.reject(new Error(message.error.message));
    else waiter.resolve(message.result);
  });
  return {
    call<T>(method: string, params: object = {}): Promise<T> {
      const id = next++;
      socket.send(JSON.stringify({ id, method, params }));
      return new Promise<T>((resolve, reject) => pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    },
    close: () => socket.close(),
  };
}

export const OUTSIDE_JS = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

/** A frame as "function source-file" (the bundle's lines mapped back to their modules). */
function frameName(node: ProfileNode, moduleOf: (line: number) => string): string {
  const { functionName, url, lineNumber } = node.callFrame;
  if (OUTSIDE_JS.has(functionName)) return functionName;
  const file = url.endsWith("index.js") ? moduleOf(lineNumber) : url.split("/").pop() || "native";
  return `${functionName || "(anonymous)"} ${file}`;
}

/** Which source file each line of the bundle comes from: esbuild opens every module with a `// path` comment. */
export function bundleModules(): { moduleOf: (line: number) => string; starts: { line: number; module: string }[] } {
  const outDir = mkdtempSync(join(tmpdir(), "edgeplane-profile-bundle-"));
  try {
    execFileSync(process.execPath, [join(PROJECT_ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outDir], {
      cwd: PROJECT_ROOT, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "warn" },
    });
    const starts: { line: number; module: string }[] = [];
    readFileSync(join(outDir, "index.js"), "utf8").split("\n").forEach((text, line) => {
      const m = /^\/\/ (\S+\.(?:ts|js|mjs|json))$/.exec(text);
      if (m) starts.push({ line, module: m[1]! });
    });
    const moduleOf = (line: number) => {
      let lo = 0;
      let hi = starts.length - 1;
      let found = "(bundle prelude)";
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (starts[mid]!.line <= line) {
          found = starts[mid]!.module;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return found;
    };
    return { moduleOf, starts };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** The part of the control plane a source file belongs to: the apiserver (worker/) or a Durable Object's folder. */
function componentOf(module: string): string | undefined {
  if (module.startsWith("worker/")) return "apiserver (worker/)";
  const object = /^durable-objects\/([^/]+)\//.exec(module);
  return object ? `${object[1]} object (durable-objects/${object[1]}/)` : undefined;
}

/**
 * Sampled time per part of the control plane, in ms: each sample goes to the innermost frame of its
 * stack in worker/ or a Durable Object's folder, so lib/ code counts for whoever called it. What
 * has no such frame on its stack (a resumed async function of lib/client, whose caller is not on
 * the stack: informers' watch streams) is counted by its own folder.
 */
export function byComponent(profile: CpuProfile, moduleOf: (line: number) => string): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const owner = new Map<number, string>();
  const ownerOf = (id: number): string => {
    const known = owner.get(id);
    if (known) return known;
    let found: string | undefined;
    let fallback: string | undefined;
    for (let at: number | undefined = id; at !== undefined && !found; at = parent.get(at)) {
      const { functionName, url, lineNumber } = byId.get(at)!.callFrame;
      if (OUTSIDE_JS.has(functionName) || !url.endsWith("index.js")) continue;
      const module = moduleOf(lineNumber);
      found = componentOf(module);
      fallback ??= /^(lib\/[^/]+|node_modules\/(?:@[^/]+\/)?[^/]+)/.exec(module)?.[1];
    }
    const name = found ?? (fallback ? `${fallback} (no caller on the stack)` : "(native or V8 with no JS caller)");
    owner.set(id, name);
    return name;
  };
  const times = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const leaf = byId.get(profile.samples[i]!)!;
    if (leaf.callFrame.functionName === "(idle)") continue;
    const name = ownerOf(leaf.id);
    times.set(name, (times.get(name) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000);
  }
  return times;
}

/** Sampled self time per source file (node_modules by package), in ms. */
export function byModule(profile: CpuProfile, moduleOf: (line: number) => string): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const times = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const { functionName, url, lineNumber } = byId.get(profile.samples[i]!)!.callFrame;
    let name: string;
    if (OUTSIDE_JS.has(functionName)) name = functionName;
    else if (!url.endsWith("index.js")) name = "(native)";
    else {
      name = moduleOf(lineNumber);
      const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(name);
      if (pkg) name = `node_modules/${pkg[1]}`;
    }
    times.set(name, (times.get(name) ?? 0) + ms);
  }
  return times;
}

/** Self and inclusive sampled time per function name, in ms. */
export function summarize(profile: CpuProfile, moduleOf: (line: number) => string) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const leaf = byId.get(profile.samples[i]!)!;
    const leafName = frameName(leaf, moduleOf);
    total += ms;
    self.set(leafName, (self.get(leafName) ?? 0) + ms);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const name = frameName(byId.get(id)!, moduleOf);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + ms);
    }
  }
  return { self, inclusive, total };
}

/** Sampled time in JS functions, leaving out V8's own buckets. */
export function jsTime(self: Map<string, number>): number {
  return [...self].filter(([n]) => !OUTSIDE_JS.has(n)).reduce((sum, [, ms]) => sum + ms, 0);
}

/** The profiler of our Worker's isolate. Over HTTPS, Miniflare's entry worker (another isolate on the same thread) passes each request on to ours; it is not profiled. */
export async function startProfiler(inspectorPort: number): Promise<() => Promise<CpuProfile>> {
  const inspector = await inspect(inspectorPort, "core:user:edgeplane");
  await inspector.call("Profiler.enable");
  await inspector.call("Profiler.setSamplingInterval", { interval: 100 });
  await inspector.call("Profiler.start");
  return async () => {
    const { profile } = await inspector.call<{ profile: CpuProfile }>("Profiler.stop");
    inspector.close();
    return profile;
  };
}
