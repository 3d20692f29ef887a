// What the agent serves on port-forward streams: the kubelet's half of `kubectl port-forward`.
// Each stream is one forwarded connection to a port of a pod on this node: the agent connects to
// the pod's IP at that port (from the host, which routes to its pods) and copies bytes both ways,
// the stream's end closing the connection's writing side and the pod's close ending the stream.
// A simulated pod has no network: its ports echo what they are sent.
import { connect, type Socket } from "node:net";
import type { TunnelStream } from "../../lib/tunnel/mux.ts";
import type { PortForwardStreamHeader } from "../../lib/tunnel/streams.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { Refusal } from "./refusal.ts";

/** Serves one port-forward stream to its end (refusals before the reply are thrown). */
export async function servePortForward(stream: TunnelStream, header: PortForwardStreamHeader, runtime: Runtime): Promise<void> {
  const observation = await runtime.observe(header.uid);
  if (!observation) throw new Refusal(404, `pod "${header.pod}" not found on this node`);
  if (header.check) return stream.respond({ status: 200 });
  if ((await runtime.info()).runtimeName === "simulated") return echo(stream);
  const ip = observation.podIPs[0];
  const failure = (why: string) => `error forwarding port ${header.port} to pod ${header.pod}_${header.namespace}, uid ${header.uid}: ${why}`;
  if (!ip || !observation.sandboxReady) throw new Refusal(500, failure("the pod has no network yet"));
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: ip, port: header.port });
    s.once("connect", () => resolve(s));
    s.once("error", (e) => reject(new Refusal(500, failure(e.message))));
  });
  socket.setNoDelay(true);
  stream.respond({ status: 200 });
  await relay(stream, socket);
}

/** Copies the stream into the socket and the socket into the stream, each under the other's pace. */
async function relay(stream: TunnelStream, socket: Socket): Promise<void> {
  const fromPod = new Promise<void>((resolve, reject) => {
    // The last chunk may still be waiting for window when the socket ends: the end waits for it.
    let writing = Promise.resolve();
    socket.on("data", (chunk: Buffer) => {
      socket.pause();
      writing = stream.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)).then(() => void socket.resume(), (e) => {
        socket.destroy();
        reject(e);
      });
    });
    const ended = () => void writing.then(resolve);
    socket.once("end", ended);
    socket.once("error", reject);
    socket.once("close", ended);
  });
  const toPod = (async () => {
    try {
      for await (const chunk of stream.readable) {
        if (socket.destroyed) break;
        if (!socket.write(chunk)) {
          await new Promise<void>((resolve) => {
            socket.once("drain", resolve);
            socket.once("close", resolve);
          });
        }
      }
      socket.end();
    } catch {
      // The apiserver's side was reset: the connection goes.
      socket.destroy();
    }
  })();
  try {
    await fromPod;
  } finally {
    socket.destroy();
    void toPod;
  }
}

/** A simulated pod's port: what arrives goes back. */
async function echo(stream: TunnelStream): Promise<void> {
  stream.respond({ status: 200 });
  for await (const chunk of stream.readable) await stream.write(chunk);
}
