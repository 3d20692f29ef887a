// `kubectl exec` into a containerd container without a terminal: `ctr task exec` runs the command
// as a new process of the container's task with pipes, so stdin's end reaches the command (CRI's
// Exec streaming server speaks only v4.channel.k8s.io over WebSocket, which has no way to close
// stdin) and the command's exit code is ctr's.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { StreamSession } from "../runtime/runtime.ts";

/** Runs `command` in the task of container `id` (k8s.io namespace) through containerd at `socket`; answers its exit code. */
export async function execInTask(socket: string, id: string, command: string[], session: StreamSession): Promise<number> {
  const address = socket.replace(/^unix:\/\//, "");
  const execId = `edgeplane-exec-${randomBytes(6).toString("hex")}`;
  const child = spawn("ctr", ["--address", address, "--namespace", "k8s.io", "task", "exec", "--exec-id", execId, id, ...command], { stdio: ["pipe", "pipe", "pipe"] });
  const exited = new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 + 9 : 1)));
  });
  const abort = () => child.kill("SIGKILL");
  session.signal.addEventListener("abort", abort);
  const forward = async (from: NodeJS.ReadableStream, to: ((bytes: Uint8Array) => Promise<void>) | undefined) => {
    for await (const chunk of from) await to?.(chunk as Buffer);
  };
  const output = Promise.all([forward(child.stdout, session.stdout), forward(child.stderr, session.stderr)]);
  void feedStdin(session.stdin, child.stdin);
  const code = await exited;
  await output;
  session.signal.removeEventListener("abort", abort);
  return code;
}

/** The client's stdin into the process, then its end; none at all is an end at once. */
async function feedStdin(stdin: ReadableStream<Uint8Array> | undefined, to: NodeJS.WritableStream): Promise<void> {
  to.on("error", () => {});
  if (stdin) {
    for await (const chunk of stdin) {
      if (!to.write(chunk)) await new Promise((resolve) => to.once("drain", resolve));
    }
  }
  to.end();
}
