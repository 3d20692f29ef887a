// Linearizability checker for histories of reads, puts and compare-and-swaps on a set of keys,
// each key an independent register: a Wing & Gong / Lowe search with memoization of (linearized
// set, register value), run per key (linearizability is compositional over independent objects).

/** When an operation was invoked and completed; `return` is absent when the outcome is unknown. */
export interface Timing {
  /** Which client issued it (for reports only; the check does not rely on it). */
  client: number;
  call: number;
  /** Completion time; absent when the op timed out or failed without saying whether it took effect. */
  return?: number;
}

/** A read returns the value or null for an absent key; `value` is ignored when `return` is absent. */
export interface ReadOp extends Timing {
  kind: "read";
  key: string;
  value?: string | null;
}

/** An unconditional put. */
export interface WriteOp extends Timing {
  kind: "write";
  key: string;
  value: string;
}

/** If the key's value equals `expected` then put `value`; `succeeded` is ignored when `return` is absent. */
export interface CasOp extends Timing {
  kind: "cas";
  key: string;
  expected: string;
  value: string;
  succeeded?: boolean;
}

export type Operation = ReadOp | WriteOp | CasOp;

export interface Violation {
  key: string;
  /** How many of the key's operations the check covered (all but reads with unknown outcome). */
  keyOps: number;
  /**
   * A small part of the key's history that alone is not linearizable (from the key's initial state
   * when it starts at the key's first op, else from any starting value), sorted by invocation: a
   * shortest failing run of consecutive ops, less the reads it does not need and the ops at its
   * edges that cannot affect the rest.
   */
  window: Operation[];
  /** Ops of `window` whose outcomes the failure does not need: they count only as possible effects. */
  unchecked: Operation[];
  /** The window as text, one op a line, times relative to the invocation of its first checked op. */
  text: string;
}

export interface CheckResult {
  /** True when every key was checked and none has a violation. */
  ok: boolean;
  violations: Violation[];
  /** Keys whose search ran out of steps before deciding (e.g. very many unknown-outcome ops). */
  undecided: string[];
}

export interface CheckOptions {
  /** Search steps allowed for each key (default 50 million: about a minute on a slow machine). */
  stepBudget?: number;
  /** Search steps allowed for each check while shrinking a failing key's history to its window. */
  shrinkStepBudget?: number;
}

/** Register state: 0 is "absent", ANY_OTHER a value no op mentions, other ids are interned values. */
const ABSENT = 0;
const ANY_OTHER = -1;

/** An op prepared for the search: values interned, output checks decided. */
interface SearchOp {
  kind: Operation["kind"];
  call: number;
  /** Infinity when the outcome is unknown. */
  ret: number;
  /** write/cas: the value put; read: the value returned. */
  value: number;
  expected: number;
  succeeded: boolean;
  /** False when the op's outcome is unknown: its effect applies, its output is not checked. */
  definite: boolean;
}

class ValueIds {
  private readonly ids = new Map<string, number>();
  id(value: string | null): number {
    if (value === null) return ABSENT;
    let id = this.ids.get(value);
    if (id === undefined) this.ids.set(value, (id = this.ids.size + 1));
    return id;
  }
}

/** One register step: the state after `op`, or undefined when its output cannot happen in `state`. */
function step(state: number, op: SearchOp): number | undefined {
  switch (op.kind) {
    case "read":
      return !op.definite || state === op.value ? state : undefined;
    case "write":
      return op.value;
    case "cas": {
      // etcd fails a VALUE compare on a missing key, which `expected` (never ABSENT) also does here.
      const matches = state === op.expected;
      if (op.definite && matches !== op.succeeded) return undefined;
      return matches ? op.value : state;
    }
  }
}

/** Random 32-bit words for Zobrist hashing, from xorshift32 with a fixed seed so runs repeat exactly. */
function zobristTable(length: number, seed: number): Uint32Array {
  let x = seed;
  return Uint32Array.from({ length }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  });
}

interface SearchResult {
  /** Undefined when the search ran out of steps before deciding. */
  linearizable: boolean | undefined;
  steps: number;
  /** The latest completion time at which some attempted order got stuck (-Infinity if none did). */
  stuckAt: number;
}

