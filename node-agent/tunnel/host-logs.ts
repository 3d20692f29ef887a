// nodes/proxy/logs/: the host's log directory (/var/log) as the kubelet serves it, a directory as
// an HTML listing of links (directories end in "/"), a file as its bytes, streamed. Paths are kept
// inside the directory.
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { posix } from "node:path";
import type { TunnelStream } from "../../lib/tunnel/mux.ts";
import { Refusal } from "./refusal.ts";

export const HOST_LOG_DIR = "/var/log";

/** Whether a nodes/proxy path is the log directory's. */
export function isHostLogPath(path: string): boolean {
  return path === "/logs" || path.startsWith("/logs/");
}

/** Serves GET/HEAD /logs/<path> from `root`. */
export async function serveHostLogs(stream: TunnelStream, method: string, path: string, root = HOST_LOG_DIR): Promise<void> {
  if (method !== "GET" && method !== "HEAD") throw new Refusal(405, `the method ${method} is not allowed on /logs/`);
  let relative: string;
  try {
    relative = decodeURIComponent(path.slice("/logs".length)) || "/";
  } catch {
    throw new Refusal(400, "invalid URL path escape");
  }
  const normalized = posix.normalize(`/${relative}`);
  if (normalized.split("/").includes("..")) throw new Refusal(400, "invalid URL path");
  const file = posix.join(root, normalized);
  const info = await stat(file).catch(() => undefined);
  if (!info) throw new Refusal(404, "404 page not found");
  if (info.isDirectory()) {
    const entries = await readdir(file, { withFileTypes: true });
    const names = entries.map((e) => (e.isDirectory() ? `${e.name}/` : e.name)).sort();
    const links = names.map((name) => `<a href="${escapeHtml(encodeURI(name))}">${escapeHtml(name)}</a>\n`).join("");
    stream.respond({ status: 200, headers: { "Content-Type": "text/html; charset=utf-8" } });
    if (method === "GET") await stream.write(new TextEncoder().encode(`<!doctype html>\n<meta name="viewport" content="width=device-width">\n<pre>\n${links}</pre>\n`));
    return;
  }
  if (!info.isFile()) throw new Refusal(404, "404 page not found");
  stream.respond({ status: 200, headers: { "Content-Type": "text/plain; charset=utf-8" } });
  if (method === "HEAD") return;
  for await (const chunk of createReadStream(file)) await stream.write(new Uint8Array((chunk as Buffer).buffer, (chunk as Buffer).byteOffset, (chunk as Buffer).byteLength));
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&#34;").replace(/'/g, "&#39;");
}
