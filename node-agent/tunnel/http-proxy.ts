// The agent's end of an `http-proxy` stream (LoadBalancer Services at the edge): the control plane
// relays one HTTP request for a Service's endpoint on this node; the agent sends it to the pod's
// address and port and streams the response back (lib/tunnel/http-proxy.ts). It serves only the
// addresses of pods it runs, so the tunnel cannot be used to reach anything else on the host's
// network. A runtime without real containers (simulated) answers itself, echoing the request.
import { request as httpRequest, type IncomingMessage } from "node:http";
import type { TunnelStream } from "../../lib/tunnel/mux.ts";
import { encodeResponseHead, HOP_BY_HOP, type HttpProxyStreamHeader, type ResponseHead } from "../../lib/tunnel/http-proxy.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { Refusal } from "./refusal.ts";

/** How long the pod may take to accept the connection. */
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * How long a pod's addresses, once checked with the runtime, are trusted without asking it again
 * (each check is several CRI calls, queued behind the pod's own sync). A pod deleted meanwhile
 * leaves at most this long in which its address, if reused, reaches another pod of this node.
 */
const ADDRESSES_TTL_MS = 5_000;
const MAX_REMEMBERED = 4096;
const checkedAddresses = new Map<string, { podIPs: string[]; until: number }>();

/** Whether the pod of this uid runs on this node with this address. */
async function isLocalPodAddress(runtime: Runtime, uid: string, address: string): Promise<boolean> {
  const remembered = checkedAddresses.get(uid);
  if (remembered && remembered.until > Date.now() && remembered.podIPs.includes(address)) return true;
  const observation = uid ? await runtime.observe(uid) : undefined;
  if (!observation?.podIPs.includes(address)) return false;
  if (checkedAddresses.size >= MAX_REMEMBERED) checkedAddresses.clear();
  checkedAddresses.set(uid, { podIPs: observation.podIPs, until: Date.now() + ADDRESSES_TTL_MS });
  return true;
}

/** Serves one http-proxy stream to its end; a failure before the response is the stream's refusal. */
export async function serveHttpProxyStream(stream: TunnelStream, runtime: Runtime): Promise<void> {
  const header = stream.header as HttpProxyStreamHeader;
  try {
    if (!(await isLocalPodAddress(runtime, header.uid, header.address))) {
      throw new Refusal(404, `pod "${header.namespace}/${header.pod}" with address ${header.address} does not run on this node`);
    }
    if (runtime.probe) await simulatedAnswer(stream, header);
    else await forward(stream, header);
    stream.end();
  } catch (e) {
    if (e instanceof Refusal) {
      stream.respond({ status: e.status, message: e.message });
      stream.end();
    } else {
      stream.reset((e as Error).message);
    }
  }
}

async function forward(stream: TunnelStream, header: HttpProxyStreamHeader): Promise<void> {
  const target = `pod "${header.namespace}/${header.pod}" at ${header.address}:${header.port}`;
  const request = httpRequest({
    host: header.address, port: header.port, method: header.method, path: header.path,
    headers: header.headers.filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())).flat(), setHost: false,
  });
  const connectTimer = setTimeout(() => request.destroy(new Error(`timed out after ${CONNECT_TIMEOUT_MS / 1000} s connecting`)), CONNECT_TIMEOUT_MS);
  request.on("socket", (socket) => socket.once("connect", () => clearTimeout(connectTimer)));
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request.once("response", resolve);
    request.once("error", reject);
  });
  void sendBody(stream, request);
  let answer: IncomingMessage;
  try {
    answer = await response;
  } catch (e) {
    throw new Refusal(502, `${target}: ${(e as Error).message}`);
  } finally {
    clearTimeout(connectTimer);
  }
  const headers: [string, string][] = [];
  for (let i = 0; i + 1 < answer.rawHeaders.length; i += 2) headers.push([answer.rawHeaders[i]!, answer.rawHeaders[i + 1]!]);
  stream.respond({ status: 200 });
  await stream.write(encodeResponseHead({ status: answer.statusCode ?? 502, statusText: answer.statusMessage, headers }));
  try {
    for await (const chunk of answer) await stream.write(new Uint8Array(chunk as Buffer));
  } catch (e) {
    // The client went away (the stream was reset): stop reading the pod's answer.
    answer.destroy();
    throw e;
  }
}

/** The request body from the stream to the pod, as the pod reads it. */
async function sendBody(stream: TunnelStream, request: ReturnType<typeof httpRequest>): Promise<void> {
  try {
    for await (const chunk of stream.readable) {
      if (!request.write(chunk)) await new Promise((resolve) => request.once("drain", resolve));
    }
    request.end();
  } catch {
    request.destroy();
  }
}

/** A hollow node's pod: answers 200 with what it received, as JSON. */
async function simulatedAnswer(stream: TunnelStream, header: HttpProxyStreamHeader): Promise<void> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream.readable) chunks.push(chunk);
  const body = Buffer.concat(chunks).toString("utf8");
  const echo = JSON.stringify({ pod: `${header.namespace}/${header.pod}`, method: header.method, path: header.path, headers: header.headers, body });
  const bytes = new TextEncoder().encode(`${echo}\n`);
  const head: ResponseHead = { status: 200, headers: [["Content-Type", "application/json"], ["Content-Length", String(bytes.byteLength)]] };
  stream.respond({ status: 200 });
  await stream.write(encodeResponseHead(head));
  await stream.write(bytes);
}
