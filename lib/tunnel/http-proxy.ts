// The `http-proxy` stream: one HTTP request to a Service's backend relayed through a node's tunnel
// (LoadBalancer Services at the edge). The control plane opens it with the request's head and
// writes the request body; the agent replies 200 once it is connected to the backend (or refuses),
// then writes the response: a head record ([u32 big-endian length][JSON ResponseHead]) and the body.
// The head travels in the bytes, not in the stream's reply, so the backend's own status (a 404, a
// redirect) is an answer to relay and not a refusal of the stream.
import type { StreamHeader } from "./mux.ts";

export interface HttpProxyStreamHeader extends StreamHeader {
  type: "http-proxy";
  namespace: string;
  /** The endpoint's pod (targetRef), which must run on the node that serves the stream. */
  pod: string;
  uid: string;
  /** The pod's address and the endpoint's port (the Service's targetPort, resolved). */
  address: string;
  port: number;
  method: string;
  /** Path and query as the backend sees them. */
  path: string;
  /** The request's headers in order (a name may repeat). */
  headers: [string, string][];
}

export interface ResponseHead {
  status: number;
  statusText?: string;
  headers: [string, string][];
}

const HEAD_LENGTH_BYTES = 4;
const MAX_HEAD_BYTES = 1 << 20;

export function encodeResponseHead(head: ResponseHead): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(head));
  const record = new Uint8Array(HEAD_LENGTH_BYTES + json.byteLength);
  new DataView(record.buffer).setUint32(0, json.byteLength);
  record.set(json, HEAD_LENGTH_BYTES);
  return record;
}

/** Reads the head record off a response stream: the head, and the body (the bytes after it). */
export async function readResponseHead(bytes: ReadableStream<Uint8Array>): Promise<{ head: ResponseHead; body: ReadableStream<Uint8Array> }> {
  const reader = bytes.getReader();
  let buffered = new Uint8Array(0);
  const need = async (n: number): Promise<void> => {
    while (buffered.byteLength < n) {
      const { done, value } = await reader.read();
      if (done) throw new Error("the node ended the stream before the response's head");
      const joined = new Uint8Array(buffered.byteLength + value.byteLength);
      joined.set(buffered);
      joined.set(value, buffered.byteLength);
      buffered = joined;
    }
  };
  await need(HEAD_LENGTH_BYTES);
  const length = new DataView(buffered.buffer, buffered.byteOffset, HEAD_LENGTH_BYTES).getUint32(0);
  if (length > MAX_HEAD_BYTES) throw new Error(`a response head of ${length} bytes is too large`);
  await need(HEAD_LENGTH_BYTES + length);
  const head = JSON.parse(new TextDecoder().decode(buffered.subarray(HEAD_LENGTH_BYTES, HEAD_LENGTH_BYTES + length))) as ResponseHead;
  let rest: Uint8Array | undefined = buffered.slice(HEAD_LENGTH_BYTES + length);
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (rest?.byteLength) {
        controller.enqueue(rest);
        rest = undefined;
        return;
      }
      rest = undefined;
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (e) {
        controller.error(e);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
  return { head, body };
}

/** Headers that describe one hop, not the message (RFC 9110 §7.6.1): never relayed. */
export const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"]);
