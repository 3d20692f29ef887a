// Container logs as the kubelet reads them: CRI-format lines (`<RFC 3339 time> <stdout|stderr>
// <P|F> <text>`, P marking a line the runtime split), partial lines joined, then PodLogOptions
// applied: tailLines, since, timestamps and limitBytes; following a log reads what the runtime
// appends until the container stops.
import { open, stat } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import type { ContainerLog } from "../runtime/runtime.ts";

/** One line the container wrote, whole; `content` ends with its newline. */
export interface LogLine {
  time: string;
  stream: string;
  content: string;
}

/** Reads CRI log text as it grows: whole lines out, partial ones (P) held until their final part (F). */
export class CriLogParser {
  private rest = "";
  private readonly partial = new Map<string, LogLine>();

  push(text: string): LogLine[] {
    const lines = (this.rest + text).split("\n");
    this.rest = lines.pop()!;
    return lines.flatMap((line) => this.entry(line));
  }

  /** What is held at the end of a log that is not followed: its unfinished partial lines, as written. */
  flush(): LogLine[] {
    const held = [...this.partial.values()];
    this.partial.clear();
    return held;
  }

  private entry(line: string): LogLine[] {
    const match = /^(\S+) (stdout|stderr) (\S+)(?: (.*))?$/.exec(line);
    if (!match) return [];
    const [, time, stream, tags, content = ""] = match as unknown as [string, string, string, string, string?];
    const held = this.partial.get(stream);
    if (tags.split(":")[0] === "P") {
      this.partial.set(stream, held ? { ...held, content: held.content + content } : { time, stream, content });
      return [];
    }
    this.partial.delete(stream);
    return [held ? { ...held, content: held.content + content + "\n" } : { time, stream, content: content + "\n" }];
  }
}

export interface LogOptions {
  follow?: boolean;
  timestamps?: boolean;
  /** RFC 3339: lines written before it are skipped. */
  sinceTime?: string;
  tailLines?: number;
  limitBytes?: number;
}

/** What the reader is given to output, in order, and how many bytes it may still output. */
export class LogWriter {
  private remaining: number;
  private readonly since: number;
  private readonly options: LogOptions;
  private readonly write: (bytes: Uint8Array) => Promise<void>;

  constructor(options: LogOptions, write: (bytes: Uint8Array) => Promise<void>) {
    this.options = options;
    this.write = write;
    this.remaining = options.limitBytes ?? Infinity;
    this.since = options.sinceTime ? Date.parse(options.sinceTime) : -Infinity;
  }

  /** Whether limitBytes has been reached: nothing more will be output. */
  get full(): boolean {
    return this.remaining <= 0;
  }

  async lines(lines: LogLine[]): Promise<void> {
    for (const line of lines) {
      if (this.full) return;
      if (Date.parse(line.time) < this.since) continue;
      let bytes = Buffer.from((this.options.timestamps ? `${line.time} ` : "") + line.content);
      if (bytes.length > this.remaining) bytes = bytes.subarray(0, this.remaining);
      this.remaining -= bytes.length;
      await this.write(bytes);
    }
  }
}

/** The last `n` lines (all when n is undefined). */
export function tail(lines: LogLine[], n: number | undefined): LogLine[] {
  return n === undefined ? lines : n === 0 ? [] : lines.slice(-n);
}

const FOLLOW_POLL_MS = 250;

/**
 * Writes a container's log with the options; with follow, keeps writing what is appended until the
 * instance stops running, the limit is reached or `signal` aborts.
 */
export async function streamLog(log: ContainerLog, options: LogOptions, write: (bytes: Uint8Array) => Promise<void>, signal: AbortSignal): Promise<void> {
  const parser = new CriLogParser();
  const writer = new LogWriter(options, write);
  const file = "path" in log.source ? new GrowingFile(log.source.path) : undefined;
  const first = file ? await file.readNew() : ("text" in log.source ? log.source.text : "");
  await writer.lines(tail(parser.push(first), options.tailLines));
  while (options.follow && !writer.full && !signal.aborted) {
    const running = await log.running();
    const appended = file ? await file.readNew() : "";
    if (appended) await writer.lines(parser.push(appended));
    else if (!running) break;
    else await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
  }
  await writer.lines(parser.flush());
}

/** A log file read from where the last read stopped (from the start again if it was truncated). */
class GrowingFile {
  private offset = 0;
  private readonly decoder = new StringDecoder("utf8");
  private readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async readNew(): Promise<string> {
    const size = await stat(this.path).then((s) => s.size, () => 0);
    if (size < this.offset) this.offset = 0;
    if (size === this.offset) return "";
    const handle = await open(this.path, "r");
    try {
      const buffer = Buffer.alloc(size - this.offset);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
      this.offset += bytesRead;
      return this.decoder.write(buffer.subarray(0, bytesRead));
    } finally {
      await handle.close();
    }
  }
}
