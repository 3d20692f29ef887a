// Debian's etcdctl 3.4, unchanged, against a local etcd 3.4 and against our control plane through
// the etcd bridge (TLS with client certificates): the same commands in the same order, outputs
// compared with member and cluster ids, lease ids, endpoints, timings and revisions normalised.
// Our store begins with the cluster's seed objects, so revisions are compared relative to where
// each side stood when the test began; every key of the test is under /etcdctl/.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEtcdBridge, type EtcdBridge } from "../../etcd-bridge/server.ts";
import { parseSnapshot } from "../../etcd-bridge/snapshot.ts";
import { startControlPlane, type ControlPlane } from "../../scripts/dev-server.ts";
import { startEtcd, type LocalEtcd } from "../support/etcd.ts";

const ETCDCTL = process.env.ETCDCTL_BINARY ?? "/usr/bin/etcdctl";
/** How long a watch or keep-alive may take to print what the test waits for. */
const STREAM_TIMEOUT_MS = 10_000;

interface Output {
  stdout: string;
  stderr: string;
  code: number;
}

/** One side: how etcdctl reaches it, where its revisions began, and the lease ids it has handed out. */
class Side {
  readonly leases = new Map<string, string>();
  base = 0;
  readonly name: string;
  readonly flags: string[];
  readonly endpoint: string;

  constructor(name: string, endpoint: string, flags: string[]) {
    this.name = name;
    this.endpoint = endpoint;
    this.flags = [`--endpoints=${endpoint}`, ...flags];
  }

  /** The revision `n` revisions after the test began. */
  rev(n: number): string {
    return String(this.base + n);
  }

  run(args: string[], input?: string): Promise<Output> {
    return new Promise((resolve) => {
      const child = execFile(ETCDCTL, [...this.flags, ...args], { env: { ...process.env, ETCDCTL_API: "3" }, timeout: 20_000 }, (error, stdout, stderr) => {
        resolve({ stdout, stderr, code: error ? (typeof error.code === "number" ? error.code : 1) : 0 });
      });
      child.stdin?.end(input ?? "");
    });
  }

  /** Runs a command that streams (watch, keep-alive) until its output satisfies `done`, then stops it. */
  stream(args: string[], done: (stdout: string) => boolean): { output: Promise<string> } {
    const child = spawn(ETCDCTL, [...this.flags, ...args], { env: { ...process.env, ETCDCTL_API: "3" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const output = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGTERM");
        reject(new Error(`${this.name}: etcdctl ${args.join(" ")} printed only ${JSON.stringify(stdout)} (stderr ${stderr})`));
      }, STREAM_TIMEOUT_MS);
      child.stdout.on("data", (d) => {
        stdout += d;
        if (done(stdout)) {
          clearTimeout(timer);
          child.kill("SIGTERM");
          resolve(stdout);
        }
      });
      child.stderr.on("data", (d) => (stderr += d));
    });
    return { output };
  }

  /** A lease id as etcdctl prints it (%016x), named by the order this side handed it out. */
  leaseName(hex: string): string {
    if (!this.leases.has(hex)) this.leases.set(hex, `<lease-${this.leases.size + 1}>`);
    return this.leases.get(hex)!;
  }

  leaseHex(name: string): string {
    for (const [hex, n] of this.leases) if (n === name) return hex;
    throw new Error(`${this.name} has no ${name}`);
  }

  /** The output with what legitimately differs between two clusters replaced by placeholders. */
  normalise(output: Output): Output {
    const text = (s: string) => s
      .split(this.endpoint).join("<endpoint>")
      .replace(/\b[0-9a-f]{16}\b/g, (hex) => this.leaseName(hex))
      .replace(/remaining\(\d+s\)/g, "remaining(<ttl>)")
      .replace(/took = \S+/g, "took = <duration>")
      .replace(/compacted revision (\d+)/g, (_, n) => `compacted revision ${Number(n) - this.base}`);
    // etcdctl's own client logs (JSON lines with timestamps) are not part of the answer.
    const stderr = output.stderr.split("\n").filter((l) => !l.startsWith("{")).join("\n");
    const stdout = output.stdout.split("\n").map((line) => (line.startsWith("{") ? this.normaliseJson(line) : text(line))).join("\n");
    return { stdout, stderr: text(stderr), code: output.code };
  }

  private normaliseJson(line: string): string {
    const walk = (value: unknown, field = ""): unknown => {
      if (Array.isArray(value)) return value.map((v) => walk(v, field));
      if (value !== null && typeof value === "object") {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) {
          if (k === "cluster_id" || k === "member_id" || k === "raft_term") continue;
          out[k] = walk(v, k);
        }
        return out;
      }
      if (typeof value === "number" && ["revision", "create_revision", "mod_revision", "compact_revision"].includes(field) && value > 0) return value - this.base;
      return value;
    };
    // Lease ids are 64-bit: read them as text before JSON.parse rounds them.
    const exact = line.replace(/"(ID|lease)":(-?\d+)/g, (whole, k, n) => (n === "0" ? whole : `"${k}":"${BigInt.asUintN(64, BigInt(n)).toString(16).padStart(16, "0")}"`));
    const parsed = JSON.parse(exact) as unknown;
    const named = JSON.stringify(parsed, (k, v) => ((k === "ID" || k === "lease") && typeof v === "string" ? this.leaseName(v) : v));
    return JSON.stringify(walk(JSON.parse(named)));
  }
}

