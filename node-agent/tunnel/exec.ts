// What the agent serves on exec and attach streams: the kubelet's half of `kubectl exec` and
// `kubectl attach`. The container must be running; the client's channel records (stdin, v5's close
// of stdin, terminal resizes) become a StreamSession the runtime runs the command (or joins the
// container) with, its output goes back as stdout and stderr records, and the end is the Status the
// kubelet puts on the error channel: Success, or NonZeroExitCode with the exit code as its cause.
import { CHANNEL, channelRecords, encodeChannelRecord, type TerminalSize } from "../../lib/tunnel/channels.ts";
import type { TunnelStream } from "../../lib/tunnel/mux.ts";
import type { ExecStreamHeader } from "../../lib/tunnel/streams.ts";
import type { Runtime, StreamSession } from "../runtime/runtime.ts";
import { Refusal } from "./refusal.ts";

/** Serves one exec or attach stream to its end (refusals before the reply are thrown). */
export async function serveSessionStream(stream: TunnelStream, header: ExecStreamHeader, runtime: Runtime): Promise<void> {
  await checkRunning(runtime, header);
  if (header.check) return stream.respond({ status: 200 });
  const run = header.type === "exec" ? runtime.execSession : runtime.attachSession;
  if (!run) throw new Refusal(400, `this node's container runtime does not support ${header.type}`);
  stream.respond({ status: 200 });
  const session = clientSession(stream, header);
  let exitCode: number | undefined;
  try {
    exitCode = header.type === "exec"
      ? await runtime.execSession!(header.uid, header.container, header.command, session)
      : await runtime.attachSession!(header.uid, header.container, session);
  } catch (e) {
    await session.send(CHANNEL.ERROR, json(failure(`${header.type} failed: ${(e as Error).message}`)));
    return;
  }
  if (session.signal.aborted) return;
  await session.send(CHANNEL.ERROR, json(exitStatus(exitCode ?? 0, header)));
}

/** The kubelet's checks before it streams: the pod is here and the container runs. */
async function checkRunning(runtime: Runtime, header: ExecStreamHeader): Promise<void> {
  const observation = await runtime.observe(header.uid);
  if (!observation) throw new Refusal(404, `pod "${header.pod}" not found on this node`);
  const status = observation.containers.find((c) => c.name === header.container);
  if (!status || !("running" in status.state)) throw new Refusal(404, `container not found ("${header.container}")`);
}

/** The session the runtime sees, fed by the client's records; `send` writes one record whole. */
function clientSession(stream: TunnelStream, header: ExecStreamHeader): StreamSession & { send(channel: number, payload: Uint8Array): Promise<void> } {
  const abort = new AbortController();
  const listeners: ((size: { width: number; height: number }) => void)[] = [];
  let stdinController!: ReadableStreamDefaultController<Uint8Array>;
  const stdin = new ReadableStream<Uint8Array>({ start: (c) => void (stdinController = c) });
  const endStdin = () => {
    try {
      stdinController.close();
    } catch {
      // Already closed.
    }
  };
  // One record at a time: a write waiting for window must not let another record's bytes in between.
  let writing = Promise.resolve();
  const send = (channel: number, payload: Uint8Array) => (writing = writing.then(() => stream.write(encodeChannelRecord(channel, payload))).catch(() => abort.abort()));
  const session = {
    tty: header.tty,
    stdin: header.stdin ? stdin : undefined,
    stdout: header.stdout ? (bytes: Uint8Array) => send(CHANNEL.STDOUT, bytes) : undefined,
    stderr: header.stderr || (header.tty && header.stdout) ? (bytes: Uint8Array) => send(header.tty ? CHANNEL.STDOUT : CHANNEL.STDERR, bytes) : undefined,
    size: undefined as { width: number; height: number } | undefined,
    onResize: (listener: (size: { width: number; height: number }) => void) => void listeners.push(listener),
    signal: abort.signal,
    send,
  };
  void (async () => {
    try {
      for await (const { channel, payload } of channelRecords(stream.readable)) {
        if (channel === CHANNEL.STDIN) stdinController.enqueue(payload);
        else if (channel === CHANNEL.CLOSE && payload[0] === CHANNEL.STDIN) endStdin();
        else if (channel === CHANNEL.RESIZE) {
          const { Width, Height } = JSON.parse(new TextDecoder().decode(payload)) as TerminalSize;
          session.size = { width: Width, height: Height };
          for (const listener of listeners) listener(session.size);
        }
      }
      endStdin();
    } catch {
      endStdin();
      abort.abort();
    }
  })();
  return session;
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** The error channel's last word, as the kubelet's remotecommand server writes it. */
export function exitStatus(exitCode: number, header: ExecStreamHeader) {
  if (exitCode === 0) return { metadata: {}, status: "Success" };
  const what = header.type === "exec" ? `error executing command [${header.command.join(" ")}], exit code ${exitCode}` : `container exited with code ${exitCode}`;
  return {
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: ${what}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(exitCode) }] },
  };
}

function failure(message: string) {
  return { metadata: {}, status: "Failure", message, reason: "InternalError", code: 500 };
}
