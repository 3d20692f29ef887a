// A session on containerd's streaming server (the URL CRI Exec or Attach answers): containerd 1.6
// speaks kube's v4.channel.k8s.io over WebSocket (or SPDY), so the client's stdin and terminal
// resizes go out as channel messages, stdout and stderr come back, and the error channel's Status
// gives the exit code. v4 cannot close stdin alone: its end is not passed on (a terminal session
// ends when its command does).
import WebSocket from "ws";
import type { StreamSession } from "../runtime/runtime.ts";

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;

interface Status {
  status?: string;
  message?: string;
  reason?: string;
  details?: { causes?: { reason?: string; message?: string }[] };
}

/** Joins `session` to the streaming server at `url`; answers the exit code, or undefined when the client left first. */
export function streamSession(url: string, session: StreamSession): Promise<number | undefined> {
  const socket = new WebSocket(url.replace(/^http/, "ws"), ["v4.channel.k8s.io"]);
  let status: Status | undefined;
  let writes = Promise.resolve();
  const send = (channel: number, payload: Uint8Array) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(Buffer.concat([Buffer.of(channel), payload]));
  };
  const resize = (size: { width: number; height: number }) => send(RESIZE, Buffer.from(JSON.stringify({ Width: size.width, Height: size.height })));
  socket.on("open", () => {
    if (session.tty && session.size) resize(session.size);
    if (session.tty) session.onResize(resize);
    void (async () => {
      if (session.stdin) for await (const chunk of session.stdin) send(STDIN, chunk);
    })();
  });
  socket.on("message", (data: Buffer) => {
    const payload = data.subarray(1);
    if (data[0] === STDOUT && payload.byteLength) writes = writes.then(() => session.stdout?.(payload));
    else if (data[0] === STDERR && payload.byteLength) writes = writes.then(() => session.stderr?.(payload));
    else if (data[0] === ERROR && payload.byteLength) status = JSON.parse(payload.toString()) as Status;
  });
  const leave = () => socket.close();
  session.signal.addEventListener("abort", leave);
  return new Promise((resolve, reject) => {
    socket.on("error", reject);
    socket.on("close", async () => {
      session.signal.removeEventListener("abort", leave);
      await writes;
      if (session.signal.aborted) return resolve(undefined);
      if (!status || status.status === "Success") return resolve(0);
      const code = status.details?.causes?.find((c) => c.reason === "ExitCode")?.message;
      if (status.reason === "NonZeroExitCode" && code !== undefined) return resolve(Number(code));
      reject(new Error(status.message ?? "the runtime's stream failed"));
    });
  });
}
