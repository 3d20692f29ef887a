// Helpers for the store's workerd tests: a fresh shard per test, bytes from text, results unwrapped.
import { env } from "cloudflare:workers";
import type { StoreResult } from "../../lib/etcd/errors.ts";
import type { KeyValue } from "../../lib/etcd/messages.ts";
import { decodeWatchFrame } from "../../lib/etcd/watch-frames.ts";

export const b = (text: string): Uint8Array => new TextEncoder().encode(text);
export const text = (bytes: Uint8Array | undefined): string | undefined => (bytes ? new TextDecoder().decode(bytes) : undefined);

let shards = 0;
/** A store shard no other test has touched. */
export function freshStore(label = "test") {
  return env.STORE.get(env.STORE.idFromName(`test/${label}-${++shards}-${crypto.randomUUID()}`));
}

export function ok<T>(result: StoreResult<T>): T {
  if (!result.ok) throw new Error(`store answered ${result.error.code}: ${result.error.message}`);
  return result.value;
}

export function failure<T>(result: StoreResult<T>): { code: number; message: string } {
  if (result.ok) throw new Error(`expected an error, store answered ${JSON.stringify(result.value)}`);
  return result.error;
}

/** A KeyValue as readable text: key=value@mod_revision (vN). */
export function show(kv: KeyValue): string {
  return `${text(kv.key)}=${text(kv.value)}@${kv.mod_revision} v${kv.version}`;
}

/**
 * A watch stream on a shard: the store's own WebSocket, lines parsed as etcd gateway JSON (binary
 * frames, on a stream opened with `binary`, as { frame: WatchFrame }).
 */
export async function openWatchStream(stub: ReturnType<typeof freshStore>, { binary = false } = {}) {
  const res = await stub.fetch(`https://store/watch${binary ? "?events=binary" : ""}`, { headers: { Upgrade: "websocket" } });
  const ws = res.webSocket;
  if (!ws) throw new Error(`no websocket: ${res.status}`);
  ws.accept();
  ws.binaryType = "arraybuffer";
  const queue: any[] = [];
  const waiters: ((m: any) => void)[] = [];
  let closed = false;
  ws.addEventListener("message", (e) => {
    const message = typeof e.data === "string" ? JSON.parse(e.data) : { frame: decodeWatchFrame(e.data as ArrayBuffer) };
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else queue.push(message);
  });
  ws.addEventListener("close", () => {
    closed = true;
    for (const w of waiters.splice(0)) w(undefined);
  });
  return {
    send: (request: object) => ws.send(JSON.stringify(request)),
    /** The next response, or undefined if the stream closed or nothing came within `ms`. */
    next(ms = 2000): Promise<any> {
      if (queue.length) return Promise.resolve(queue.shift());
      if (closed) return Promise.resolve(undefined);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(done), 1);
          resolve(undefined);
        }, ms);
        const done = (m: any) => {
          clearTimeout(timer);
          resolve(m);
        };
        waiters.push(done);
      });
    },
    get closed() {
      return closed;
    },
    close: () => ws.close(1000, "test done"),
  };
}

export const b64 = (s: string): string => btoa(s);
