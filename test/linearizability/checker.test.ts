// Table-driven tests of the linearizability checker on small hand-made histories, plus generated
// histories of a few thousand ops that must check in seconds.
import { describe, expect, it } from "vitest";
import { checkHistory, type Operation } from "./checker.ts";

/** A completed or (ret undefined) unknown-outcome op on key "x" unless another key is given. */
function read(client: number, call: number, ret: number | undefined, value: string | null, key = "x"): Operation {
  return { kind: "read", key, client, call, return: ret, value };
}
function put(client: number, call: number, ret: number | undefined, value: string, key = "x"): Operation {
  return { kind: "write", key, client, call, return: ret, value };
}
function cas(client: number, call: number, ret: number | undefined, expected: string, value: string, succeeded: boolean, key = "x"): Operation {
  return { kind: "cas", key, client, call, return: ret, expected, value, succeeded };
}

const linearizableHistories: { name: string; history: Operation[] }[] = [
  { name: "an empty history", history: [] },
  { name: "a read of a key never written sees it absent", history: [read(0, 0, 1, null)] },
  { name: "sequential put then read", history: [put(0, 0, 1, "a"), read(1, 2, 3, "a")] },
  { name: "a read overlapping a put sees the old value", history: [put(0, 0, 10, "a"), read(1, 1, 2, null)] },
  { name: "a read overlapping a put sees the new value", history: [put(0, 0, 10, "a"), read(1, 1, 2, "a")] },
  {
    name: "two overlapping puts land in the order opposite to invocation",
    history: [put(0, 0, 10, "a"), put(1, 1, 9, "b"), read(2, 11, 12, "a"), read(3, 13, 14, "a")],
  },
  {
    name: "reads during overlapping puts see old, then new",
    history: [put(0, 0, 1, "a"), put(1, 2, 20, "b"), read(2, 3, 4, "a"), read(3, 5, 6, "b"), read(2, 7, 8, "b")],
  },
  {
    name: "a read invoked before a put that completes after it may see the put",
    history: [read(0, 0, 10, "a"), put(1, 5, 6, "a")],
  },
  {
    name: "ops that merely touch in time count as concurrent",
    history: [put(0, 0, 5, "a"), read(1, 5, 6, null)],
  },
  { name: "CAS succeeds on the current value", history: [put(0, 0, 1, "a"), cas(1, 2, 3, "a", "b", true), read(0, 4, 5, "b")] },
  { name: "CAS fails on another value", history: [put(0, 0, 1, "a"), cas(1, 2, 3, "z", "b", false), read(0, 4, 5, "a")] },
  { name: "CAS fails on an absent key", history: [cas(0, 0, 1, "a", "b", false), read(1, 2, 3, null)] },
  {
    name: "of two CAS from the same value one wins, one loses",
    history: [put(0, 0, 1, "a"), cas(1, 2, 10, "a", "b", true), cas(2, 3, 9, "a", "c", false), read(0, 11, 12, "b")],
  },
  {
    name: "a CAS chain: each succeeds on the previous one's value",
    history: [put(0, 0, 1, "a"), cas(1, 2, 8, "a", "b", true), cas(2, 3, 9, "b", "c", true), cas(3, 4, 7, "c", "d", true), read(0, 10, 11, "d")],
  },
  {
    name: "a CAS fails because a concurrent put got in first",
    history: [put(0, 0, 1, "a"), put(1, 2, 6, "b"), cas(2, 3, 5, "a", "c", false), read(0, 7, 8, "b")],
  },
  {
    name: "an unknown-outcome put that took effect late",
    history: [put(0, 0, undefined, "a"), put(1, 1, 2, "b"), read(2, 3, 4, "b"), read(2, 5, 6, "a")],
  },
  { name: "an unknown-outcome put that never took effect", history: [put(0, 0, undefined, "a"), read(1, 1, 2, null), read(1, 3, 4, null)] },
  {
    name: "an unknown-outcome CAS that took effect",
    history: [put(0, 0, 1, "a"), { kind: "cas", key: "x", client: 1, call: 2, expected: "a", value: "b" }, read(2, 3, 4, "b")],
  },
  { name: "an unknown-outcome read constrains nothing", history: [put(0, 0, 1, "a"), { kind: "read", key: "x", client: 1, call: 2 }] },
  {
    name: "keys are independent registers",
    history: [put(0, 0, 1, "a", "x"), put(1, 0, 1, "b", "y"), read(2, 2, 3, "a", "x"), read(3, 2, 3, "b", "y"), read(2, 4, 5, null, "z")],
  },
];

