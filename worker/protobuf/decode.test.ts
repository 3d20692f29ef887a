// The protobuf decoder against bodies kubectl 1.33 and 1.32 sent (fixtures/<name>.pb, fixtures/1.32/)
// and the JSON the same command prints with --dry-run=client -o json (<name>.json), plus malformed input.
/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import { resources } from "../registry/index.ts";
import { groupVersion } from "../registry/types.ts";
import { decodeDeleteOptions, decodeKubernetesProtobuf, ProtobufError } from "./decode.ts";

const bodies = import.meta.glob<string>("./fixtures/**/*.pb", { query: "?inline", import: "default", eager: true });
const expected = import.meta.glob<Record<string, unknown>>("./fixtures/**/*.json", { import: "default", eager: true });

/**
 * The JSON kubectl prints, less what protobuf cannot carry: a Go value field at its zero value is
 * written on the wire like an absent one, so the decoder leaves it out as `omitempty` would. Fields
 * without `omitempty` (HPA status.desiredReplicas: 0, status.currentMetrics: null, PDB status
 * counters) are the exception; kubectl prints them, and the server resets status on create anyway.
 */
function withoutUnsentZeros(json: unknown, decoded: unknown): unknown {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return json;
  const received = (decoded ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(json)
    .filter(([key, value]) => key in received || !(value === null || value === 0 || value === false || value === ""))
    .map(([key, value]) => [key, withoutUnsentZeros(value, received[key])]));
}

function bytesOf(dataUrl: string): Uint8Array {
  return Uint8Array.from(atob(dataUrl.slice(dataUrl.indexOf(",") + 1)), (c) => c.charCodeAt(0));
}

/** Protobuf wire format, written by hand for the malformed cases. */
function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80);
  return [...out, n];
}
const text = (s: string) => [...new TextEncoder().encode(s)];
const delimited = (field: number, payload: number[]) => [...varint(field * 8 + 2), ...varint(payload.length), ...payload];
function envelope(apiVersion: string, kind: string, raw: number[]): Uint8Array {
  return Uint8Array.from([0x6b, 0x38, 0x73, 0x00, ...delimited(1, [...delimited(1, text(apiVersion)), ...delimited(2, text(kind))]), ...delimited(2, raw)]);
}

