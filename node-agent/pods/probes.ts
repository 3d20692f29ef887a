// The kubelet's prober: one worker per running container and probe (liveness, readiness, startup)
// that waits initialDelaySeconds, runs the probe every periodSeconds within timeoutSeconds (exec
// through the runtime, httpGet, tcpSocket, grpc's health checking protocol) and turns successThreshold/failureThreshold runs of
// results into what the status reports (Ready, started). A failed liveness or startup probe kills
// the container, which the runtime restarts per the restartPolicy. Liveness and readiness wait
// until the startup probe has passed.
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { request } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import type { Container, Pod, Probe } from "kubernetes-types/core/v1";
import type { Runtime, RuntimeEvent } from "../runtime/runtime.ts";
import type { ProbeResults } from "./status.ts";

export type ProbeKind = "liveness" | "readiness" | "startup";

export interface ProbeOutcome {
  success: boolean;
  message?: string;
}

export interface ProberOptions {
  runtime: Runtime;
  /** A result changed: the pod's worker should sync (status, or a kill). */
  onChange(uid: string): void;
  event(pod: Pod, type: "Normal" | "Warning", reason: string, message: string, fieldPath?: string): void;
}

const KIND_WORD: Record<ProbeKind, string> = { liveness: "Liveness", readiness: "Readiness", startup: "Startup" };

function probeOf(container: Container, kind: ProbeKind): Probe | undefined {
  return kind === "liveness" ? container.livenessProbe : kind === "readiness" ? container.readinessProbe : container.startupProbe;
}

/** A named or numbered port of the container. */
function portNumber(container: Container, port: number | string): number {
  if (typeof port === "number") return port;
  const named = container.ports?.find((p) => p.name === port)?.containerPort;
  return named ?? Number(port);
}

/** Node's words for a failed connect, as Go's net package says them ("dial tcp 10.0.0.1:80: connect: connection refused"). */
const GO_ERRNO: Record<string, string> = {
  ECONNREFUSED: "connect: connection refused", EHOSTUNREACH: "connect: no route to host",
  ENETUNREACH: "connect: network is unreachable", ECONNRESET: "read: connection reset by peer",
};

function dialError(e: NodeJS.ErrnoException, host: string, port: number): string {
  const words = e.code ? GO_ERRNO[e.code] : undefined;
  return words ? `dial tcp ${host}:${port}: ${words}` : e.message;
}

function httpProbe(url: URL, headers: Record<string, string>, timeoutMs: number): Promise<ProbeOutcome> {
  const send = url.protocol === "https:" ? httpsRequest : request;
  return new Promise((resolve) => {
    const req = send(url, { headers: { "User-Agent": "kube-probe/1.30", Accept: "*/*", ...headers }, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400 ? { success: true } : { success: false, message: `HTTP probe failed with statuscode: ${code}` });
    });
    req.on("timeout", () => req.destroy(new Error(`Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`)));
    req.on("error", (e) => resolve({ success: false, message: e.message.startsWith("Get ") ? e.message : `Get "${url}": ${dialError(e, url.hostname, Number(url.port) || (url.protocol === "https:" ? 443 : 80))}` }));
    req.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once("connect", () => {
      socket.destroy();
      resolve({ success: true });
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve({ success: false, message: `dial tcp ${host}:${port}: i/o timeout` });
    });
    socket.once("error", (e) => {
      const message = dialError(e, host, port);
      resolve({ success: false, message: message.startsWith("dial tcp") ? message : `dial tcp ${host}:${port}: ${message}` });
    });
  });
}

/** gRPC's health checking protocol (grpc.health.v1), the messages the kubelet's grpc probe sends and reads. */
const HEALTH = protobuf.parse(`
syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}`).root;
const HealthCheckRequest = HEALTH.lookupType("grpc.health.v1.HealthCheckRequest");
const HealthCheckResponse = HEALTH.lookupType("grpc.health.v1.HealthCheckResponse");
const GRPC_CODE_NAMES = ["OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"];

