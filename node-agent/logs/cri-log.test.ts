// CRI log reading as the kubelet does it: partial lines joined per stream, unparseable lines
// skipped, tail/since/timestamps/limitBytes, and following a real file as the runtime appends to it
// until the container stops.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CriLogParser, streamLog, type LogOptions } from "./cri-log.ts";

const LOG = [
  "2026-01-01T10:00:00.000000001Z stdout F first",
  "2026-01-01T10:00:01.5Z stderr P par",
  "2026-01-01T10:00:01.6Z stdout F second",
  "2026-01-01T10:00:01.7Z stderr F tial",
  "not a cri line",
  "2026-01-01T10:00:02Z stdout F ",
  "2026-01-01T10:00:03Z stdout F last one",
  "",
].join("\n");

async function read(options: LogOptions, source: { text: string } | { path: string } = { text: LOG }, running = async () => false): Promise<string> {
  let out = "";
  await streamLog({ source, running }, options, async (bytes) => void (out += Buffer.from(bytes).toString()), new AbortController().signal);
  return out;
}

const dir = mkdtempSync(join(tmpdir(), "cri-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("CriLogParser", () => {
  it("joins a stream's partial lines, keeps streams apart, and holds an unfinished line until it ends", () => {
    const parser = new CriLogParser();
    const lines = parser.push(LOG.slice(0, 70));
    expect(lines).toEqual([{ time: "2026-01-01T10:00:00.000000001Z", stream: "stdout", content: "first\n" }]);
    const rest = parser.push(LOG.slice(70));
    expect(rest.map((l) => l.content)).toEqual(["second\n", "partial\n", "\n", "last one\n"]);
    expect(rest[1]!.time).toBe("2026-01-01T10:00:01.5Z");
    expect(parser.push("2026-01-01T10:00:04Z stdout P unfinished")).toEqual([]);
    expect(parser.push("\n")).toEqual([]);
    expect(parser.flush()).toEqual([{ time: "2026-01-01T10:00:04Z", stream: "stdout", content: "unfinished" }]);
  });
});

describe("streamLog", () => {
  it("writes the whole log, or its tail, lines since a time, with timestamps, up to a byte limit", async () => {
    expect(await read({})).toBe("first\nsecond\npartial\n\nlast one\n");
    expect(await read({ tailLines: 2 })).toBe("\nlast one\n");
    expect(await read({ tailLines: 0 })).toBe("");
    expect(await read({ sinceTime: "2026-01-01T10:00:01.55Z" })).toBe("second\n\nlast one\n");
    expect(await read({ timestamps: true, tailLines: 1 })).toBe("2026-01-01T10:00:03Z last one\n");
    expect(await read({ limitBytes: 9 })).toBe("first\nsec");
  });

  it("follows a file as it grows until the container stops running", async () => {
    const path = join(dir, "0.log");
    writeFileSync(path, "2026-01-01T10:00:00Z stdout F one\n");
    let running = true;
    let out = "";
    const done = streamLog({ source: { path }, running: async () => running }, { follow: true }, async (bytes) => void (out += Buffer.from(bytes).toString()), new AbortController().signal);
    const until = async (condition: () => boolean) => {
      const deadline = Date.now() + 5000;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`not met; output so far: ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until(() => out === "one\n");
    appendFileSync(path, "2026-01-01T10:00:01Z stdout P t");
    appendFileSync(path, "w\n2026-01-01T10:00:01Z stdout F o\n");
    await until(() => out === "one\ntwo\n");
    appendFileSync(path, "2026-01-01T10:00:02Z stderr F three\n");
    running = false;
    await done;
    expect(out).toBe("one\ntwo\nthree\n");
  });

  it("stops following at the byte limit or when aborted", async () => {
    const path = join(dir, "1.log");
    writeFileSync(path, "2026-01-01T10:00:00Z stdout F 0123456789\n");
    expect(await read({ follow: true, limitBytes: 4 }, { path }, async () => true)).toBe("0123");
    const abort = new AbortController();
    let out = "";
    const done = streamLog({ source: { path }, running: async () => true }, { follow: true }, async (bytes) => {
      out += Buffer.from(bytes).toString();
      abort.abort();
    }, abort.signal);
    await done;
    expect(out).toBe("0123456789\n");
  });
});
