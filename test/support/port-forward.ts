// `kubectl port-forward` in the e2e suites and bench:streams: a running port-forward with the local
// ports kubectl picked, and TCP exchanges through them.
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";

export interface PortForward {
  child: ChildProcess;
  /** The local port for each remote port asked for, in order. */
  locals: number[];
  /** Everything kubectl printed so far (stdout and stderr). */
  output(): string;
  /** kubectl's exit code once it exits. */
  exited: Promise<number>;
  stop(): void;
}

/** Starts `kubectl port-forward <target> :<port>…` and waits until it listens on every port. */
export function startPortForward(binary: string, env: NodeJS.ProcessEnv, target: string, remotePorts: number[], timeoutMs = 30_000): Promise<PortForward> {
  const child = spawn(binary, ["port-forward", target, ...remotePorts.map((p) => `:${p}`)], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const exited = new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`${binary} port-forward did not listen in ${timeoutMs} ms: ${out}`));
    }, timeoutMs);
    const check = () => {
      const locals = remotePorts.map((remote) => Number(new RegExp(`Forwarding from 127\\.0\\.0\\.1:(\\d+) -> ${remote}\\n`).exec(out)?.[1] ?? 0));
      if (locals.every((p) => p > 0)) {
        clearTimeout(timer);
        resolve({ child, locals, output: () => out, exited, stop: () => child.kill() });
      }
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.on("data", (d) => {
        out += d;
        check();
      });
    }
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${binary} port-forward exited (${code}): ${out}`));
    });
  });
}

/**
 * Connects to 127.0.0.1:`port`, writes `payload` (half-closing after it when `end`), and answers
 * what comes back: until `expect` bytes have arrived (then it closes), or until the other side closes.
 */
export function exchange(port: number, payload: Buffer | string, options: { expect?: number; end?: boolean; timeoutMs?: number } = {}): Promise<Buffer> {
  const { expect, end = false, timeoutMs = 30_000 } = options;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    let received = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`exchange on port ${port}: ${received} bytes in ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    };
    socket.on("connect", () => {
      socket.setNoDelay(true);
      if (end) socket.end(payload);
      else socket.write(payload);
    });
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.byteLength;
      if (expect !== undefined && received >= expect) {
        socket.destroy();
        done();
      }
    });
    socket.on("close", done);
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