/** Go's time.Duration text for whole seconds ("1s", "1m30s"). */
function goSeconds(seconds: number): string {
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`;
}

/**
 * The kubelet's grpc probe: connect (insecure) within the timeout, then grpc.health.v1.Health/Check
 * for the service; SERVING passes. Failures in the kubelet's words.
 */
export function grpcProbe(host: string, port: number, service: string, timeoutSeconds: number): Promise<ProbeOutcome> {
  const addr = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  const deadline = Date.now() + timeoutSeconds * 1000;
  const client = new grpc.Client(addr, grpc.credentials.createInsecure(), { "grpc.primary_user_agent": "kube-probe/1.30" });
  const done = (outcome: ProbeOutcome) => {
    client.close();
    return outcome;
  };
  return new Promise((resolve) => {
    client.waitForReady(deadline, (error) => {
      if (error) return resolve(done({ success: false, message: `timeout: failed to connect service "${addr}" within ${goSeconds(timeoutSeconds)}: context deadline exceeded` }));
      const serialize = (value: { service: string }) => Buffer.from(HealthCheckRequest.encode(HealthCheckRequest.create(value)).finish());
      const deserialize = (bytes: Buffer) => HealthCheckResponse.toObject(HealthCheckResponse.decode(bytes), { enums: String, defaults: true }) as { status: string };
      client.makeUnaryRequest("/grpc.health.v1.Health/Check", serialize, deserialize, { service }, new grpc.Metadata(), { deadline }, (callError, response) => {
        if (callError) {
          const code = callError.code;
          if (code === grpc.status.UNIMPLEMENTED) return resolve(done({ success: false, message: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${callError.details}` }));
          if (code === grpc.status.DEADLINE_EXCEEDED) return resolve(done({ success: false, message: `timeout: health rpc did not complete within ${goSeconds(timeoutSeconds)}` }));
          return resolve(done({ success: false, message: `error: health rpc probe failed: rpc error: code = ${GRPC_CODE_NAMES[code] ?? code} desc = ${callError.details}` }));
        }
        if (response?.status !== "SERVING") return resolve(done({ success: false, message: `service unhealthy (responded with "${response?.status ?? "UNKNOWN"}")` }));
        resolve(done({ success: true, message: "service healthy" }));
      });
    });
  });
}

/** Runs one probe once against the pod: exec through the runtime, httpGet, tcpSocket and grpc to the pod's IP. */
export async function runProbe(exec: Runtime["exec"], pod: Pod, container: Container, probe: Probe): Promise<ProbeOutcome> {
  const uid = pod.metadata!.uid!;
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  const podIP = pod.status?.podIP ?? "";
  if (probe.exec) {
    const result = await exec(uid, container.name, probe.exec.command ?? [], probe.timeoutSeconds ?? 1);
    return result.exitCode === 0 ? { success: true } : { success: false, message: (result.stdout + result.stderr).trim() || `command ${JSON.stringify(probe.exec.command)} exited with ${result.exitCode}` };
  }
  if (probe.httpGet) {
    const { scheme = "HTTP", host, port, path = "/", httpHeaders = [] } = probe.httpGet;
    const url = new URL(`${scheme.toLowerCase()}://${host || podIP}:${portNumber(container, port)}`);
    url.pathname = path.startsWith("/") ? path : `/${path}`;
    return httpProbe(url, Object.fromEntries(httpHeaders.map((h) => [h.name, h.value])), timeoutMs);
  }
  if (probe.tcpSocket) return tcpProbe(probe.tcpSocket.host || podIP, portNumber(container, probe.tcpSocket.port), timeoutMs);
  if (probe.grpc) return grpcProbe(podIP, probe.grpc.port, probe.grpc.service ?? "", probe.timeoutSeconds ?? 1);
  return { success: false, message: "the probe names no handler (exec, httpGet, tcpSocket or grpc)" };
}

/** One probe of one running container (by containerID: a restarted container gets new workers). */
class ProbeWorker {
  readonly containerID: string;
  readonly container: Container;
  readonly kind: ProbeKind;
  readonly probe: Probe;
  /** The pod as last synced (its podIP is what httpGet and tcpSocket probes reach). */
  pod: Pod;
  result: boolean | undefined;
  private readonly prober: Prober;
  private successes = 0;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(prober: Prober, pod: Pod, container: Container, kind: ProbeKind, probe: Probe, containerID: string, startedAt: number) {
    this.prober = prober;
    this.pod = pod;
    this.container = container;
    this.kind = kind;
    this.probe = probe;
    this.containerID = containerID;
    const firstRun = startedAt + (probe.initialDelaySeconds ?? 0) * 1000 - Date.now();
    this.timer = setTimeout(() => void this.tick(), Math.max(0, firstRun));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    // Liveness and readiness wait for the startup probe to pass.
    if (this.kind === "startup" || this.prober.started(this.pod.metadata!.uid!, this.container)) {
      const outcome = await this.prober.run(this).catch((e: Error) => ({ success: false, message: e.message }));
      if (this.stopped) return;
      this.record(outcome);
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), (this.probe.periodSeconds ?? 10) * 1000);
  }

  private record(outcome: ProbeOutcome): void {
    const path = `spec.containers{${this.container.name}}`;
    if (outcome.success) {
      this.failures = 0;
      this.successes++;
      if (this.result !== true && this.successes >= (this.probe.successThreshold ?? 1)) this.set(true);
      return;
    }
    this.successes = 0;
    this.failures++;
    this.prober.event(this.pod, "Warning", "Unhealthy", `${KIND_WORD[this.kind]} probe failed: ${outcome.message ?? ""}`, path);
    if (this.failures < (this.probe.failureThreshold ?? 3)) return;
    if (this.kind === "readiness") {
      if (this.result !== false) this.set(false);
      return;
    }
    // Liveness or startup failed: the container is killed and these workers end with it.
    this.failures = 0;
    this.prober.kill(this, `Container ${this.container.name} failed ${this.kind} probe, will be restarted`);
  }

  private set(result: boolean): void {
    this.result = result;
    this.prober.changed(this.pod.metadata!.uid!);
  }
}

