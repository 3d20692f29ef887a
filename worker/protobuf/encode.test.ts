// The protobuf encoder against kubectl's own bodies (fixtures/<name>.pb, byte for byte from both the
// JSON kubectl prints and the decoded body), and round trips through the decoder for Lists, Status,
// watch events, every served kind and the types with a JSON form of their own.
/// <reference types="vite/client" />
import { describe, expect, it } from "vitest";
import { resources } from "../registry/index.ts";
import { groupVersion } from "../registry/types.ts";
import { decodeKubernetesProtobuf } from "./decode.ts";
import { encodeKubernetesProtobuf, encodeWatchEvent, hasProtobufMessage } from "./encode.ts";
import { ProtobufError, ProtoReader } from "./wire.ts";

const bodies = import.meta.glob<string>("./fixtures/**/*.pb", { query: "?inline", import: "default", eager: true });
const printed = import.meta.glob<Record<string, unknown>>("./fixtures/**/*.json", { import: "default", eager: true });

function bytesOf(dataUrl: string): Uint8Array {
  return Uint8Array.from(atob(dataUrl.slice(dataUrl.indexOf(",") + 1)), (c) => c.charCodeAt(0));
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** decode(encode(object)) without the envelope's kind and apiVersion. */
function roundTrip(object: Record<string, unknown>): Record<string, unknown> {
  return decodeKubernetesProtobuf(encodeKubernetesProtobuf(object)).object;
}

describe("encodeKubernetesProtobuf", () => {
  const names = Object.keys(bodies).map((path) => path.slice("./fixtures/".length, -".pb".length));

  for (const name of names) {
    it(`writes kubectl's ${name} body byte for byte, from the JSON kubectl prints and from the decoded body`, () => {
      const body = bytesOf(bodies[`./fixtures/${name}.pb`]!);
      const json = printed[`./fixtures/${name}.json`]!;
      expect(hex(encodeKubernetesProtobuf(json))).toBe(hex(body));
      const decoded = decodeKubernetesProtobuf(body).object;
      expect(hex(encodeKubernetesProtobuf(decoded))).toBe(hex(body));
      expect(roundTrip(json)).toEqual(decoded);
    });
  }

  it("writes an object of every served built-in kind, and its List", () => {
    // CustomResourceDefinitions aside: apiextensions' descriptors are not in kubectl's binary; and
    // metrics.k8s.io's NodeMetrics and PodMetrics, served as JSON only (kubectl top accepts */*).
    expect(resources.filter((def) => !hasProtobufMessage(groupVersion(def), def.kind)).map((def) => def.kind)).toEqual(["CustomResourceDefinition", "NodeMetrics", "PodMetrics"]);
    for (const def of resources.filter((d) => hasProtobufMessage(groupVersion(d), d.kind))) {
      const apiVersion = groupVersion(def);
      const object = { kind: def.kind, apiVersion, metadata: { name: "x", uid: "u-1", resourceVersion: "7", labels: { b: "2", a: "1" }, creationTimestamp: "2026-11-22T01:02:03Z" } };
      expect(roundTrip(object)).toMatchObject(object);
      // Review kinds (create-only, never listed) have no List message.
      if (def.review) continue;
      const list = { kind: `${def.kind}List`, apiVersion, metadata: { resourceVersion: "9", continue: "c", remainingItemCount: 3 }, items: [object, object] };
      const { kind: _kind, apiVersion: _apiVersion, ...item } = object;
      expect(roundTrip(list)).toMatchObject({ ...list, items: [item, item] });
    }
  });

  it("writes Lists with their items and list metadata", () => {
    const list = {
      kind: "ConfigMapList", apiVersion: "v1", metadata: { resourceVersion: "12" },
      items: [{ metadata: { name: "a", namespace: "default", creationTimestamp: null }, data: { k: "v" } }, { metadata: { name: "b", namespace: "default", creationTimestamp: null } }],
    };
    expect(roundTrip(list)).toEqual(list);
    expect(roundTrip({ kind: "PodList", apiVersion: "v1", metadata: {}, items: [] })).toEqual({ kind: "PodList", apiVersion: "v1", metadata: {} });
  });

  it("writes Status the way kube-apiserver does", () => {
    const status = {
      kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: 'configmaps "x" not found', reason: "NotFound",
      details: { name: "x", kind: "configmaps", causes: [{ reason: "FieldValueInvalid", message: "bad", field: "data" }] }, code: 404,
    };
    expect(roundTrip(status)).toEqual(status);
    // Every field of a Go value struct is written, zero or not: ListMeta's three strings, the empty
    // StatusDetails strings, retryAfterSeconds 0.
    const success = encodeKubernetesProtobuf({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 200 });
    expect(hex(success)).toBe(hex(Uint8Array.from([
      0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0c, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x06, ...new TextEncoder().encode("Status"),
      0x12, 0x18, 0x0a, 0x06, 0x0a, 0x00, 0x12, 0x00, 0x1a, 0x00, 0x12, 0x07, ...new TextEncoder().encode("Success"), 0x1a, 0x00, 0x22, 0x00, 0x30, 0xc8, 0x01,
      0x1a, 0x00, 0x22, 0x00,
    ])));
  });

  it("writes a full Pod: inline fields, IntOrString, Quantity, times, maps, pointers at zero", () => {
    const pod = {
      kind: "Pod", apiVersion: "v1",
      metadata: {
        name: "web-0", namespace: "default", uid: "0b9c", resourceVersion: "41", generation: 1, creationTimestamp: "2026-11-22T01:02:03Z",
        deletionTimestamp: "2026-11-22T01:05:00Z", deletionGracePeriodSeconds: 0, labels: { app: "web", "zz/last": "1", a: "" },
        annotations: { note: "ünïcode ✓" }, finalizers: ["x/y"],
        ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "web", uid: "9d", controller: true, blockOwnerDeletion: false }],
        managedFields: [{ manager: "kubectl", operation: "Apply", apiVersion: "v1", time: "2026-11-22T01:02:03Z", fieldsType: "FieldsV1", fieldsV1: { "f:metadata": { "f:labels": { ".": {}, "f:app": {} } } } }],
      },
      spec: {
        volumes: [
          { name: "cfg", configMap: { name: "settings", defaultMode: 420, optional: false, items: [{ key: "k", path: "p" }] } },
          { name: "scratch", emptyDir: { sizeLimit: "1Gi" } },
          { name: "token", projected: { sources: [{ secret: { name: "s" } }, { serviceAccountToken: { path: "token", expirationSeconds: 3600 } }] } },
        ],
        containers: [{
          name: "web", image: "nginx:1.25", command: ["nginx"], args: ["-g", "daemon off;"],
          ports: [{ name: "http", containerPort: 80, protocol: "TCP" }],
          env: [{ name: "A", value: "1" }, { name: "B", valueFrom: { configMapKeyRef: { name: "settings", key: "b" } } }, { name: "C", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } } }],
          envFrom: [{ secretRef: { name: "creds" } }],
          resources: { limits: { cpu: "500m", memory: "128Mi" }, requests: { cpu: "250m" } },
          livenessProbe: { httpGet: { path: "/healthz", port: "http", scheme: "HTTP" }, initialDelaySeconds: 3, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
          readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 5 },
          lifecycle: { preStop: { exec: { command: ["sleep", "5"] } } },
          securityContext: { runAsUser: 0, runAsNonRoot: false, capabilities: { drop: ["ALL"] } },
          volumeMounts: [{ name: "cfg", mountPath: "/etc/cfg", readOnly: true }],
          terminationMessagePath: "/dev/termination-log", terminationMessagePolicy: "File", imagePullPolicy: "IfNotPresent",
        }],
        restartPolicy: "Always", terminationGracePeriodSeconds: 30, dnsPolicy: "ClusterFirst", nodeSelector: { "kubernetes.io/os": "linux" },
        serviceAccountName: "default", securityContext: { fsGroup: 2000, supplementalGroups: [1, -2] }, schedulerName: "default-scheduler",
        tolerations: [{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 }],
        affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["web"] }] }, topologyKey: "kubernetes.io/hostname" } }] } },
        priority: 0, enableServiceLinks: true, overhead: { cpu: "10m" },
      },
      status: {
        phase: "Running", hostIP: "10.0.0.2", podIP: "10.1.0.5", podIPs: [{ ip: "10.1.0.5" }], startTime: "2026-11-22T01:02:04Z", qosClass: "Burstable",
        conditions: [{ type: "Ready", status: "True", lastProbeTime: null, lastTransitionTime: "2026-11-22T01:02:09Z" }],
        containerStatuses: [{
          name: "web", ready: true, restartCount: 2, image: "nginx:1.25", imageID: "sha256:ab", containerID: "containerd://1", started: true,
          state: { running: { startedAt: "2026-11-22T01:02:08Z" } }, lastState: { terminated: { exitCode: -1, reason: "Error", startedAt: null, finishedAt: "2026-11-22T01:02:07Z" } },
        }],
      },
    };
    expect(roundTrip(pod)).toEqual(pod);
  });

  it("writes the types with a JSON form of their own", () => {
    // Time with a fraction and an offset: seconds and nanos; before 1970: negative seconds.
    const event = (fields: Record<string, unknown>) => roundTrip({ kind: "Event", apiVersion: "v1", metadata: { name: "e" }, involvedObject: {}, source: {}, ...fields });
    expect(event({ firstTimestamp: "2026-11-22T02:02:03.5+01:00", eventTime: "2026-11-22T01:02:03.123456Z" })).toMatchObject({ firstTimestamp: "2026-11-22T01:02:03Z", eventTime: "2026-11-22T01:02:03.123456Z" });
    expect(event({ lastTimestamp: "1969-12-31T23:59:59Z" })).toMatchObject({ lastTimestamp: "1969-12-31T23:59:59Z" });
    // A zero Time is JSON null both ways.
    expect(event({ firstTimestamp: null })).toMatchObject({ firstTimestamp: null, lastTimestamp: null, metadata: { creationTimestamp: null } });
    // RawExtension: ControllerRevision.data as JSON.
    expect(roundTrip({ kind: "ControllerRevision", apiVersion: "apps/v1", metadata: { name: "r" }, data: { spec: { template: { a: [1, "b", null] } } }, revision: 3 }))
      .toMatchObject({ data: { spec: { template: { a: [1, "b", null] } } }, revision: 3 });
    // bytes (base64) in a map, and a Go slice type (ExtraValue []string) as a map value.
    const csr = {
      kind: "CertificateSigningRequest", apiVersion: "certificates.k8s.io/v1", metadata: { name: "c", creationTimestamp: null },
      spec: { request: "LS0tLS1CRUdJTg==", signerName: "kubernetes.io/kube-apiserver-client", usages: ["client auth"], extra: { groups: ["a", "b"], none: [] }, username: "u", expirationSeconds: 600 },
      status: { certificate: "AP8Q" },
    };
    expect(roundTrip(csr)).toEqual(csr);
    expect(roundTrip({ kind: "Secret", apiVersion: "v1", metadata: { name: "s" }, data: { b: "AP8Q", a: "" }, type: "Opaque" })).toMatchObject({ data: { a: "", b: "AP8Q" } });
    // JSON names that differ from the proto names (uid/uID, webhooks/Webhooks) and inline rules.
    const webhooks = {
      kind: "ValidatingWebhookConfiguration", apiVersion: "admissionregistration.k8s.io/v1", metadata: { name: "w", creationTimestamp: null },
      webhooks: [{ name: "v.example.com", clientConfig: { url: "https://x" }, rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], scope: "*" }], sideEffects: "None", admissionReviewVersions: ["v1"] }],
    };
    expect(roundTrip(webhooks)).toEqual(webhooks);
    const ingress = {
      kind: "Ingress", apiVersion: "networking.k8s.io/v1", metadata: { name: "i", creationTimestamp: null },
      spec: { rules: [{ host: "a.example.com", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }] } }] },
      status: { loadBalancer: {} },
    };
    expect(roundTrip(ingress)).toEqual(ingress);
  });

  it("writes map keys in Go's sorted order and drops fields the type does not have", () => {
    const a = encodeKubernetesProtobuf({ kind: "ConfigMap", apiVersion: "v1", metadata: { name: "m" }, data: { b: "2", a: "1" }, unknownField: 1 });
    const b = encodeKubernetesProtobuf({ kind: "ConfigMap", apiVersion: "v1", metadata: { name: "m" }, data: { a: "1", b: "2" } });
    expect(hex(a)).toBe(hex(b));
  });

  it("frames a watch event: 4-byte length, a raw WatchEvent, the object in its own envelope", () => {
    const object = { kind: "ConfigMap", apiVersion: "v1", metadata: { name: "m", resourceVersion: "5", creationTimestamp: null }, data: { a: "1" } };
    const frame = encodeWatchEvent("MODIFIED", object);
    expect(new DataView(frame.buffer, frame.byteOffset).getUint32(0)).toBe(frame.length - 4);
    const event = new ProtoReader(frame, 4);
    expect(event.tag()).toEqual({ field: 1, wire: 2 });
    expect(event.string()).toBe("MODIFIED");
    expect(event.tag()).toEqual({ field: 2, wire: 2 });
    const rawExtension = new ProtoReader(event.bytesField());
    expect(event.done).toBe(true);
    expect(rawExtension.tag()).toEqual({ field: 1, wire: 2 });
    expect(decodeKubernetesProtobuf(rawExtension.bytesField()).object).toEqual(object);
  });

  it("knows which kinds have a message", () => {
    expect(hasProtobufMessage("apps/v1", "Deployment")).toBe(true);
    expect(hasProtobufMessage("apps/v1", "DeploymentList")).toBe(true);
    expect(hasProtobufMessage("v1", "Status")).toBe(true);
    expect(hasProtobufMessage("meta.k8s.io/v1", "PartialObjectMetadataList")).toBe(true);
    expect(hasProtobufMessage("v1", "PodSpec")).toBe(false);
    expect(hasProtobufMessage("apiextensions.k8s.io/v1", "CustomResourceDefinition")).toBe(false);
    expect(hasProtobufMessage("stable.example.com/v1", "CronTab")).toBe(false);
    expect(hasProtobufMessage("apps.example.com/v1", "Deployment")).toBe(false);
  });

  it("refuses what it cannot write with a ProtobufError", () => {
    expect(() => encodeKubernetesProtobuf({ kind: "CronTab", apiVersion: "stable.example.com/v1" })).toThrow(ProtobufError);
    expect(() => encodeKubernetesProtobuf({ kind: "ConfigMap", apiVersion: "v1", metadata: { creationTimestamp: "yesterday" } })).toThrow(ProtobufError);
    expect(() => encodeKubernetesProtobuf({ kind: "Secret", apiVersion: "v1", data: { a: "not base64!" } })).toThrow(ProtobufError);
  });
});