/** Searches for a linearization of `ops` starting from `initial`, giving up after `budget` steps. */
function search(ops: SearchOp[], initial: number, budget = Infinity): SearchResult {
  const n = ops.length;
  let definiteLeft = ops.reduce((count, op) => count + (op.definite ? 1 : 0), 0);
  let steps = 0;
  let stuckAt = -Infinity;
  if (definiteLeft === 0) return { linearizable: true, steps, stuckAt };

  // Events in time order as a doubly linked list over node ids: node 0 is the head, op i's call is
  // node 2i+1 and its return node 2i+2. A call sorts before a return at the same instant, so ops
  // that merely touch count as concurrent: the check never reports an order it cannot be sure of.
  const nodes = ops.flatMap((op, i) => [{ node: 2 * i + 1, time: op.call, call: 0 }, { node: 2 * i + 2, time: op.ret, call: 1 }]);
  nodes.sort((a, b) => a.time - b.time || a.call - b.call);
  const next = new Int32Array(2 * n + 1).fill(-1);
  const prev = new Int32Array(2 * n + 1).fill(-1);
  let last = 0;
  for (const { node } of nodes) {
    next[last] = node;
    prev[node] = last;
    last = node;
  }

  const lift = (call: number) => {
    next[prev[call]!] = next[call]!;
    if (next[call]! >= 0) prev[next[call]!] = prev[call]!;
    const ret = call + 1;
    next[prev[ret]!] = next[ret]!;
    if (next[ret]! >= 0) prev[next[ret]!] = prev[ret]!;
  };
  const unlift = (call: number) => {
    const ret = call + 1;
    next[prev[ret]!] = ret;
    if (next[ret]! >= 0) prev[next[ret]!] = ret;
    next[prev[call]!] = call;
    if (next[call]! >= 0) prev[next[call]!] = call;
  };

  // The linearized set as a bitset plus two Zobrist hashes of it, for the memo of visited
  // (set, state) pairs; a hash match is confirmed by comparing the stored bitset.
  const words = (n + 31) >>> 5;
  const linearized = new Uint32Array(words);
  const zobristA = zobristTable(n, 0x2545f491);
  const zobristB = zobristTable(n, 0x6c8e9cf5);
  let hashA = 0;
  let hashB = 0;
  const seen = new Map<number, { state: number; bits: Uint32Array }[]>();
  const remember = (state: number): boolean => {
    const key = ((hashA ^ Math.imul(state + 2, 0x9e3779b1)) >>> 0) * 0x100000 + (hashB & 0xfffff);
    const bucket = seen.get(key);
    if (bucket) {
      for (const entry of bucket) {
        if (entry.state === state && entry.bits.every((w, i) => w === linearized[i])) return false;
      }
      bucket.push({ state, bits: linearized.slice() });
    } else seen.set(key, [{ state, bits: linearized.slice() }]);
    return true;
  };
  const toggle = (i: number) => {
    linearized[i >>> 5]! ^= 1 << (i & 31);
    hashA ^= zobristA[i]!;
    hashB ^= zobristB[i]!;
  };

  const stack: { call: number; state: number }[] = [];
  let state = initial;
  let entry = next[0]!;
  while (definiteLeft > 0) {
    if (++steps > budget) return { linearizable: undefined, steps, stuckAt };
    if (entry % 2 === 1) {
      const i = (entry - 1) >>> 1;
      const op = ops[i]!;
      const after = step(state, op);
      let taken = false;
      if (after !== undefined) {
        toggle(i);
        if (remember(after)) {
          stack.push({ call: entry, state });
          state = after;
          if (op.definite) definiteLeft--;
          lift(entry);
          entry = next[0]!;
          taken = true;
        } else toggle(i);
      }
      if (!taken) entry = next[entry]!;
    } else {
      // A return: the op it ends must come before everything after it, and no order tried so far
      // linearized it here. Undo the latest choice and try the next candidate after it.
      stuckAt = Math.max(stuckAt, ops[(entry - 2) >>> 1]!.ret);
      const top = stack.pop();
      if (!top) return { linearizable: false, steps, stuckAt };
      const i = (top.call - 1) >>> 1;
      state = top.state;
      toggle(i);
      if (ops[i]!.definite) definiteLeft++;
      unlift(top.call);
      entry = next[top.call]!;
    }
  }
  return { linearizable: true, steps, stuckAt };
}

