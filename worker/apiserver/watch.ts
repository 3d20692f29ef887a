// Watch: a chunked stream of {"type","object"} lines, or of length-framed protobuf WatchEvents. Built
// on the store's watch, with selectors applied per event (an object entering the selection is ADDED,
// leaving it DELETED), initial events for resourceVersion unset/"0" or sendInitialEvents, bookmarks,
// and timeouts. With allowWatchBookmarks, a BOOKMARK follows as soon as the replay from the requested
// resourceVersion is delivered (the store's progress notice right after its replay), so a client
// knows it has caught up to now. If the store restarts, the stream resumes from the last revision it
// saw, so the client notices nothing.
import { encodeWatchEvent, PROTOBUF_WATCH_MEDIA_TYPE } from "../protobuf/encode.ts";
import type { ListQuery, RegistryStore } from "../registry/store.ts";
import type { KubeObject } from "../registry/types.ts";
import { ApiError, apiErrors } from "../../lib/k8s/status.ts";
import type { StorageEvent } from "../storage/object-storage.ts";
import { RecentValues } from "../storage/recent-values.ts";
import { isPlainJson, StoredTextFilter } from "../storage/stored-text-filter.ts";
import { concatBytes } from "../../lib/bytes.ts";

export interface WatchOptions extends ListQuery {
  allowWatchBookmarks?: boolean;
  sendInitialEvents?: boolean;
  timeoutSeconds?: number;
}

type EventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** How events go on the wire: the stream's media type and one event's bytes. */
export interface WatchFraming {
  contentType: string;
  frame(type: EventType, object: Record<string, unknown>): Uint8Array;
}

const textEncoder = new TextEncoder();
const jsonLines: WatchFraming = {
  contentType: "application/json",
  frame: (type, object) => textEncoder.encode(JSON.stringify({ type, object }) + "\n"),
};

export const protobufFrames: WatchFraming = { contentType: PROTOBUF_WATCH_MEDIA_TYPE, frame: encodeWatchEvent };

/** What the client negotiated: each event's object as it is written (a Table row, metadata), and the framing. */
export interface WatchFormat {
  render?: (object: KubeObject, type: EventType) => unknown;
  framing?: WatchFraming;
}

/** Selectable fields whose value is a JSON string under this key in the stored object, as written. */
const FIELD_JSON_KEYS: Record<string, string> = { "spec.nodeName": "nodeName", "metadata.name": "name", "metadata.namespace": "namespace" };
/** Values JSON.stringify writes as they are (no escapes), so the stored text holds them verbatim. */
const PLAIN_VALUE = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;

/**
 * What an object's stored JSON must hold to match a selection requiring `field=value` or
 * `label=value`: `"key":"value"`. Most events a node's watch of its own pods (`spec.nodeName=<node>`)
 * is sent are other nodes' pods; testing their stored text spares decoding and parsing them.
 * Resources converted between versions are always parsed.
 */
function storedTextFilter(store: RegistryStore, selection: ReturnType<RegistryStore["selection"]>): StoredTextFilter | undefined {
  if (store.def.conversion) return undefined;
  const needles: string[] = [];
  for (const f of selection.fields) {
    const key = FIELD_JSON_KEYS[f.field];
    if (key && (f.operator === "=" || f.operator === "==") && PLAIN_VALUE.test(f.value)) needles.push(`"${key}":"${f.value}"`);
  }
  for (const l of selection.labels) {
    if ((l.operator === "=" || l.operator === "==") && PLAIN_VALUE.test(l.key) && PLAIN_VALUE.test(l.values[0] ?? "")) needles.push(`"${l.key}":"${l.values[0]}"`);
  }
  return needles.length ? new StoredTextFilter(needles) : undefined;
}

/** Per framing, the bytes sent for each kind of event lately (worker/storage/recent-values.ts); only for objects as stored, no rendering. */
type ChangeType = "ADDED" | "MODIFIED" | "DELETED";
const recentLines = new WeakMap<WatchFraming, Record<ChangeType, RecentValues<Uint8Array>>>();

function linesOf(framing: WatchFraming): Record<ChangeType, RecentValues<Uint8Array>> {
  let lines = recentLines.get(framing);
  if (!lines) {
    const cache = () => new RecentValues<Uint8Array>();
    recentLines.set(framing, (lines = { ADDED: cache(), MODIFIED: cache(), DELETED: cache() }));
  }
  return lines;
}

/** Default server-side watch timeout, like kube-apiserver's --min-request-timeout (1800 s). */
const DEFAULT_TIMEOUT_SECONDS = 1800;

