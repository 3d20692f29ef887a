// The node's DNS server for its pods, over UDP and TCP on one port: names of the cluster zone are
// answered from the Service and EndpointSlice caches (answers.ts), everything else is forwarded to
// the host's resolvers (its /etc/resolv.conf) with a small cache that keeps answers for their TTL.
// Cluster answers are kept encoded, by the query's bytes, until the view changes (the owner calls
// `viewChanged`), so a repeated question costs a map lookup rather than a decode and an encode.
// It answers only its own pods and the node itself: it is not an open resolver.
import { createSocket, type Socket } from "node:dgram";
import { createServer, type Server, type Socket as TcpSocket } from "node:net";
import dnsPacket, { type DecodedPacket, type Packet } from "dns-packet";
import { clusterAnswer, type ClusterView } from "./answers.ts";

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
/** The largest UDP answer for a client that does not say otherwise (EDNS0). */
const UDP_MAX = 512;
const UPSTREAM_TIMEOUT_MS = 2000;
const CACHE_ENTRIES = 10_000;
/** The smallest DNS message: a header. */
const HEADER_BYTES = 12;
/** Forwarded answers are kept no longer than this, whatever their TTL (CoreDNS's cache default). */
const CACHE_MAX_TTL_S = 30;

export interface Upstream {
  address: string;
  port: number;
}

/** The nameservers of a resolv.conf, in order. */
export function resolvConfUpstreams(text: string): Upstream[] {
  return text.split("\n").map((l) => l.trim().split(/\s+/)).filter(([key, value]) => key === "nameserver" && value).map(([, address]) => ({ address: address!, port: 53 }));
}

export interface ClusterDNSOptions {
  view: ClusterView;
  /** The cluster domain (cluster.local). */
  domain: string;
  upstreams: Upstream[];
  /** Where to listen (default 0.0.0.0), and the port (0: any, for tests). */
  host?: string;
  port: number;
  /** Whether a client may ask (default: anyone). */
  accepts?: (address: string) => boolean;
  log: (message: string) => void;
}

/** The cache of forwarded answers, by question; answers are stored without their query id. */
class AnswerCache {
  private readonly entries = new Map<string, { expires: number; answer: Buffer }>();

  get(key: string): Buffer | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires > Date.now()) return entry.answer;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, answer: Buffer, ttlSeconds: number): void {
    if (ttlSeconds <= 0) return;
    if (this.entries.size >= CACHE_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { expires: Date.now() + Math.min(ttlSeconds, CACHE_MAX_TTL_S) * 1000, answer });
  }
}

/** How long a forwarded answer may be kept: its smallest TTL, or the SOA minimum of a negative one. */
function cacheTTL(packet: DecodedPacket): number {
  const records = [...(packet.answers ?? []), ...(packet.authorities ?? [])].filter((r) => r.type !== "OPT");
  const flags = packet.flags ?? 0;
  const rcode = flags & 0xf;
  // Truncated answers and failures are asked again next time.
  if (flags & dnsPacket.TRUNCATED_RESPONSE || (rcode !== RCODE.NOERROR && rcode !== RCODE.NXDOMAIN)) return 0;
  const ttls = records.map((r) => ("ttl" in r ? r.ttl ?? 0 : 0));
  return ttls.length ? Math.min(...ttls) : 0;
}

function withId(answer: Buffer, id: number): Buffer {
  const copy = Buffer.from(answer);
  copy.writeUInt16BE(id, 0);
  return copy;
}

export class ClusterDNS {
  private readonly options: ClusterDNSOptions;
  private readonly cache = new AnswerCache();
  /** Cluster answers, encoded, by transport size and the query's bytes after its id; emptied when the view changes. */
  private readonly clusterAnswers = new Map<string, Buffer>();
  private udp: Socket | undefined;
  private tcp: Server | undefined;
  private readonly connections = new Set<TcpSocket>();

  constructor(options: ClusterDNSOptions) {
    this.options = options;
  }

