import { describe, expect, it } from "vitest";
import type { StatusCause } from "../../lib/k8s/status.ts";
import { validatePod, validatePodStatus, validatePodTemplate, validatePodTemplateSpec } from "./pod-validation.ts";
import { defaultPodSpec } from "./pods.ts";

type Obj = Record<string, any>;

/** A pod as the store holds it after defaulting, with `spec` merged over a one-container spec. */
function pod(spec: Obj = {}): Obj {
  const p = { metadata: { name: "web", namespace: "ns" }, spec: { containers: [{ name: "c", image: "nginx:1.25" }], ...structuredClone(spec) } };
  defaultPodSpec(p.spec);
  return p;
}

function container(extra: Obj = {}): Obj {
  return { name: "c", image: "nginx:1.25", ...extra };
}

const shown = (causes: StatusCause[]) => causes.map((c) => `${c.reason} ${c.field}: ${c.message}`);

const IMMUTABLE = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n";

describe("pod validation", () => {
  it("accepts a pod with what kube accepts", () => {
    expect(validatePod(pod({
      volumes: [{ name: "data", emptyDir: {} }, { name: "cfg", configMap: { name: "cfg", defaultMode: 0o644 } }],
      containers: [container({
        ports: [{ name: "http", containerPort: 80 }, { containerPort: 53, protocol: "UDP" }],
        env: [{ name: "MY_ENV.NAME", value: "1" }],
        volumeMounts: [{ name: "data", mountPath: "/data" }, { name: "cfg", mountPath: "/etc/cfg", subPath: "a/b" }],
        resources: { requests: { cpu: "500m", memory: "128Mi" }, limits: { cpu: "1", memory: "0.5Gi", "example.com/gpu": "1" } },
        livenessProbe: { httpGet: { port: "http" } }, readinessProbe: { tcpSocket: { port: 80 }, successThreshold: 3 },
        lifecycle: { preStop: { exec: { command: ["sleep", "5"] } } },
      })],
      initContainers: [container({ name: "init" }), container({ name: "sidecar", restartPolicy: "Always", startupProbe: { exec: { command: ["true"] } } })],
      tolerations: [{ key: "k", operator: "Equal", value: "v", effect: "NoSchedule" }, { operator: "Exists" }],
      nodeSelector: { "kubernetes.io/os": "linux" }, activeDeadlineSeconds: 60, hostname: "web-0", subdomain: "web",
    }))).toEqual([]);
  });

  it.each<[string, Obj, string[]]>([
    ["no containers", { containers: [] }, ["FieldValueRequired spec.containers: Required value"]],
    ["a container without a name or image", { containers: [{}] }, ["FieldValueRequired spec.containers[0].name: Required value", "FieldValueRequired spec.containers[0].image: Required value"]],
    ["a container name that is no DNS label", { containers: [container({ name: "Web_1" })] }, [
      `FieldValueInvalid spec.containers[0].name: Invalid value: "Web_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    ]],
    ["the same name twice", { containers: [container(), container()] }, [`FieldValueDuplicate spec.containers[1].name: Duplicate value: "c"`]],
    ["an init container named as a container", { initContainers: [container()] }, [`FieldValueDuplicate spec.initContainers[0].name: Duplicate value: "c"`]],
    ["an ephemeral container on create", { ephemeralContainers: [container({ name: "debug" })] }, ["FieldValueForbidden spec.ephemeralContainers: Forbidden: cannot be set on create"]],
    ["bad ports", { containers: [container({ ports: [{ containerPort: 0 }, { containerPort: 70000, protocol: "HTTP" }, { name: "Http", containerPort: 1 }, { name: "a", containerPort: 2 }, { name: "a", containerPort: 3 }] })] }, [
      "FieldValueRequired spec.containers[0].ports[0].containerPort: Required value",
      "FieldValueInvalid spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
      `FieldValueNotSupported spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"`,
      `FieldValueInvalid spec.containers[0].ports[2].name: Invalid value: "Http": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
      `FieldValueDuplicate spec.containers[0].ports[4].name: Duplicate value: "a"`,
    ]],
    ["colliding host ports", { containers: [container({ ports: [{ containerPort: 80, hostPort: 8080 }] }), container({ name: "d", ports: [{ containerPort: 81, hostPort: 8080 }] })] }, [
      `FieldValueDuplicate spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"`,
    ]],
    ["a host-network pod whose hostPort differs", { hostNetwork: true, containers: [container({ ports: [{ containerPort: 80, hostPort: 81 }] })] }, [
      "FieldValueInvalid spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` is true",
    ]],
    ["a probe with two handlers", { containers: [container({ livenessProbe: { exec: { command: ["true"] }, tcpSocket: { port: 80 } } })] }, [
      "FieldValueForbidden spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
    ]],
    ["a probe without a handler, bad thresholds", { containers: [container({ readinessProbe: { periodSeconds: -1 }, startupProbe: { exec: { command: ["true"] }, successThreshold: 2 } })] }, [
      "FieldValueRequired spec.containers[0].readinessProbe: Required value: must specify a handler type",
      "FieldValueInvalid spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
      "FieldValueInvalid spec.containers[0].startupProbe.successThreshold: Invalid value: 2: must be 1",
    ]],
    ["a probe on a plain init container", { initContainers: [container({ name: "init", livenessProbe: { exec: { command: ["true"] } } })] }, [
      "FieldValueForbidden spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
    ]],
    ["an httpGet probe on a bad port", { containers: [container({ livenessProbe: { httpGet: { port: 0, scheme: "FTP" } } })] }, [
      "FieldValueInvalid spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
      `FieldValueNotSupported spec.containers[0].livenessProbe.httpGet.scheme: Unsupported value: "FTP": supported values: "HTTP", "HTTPS"`,
    ]],
    ["requests above limits", { containers: [container({ resources: { requests: { cpu: "2", memory: "1Gi" }, limits: { cpu: "1500m", memory: "1024Mi" } } })] }, [
      `FieldValueInvalid spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1500m`,
    ]],
    ["quantities that do not parse, names that are no resource, negatives", { containers: [container({ resources: { limits: { cpu: "lots", gpu: "1" }, requests: { memory: "-1" } } })] }, [
      `FieldValueInvalid spec.containers[0].resources.limits[cpu]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
      `FieldValueInvalid spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for containers`,
      `FieldValueInvalid spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater than or equal to 0`,
    ]],
    ["extended resources requested below their limit", { containers: [container({ resources: { requests: { "example.com/gpu": "1" }, limits: { "example.com/gpu": "2" } } })] }, [
      `FieldValueInvalid spec.containers[0].resources.requests: Invalid value: "1": must be equal to example.com/gpu limit of 2`,
    ]],
    ["unknown restart and DNS policies", { restartPolicy: "Sometimes", dnsPolicy: "Google" }, [
      `FieldValueNotSupported spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`,
      `FieldValueNotSupported spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"`,
    ]],
    ["dnsPolicy None without dnsConfig", { dnsPolicy: "None" }, ["FieldValueRequired spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"]],
    ["volumes named twice, mounts of missing volumes", { volumes: [{ name: "a", emptyDir: {} }, { name: "a", emptyDir: {} }], containers: [container({ volumeMounts: [{ name: "b", mountPath: "/b" }, { name: "a", mountPath: "/b" }] })] }, [
      `FieldValueDuplicate spec.volumes[1].name: Duplicate value: "a"`,
      `FieldValueNotFound spec.containers[0].volumeMounts[0].name: Not found: "b"`,
      `FieldValueInvalid spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/b": must be unique`,
    ]],
    ["a volume of two kinds, a secret without its name", { volumes: [{ name: "a", emptyDir: {}, hostPath: { path: "/x" } }, { name: "s", secret: { defaultMode: 512 } }] }, [
      "FieldValueForbidden spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
      "FieldValueRequired spec.volumes[1].secret.secretName: Required value",
      "FieldValueInvalid spec.volumes[1].secret.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive",
    ]],
    ["a subPath that climbs out", { volumes: [{ name: "a", emptyDir: {} }], containers: [container({ volumeMounts: [{ name: "a", mountPath: "/a", subPath: "../etc" }] })] }, [
      `FieldValueInvalid spec.containers[0].volumeMounts.subPath: Invalid value: "../etc": must not contain '..'`,
    ]],
    ["an environment variable name starting with a digit", { containers: [container({ env: [{ name: "1X" }, { value: "v" }] })] }, [
      `FieldValueInvalid spec.containers[0].env[0].name: Invalid value: "1X": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`,
      "FieldValueRequired spec.containers[0].env[1].name: Required value",
    ]],
    ["bad tolerations", { tolerations: [{ key: "k", operator: "Exists", value: "v" }, { operator: "Equal", value: "x" }, { key: "k", tolerationSeconds: 5, effect: "NoSchedule" }] }, [
      `FieldValueInvalid spec.tolerations[0].operator: Invalid value: "v": value must be empty when \`operator\` is 'Exists'`,
      `FieldValueInvalid spec.tolerations[1].operator: Invalid value: "Equal": operator must be Exists when \`key\` is empty, which means "match all values and all keys"`,
      `FieldValueInvalid spec.tolerations[2].effect: Invalid value: "NoSchedule": effect must be 'NoExecute' when \`tolerationSeconds\` is set`,
    ]],
    ["an activeDeadlineSeconds of 0", { activeDeadlineSeconds: 0 }, ["FieldValueInvalid spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"]],
    ["a node name with scheduling gates", { nodeName: "n1", schedulingGates: [{ name: "example.com/wait" }] }, ["FieldValueForbidden spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared"]],
    ["an image with surrounding spaces", { containers: [container({ image: " nginx" })] }, [`FieldValueInvalid spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace`]],
  ])("refuses %s", (_name, spec, expected) => {
    expect(shown(validatePod(pod(spec)))).toEqual(expected);
  });
});