/** The ops of one key, sorted by invocation and without unknown-outcome reads, with values interned. */
function prepare(ops: Operation[], ids: ValueIds): SearchOp[] {
  return ops.map((op) => {
    const definite = op.return !== undefined;
    const ret = op.return ?? Infinity;
    if (!(op.call <= ret)) throw new Error(`operation completes before it is invoked: ${JSON.stringify(op)}`);
    switch (op.kind) {
      case "read":
        if (op.value === undefined) throw new Error(`completed read without a value: ${JSON.stringify(op)}`);
        return { kind: op.kind, call: op.call, ret, value: ids.id(op.value), expected: ABSENT, succeeded: false, definite };
      case "write":
        return { kind: op.kind, call: op.call, ret, value: ids.id(op.value), expected: ABSENT, succeeded: false, definite };
      case "cas":
        if (definite && op.succeeded === undefined) throw new Error(`completed compare-and-swap without a result: ${JSON.stringify(op)}`);
        return { kind: op.kind, call: op.call, ret, value: ids.id(op.value), expected: ids.id(op.expected), succeeded: op.succeeded ?? false, definite };
    }
  });
}

/** Part of one key's history: prepared ops, the position of each in the key's history, and whether it starts at the beginning. */
interface Window {
  ops: SearchOp[];
  positions: number[];
  fromStart: boolean;
}

/**
 * The ops invoked in positions [from, to] of `ops` (sorted by invocation), cut out so that every
 * linearization of the whole history still yields one of the cut: ops that overlap an edge keep
 * only their effect (unknown outcome; reads among them drop out), ops that end before the window
 * starts drop out (their net effect becomes the free starting value).
 */
function cut(ops: SearchOp[], from: number, to: number): Window {
  const start = ops[from]!.call;
  const end = to + 1 < ops.length ? ops[to + 1]!.call : Infinity;
  const window: Window = { ops: [], positions: [], fromStart: from === 0 };
  for (let i = 0; i <= to; i++) {
    const op = ops[i]!;
    if (i < from && op.ret < start) continue;
    const overlapsEdge = (i < from && op.ret >= start) || op.ret >= end;
    if (overlapsEdge && op.kind === "read") continue;
    window.positions.push(i);
    window.ops.push(overlapsEdge ? relaxed(op) : op);
  }
  return window;
}

function relaxed(op: SearchOp): SearchOp {
  return { ...op, ret: Infinity, definite: false };
}

/** Whether the window is proven non-linearizable: from the initial state, or from any value when it starts later. */
function fails(window: Window, budget: number): boolean {
  if (window.fromStart) return search(window.ops, ABSENT, budget).linearizable === false;
  // A register's starting value matters only through what reads return and what CAS compares to;
  // every other value behaves as ANY_OTHER.
  const starts = new Set([ABSENT, ANY_OTHER]);
  for (const op of window.ops) {
    if (op.kind === "read" && op.definite) starts.add(op.value);
    if (op.kind === "cas") starts.add(op.expected);
  }
  for (const start of starts) {
    if (search(window.ops, start, budget).linearizable !== false) return false;
  }
  return true;
}

/**
 * The smallest x in [lo, hi] where the monotone `holds` is true, assuming it holds at hi: steps
 * of 1, 2, 4, … from lo, then bisection, so the cost follows the answer's distance from lo.
 */
function gallop(lo: number, hi: number, holds: (x: number) => boolean): number {
  let below = lo - 1;
  let x = lo;
  for (let stride = 1; x < hi && !holds(x); stride *= 2) {
    below = x;
    x = Math.min(hi, lo + stride);
  }
  let top = x;
  let bottom = below + 1;
  while (bottom < top) {
    const mid = (bottom + top) >>> 1;
    if (holds(mid)) top = mid;
    else bottom = mid + 1;
  }
  return top;
}

/** Windows longer than this are reported as cut, without pruning op by op. */
const PRUNE_LIMIT = 100;

/**
 * Shrinks a key's failing history: the shortest failing prefix (it cannot end before the point
 * where the full search got stuck), then its shortest failing tail, then drops each read and
 * unchecks each output that the failure does not need. Every step only forgets constraints, so
 * the result failing proves the history fails; a check that runs out of budget counts as passing.
 */