let etcd: LocalEtcd;
let plane: ControlPlane;
/** Revisions are compared with etcd's, so nothing else may write meanwhile: no controllers (they publish each namespace's ServiceAccount and CA ConfigMap after start) and no scheduler. */
const QUIET_STORE = { KUBE_CONTROLLER_MANAGER_ENABLED: "false", KUBE_SCHEDULER_ENABLED: "false" };
let bridge: EtcdBridge;
let theirs: Side;
let ours: Side;
let workDir: string;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "edgeplane-etcdctl-"));
  [etcd, plane] = await Promise.all([startEtcd(), startControlPlane({ stateDir: join(workDir, "state"), vars: QUIET_STORE })]);
  bridge = await startEtcdBridge({ server: plane.url, token: plane.token, listen: "127.0.0.1:0", certDir: join(workDir, "etcd-pki") });
  const c = bridge.certificates;
  theirs = new Side("etcd", etcd.url, []);
  ours = new Side("edgeplane", bridge.endpoint, ["--cacert", c.caCert, "--cert", c.clientCert, "--key", c.clientKey]);
  for (const side of [theirs, ours]) {
    const answer = await side.run(["get", "/etcdctl/", "-w", "json"]);
    side.base = (JSON.parse(answer.stdout) as { header: { revision: number } }).header.revision;
  }
});