describe("pod update validation", () => {
  const bound = () => pod({
    nodeName: "n1", activeDeadlineSeconds: 100, initContainers: [container({ name: "init" })],
    tolerations: [{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 }],
    schedulingGates: [{ name: "a.example.com/one" }, { name: "a.example.com/two" }],
    containers: [container({ ports: [{ containerPort: 80 }], resources: { requests: { cpu: "1" } } })],
  });

  it.each<[string, (spec: Obj) => void]>([
    ["nothing (a status or metadata write)", () => {}],
    ["container and init container images", (s) => { s.containers[0].image = "nginx:1.26"; s.initContainers[0].image = "busybox"; }],
    ["activeDeadlineSeconds downwards", (s) => { s.activeDeadlineSeconds = 50; }],
    ["a new toleration and a changed tolerationSeconds", (s) => { s.tolerations[0].tolerationSeconds = 30; s.tolerations.push({ key: "x", operator: "Exists" }); }],
    ["a removed scheduling gate", (s) => { s.schedulingGates.shift(); }],
    ["a quantity written another way", (s) => { s.containers[0].resources.requests.cpu = "1000m"; }],
    ["empty lists and maps written out", (s) => { s.containers[0].env = []; s.nodeSelector = {}; }],
  ])("allows changing %s", (_name, change) => {
    const old = bound();
    const next = structuredClone(old);
    change(next.spec);
    expect(validatePod(next, old)).toEqual([]);
  });

  it("allows the binding's write: spec.nodeName from unset to a node, once no scheduling gate holds the pod", () => {
    const old = pod();
    const next = structuredClone(old);
    next.spec.nodeName = "n1";
    expect(validatePod(next, old)).toEqual([]);
    const gated = pod({ schedulingGates: [{ name: "example.com/wait" }] });
    const placed = structuredClone(gated);
    placed.spec.nodeName = "n1";
    expect(shown(validatePod(placed, gated))).toEqual([`FieldValueForbidden spec: Forbidden: ${IMMUTABLE}  core.PodSpec{\n+ \tnodeName: "n1",\n  }\n`]);
  });

  it("allows terminationGracePeriodSeconds to go from negative to 1", () => {
    const old = pod({ terminationGracePeriodSeconds: -1 });
    expect(validatePod(pod({ terminationGracePeriodSeconds: 1 }), old)).toEqual([]);
  });

  it.each<[string, (spec: Obj) => void, string[]]>([
    ["a container added", (s) => { s.containers.push(container({ name: "d" })); }, ["FieldValueForbidden spec.containers: Forbidden: pod updates may not add or remove containers"]],
    ["an image removed", (s) => { s.containers[0].image = ""; }, ["FieldValueRequired spec.containers[0].image: Required value", "FieldValueRequired spec.containers[0].image: Required value"]],
    ["activeDeadlineSeconds upwards", (s) => { s.activeDeadlineSeconds = 200; }, ["FieldValueInvalid spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"]],
    ["activeDeadlineSeconds removed", (s) => { delete s.activeDeadlineSeconds; }, ["FieldValueInvalid spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value"]],
    ["a toleration removed", (s) => { s.tolerations = []; }, ["FieldValueForbidden spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"]],
    ["a scheduling gate added", (s) => { s.schedulingGates.push({ name: "a.example.com/three" }); }, ["FieldValueForbidden spec.schedulingGates[2].name: Forbidden: only deletion is allowed, but found new scheduling gate 'a.example.com/three'"]],
  ])("refuses %s", (_name, change, expected) => {
    const old = bound();
    const next = structuredClone(old);
    change(next.spec);
    defaultPodSpec(next.spec);
    expect(shown(validatePod(next, old))).toEqual(expected);
  });

  it.each<[string, (spec: Obj) => void, string]>([
    ["a container port", (s) => { s.containers[0].ports[0].containerPort = 8080; }, "- \tcontainers[0].ports[0].containerPort: 80,\n+ \tcontainers[0].ports[0].containerPort: 8080,"],
    ["the node", (s) => { s.nodeName = "n2"; }, `- \tnodeName: "n1",\n+ \tnodeName: "n2",`],
    ["the restart policy", (s) => { s.restartPolicy = "Never"; }, `- \trestartPolicy: "Always",\n+ \trestartPolicy: "Never",`],
    ["a grace period that was not negative", (s) => { s.terminationGracePeriodSeconds = 60; }, "- \tterminationGracePeriodSeconds: 30,\n+ \tterminationGracePeriodSeconds: 60,"],
  ])("refuses changing %s with kube's Forbidden message and the difference", (_name, change, diff) => {
    const old = bound();
    const next = structuredClone(old);
    change(next.spec);
    const causes = validatePod(next, old);
    expect(causes).toEqual([{ reason: "FieldValueForbidden", field: "spec", message: `Forbidden: ${IMMUTABLE}  core.PodSpec{\n${diff}\n  }\n` }]);
  });
});