describe("decodeKubernetesProtobuf", () => {
  const names = Object.keys(bodies).map((path) => path.slice("./fixtures/".length, -".pb".length));

  it("has the kubectl fixtures of both versions", () => {
    expect(names.filter((name) => !name.includes("/")).length).toBeGreaterThanOrEqual(22);
    expect(names.filter((name) => name.startsWith("1.32/")).length).toBeGreaterThanOrEqual(22);
  });

  for (const name of names) {
    it(`decodes kubectl's ${name} body to the JSON kubectl prints`, () => {
      const json = expected[`./fixtures/${name}.json`]!;
      const { apiVersion, kind, object } = decodeKubernetesProtobuf(bytesOf(bodies[`./fixtures/${name}.pb`]!));
      expect({ apiVersion, kind }).toEqual({ apiVersion: json.apiVersion, kind: json.kind });
      expect(object).toEqual(withoutUnsentZeros(json, object));
    });
  }

  it("matches most fixtures without any normalisation", () => {
    // Keys in one order: the decoder writes them in field-number order, Go in struct order.
    const canonical = (value: unknown): string => JSON.stringify(value, (_, v) => v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v);
    const exact = names.filter((name) => canonical(decodeKubernetesProtobuf(bytesOf(bodies[`./fixtures/${name}.pb`]!)).object) === canonical(expected[`./fixtures/${name}.json`]));
    expect(names.filter((name) => !exact.includes(name))).toEqual(["1.32/autoscale", "1.32/poddisruptionbudget", "autoscale", "poddisruptionbudget"]);
  });

  it("has a message for every served built-in kind", () => {
    // CRDs and metrics.k8s.io aside (see encode.test.ts: no descriptors; metrics are JSON only).
    for (const def of resources.filter((d) => d.group !== "apiextensions.k8s.io" && d.group !== "metrics.k8s.io")) {
      const raw = delimited(1, delimited(1, text("x")));
      expect(decodeKubernetesProtobuf(envelope(groupVersion(def), def.kind, raw)).object).toMatchObject({ metadata: { name: "x" } });
    }
  });

  it("maps the well-known types: Time, MicroTime, IntOrString, RawExtension, bytes; pointer zeros", () => {
    const time = (seconds: number, nanos = 0) => [...varint(8), ...varint(seconds), ...(nanos ? [...varint(16), ...varint(nanos)] : [])];
    // core/v1 Event: firstTimestamp (Time) = 6, eventTime (MicroTime) = 10.
    const event = decodeKubernetesProtobuf(envelope("v1", "Event", [...delimited(6, time(1795309323, 5)), ...delimited(10, time(1795309323, 123456789))])).object;
    expect(event).toMatchObject({ firstTimestamp: "2026-11-22T01:02:03Z", eventTime: "2026-11-22T01:02:03.123456Z" });
    // A zero Time is written as an empty message and is JSON null.
    expect(decodeKubernetesProtobuf(envelope("v1", "ConfigMap", delimited(1, delimited(8, [])))).object).toEqual({ kind: "ConfigMap", apiVersion: "v1", metadata: { creationTimestamp: null } });
    // IntOrString as a string: ServiceSpec.ports (1) → ServicePort.targetPort (4) = {type 1, strVal "http"}.
    const service = decodeKubernetesProtobuf(envelope("v1", "Service", delimited(2, delimited(1, delimited(4, [...varint(8), 1, ...delimited(3, text("http"))]))))).object;
    expect(service).toEqual({ kind: "Service", apiVersion: "v1", spec: { ports: [{ targetPort: "http" }] } });
    // RawExtension: ControllerRevision.data (2) holds JSON.
    const revision = decodeKubernetesProtobuf(envelope("apps/v1", "ControllerRevision", delimited(2, delimited(1, text('{"spec":{"a":1}}'))))).object;
    expect(revision.data).toEqual({ spec: { a: 1 } });
    // Secret.data (2) is map<string, bytes>: values in base64.
    const secret = decodeKubernetesProtobuf(envelope("v1", "Secret", delimited(2, [...delimited(1, text("k")), ...delimited(2, [0, 255, 16])]))).object;
    expect(secret.data).toEqual({ k: "AP8Q" });
    // A pointer field at zero is kept: DeploymentSpec.replicas (1) = 0.
    expect(decodeKubernetesProtobuf(envelope("apps/v1", "Deployment", delimited(2, [8, 0]))).object.spec).toEqual({ replicas: 0 });
  });

  it("reads an inline field into its parent and a Go slice type as its items, under the Go JSON names", () => {
    // Pod.spec (2) → PodSpec.containers (2) → Container{name (1), livenessProbe (10) → Probe.handler
    // (1, inline) → ProbeHandler.exec (1) → ExecAction.command (1), Probe.periodSeconds (4)}.
    const probe = [...delimited(1, delimited(1, delimited(1, text("true")))), 32, 5];
    const pod = decodeKubernetesProtobuf(envelope("v1", "Pod", delimited(2, delimited(2, [...delimited(1, text("c")), ...delimited(10, probe)])))).object;
    expect(pod.spec).toEqual({ containers: [{ name: "c", livenessProbe: { exec: { command: ["true"] }, periodSeconds: 5 } }] });
    // CertificateSigningRequest.spec (2) → extra (6): map<string, ExtraValue{items (1)}>.
    const extra = delimited(6, [...delimited(1, text("groups")), ...delimited(2, [...delimited(1, text("a")), ...delimited(1, text("b"))])]);
    const csr = decodeKubernetesProtobuf(envelope("certificates.k8s.io/v1", "CertificateSigningRequest", delimited(2, extra))).object;
    expect(csr.spec).toEqual({ extra: { groups: ["a", "b"] } });
    // ValidatingWebhookConfiguration's proto name "Webhooks" is "webhooks" in JSON.
    const webhooks = decodeKubernetesProtobuf(envelope("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", delimited(2, delimited(1, text("w"))))).object;
    expect(webhooks.webhooks).toEqual([{ name: "w" }]);
  });

  it("decodes DeleteOptions", () => {
    const body = envelope("meta.k8s.io/v1", "DeleteOptions", [8, 30, ...delimited(4, text("Foreground")), ...delimited(2, delimited(1, text("uid-1")))]);
    expect(decodeDeleteOptions(body)).toEqual({ kind: "DeleteOptions", apiVersion: "meta.k8s.io/v1", gracePeriodSeconds: 30, propagationPolicy: "Foreground", preconditions: { uid: "uid-1" } });
    expect(() => decodeDeleteOptions(envelope("v1", "ConfigMap", []))).toThrow(ProtobufError);
  });

  const malformed: [string, Uint8Array][] = [
    ["no k8s\\0 prefix", Uint8Array.from([0x7b, 0x7d])],
    ["empty body", new Uint8Array()],
    ["an unknown kind", envelope("v1", "Gadget", [])],
    ["no kind", Uint8Array.from([0x6b, 0x38, 0x73, 0x00])],
    ["a truncated envelope", envelope("apps/v1", "Deployment", delimited(1, delimited(1, text("web")))).subarray(0, 20)],
    ["a truncated typed message", envelope("v1", "ConfigMap", [...varint(10), 50, 1, 2])],
    ["a wire-type mismatch", envelope("v1", "ConfigMap", [...varint(1 * 8 + 0), 5])],
    ["invalid UTF-8 in a string", envelope("v1", "ConfigMap", delimited(1, delimited(1, [0xff, 0xfe])))],
    ["a RawExtension that is not JSON", envelope("apps/v1", "ControllerRevision", delimited(2, delimited(1, text("{"))))],
  ];
  for (const [what, bytes] of malformed) {
    it(`refuses ${what} with a ProtobufError`, () => {
      expect(() => decodeKubernetesProtobuf(bytes)).toThrow(ProtobufError);
    });
  }
});