/** Each with the failing part the checker should narrow it to, as positions in the history. */
const nonLinearizableHistories: { name: string; history: Operation[]; window: number[]; key?: string }[] = [
  { name: "a stale read after a completed put", history: [put(0, 0, 1, "a"), put(1, 2, 3, "b"), read(2, 4, 5, "a")], window: [1, 2] },
  { name: "an absent read after a completed put", history: [put(0, 0, 1, "a"), read(1, 2, 3, null)], window: [0, 1] },
  { name: "a read of a value never written", history: [put(0, 0, 1, "a"), read(1, 2, 3, "zzz")], window: [0, 1] },
  {
    name: "two successful CAS from the same old value",
    history: [put(0, 0, 1, "a"), cas(1, 2, 10, "a", "b", true), cas(2, 3, 9, "a", "c", true)],
    window: [1, 2],
  },
  { name: "a CAS that failed although the value matched", history: [put(0, 0, 1, "a"), cas(1, 2, 3, "a", "b", false)], window: [0, 1] },
  { name: "a CAS that succeeded on an absent key", history: [cas(0, 0, 1, "a", "b", true)], window: [0] },
  {
    name: "a new value then an old one while a put is in flight",
    history: [put(0, 0, 1, "a"), put(1, 2, 20, "b"), read(2, 3, 4, "b"), read(3, 5, 6, "a")],
    window: [1, 2, 3],
  },
  {
    name: "an unknown-outcome put seen, then overwritten by a put that completed before it was seen",
    history: [put(0, 0, undefined, "a"), put(1, 1, 2, "b"), read(2, 3, 4, "a"), read(2, 5, 6, "b")],
    window: [0, 2, 3],
  },
  {
    name: "only the bad key is reported",
    history: [put(0, 0, 1, "a", "good"), put(1, 0, 1, "a", "bad"), read(2, 2, 3, "a", "good"), read(3, 2, 3, "b", "bad")],
    window: [1, 3],
    key: "bad",
  },
];