describe("pod templates", () => {
  it("checks a template's labels and spec, and refuses ephemeral containers in it", () => {
    const spec = { containers: [container()], ephemeralContainers: [container({ name: "debug" })] };
    defaultPodSpec(spec);
    expect(shown(validatePodTemplateSpec({ metadata: { labels: { "a/b/c": "x" } }, spec }, "spec.template"))).toEqual([
      `FieldValueInvalid spec.template.labels: Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
      "FieldValueForbidden spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template",
    ]);
  });

  it("validates a PodTemplate object's template", () => {
    const spec: Obj = { containers: [] };
    defaultPodSpec(spec);
    expect(shown(validatePodTemplate({ metadata: { name: "t" }, template: { spec } }))).toEqual(["FieldValueRequired template.spec.containers: Required value"]);
  });
});

describe("pod status validation (a /status write keeps the stored spec)", () => {
  it("looks at the status only: a nominated node must be a node's name", () => {
    expect(validatePodStatus({ ...pod(), status: { phase: "Running", nominatedNodeName: "node-1.zone-a" } })).toEqual([]);
    expect(validatePodStatus({ ...pod(), status: {} })).toEqual([]);
    expect(shown(validatePodStatus({ ...pod(), status: { nominatedNodeName: "Node_1" } }))).toEqual([
      expect.stringMatching(/^FieldValueInvalid status\.nominatedNodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain/),
    ]);
  });
});