export class Prober implements ProberOptions {
  readonly runtime: Runtime;
  readonly onChange: (uid: string) => void;
  readonly event: ProberOptions["event"];
  /** uid → "container/kind" → worker */
  private readonly workers = new Map<string, Map<string, ProbeWorker>>();

  constructor(options: ProberOptions) {
    this.runtime = options.runtime;
    this.onChange = options.onChange;
    this.event = options.event;
  }

  /** Starts workers for the running containers' probes and stops those of containers no longer running. */
  sync(pod: Pod, running: { name: string; containerID: string; startedAt: number }[]): void {
    const uid = pod.metadata!.uid!;
    const workers = this.workers.get(uid) ?? new Map<string, ProbeWorker>();
    const wanted = new Set<string>();
    for (const { name, containerID, startedAt } of running) {
      const container = pod.spec?.containers.find((c) => c.name === name);
      if (!container) continue;
      for (const kind of ["startup", "liveness", "readiness"] as const) {
        const probe = probeOf(container, kind);
        if (!probe) continue;
        const key = `${name}/${kind}`;
        wanted.add(key);
        const existing = workers.get(key);
        if (existing?.containerID === containerID) {
          existing.pod = pod;
          continue;
        }
        existing?.stop();
        workers.set(key, new ProbeWorker(this, pod, container, kind, probe, containerID, startedAt));
      }
    }
    for (const [key, worker] of workers) {
      if (!wanted.has(key)) {
        worker.stop();
        workers.delete(key);
      }
    }
    if (workers.size) this.workers.set(uid, workers);
    else this.workers.delete(uid);
  }

  results(uid: string): ProbeResults {
    const ready = new Map<string, boolean>();
    const started = new Map<string, boolean>();
    for (const worker of this.workers.get(uid)?.values() ?? []) {
      if (worker.kind === "readiness" && worker.result !== undefined) ready.set(worker.container.name, worker.result);
      if (worker.kind === "startup" && worker.result !== undefined) started.set(worker.container.name, worker.result);
    }
    return { ready, started };
  }

  /** Whether the container's startup probe has passed (true when it has none). */
  started(uid: string, container: Container): boolean {
    if (!container.startupProbe) return true;
    return this.workers.get(uid)?.get(`${container.name}/startup`)?.result === true;
  }

  /** One run of a worker's probe: the runtime answers it when it simulates containers. */
  run(worker: ProbeWorker): Promise<ProbeOutcome> {
    const { pod, container, kind, probe } = worker;
    if (this.runtime.probe) return this.runtime.probe(pod.metadata!.uid!, container.name, kind);
    return runProbe((...args) => this.runtime.exec(...args), pod, container, probe);
  }

  changed(uid: string): void {
    this.onChange(uid);
  }

  kill(worker: ProbeWorker, message: string): void {
    const { pod, container, probe } = worker;
    const uid = pod.metadata!.uid!;
    for (const [key, w] of this.workers.get(uid) ?? []) {
      if (key.startsWith(`${container.name}/`)) {
        w.stop();
        this.workers.get(uid)!.delete(key);
      }
    }
    const grace = probe.terminationGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
    const emit = (e: RuntimeEvent) => this.event(pod, e.type, e.reason, e.message, e.fieldPath ?? `spec.containers{${container.name}}`);
    void this.runtime.killContainer(pod, container.name, grace, message, emit).finally(() => this.onChange(uid));
  }

  removePod(uid: string): void {
    for (const worker of this.workers.get(uid)?.values() ?? []) worker.stop();
    this.workers.delete(uid);
  }
}