export async function watchResponse(
  store: RegistryStore,
  namespace: string | undefined,
  options: WatchOptions,
  { render: customRender, framing = jsonLines }: WatchFormat = {},
): Promise<Response> {
  const render = customRender ?? ((o: KubeObject) => o);
  const selection = store.selection(options);
  const initial = options.sendInitialEvents || !options.resourceVersion || options.resourceVersion === "0";
  // Read the starting point before answering, so bad input is a plain error response.
  let revision: number;
  let initialItems: KubeObject[] = [];
  if (initial) {
    const list = await store.list(namespace, { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector });
    initialItems = list.items as KubeObject[];
    revision = Number(list.metadata!.resourceVersion);
  } else {
    if (!/^\d+$/.test(options.resourceVersion!)) throw new ApiError(400, "BadRequest", `invalid resource version: ${options.resourceVersion}`);
    revision = Number(options.resourceVersion);
  }

  const abort = new AbortController();
  const timeout = setTimeout(() => abort.abort(), (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000);
  const prefix = store.prefix(namespace);
  const filter = storedTextFilter(store, selection);
  // With no selector, every object is in the selection: an update's old value tells nothing.
  const selective = selection.labels.length > 0 || selection.fields.length > 0;

  // Objects of a store without conversion are only read here, so objects and lines other watch
  // streams of the isolate made from the same stored bytes serve this one too.
  const shared = !store.def.conversion;
  const lines = shared && !customRender ? linesOf(framing) : undefined;

  // What waits for the client: the stream hands over one chunk each time the client's side asks for
  // more, made of everything that came meanwhile. A busy isolate is slow to come back for the next
  // chunk, so events then go out many to a chunk instead of falling further behind one by one.
  const outbox: Uint8Array[] = [];
  let ended = false;
  let asked: (() => void) | undefined;
  const wake = () => { asked?.(); asked = undefined; };
  const send = (bytes: Uint8Array) => { outbox.push(bytes); wake(); };

  const produce = async () => {
    const frame = (type: EventType, object: unknown) =>
      framing.frame(type, (type === "BOOKMARK" || type === "ERROR" ? object : render(object as KubeObject, type)) as Record<string, unknown>);
    const emit = (type: EventType, object: unknown) => send(frame(type, object));
    const bookmark = (rv: number, annotations?: Record<string, string>) =>
      emit("BOOKMARK", { kind: store.def.kind, apiVersion: store.apiVersion, metadata: { resourceVersion: String(rv), ...(annotations ? { annotations } : {}) } });
    /** The bytes a client is sent for `event`, if it is to hear of it. */
    const eventBytes = async (event: StorageEvent): Promise<Uint8Array | undefined> => {
      // A delete at exactly the compaction revision has no earlier value left: the watcher
      // cannot be told what left, so it must relist, as kube's watch cache says.
      if (event.type === "DELETE" && !event.hadPrev) throw apiErrors.expired("The resourceVersion for the provided watch is too old.");
      // Each value is opened at most once, and only if a selector or a miss of the lines needs it.
      const opened: { object?: Promise<KubeObject | undefined>; prev?: Promise<KubeObject | undefined> } = {};
      const open = (which: "object" | "prev") => (opened[which] ??= event[which](shared).then((o) => store.decode(o as KubeObject | undefined)));
      // An update whose earlier value was compacted may have been in the selection.
      const prevUnknown = event.type === "PUT" && !event.created && !event.hadPrev;
      const wasIn = prevUnknown || (selective ? store.matches(selection, await open("prev")) : event.hadPrev);
      const isIn = event.type === "PUT" && (!selective || store.matches(selection, await open("object")));
      let type: ChangeType;
      let value: "object" | "prev";
      if (event.type === "DELETE") [type, value] = ["DELETED", "prev"];
      else if (isIn) [type, value] = [wasIn && !event.created ? "MODIFIED" : "ADDED", "object"];
      else [type, value] = ["DELETED", "object"];
      if (!wasIn && !isIn) return undefined;
      const bytes = value === "object" ? event.value : event.prevValue;
      const made = bytes && isPlainJson(bytes) ? lines?.[type].get(event.key, event.revision, bytes) : undefined;
      if (made) return made;
      const object = (await open(value))!;
      const stamped = { ...object, metadata: { ...object.metadata, resourceVersion: String(event.revision) } };
      const out = frame(type, stamped);
      return bytes && isPlainJson(bytes) && lines ? lines[type].set(event.key, event.revision, bytes, out) : out;
    };
    try {
      for (const item of initialItems) emit("ADDED", item);
      if (options.sendInitialEvents && options.allowWatchBookmarks) bookmark(revision, { "k8s.io/initial-events-end": "true" });
      while (!abort.signal.aborted) {
        for await (const item of store.storage.watch(prefix, revision, abort.signal, { progressNotify: !!options.allowWatchBookmarks, filter, prevOfPuts: selective })) {
          if (item.type === "PROGRESS") {
            revision = item.revision;
            if (options.allowWatchBookmarks) bookmark(item.revision);
            continue;
          }
          for (const event of item.events) {
            const bytes = await eventBytes(event);
            revision = event.revision;
            if (bytes) send(bytes);
          }
        }
      }
    } catch (e) {
      if (e instanceof ApiError) emit("ERROR", e.toStatus());
      else emit("ERROR", new ApiError(500, "InternalError", `Internal error occurred: ${(e as Error).message}`).toStatus());
    } finally {
      clearTimeout(timeout);
      ended = true;
      wake();
    }
  };

  const stream = new ReadableStream<Uint8Array>({
    start() {
      void produce();
    },
    async pull(controller) {
      while (!outbox.length && !ended) await new Promise<void>((resolve) => (asked = resolve));
      if (outbox.length) controller.enqueue(concatBytes(outbox.splice(0)));
      if (ended && !outbox.length) controller.close();
    },
    cancel() {
      ended = true;
      abort.abort();
      wake();
    },
  }, { highWaterMark: 0 });
  return new Response(stream, {
    headers: { "Content-Type": framing.contentType, "Content-Encoding": "identity" },
  });
}
