// Linearizability of the store under concurrent clients: one workload of reads, puts and
// compare-and-swaps over a few keys, run through the control plane's etcd gateway and, as a
// control, against a local etcd 3.4; the recorded histories must have no violations.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startControlPlane, type ControlPlane } from "../../scripts/dev-server.ts";
import { startEtcd, type LocalEtcd } from "../support/etcd.ts";
import { checkHistory, type Operation } from "./checker.ts";

/** An etcd v3 JSON gateway: its base URL (ending in /v3) and the headers every request carries. */
interface Gateway {
  base: string;
  headers: Record<string, string>;
}

interface WorkloadOptions {
  clients: number;
  keys: number;
  durationMs: number;
  minOps: number;
  maxDurationMs: number;
  /** A request unanswered this long counts as an unknown outcome. */
  requestTimeoutMs: number;
}

interface WorkloadRun {
  history: Operation[];
  /** Completed ops by kind, CAS split by result, and ops whose outcome is unknown. */
  counts: { read: number; write: number; casSucceeded: number; casFailed: number; unknown: number };
  errors: string[];
}

const b64 = (text: string) => Buffer.from(text).toString("base64");
const unb64 = (text: string) => Buffer.from(text, "base64").toString();

async function call(gateway: Gateway, path: string, body: object, timeoutMs: number): Promise<Record<string, unknown>> {
  const res = await fetch(`${gateway.base}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...gateway.headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/**
 * Clients each loop over randomly chosen keys until the deadline (and until `minOps` ops have
 * completed, within `maxDurationMs`): a read, an unconditional put, or a read followed by a CAS
 * from the value read. Every value is unique, so a read names the one op that wrote what it saw.
 * A failed or timed-out request stays in the history with unknown outcome.
 */
async function runWorkload(gateway: Gateway, options: WorkloadOptions): Promise<WorkloadRun> {
  const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const keys = Array.from({ length: options.keys }, (_, i) => `/linearizability/${run}/k${i}`);
  const history: Operation[] = [];
  const errors: string[] = [];
  const start = performance.now();
  let completed = 0;
  const going = () => {
    const elapsed = performance.now() - start;
    return elapsed < options.durationMs || (completed < options.minOps && elapsed < options.maxDurationMs);
  };

  /** Records `op`, sends its request, and stamps its completion when the answer is in. */
  const perform = async (op: Operation, path: string, body: object) => {
    history.push(op);
    op.call = performance.now();
    const res = await call(gateway, path, body, options.requestTimeoutMs);
    op.return = performance.now();
    completed++;
    return res;
  };
  const read = async (client: number, key: string) => {
    const op: Operation = { kind: "read", key, client, call: 0 };
    const kvs = (await perform(op, "/kv/range", { key: b64(key) })).kvs as { value?: string }[] | undefined;
    op.value = kvs?.length ? unb64(kvs[0]!.value ?? "") : null;
    return op.value;
  };
  const put = async (client: number, key: string, value: string) => {
    await perform({ kind: "write", key, value, client, call: 0 }, "/kv/put", { key: b64(key), value: b64(value) });
  };
  const cas = async (client: number, key: string, expected: string, value: string) => {
    const op: Operation = { kind: "cas", key, expected, value, client, call: 0 };
    const res = await perform(op, "/kv/txn", {
      compare: [{ key: b64(key), target: "VALUE", result: "EQUAL", value: b64(expected) }],
      success: [{ request_put: { key: b64(key), value: b64(value) } }],
    });
    op.succeeded = res.succeeded === true;
  };

  const client = async (id: number) => {
    for (let seq = 0; going(); seq++) {
      const key = keys[Math.floor(Math.random() * keys.length)]!;
      const value = `${run}-c${id}-${seq}`;
      const roll = Math.random();
      try {
        if (roll < 0.35) await read(id, key);
        else if (roll < 0.55) await put(id, key, value);
        else {
          const current = await read(id, key);
          if (current !== null) await cas(id, key, current, value);
        }
      } catch (e) {
        errors.push(e instanceof Error ? e.message : String(e));
      }
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, id) => client(id)));

  const counts = { read: 0, write: 0, casSucceeded: 0, casFailed: 0, unknown: 0 };
  for (const op of history) {
    if (op.return === undefined) counts.unknown++;
    else if (op.kind === "cas") counts[op.succeeded ? "casSucceeded" : "casFailed"]++;
    else counts[op.kind]++;
  }
  return { history, counts, errors };
}

const WORKLOAD: WorkloadOptions = { clients: 24, keys: 4, durationMs: 5000, minOps: 1500, maxDurationMs: 60_000, requestTimeoutMs: 10_000 };

/** Runs the workload, checks its history, reports the numbers, and asserts it was linearizable and worth checking. */
async function expectLinearizable(name: string, gateway: Gateway): Promise<void> {
  const began = performance.now();
  const { history, counts, errors } = await runWorkload(gateway, WORKLOAD);
  const ranMs = performance.now() - began;
  const started = performance.now();
  const result = checkHistory(history);
  const checkMs = performance.now() - started;
  console.log(`${name}: ${history.length} ops in ${ranMs.toFixed(0)} ms from ${WORKLOAD.clients} clients over ${WORKLOAD.keys} keys ` +
    `(${JSON.stringify(counts)}); checked in ${checkMs.toFixed(0)} ms; ${result.violations.length} violations, ${result.undecided.length} keys undecided`);
  if (errors.length) console.log(`${name}: ${errors.length} requests failed, e.g. ${errors.slice(0, 3).join(" | ")}`);
  expect(result.violations.map((v) => v.text)).toEqual([]);
  expect(result.undecided).toEqual([]);
  expect(counts.read + counts.write + counts.casSucceeded + counts.casFailed).toBeGreaterThanOrEqual(1000);
  expect(counts.casSucceeded).toBeGreaterThan(0);
  expect(counts.casFailed).toBeGreaterThan(0);
}

describe("the store through the control plane's etcd gateway", () => {
  let plane: ControlPlane | undefined;
  const stateDir = mkdtempSync(join(tmpdir(), "edgeplane-linearizability-"));

  beforeAll(async () => {
    plane = await startControlPlane({ stateDir });
  });

  afterAll(async () => {
    await plane?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("keeps a history of concurrent reads, puts and CAS linearizable", async () => {
    await expectLinearizable("edgeplane", { base: `${plane!.url}/etcd/v3`, headers: { Authorization: `Bearer ${plane!.token}` } });
  });
});

describe("control: a local etcd 3.4 under the same workload", () => {
  let etcd: LocalEtcd | undefined;

  beforeAll(async () => {
    etcd = await startEtcd();
  });

  afterAll(async () => {
    await etcd?.stop();
  });

  it("keeps a history of concurrent reads, puts and CAS linearizable", async () => {
    await expectLinearizable("etcd 3.4", { base: `${etcd!.url}/v3`, headers: {} });
  });
});
