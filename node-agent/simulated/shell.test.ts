// The simulated containers' tiny shell as `kubectl exec` meets it: echo, statements in order with
// `exit N` ending the script, cat copying stdin to its end, sh's "not found" with 127, and `stty
// size` answering the client's terminal once its size is known.
import { describe, expect, it } from "vitest";
import type { StreamSession } from "../runtime/runtime.ts";
import { runShell, shellWords } from "./shell.ts";

function session(options: { stdin?: string[]; tty?: boolean } = {}) {
  const out = { stdout: "", stderr: "" };
  const listeners: ((size: { width: number; height: number }) => void)[] = [];
  const s: StreamSession = {
    tty: options.tty ?? false,
    stdin: options.stdin && new ReadableStream({ start: (c) => { for (const line of options.stdin!) c.enqueue(new TextEncoder().encode(line)); c.close(); } }),
    stdout: async (bytes) => void (out.stdout += new TextDecoder().decode(bytes)),
    stderr: async (bytes) => void (out.stderr += new TextDecoder().decode(bytes)),
    size: undefined,
    onResize: (listener) => void listeners.push(listener),
    signal: new AbortController().signal,
  };
  return { s, out, resize: (width: number, height: number) => listeners.forEach((l) => l({ width, height })) };
}

describe("the simulated shell", () => {
  it("splits words as sh does with quotes", () => {
    expect(shellWords(`echo 'a b' "c d" e`)).toEqual(["echo", "a b", "c d", "e"]);
  });

  it("runs statements in order; exit ends the script with its code", async () => {
    const { s, out } = session();
    expect(await runShell(["sh", "-c", "echo one; echo -n two; exit 3; echo never"], s)).toBe(3);
    expect(out.stdout).toBe("one\ntwo");
  });

  it("cat copies stdin until it ends", async () => {
    const { s, out } = session({ stdin: ["hi\n", "there\n"] });
    expect(await runShell(["cat"], s)).toBe(0);
    expect(out.stdout).toBe("hi\nthere\n");
  });

  it("an unknown command is not found, exit code 127", async () => {
    const { s, out } = session();
    expect(await runShell(["nosuch", "arg"], s)).toBe(127);
    expect(out).toEqual({ stdout: "", stderr: "sh: nosuch: not found\n" });
  });

  it("stty size waits for the terminal's size; without a tty it is not a tty", async () => {
    const tty = session({ tty: true });
    const running = runShell(["stty", "size"], tty.s);
    tty.resize(100, 30);
    expect(await running).toBe(0);
    expect(tty.out.stdout).toBe("30 100\n");
    const plain = session();
    expect(await runShell(["stty", "size"], plain.s)).toBe(1);
    expect(plain.out.stderr).toBe("stty: standard input: Not a tty\n");
  });
});