afterAll(async () => {
  await bridge?.stop();
  await Promise.all([etcd?.stop(), plane?.stop()]);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** Runs the same command (arguments may depend on the side) on both and expects the same normalised output. */
async function both(args: string[] | ((side: Side) => string[]), input?: string): Promise<Output> {
  const argsOf = typeof args === "function" ? args : () => args;
  const expected = theirs.normalise(await theirs.run(argsOf(theirs), input));
  const actual = ours.normalise(await ours.run(argsOf(ours), input));
  expect(actual, `etcdctl ${argsOf(theirs).join(" ")}`).toEqual(expected);
  return expected;
}

/**
 * Runs a streaming command (watch, keep-alive) on both while `act` writes, until each printed what
 * `done` waits for, and compares what `take` keeps of the two outputs.
 */
async function bothStreaming(args: (side: Side) => string[], done: (stdout: string) => boolean, act: () => Promise<void> = async () => {}, take = (out: string) => out): Promise<void> {
  const [a, b] = [theirs.stream(args(theirs), done), ours.stream(args(ours), done)];
  await act();
  const [expected, actual] = await Promise.all([a.output, b.output]);
  const normalised = (side: Side, out: string) => side.normalise({ stdout: take(out), stderr: "", code: 0 }).stdout;
  expect(normalised(ours, actual), `etcdctl ${args(theirs).join(" ")}`).toBe(normalised(theirs, expected));
}

/** The side's current revision. */
async function revisionNow(side: Side): Promise<number> {
  return (JSON.parse((await side.run(["get", "/etcdctl/", "-w", "json"])).stdout) as { header: { revision: number } }).header.revision;
}

const count = (text: string, word: string) => text.split("\n").filter((l) => l === word).length;

describe("etcdctl 3.4 against etcd 3.4 and the bridge", () => {
  it("put, get and del", async () => {
    await both(["put", "/etcdctl/a", "1"]);
    await both(["put", "/etcdctl/b", "2"]);
    await both(["put", "/etcdctl/c", "3"]);
    await both(["put", "/etcdctl/a", "4", "--prev-kv"]);
    await both(["put", "/etcdctl/d", "5", "--prev-kv"]);
    await both(["get", "/etcdctl/a"]);
    await both(["get", "/etcdctl/", "--prefix"]);
    await both(["get", "/etcdctl/", "--prefix", "--keys-only"]);
    await both(["get", "/etcdctl/", "--prefix", "--limit", "2"]);
    await both(["get", "/etcdctl/", "--prefix", "--print-value-only"]);
    await both(["get", "/etcdctl/", "--prefix", "--sort-by=MODIFY", "--order=DESCEND"]);
    await both(["get", "/etcdctl/", "--prefix", "--sort-by=VALUE", "--order=ASCEND", "--limit", "3"]);
    await both(["get", "/etcdctl/b", "/etcdctl/d"]);
    await both((s) => ["get", "/etcdctl/a", `--rev=${s.rev(1)}`]);
    await both((s) => ["get", "/etcdctl/", "--prefix", `--rev=${s.rev(3)}`, "-w", "json"]);
    await both(["get", "/etcdctl/", "--prefix", "-w", "json"]);
    // etcdctl 3.4 has no --count-only; a JSON answer with --limit carries the count.
    await both(["get", "/etcdctl/", "--prefix", "--keys-only", "--limit", "1", "-w", "json"]);
    await both(["put", "/etcdctl/a", "6", "-w", "json"]);
    await both((s) => ["get", "/etcdctl/a", `--rev=${s.rev(100)}`]);
    await both(["del", "/etcdctl/b", "--prev-kv"]);
    await both(["del", "/etcdctl/missing"]);
    await both(["del", "/etcdctl/c", "--prefix", "--prev-kv", "-w", "json"]);
    await both(["get", "/etcdctl/", "--prefix"]);
  });

  it("txn, interactive form on stdin", async () => {
    await both(["txn", "-i"], 'value("/etcdctl/a") = "6"\n\nput /etcdctl/t yes\nget /etcdctl/a\n\nput /etcdctl/t no\n\n');
    await both(["txn", "-i"], 'mod("/etcdctl/a") < "1"\nversion("/etcdctl/t") = "1"\n\ndel /etcdctl/t\n\nget /etcdctl/t\ndel /etcdctl/t --prev-kv\n\n');
    await both(["txn", "-i", "-w", "json"], 'create("/etcdctl/none") = "0"\n\nput /etcdctl/u 1\n\n\n');
    await both(["get", "/etcdctl/", "--prefix"]);
  });

  it("watch: prefix, from a revision, with previous values", async () => {
    // From the next revision on: the watch sees the writes made while it runs, whenever it started.
    const next = new Map([[theirs, (await revisionNow(theirs)) + 1], [ours, (await revisionNow(ours)) + 1]]);
    await bothStreaming((s) => ["watch", "--prefix", "/etcdctl/w/", `--rev=${next.get(s)}`, "--prev-kv"], (out) => out.includes("/etcdctl/w/end\nend\n"), async () => {
      await both(["put", "/etcdctl/w/x", "1"]);
      await both(["put", "/etcdctl/w/x", "2"]);
      await both(["del", "/etcdctl/w/x"]);
      await both(["put", "/etcdctl/w/end", "end"]);
    });
    // A watch etcd cannot make is created and canceled at once; etcdctl says why and stops.
    await both(["watch", "/etcdctl/b", "/etcdctl/a"]);
    // History: every write of one key since the test began.
    await bothStreaming((s) => ["watch", "/etcdctl/a", `--rev=${s.rev(1)}`], (out) => count(out, "PUT") === 3 && out.endsWith("6\n"));
    await bothStreaming((s) => ["watch", "--prefix", "/etcdctl/", `--rev=${s.rev(6)}`, "--prev-kv"], (out) => count(out, "PUT") + count(out, "DELETE") >= 5 && out.includes("/etcdctl/u\n1\n"),
      undefined, (out) => out.slice(0, out.indexOf("/etcdctl/u\n1\n") + "/etcdctl/u\n1\n".length));
  });

  it("leases: grant, put with a lease, timetolive, keep-alive, list, revoke", async () => {
    await both(["lease", "grant", "100"]);
    const lease = (s: Side) => s.leaseHex("<lease-1>");
    await both((s) => ["put", "/etcdctl/l", "leased", `--lease=${lease(s)}`]);
    await both((s) => ["lease", "timetolive", lease(s)]);
    await both((s) => ["lease", "timetolive", lease(s), "--keys"]);
    await both(["lease", "list"]);
    await bothStreaming((s) => ["lease", "keep-alive", lease(s)], (out) => out.includes("\n"), undefined, (out) => out.slice(0, out.indexOf("\n") + 1));
    await both((s) => ["get", "/etcdctl/l", "-w", "json"]);
    await both((s) => ["lease", "revoke", lease(s)]);
    await both(["get", "/etcdctl/l"]);
    await both((s) => ["lease", "timetolive", lease(s)]);
    await both((s) => ["lease", "revoke", lease(s)]);
    await both(["lease", "list"]);
  });

  it("compaction", async () => {
    await both((s) => ["compaction", s.rev(4)]);
    await both((s) => ["get", "/etcdctl/a", `--rev=${s.rev(3)}`]);
    await both((s) => ["get", "/etcdctl/a", `--rev=${s.rev(4)}`]);
    await both((s) => ["compaction", s.rev(2)]);
  });

  it("endpoint status and health, member list", async () => {
    const fields = (side: Side, out: Output) => out.stdout.trim().split(", ").map((f, i) =>
      // endpoint, member id, version, db size, is leader, is learner, raft term, raft index, applied index, errors
      ([0, 1, 2, 3, 6, 7, 8].includes(i) ? `<${i}>` : f));
    const [a, b] = [await theirs.run(["endpoint", "status"]), await ours.run(["endpoint", "status"])];
    expect(fields(ours, b)).toEqual(fields(theirs, a));
    expect(b.stdout).toContain(`${bridge.endpoint}, `);
    await both(["endpoint", "health"]);
    const members = (out: Output) => out.stdout.trim().split(", ").map((f, i) => ([0, 2, 3, 4].includes(i) ? `<${i}>` : f));
    const [c, d] = [await theirs.run(["member", "list"]), await ours.run(["member", "list"])];
    expect(members(d)).toEqual(members(c));
    expect(d.stdout).toContain(`, ${plane.url}, ${bridge.endpoint}, false`);
  });

  it("snapshot save", async () => {
    const save = (side: Side) => side.run(["snapshot", "save", join(workDir, `${side.name}.db`)]);
    const [a, b] = [await save(theirs), await save(ours)];
    const saved = (out: Output, side: Side) => ({ ...side.normalise(out), stdout: out.stdout.replace(join(workDir, `${side.name}.db`), "<file>") });
    expect(saved(b, ours)).toEqual(saved(a, theirs));
    expect(a.stdout).toBe(`Snapshot saved at ${join(workDir, "etcd.db")}\n`);
    const snapshot = parseSnapshot(readFileSync(join(workDir, "edgeplane.db")));
    expect(snapshot.shards.map((s) => s.name)).toEqual(["main", "audit"]);
    expect(Number(snapshot.shards[0]!.head.revision)).toBe(await revisionNow(ours));
  });

  it("reads the whole keyspace across store shards, as operators do", async () => {
    // A key in the audit shard, so that the range spans two shards' keys.
    expect((await ours.run(["put", "/audit/etcdctl-probe", "x"])).stdout).toBe("OK\n");
    const keys = (await ours.run(["get", "/", "--prefix", "--keys-only"])).stdout.split("\n").filter(Boolean);
    expect(keys).toContain("/registry/namespaces/kube-system");
    expect(keys).toContain("/etcdctl/a");
    expect(keys).toContain("/audit/etcdctl-probe");
    expect([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))).toEqual(keys);
    const limited = (await ours.run(["get", "/", "--prefix", "--keys-only", "--limit", "3"])).stdout.split("\n").filter(Boolean);
    expect(limited).toEqual(keys.slice(0, 3));
    // Writes and watches across shards are refused, saying why.
    const watch = await ours.run(["watch", "--prefix", "/"]);
    expect(watch.stdout + watch.stderr).toContain("watch was canceled (edgeplane: a watch cannot span store shards");
    expect((await ours.run(["del", "/", "--prefix"])).stderr).toContain("edgeplane: the request's keys span store shards");
  });
});