  /** Listens on UDP and TCP; resolves with the port. */
  async start(): Promise<number> {
    const host = this.options.host ?? "0.0.0.0";
    const udp = createSocket("udp4");
    this.udp = udp;
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(this.options.port, host, () => resolve());
    });
    const port = udp.address().port;
    udp.on("message", (message, remote) => {
      void this.handle(message, remote.address, UDP_MAX).then((answer) => answer && udp.send(answer, remote.port, remote.address));
    });
    const tcp = createServer((socket) => this.serveTcp(socket));
    this.tcp = tcp;
    await new Promise<void>((resolve, reject) => {
      tcp.once("error", reject);
      tcp.listen(port, host, () => resolve());
    });
    return port;
  }

  async close(): Promise<void> {
    this.udp?.close();
    for (const socket of this.connections) socket.destroy();
    await new Promise<void>((resolve) => (this.tcp ? this.tcp.close(() => resolve()) : resolve()));
  }

  /** DNS over TCP: each message with its two-byte length, answered in turn. */
  private serveTcp(socket: TcpSocket): void {
    this.connections.add(socket);
    socket.on("close", () => this.connections.delete(socket));
    socket.on("error", () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on("data", (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const message = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + message.length);
        void this.handle(message, socket.remoteAddress ?? "", 65535).then((answer) => {
          if (!answer || socket.destroyed) return;
          const length = Buffer.alloc(2);
          length.writeUInt16BE(answer.length);
          socket.write(Buffer.concat([length, answer]));
        });
      }
    });
  }

  /** The Services or EndpointSlices changed: cluster answers are computed afresh. */
  viewChanged(): void {
    this.clusterAnswers.clear();
  }

  /** The answer to one query message, at most `maxSize` bytes; undefined for what is not a query. */
  async handle(message: Buffer, client: string, maxSize: number): Promise<Buffer | undefined> {
    const allowed = !this.options.accepts || this.options.accepts(client.replace(/^::ffff:/, ""));
    const key = allowed && message.length >= HEADER_BYTES ? `${maxSize}/${message.toString("latin1", 2)}` : undefined;
    const known = key === undefined ? undefined : this.clusterAnswers.get(key);
    if (known) return withId(known, message.readUInt16BE(0));
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return undefined;
    }
    if (query.type !== "query") return undefined;
    const question = query.questions?.[0];
    const reply = (rcode: number, body: Partial<Packet> = {}): Buffer => {
      const flags = dnsPacket.RECURSION_AVAILABLE | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | rcode;
      return dnsPacket.encode({ type: "response", id: query.id, flags, questions: query.questions, ...body });
    };
    if (!allowed) return reply(RCODE.REFUSED);
    if (!question || query.questions!.length !== 1) return reply(RCODE.FORMERR);
    try {
      const cluster = clusterAnswer(question, this.options.view, this.options.domain);
      if (!cluster) return await this.forward(query, message, maxSize);
      const answer = reply(RCODE[cluster.rcode] | dnsPacket.AUTHORITATIVE_ANSWER, { answers: cluster.answers, authorities: cluster.authorities, additionals: cluster.additionals });
      const limit = Math.max(maxSize, ednsSize(query));
      // Too big for this transport: the client asks again over TCP.
      const sized = answer.length <= limit ? answer : reply(RCODE[cluster.rcode] | dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.TRUNCATED_RESPONSE);
      if (key !== undefined) {
        if (this.clusterAnswers.size >= CACHE_ENTRIES) this.clusterAnswers.clear();
        this.clusterAnswers.set(key, sized);
      }
      return sized;
    } catch (error) {
      this.options.log(`cluster DNS: ${question.name} ${question.type}: ${(error as Error).message}`);
      return reply(RCODE.SERVFAIL);
    }
  }

  /** Asks the host's resolvers in turn (the cache first); SERVFAIL when none answers. */
  private async forward(query: DecodedPacket, message: Buffer, maxSize: number): Promise<Buffer> {
    const question = query.questions![0]!;
    const key = `${question.name.toLowerCase()}/${question.type}/${question.class ?? "IN"}/${maxSize > UDP_MAX ? "tcp" : "udp"}`;
    const cached = this.cache.get(key);
    if (cached) return withId(cached, query.id ?? 0);
    for (const upstream of this.options.upstreams) {
      const answer = await askUpstream(upstream, message).catch(() => undefined);
      if (!answer) continue;
      this.cache.set(key, answer, cacheTTL(dnsPacket.decode(answer)));
      return answer;
    }
    const flags = dnsPacket.RECURSION_AVAILABLE | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | RCODE.SERVFAIL;
    return dnsPacket.encode({ type: "response", id: query.id, flags, questions: query.questions });
  }
}

/** The UDP payload size a query's EDNS0 record allows, or 0. */
function ednsSize(query: DecodedPacket): number {
  const opt = query.additionals?.find((r) => r.type === "OPT");
  return opt && "udpPayloadSize" in opt ? opt.udpPayloadSize : 0;
}

/** One query to one upstream over UDP; rejects on time-out. */
function askUpstream(upstream: Upstream, message: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(upstream.address.includes(":") ? "udp6" : "udp4");
    const id = message.readUInt16BE(0);
    const timer = setTimeout(() => done(new Error("time-out")), UPSTREAM_TIMEOUT_MS);
    function done(error: Error | undefined, answer?: Buffer): void {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(answer!);
    }
    socket.on("error", (e) => done(e));
    socket.on("message", (answer) => {
      if (answer.length >= 2 && answer.readUInt16BE(0) === id) done(undefined, answer);
    });
    socket.send(message, upstream.port, upstream.address);
  });
}
