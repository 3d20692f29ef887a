// The simulated runtime's containers have no processes: `kubectl exec` into one runs this tiny
// shell instead, enough to see a session work end to end. `sh -c '<script>'` runs statements
// separated by `;`; a command alone runs as one statement. Built in: echo [-n], exit N, cat (stdin
// to stdout), true, false, sleep N, stty size (the client's terminal, with a tty). Anything else is
// "not found" with exit code 127, as sh says it.
import type { StreamSession } from "../runtime/runtime.ts";

const text = new TextEncoder();

/** Runs a command in the simulated container; answers its exit code. */
export async function runShell(command: string[], session: StreamSession): Promise<number> {
  const [program, flag, script] = command;
  if ((program === "sh" || program === "/bin/sh") && flag === "-c" && script !== undefined) return runScript(script, session);
  return runStatement(command, session);
}

async function runScript(script: string, session: StreamSession): Promise<number> {
  let status = 0;
  for (const statement of script.split(";")) {
    const words = shellWords(statement);
    if (words.length === 0) continue;
    if (words[0] === "exit") return Number(words[1] ?? status) & 0xff;
    status = await runStatement(words, session);
  }
  return status;
}

/** Words of a statement: split at blanks, '…' and "…" quoting kept together. */
export function shellWords(statement: string): string[] {
  return [...statement.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

async function runStatement([name, ...args]: string[], session: StreamSession): Promise<number> {
  const out = (s: string) => session.stdout?.(text.encode(s));
  switch (name) {
    case "echo":
      if (args[0] === "-n") await out(args.slice(1).join(" "));
      else await out(`${args.join(" ")}\n`);
      return 0;
    case "exit":
      return Number(args[0] ?? 0) & 0xff;
    case "true":
      return 0;
    case "false":
      return 1;
    case "cat":
      if (session.stdin) for await (const chunk of session.stdin) await session.stdout?.(chunk);
      return 0;
    case "sleep":
      await sleep(Number(args[0] ?? 0) * 1000, session.signal);
      return 0;
    case "stty":
      return stty(args, session);
    default:
      await session.stderr?.(text.encode(`sh: ${name}: not found\n`));
      return 127;
  }
}

/** `stty size`: rows and columns of the client's terminal, once its first resize has come. */
async function stty(args: string[], session: StreamSession): Promise<number> {
  if (!session.tty || args[0] !== "size") {
    await session.stderr?.(text.encode("stty: standard input: Not a tty\n"));
    return 1;
  }
  const size = session.size ?? await new Promise<{ width: number; height: number } | undefined>((resolve) => {
    session.onResize(resolve);
    session.signal.addEventListener("abort", () => resolve(undefined));
  });
  if (size) await session.stdout?.(text.encode(`${size.height} ${size.width}\n`));
  return 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