describe("checkHistory", () => {
  it.each(linearizableHistories)("accepts $name", ({ history }) => {
    const result = checkHistory(history);
    expect(result.violations.map((v) => v.text)).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it.each(nonLinearizableHistories)("reports $name", ({ history, window, key = "x" }) => {
    const result = checkHistory(history);
    expect(result.ok).toBe(false);
    expect(result.violations.map((v) => v.key)).toEqual([key]);
    const [violation] = result.violations;
    expect(violation!.window).toEqual(window.map((i) => history[i]));
    expect(violation!.text).toContain(`key ${JSON.stringify(key)} is not linearizable`);
  });

  it("narrows a violation in a long history to a short window", () => {
    const history: Operation[] = [];
    for (let i = 0; i < 500; i++) {
      history.push(put(i % 4, 10 * i, 10 * i + 2, `v${i}`), read((i + 1) % 4, 10 * i + 3, 10 * i + 5, `v${i}`));
    }
    const stale = read(9, 2503, 2505, "v100");
    history.push(stale);
    const result = checkHistory(history);
    expect(result.ok).toBe(false);
    const [violation] = result.violations;
    expect(violation!.keyOps).toBe(1001);
    expect(violation!.window).toContain(stale);
    expect(violation!.window.length).toBeLessThanOrEqual(3);
  });

  it("gives up on a key whose search exceeds the step budget, as undecided", () => {
    // Forty CAS of unknown outcome, each concurrent with everything after it, then a bad read.
    const history: Operation[] = Array.from({ length: 40 }, (_, i): Operation => ({ kind: "cas", key: "x", client: i, call: i, expected: `v${i - 1}`, value: `v${i}` }));
    history.push(read(99, 100, 101, "never-written"));
    const result = checkHistory(history, { stepBudget: 10_000 });
    expect(result).toEqual({ ok: false, violations: [], undecided: ["x"] });
  });

  it("rejects an op that completes before it is invoked", () => {
    expect(() => checkHistory([put(0, 5, 1, "a")])).toThrow(/completes before it is invoked/);
  });
});

/** xorshift32, so generated histories are the same on every run. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/**
 * A history that is linearizable by construction: concurrent clients on a few keys, each op taking
 * effect at a random instant inside its interval; a fraction of ops lose their outcome.
 */
function generatedHistory(seed: number, clients: number, opsPerClient: number, keys: number, unknownRate: number): Operation[] {
  const rand = random(seed);
  const planned: { op: Operation; at: number }[] = [];
  for (let c = 0; c < clients; c++) {
    let t = rand() * 5;
    for (let i = 0; i < opsPerClient; i++) {
      const call = t;
      const ret = call + 0.5 + rand() * 10;
      const key = `k${Math.floor(rand() * keys)}`;
      const roll = rand();
      const value = `c${c}-${i}`;
      const op: Operation = roll < 0.4 ? { kind: "read", key, client: c, call, return: ret }
        : roll < 0.7 ? { kind: "write", key, client: c, call, return: ret, value }
        : { kind: "cas", key, client: c, call, return: ret, expected: "", value };
      planned.push({ op, at: call + rand() * (ret - call) });
      t = ret + rand();
    }
  }
  // Apply in linearization order, filling in outputs (and CAS expectations from recent values).
  planned.sort((a, b) => a.at - b.at);
  const state = new Map<string, string | null>();
  const recent = new Map<string, string[]>();
  for (const { op } of planned) {
    const current = state.get(op.key) ?? null;
    const seen = recent.get(op.key) ?? [];
    if (op.kind === "read") op.value = current;
    if (op.kind === "write") state.set(op.key, op.value);
    if (op.kind === "cas") {
      op.expected = seen.length && rand() < 0.7 ? seen[Math.floor(rand() * seen.length)]! : `never-${op.value}`;
      op.succeeded = op.expected === current;
      if (op.succeeded) state.set(op.key, op.value);
    }
    if (state.get(op.key) !== current) recent.set(op.key, [...seen.slice(-2), state.get(op.key)!]);
    if (rand() < unknownRate) {
      delete op.return;
      if (op.kind === "read") delete op.value;
      if (op.kind === "cas") delete op.succeeded;
    }
  }
  return planned.map((p) => p.op);
}

describe("checkHistory on generated histories", () => {
  it("accepts 4800 concurrent ops over 4 keys in seconds", () => {
    const history = generatedHistory(1, 24, 200, 4, 0);
    const cas = history.filter((op) => op.kind === "cas");
    expect(cas.some((op) => op.kind === "cas" && op.succeeded)).toBe(true);
    expect(cas.some((op) => op.kind === "cas" && !op.succeeded)).toBe(true);
    const started = performance.now();
    const result = checkHistory(history);
    const elapsed = performance.now() - started;
    expect(result.violations.map((v) => v.text)).toEqual([]);
    expect(elapsed).toBeLessThan(5000);
  });

  it("accepts a generated history where 1% of ops lost their outcome", () => {
    const history = generatedHistory(2, 16, 150, 4, 0.01);
    expect(history.some((op) => op.return === undefined)).toBe(true);
    expect(checkHistory(history).violations.map((v) => v.text)).toEqual([]);
  });

  it("finds a corrupted read in a generated history and narrows it down", () => {
    const history = generatedHistory(3, 24, 200, 4, 0);
    const victim = history.filter((op) => op.kind === "read")[1500]!;
    victim.value = "never-written";
    const result = checkHistory(history);
    expect(result.violations.map((v) => v.key)).toEqual([victim.key]);
    const [violation] = result.violations;
    expect(violation!.window).toContain(victim);
    expect(violation!.window.length).toBeLessThan(10);
  });
});