function shrink(ops: SearchOp[], full: SearchResult, budget: number): Window {
  const stuckBefore = ops.findIndex((op) => op.call > full.stuckAt);
  const lo = Math.max(0, (stuckBefore < 0 ? ops.length : stuckBefore) - 1);
  const prefixBudget = 4 * full.steps + budget;
  const to = gallop(lo, ops.length - 1, (j) => j === ops.length - 1 || fails(cut(ops, 0, j), prefixBudget));
  const span = gallop(0, to, (k) => k === to || fails(cut(ops, to - k, to), budget));
  let window = cut(ops, to - span, to);
  if (window.ops.length > PRUNE_LIMIT) return window;
  for (let j = 0; j < window.ops.length;) {
    const op = window.ops[j]!;
    const without: Window | undefined = op.kind === "read"
      ? { ...window, ops: window.ops.toSpliced(j, 1), positions: window.positions.toSpliced(j, 1) }
      : op.definite ? { ...window, ops: window.ops.with(j, relaxed(op)) } : undefined;
    if (without && fails(without, budget)) {
      window = without;
      if (op.kind === "read") continue;
    }
    j++;
  }
  // With fewer outputs checked, ops invoked after the last checked op completed, or completed
  // before the first one was invoked, cannot matter to them: drop those (the latter's net effect
  // becomes the free starting value).
  const checked = window.ops.filter((op) => op.definite);
  const firstCall = Math.min(...checked.map((op) => op.call));
  const lastReturn = Math.max(...checked.map((op) => op.ret));
  const keep = window.ops.map((op, j) => op.definite || (op.call <= lastReturn && ops[window.positions[j]!]!.ret >= firstCall));
  const trimmed: Window = {
    ops: window.ops.filter((_, j) => keep[j]),
    positions: window.positions.filter((_, j) => keep[j]),
    fromStart: window.fromStart && window.ops.every((op, j) => keep[j] || op.call > lastReturn),
  };
  return fails(trimmed, budget) ? trimmed : window;
}

export function describeOperation(op: Operation, origin = 0): string {
  const time = (t: number | undefined) => (t === undefined ? "?" : (t - origin).toFixed(3));
  const q = (v: string | null | undefined) => (v === undefined ? "?" : JSON.stringify(v));
  const span = `client ${op.client} [${time(op.call)}, ${time(op.return)}]`;
  const unknown = op.return === undefined;
  switch (op.kind) {
    case "read":
      return `${span} read -> ${unknown ? "(unknown)" : q(op.value)}`;
    case "write":
      return `${span} put ${q(op.value)}${unknown ? " (outcome unknown)" : ""}`;
    case "cas":
      return `${span} cas ${q(op.expected)} => ${q(op.value)} -> ${unknown ? "(outcome unknown)" : op.succeeded ? "succeeded" : "failed"}`;
  }
}

/** Checks a history of operations on any number of keys, each key starting absent. */
export function checkHistory(history: readonly Operation[], options: CheckOptions = {}): CheckResult {
  const byKey = new Map<string, Operation[]>();
  for (const op of history) {
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const violations: Violation[] = [];
  const undecided: string[] = [];
  for (const [key, all] of byKey) {
    // A read with unknown outcome neither changes the register nor tells anything about it.
    const keyOps = all.filter((op) => op.kind !== "read" || op.return !== undefined).sort((a, b) => a.call - b.call);
    const ops = prepare(keyOps, new ValueIds());
    const full = search(ops, ABSENT, options.stepBudget ?? 50_000_000);
    if (full.linearizable) continue;
    if (full.linearizable === undefined) {
      undecided.push(key);
      continue;
    }
    const { ops: shrunk, positions, fromStart } = shrink(ops, full, options.shrinkStepBudget ?? 200_000);
    const window = positions.map((i) => keyOps[i]!);
    const unchecked = (j: number) => !shrunk[j]!.definite && window[j]!.return !== undefined;
    const origin = window.find((_, j) => !unchecked(j))?.call ?? window[0]!.call;
    const lines = window.map((op, j) => `  ${describeOperation(op, origin)}${unchecked(j) ? "  (outcome not needed: counts only as a possible effect)" : ""}`);
    const start = fromStart ? "from the key's initial state (absent)" : "from any starting value";
    violations.push({
      key,
      keyOps: ops.length,
      window,
      unchecked: window.filter((_, j) => unchecked(j)),
      text: `key ${JSON.stringify(key)} is not linearizable; ${window.length} of its ${ops.length} ops already fail ${start}:\n${lines.join("\n")}`,
    });
  }
  return { ok: violations.length === 0 && undecided.length === 0, violations, undecided };
}
