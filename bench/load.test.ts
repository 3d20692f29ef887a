import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { servingCertificate } from "../scripts/dev-server.ts";
import { HttpTarget, LatencyRecorder, formatTable, lineSplitter, runBatch, runClosedLoop } from "./load.ts";

function recorder(samples: number[]): LatencyRecorder {
  const r = new LatencyRecorder();
  for (const s of samples) r.record(s);
  return r;
}

describe("LatencyRecorder", () => {
  it("answers nearest-rank percentiles", () => {
    // 1..100 in shuffled order: the p-th percentile is p itself.
    const samples = Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) + 1);
    const r = recorder(samples);
    expect(r.percentile(50)).toBe(50);
    expect(r.percentile(99)).toBe(99);
    expect(r.percentile(100)).toBe(100);
    expect(r.percentile(0.5)).toBe(1);
    expect(r.mean()).toBe(50.5);
  });

  it("rounds the rank up on small sets", () => {
    const r = recorder([40, 10, 30, 20]);
    expect(r.percentile(25)).toBe(10);
    expect(r.percentile(26)).toBe(20);
    expect(r.percentile(50)).toBe(20);
    expect(r.percentile(75)).toBe(30);
    expect(r.percentile(99)).toBe(40);
  });

  it("sorts numerically, keeps samples recorded after a query, and grows past its first buffer", () => {
    const r = recorder([9, 10, 100]);
    expect(r.percentile(50)).toBe(10);
    r.record(0.5);
    expect(r.percentile(25)).toBe(0.5);
    for (let i = 0; i < 5000; i++) r.record(1);
    expect(r.count).toBe(5004);
    expect(r.percentile(100)).toBe(100);
  });

  it("is NaN when empty and refuses percentiles outside (0, 100]", () => {
    expect(new LatencyRecorder().percentile(50)).toBeNaN();
    expect(() => recorder([1]).percentile(0)).toThrow(RangeError);
    expect(() => recorder([1]).percentile(101)).toThrow(RangeError);
  });
});

describe("runClosedLoop", () => {
  it("keeps `concurrency` operations in flight and counts only the window", async () => {
    let inFlight = 0;
    let peak = 0;
    const result = await runClosedLoop({
      concurrency: 4, durationMs: 200, warmupMs: 50,
      op: async (_worker, seq) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        if (seq % 10 === 9) throw new Error("every tenth fails");
      },
    });
    expect(peak).toBe(4);
    expect(inFlight).toBe(0);
    expect(result.ops + result.errors).toBeGreaterThan(40);
    expect(result.ops + result.errors).toBeLessThanOrEqual(4 * (200 / 5) + 4);
    expect(result.errors).toBeGreaterThan(0);
    expect(result.latency.count).toBe(result.ops);
    expect(result.latency.percentile(50)).toBeGreaterThanOrEqual(4);
    expect(result.opsPerSecond).toBe(result.ops / 0.2);
    expect((result.firstError as Error).message).toBe("every tenth fails");
  });
});

describe("runBatch", () => {
  it("runs each index once, `concurrency` at a time", async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    const result = await runBatch({
      concurrency: 8, count: 50,
      op: async (index) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        seen.push(index);
        if (index === 7) throw new Error("number seven fails");
      },
    });
    expect(peak).toBe(8);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(result.ops).toBe(49);
    expect(result.errors).toBe(1);
    expect(result.latency.count).toBe(49);
    expect((result.firstError as Error).message).toBe("number seven fails");
  });
});

describe("lineSplitter", () => {
  it("hands over whole lines however the chunks fall, multi-byte characters included", () => {
    const lines: string[] = [];
    const feed = lineSplitter((line) => lines.push(line));
    const text = Buffer.from('{"a":1}\n{"b":"é€"}\n\n{"c":3}\n{"d"');
    // Cut inside the two-byte é and the three-byte €.
    const cuts = [3, 7, 8, 15, 16, 18, text.length];
    let from = 0;
    for (const cut of cuts) {
      feed(text.subarray(from, cut));
      from = cut;
    }
    expect(lines).toEqual(['{"a":1}', '{"b":"é€"}', '{"c":3}']);
    feed(Buffer.from(":4}\n"));
    expect(lines.at(-1)).toBe('{"d":4}');
  });
});

describe("HttpTarget", () => {
  it("talks HTTPS to a server whose self-signed certificate it is given", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bench-load-test-"));
    try {
      const cert = servingCertificate(dir);
      const server = createServer({ key: readFileSync(cert.keyPath), cert: cert.pem }, (req, res) => {
        if (req.url === "/base/watch") {
          res.writeHead(200, { "Content-Type": "application/json" });
          res.write('{"type":"ADDED"}\n');
          res.end();
        } else if (req.method === "POST") {
          req.resume();
          req.on("end", () => res.writeHead(201).end(`${req.headers.authorization} ${req.headers["content-length"]}`));
        } else res.writeHead(404).end("missing");
      });
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      const { port } = server.address() as { port: number };
      const target = new HttpTarget(`https://127.0.0.1:${port}/base`, { Authorization: "Bearer t" }, 2, cert.pem);
      try {
        const created = await target.send("POST", "/things", Buffer.from("{}"));
        expect(created.status).toBe(201);
        expect(created.body.toString()).toBe("Bearer t 2");
        expect((await target.send("GET", "/nothing")).status).toBe(404);
        await expect(target.post("/things", Buffer.from("{}"))).rejects.toThrow(/HTTP 201 from \/things/);
        await expect(target.stream("/nothing")).rejects.toThrow(/HTTP 404 from \/nothing: missing/);
        const lines: string[] = [];
        const res = await target.stream("/watch");
        res.on("data", lineSplitter((line) => lines.push(line)));
        await once(res, "end");
        expect(lines).toEqual(['{"type":"ADDED"}']);
        await expect(new HttpTarget(`https://127.0.0.1:${port}/base`, {}, 1).send("GET", "/x")).rejects.toThrow(/self-signed/);
      } finally {
        target.close();
        server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("formatTable", () => {
  it("pads text left and numbers right", () => {
    expect(formatTable(["target", "ops/s"], [["etcd", 1070], ["edgeplane", "560"]])).toBe(
      ["target     ops/s", "---------  -----", "etcd        1070", "edgeplane    560"].join("\n"),
    );
  });
});
