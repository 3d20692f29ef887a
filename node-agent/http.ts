// The agent's transport to the control plane: a fetch over node:https that trusts the CA saved at
// join (or the system's trust store), streaming response bodies so watches work, and the discovery
// step of joining: the server's certificate as PEM and its SHA-256, checked against the hash the
// join command carries (kubeadm's discovery-token-ca-cert-hash idea).
import { createHash, X509Certificate } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import { connect, createSecureContext, type SecureContext } from "node:tls";
import type { Fetch } from "../lib/client/index.ts";

const contexts = new Map<string, SecureContext>();

/**
 * One TLS context per pinned CA for the whole process: without it every connection (each hollow
 * node's watch and tunnel) parses the CA into a context of its own.
 */
export function trusting(ca: string | undefined): { secureContext?: SecureContext } {
  if (!ca) return {};
  let secureContext = contexts.get(ca);
  if (!secureContext) contexts.set(ca, (secureContext = createSecureContext({ ca })));
  return { secureContext };
}

/** A fetch that speaks HTTPS trusting `ca` (PEM) when given, else the system's trust store. */
export function httpsFetch(ca?: string): Fetch {
  // Keep-alive: heartbeats and status patches reuse connections; each node's watch holds one of its own.
  const agent = new Agent({ keepAlive: true, ...trusting(ca) });
  return async (req) => {
    const url = new URL(req.url);
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    const headers = Object.fromEntries(req.headers);
    if (body) headers["content-length"] = String(body.length);
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<Response>((resolve, reject) => {
      const outgoing = send(url, { method: req.method, headers, ...(url.protocol === "https:" ? { agent } : {}) }, (res: IncomingMessage) => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(", ") : value);
        }
        const stream = [204, 304].includes(res.statusCode ?? 0) ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        resolve(new Response(stream, { status: res.statusCode, statusText: res.statusMessage, headers: responseHeaders }));
      });
      outgoing.on("error", reject);
      const abort = () => outgoing.destroy(new DOMException("The operation was aborted.", "AbortError"));
      if (req.signal.aborted) abort();
      req.signal.addEventListener("abort", abort, { once: true });
      outgoing.end(body);
    });
  };
}

/** A certificate as PEM, the bytes `npm run admin -- bootstrap-token` hashes (openssl's layout). */
function pemOf(der: Buffer): string {
  return new X509Certificate(der).toString();
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Every certificate the server presents, leaf first, as PEM; it is not trusted yet. */
export async function serverCertificates(server: string, timeoutMs = 10_000): Promise<string[]> {
  const url = new URL(server);
  if (url.protocol !== "https:") throw new Error(`--server ${server}: the control plane is reached over https only`);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 443), servername: isIp(url.hostname) ? undefined : url.hostname, rejectUnauthorized: false });
    const timer = setTimeout(() => socket.destroy(new Error(`no TLS answer from ${url.host} within ${timeoutMs / 1000} s`)), timeoutMs);
    socket.once("secureConnect", () => {
      const chain: string[] = [];
      const seen = new Set<string>();
      for (let cert = socket.getPeerCertificate(true); cert?.raw && !seen.has(cert.fingerprint256); cert = cert.issuerCertificate) {
        seen.add(cert.fingerprint256);
        chain.push(pemOf(cert.raw));
      }
      clearTimeout(timer);
      socket.end();
      resolve(chain);
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

const isIp = (host: string) => /^[\d.]+$/.test(host) || host.includes(":");

/**
 * The CA to pin: the certificate of the server's chain whose PEM hashes to `expectedSha256`, or an
 * error saying the server is not the one the join command was made for.
 */
export async function discoverPinnedCa(server: string, expectedSha256: string): Promise<string> {
  const chain = await serverCertificates(server);
  const expected = expectedSha256.toLowerCase().replace(/^sha256:/, "");
  const match = chain.find((pem) => sha256Hex(pem) === expected);
  if (!match) {
    throw new Error(`the server's certificate is not trusted: ${server} presents certificates with SHA-256 ${chain.map(sha256Hex).join(", ")}, not ${expected} (--ca-cert-sha256)`);
  }
  return match;
}
