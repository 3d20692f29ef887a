// The tunnel client against a WebSocket server of the test's own: a tunnel whose dial is answered
// late stays up while its pings are answered.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { until } from "../../test/support/until.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { TunnelClient } from "./client.ts";

// Long enough that a loaded machine's stalls are not missed pongs.
const PING_MS = 500;

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

/** A tunnel endpoint that answers each dial after `delayMs` and each "ping" with "pong"; counts dials and pings. */
async function slowTunnelServer(delayMs: number) {
  const counts = { dials: 0, pings: 0 };
  const sockets = new WebSocketServer({ noServer: true });
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    counts.dials++;
    setTimeout(() => sockets.handleUpgrade(request, socket, head, (ws) => {
      ws.on("message", (data, isBinary) => {
        if (isBinary || String(data) !== "ping") return;
        counts.pings++;
        ws.send("pong");
      });
    }), delayMs);
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  stops.push(() => {
    for (const ws of sockets.clients) ws.terminate();
    sockets.close();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, counts };
}

describe("the tunnel client", () => {
  it("keeps a tunnel whose dial was answered later than two ping periods, while its pings are answered", async () => {
    const { url, counts } = await slowTunnelServer(4 * PING_MS);
    const log: string[] = [];
    const client = new TunnelClient({ server: url, nodeName: "n1", token: "t", runtime: {} as Runtime, log: (m) => log.push(m), pingMs: PING_MS });
    client.start();
    stops.push(() => client.stop());
    const closed = () => log.some((m) => m.startsWith("tunnel closed"));
    const outcome = await until("five pings answered, or the tunnel closed", async () => (counts.pings >= 5 ? "answered" : closed() ? "closed" : undefined),
      { timeoutMs: 20_000, intervalMs: 20, detail: () => log.join("\n") });
    expect(outcome).toBe("answered");
    expect(counts.dials).toBe(1);
    expect(closed()).toBe(false);
  });
});
