import { describe, expect, it } from "vitest";
import { PatchError } from "./patch-error.ts";
import { applyStrategicMergePatch, supportsStrategicMerge, typeNameForKind } from "./strategic-merge-patch.ts";

const POD = "io.k8s.api.core.v1.Pod";
const DEPLOYMENT = "io.k8s.api.apps.v1.Deployment";
const SERVICE = "io.k8s.api.core.v1.Service";
const PDB = "io.k8s.api.policy.v1.PodDisruptionBudget";
const CRD = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition";
const SCHEMA_PROPS = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";
const CUSTOM = "com.example.v1.Widget";

type Json = Record<string, any>;
/** [name, type, original, patch, expected result] */
type Case = [string, string, Json, unknown, Json];

const pod = (spec: Json, metadata: Json = {}): Json => ({ apiVersion: "v1", kind: "Pod", metadata: { name: "p", ...metadata }, spec });
const deployment = (podSpec: Json, spec: Json = {}): Json => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web" },
  spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, ...spec, template: { metadata: { labels: { app: "web" } }, spec: podSpec } },
});
const templatePatch = (podSpec: Json, spec: Json = {}): Json => ({ spec: { ...spec, template: { spec: podSpec } } });

const twoContainers = (): [Json, Json] => [
  { name: "a", image: "nginx:1.25", env: [{ name: "MODE", value: "prod" }, { name: "OLD", value: "1" }, { name: "LOG", value: "info" }] },
  { name: "b", image: "envoy:1.29", ports: [{ containerPort: 9901, protocol: "TCP" }] },
];

function patchError(run: () => unknown): PatchError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(PatchError);
    return e as PatchError;
  }
  throw new Error("expected a PatchError");
}

function runCases(cases: Case[]): void {
  for (const [name, type, original, patch, expected] of cases) {
    it(name, () => {
      const originalCopy = structuredClone(original);
      const patchCopy = structuredClone(patch);
      expect(applyStrategicMergePatch(original, patch, type)).toEqual(expected);
      expect(original).toEqual(originalCopy);
      expect(patch).toEqual(patchCopy);
    });
  }
}

describe("real kubectl patches", () => {
  const [a, b] = twoContainers();
  runCases([
    ["kubectl patch -p '{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\"}]}}}}' changes one container in place",
      DEPLOYMENT, deployment({ containers: twoContainers() }),
      { spec: { template: { spec: { containers: [{ name: "a", image: "x" }] } } } },
      deployment({ containers: [{ ...a, image: "x" }, b] })],
    ["a container the patch adds goes first, as kube-apiserver orders it",
      DEPLOYMENT, deployment({ containers: twoContainers() }),
      templatePatch({ containers: [{ name: "redis", image: "redis" }] }),
      deployment({ containers: [{ name: "redis", image: "redis" }, a, b] })],
    ["kubectl apply changing one image of two containers",
      DEPLOYMENT, deployment({ containers: twoContainers() }),
      templatePatch({ "$setElementOrder/containers": [{ name: "a" }, { name: "b" }], containers: [{ image: "envoy:1.30", name: "b" }] }),
      deployment({ containers: [a, { ...b, image: "envoy:1.30" }] })],
    ["kubectl apply removing an env var ($patch: delete with $setElementOrder)",
      DEPLOYMENT, deployment({ containers: twoContainers() }),
      templatePatch({
        "$setElementOrder/containers": [{ name: "a" }, { name: "b" }],
        containers: [{ "$setElementOrder/env": [{ name: "MODE" }, { name: "LOG" }], env: [{ $patch: "delete", name: "OLD" }], name: "a" }],
      }),
      deployment({ containers: [{ ...a, env: [{ name: "MODE", value: "prod" }, { name: "LOG", value: "info" }] }, b] })],
    ["kubectl apply adding an env var in the middle",
      DEPLOYMENT, deployment({ containers: twoContainers() }),
      templatePatch({
        containers: [{ "$setElementOrder/env": [{ name: "MODE" }, { name: "NEW" }, { name: "OLD" }, { name: "LOG" }], env: [{ name: "NEW", value: "x" }], name: "a" }],
      }),
      deployment({ containers: [{ ...a, env: [{ name: "MODE", value: "prod" }, { name: "NEW", value: "x" }, { name: "OLD", value: "1" }, { name: "LOG", value: "info" }] }, b] })],
    ["kubectl apply reordering containers with $setElementOrder only",
      DEPLOYMENT, deployment({ containers: twoContainers() }),
      templatePatch({ "$setElementOrder/containers": [{ name: "b" }, { name: "a" }] }),
      deployment({ containers: [b, a] })],
    ["kubectl apply switching the strategy to Recreate clears rollingUpdate ($retainKeys)",
      DEPLOYMENT, deployment({ containers: [b] }, { strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } } }),
      { spec: { strategy: { $retainKeys: ["type"], type: "Recreate" } } },
      deployment({ containers: [b] }, { strategy: { type: "Recreate" } })],
    ["kubectl apply switching a volume from emptyDir to a configMap ($retainKeys in a merged list)",
      POD, pod({ containers: [b], volumes: [{ name: "conf", emptyDir: {} }, { name: "data", emptyDir: { medium: "Memory" } }] }),
      { spec: { volumes: [{ $retainKeys: ["configMap", "name"], name: "conf", configMap: { name: "envoy" } }] } },
      pod({ containers: [b], volumes: [{ name: "conf", configMap: { name: "envoy" } }, { name: "data", emptyDir: { medium: "Memory" } }] })],
    ["kubectl label (metadata labels merge, null deletes)",
      POD, pod({ containers: [b] }, { labels: { app: "web", tier: "front" } }),
      { metadata: { labels: { tier: null, env: "prod" } } },
      pod({ containers: [b] }, { labels: { app: "web", env: "prod" } })],
    ["kubectl set image style patch on an init container",
      POD, pod({ initContainers: [{ name: "init", image: "busybox:1.35" }], containers: [b] }),
      { spec: { initContainers: [{ name: "init", image: "busybox:1.36" }] } },
      pod({ initContainers: [{ name: "init", image: "busybox:1.36" }], containers: [b] })],
    ["tolerations have no merge key: the patch's list replaces the old one (kubectl docs example)",
      DEPLOYMENT, deployment({ containers: [b], tolerations: [{ key: "a", operator: "Exists" }] }),
      templatePatch({ tolerations: [{ effect: "NoSchedule", key: "disktype", value: "ssd" }] }),
      deployment({ containers: [b], tolerations: [{ effect: "NoSchedule", key: "disktype", value: "ssd" }] })],
  ]);
});

describe("lists merged by the key Kubernetes declares", () => {
  const app = { name: "app", image: "app:1" };
  runCases([
    ["container ports merge by containerPort",
      POD, pod({ containers: [{ ...app, ports: [{ containerPort: 80, name: "http" }, { containerPort: 9090 }] }] }),
      { spec: { containers: [{ name: "app", ports: [{ containerPort: 80, name: "web" }] }] } },
      pod({ containers: [{ ...app, ports: [{ containerPort: 80, name: "web" }, { containerPort: 9090 }] }] })],
    ["volumeMounts merge by mountPath",
      POD, pod({ containers: [{ ...app, volumeMounts: [{ name: "a", mountPath: "/a" }, { name: "b", mountPath: "/b" }] }] }),
      { spec: { containers: [{ name: "app", volumeMounts: [{ name: "b2", mountPath: "/b", readOnly: true }] }] } },
      pod({ containers: [{ ...app, volumeMounts: [{ name: "a", mountPath: "/a" }, { name: "b2", mountPath: "/b", readOnly: true }] }] })],
    ["imagePullSecrets merge by name",
      POD, pod({ containers: [app], imagePullSecrets: [{ name: "one" }] }),
      { spec: { imagePullSecrets: [{ name: "two" }] } },
      pod({ containers: [app], imagePullSecrets: [{ name: "two" }, { name: "one" }] })],
    ["ephemeralContainers merge by name",
      POD, pod({ containers: [app], ephemeralContainers: [{ name: "debug", image: "busybox" }] }),
      { spec: { ephemeralContainers: [{ name: "debug", stdin: true }] } },
      pod({ containers: [app], ephemeralContainers: [{ name: "debug", image: "busybox", stdin: true }] })],
    ["service ports merge by port",
      SERVICE, { kind: "Service", spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }, { port: 443, targetPort: 8443 }] } },
      { spec: { ports: [{ port: 443, targetPort: 9443 }] } },
      { kind: "Service", spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }, { port: 443, targetPort: 9443 }] } }],
    ["ownerReferences merge by uid",
      POD, pod({ containers: [app] }, { ownerReferences: [{ uid: "1", name: "rs-1", kind: "ReplicaSet" }] }),
      { metadata: { ownerReferences: [{ uid: "1", controller: true }, { uid: "2", name: "x", kind: "Job" }] } },
      pod({ containers: [app] }, { ownerReferences: [{ uid: "1", name: "rs-1", kind: "ReplicaSet", controller: true }, { uid: "2", name: "x", kind: "Job" }] })],
    ["the patch's order wins for the items it names, the rest keep their place",
      POD, pod({ containers: [{ ...app, env: [{ name: "1" }, { name: "2", value: "b" }, { name: "3" }] }] }),
      { spec: { containers: [{ name: "app", env: [{ name: "3", value: "c" }, { name: "1", value: "a" }] }] } },
      pod({ containers: [{ ...app, env: [{ name: "2", value: "b" }, { name: "3", value: "c" }, { name: "1", value: "a" }] }] })],
    ["$patch: delete removes every item with the key",
      POD, pod({ containers: [{ ...app, env: [{ name: "X", value: "1" }, { name: "Y" }, { name: "X", value: "2" }] }] }),
      { spec: { containers: [{ name: "app", env: [{ name: "X", $patch: "delete" }] }] } },
      pod({ containers: [{ ...app, env: [{ name: "Y" }] }] })],
    ["$patch: delete of a container",
      POD, pod({ containers: twoContainers() }),
      { spec: { containers: [{ name: "a", $patch: "delete" }] } },
      pod({ containers: [twoContainers()[1]] })],
    ["$patch: replace as a list item replaces the whole list",
      POD, pod({ containers: twoContainers() }),
      { spec: { containers: [{ name: "c", image: "c:1" }, { $patch: "replace" }] } },
      pod({ containers: [{ name: "c", image: "c:1" }] })],
    ["a null field inside a merged item deletes it",
      POD, pod({ containers: [{ ...app, command: ["run"], workingDir: "/w" }] }),
      { spec: { containers: [{ name: "app", workingDir: null }] } },
      pod({ containers: [{ ...app, command: ["run"] }] })],
    ["nulls inside a new item are left out",
      POD, pod({ containers: [app] }),
      { spec: { containers: [{ name: "side", image: "s", resources: { limits: null, requests: { cpu: "1" } } }] } },
      pod({ containers: [{ name: "side", image: "s", resources: { requests: { cpu: "1" } } }, app] })],
    ["$setElementOrder may name items the list no longer has",
      POD, pod({ containers: [{ ...app, env: [{ name: "1" }, { name: "3" }] }] }),
      { spec: { containers: [{ name: "app", "$setElementOrder/env": [{ name: "3" }, { name: "2" }, { name: "1" }], env: [{ name: "3", value: "3" }, { name: "1", value: "1" }] }] } },
      pod({ containers: [{ ...app, env: [{ name: "3", value: "3" }, { name: "1", value: "1" }] }] })],
    ["a list the original lacks is taken from the patch, directives removed",
      POD, pod({ containers: [app] }),
      { spec: { "$setElementOrder/volumes": [{ name: "v" }], volumes: [{ name: "v", emptyDir: {} }, { name: "gone", $patch: "delete" }] } },
      pod({ containers: [app], volumes: [{ name: "v", emptyDir: {} }] })],
  ]);
});

describe("lists of primitives with the merge strategy (finalizers)", () => {
  const withFinalizers = (finalizers: string[]) => pod({ containers: [] }, { finalizers });
  runCases([
    ["added finalizers join the set without duplicates",
      POD, withFinalizers(["a", "b"]), { metadata: { finalizers: ["b", "c"] } }, withFinalizers(["a", "b", "c"])],
    ["a new finalizer goes first, as kube-apiserver orders it",
      POD, withFinalizers(["a"]), { metadata: { finalizers: ["z"] } }, withFinalizers(["z", "a"])],
    ["$deleteFromPrimitiveList removes values",
      POD, withFinalizers(["a", "b", "c", "b"]), { metadata: { "$deleteFromPrimitiveList/finalizers": ["b", "x"] } }, withFinalizers(["a", "c"])],
    ["$deleteFromPrimitiveList on a missing list does nothing",
      POD, pod({ containers: [] }), { metadata: { "$deleteFromPrimitiveList/finalizers": ["b"] } }, pod({ containers: [] })],
    ["$setElementOrder reorders primitives",
      POD, withFinalizers(["a", "b", "c"]), { metadata: { "$setElementOrder/finalizers": ["c", "a", "b"] } }, withFinalizers(["c", "a", "b"])],
    ["args have no merge strategy and are replaced",
      POD, pod({ containers: [{ name: "c", args: ["a", "b"] }] }), { spec: { containers: [{ name: "c", args: ["x"] }] } },
      pod({ containers: [{ name: "c", args: ["x"] }] })],
  ]);
});

describe("map directives and field strategies", () => {
  runCases([
    ["$patch: replace on a map takes the patch's map",
      POD, pod({ containers: [] }, { labels: { a: "1", b: "2" } }),
      { metadata: { labels: { $patch: "replace", c: "3" } } },
      pod({ containers: [] }, { labels: { c: "3" } })],
    ["$patch: delete on a map leaves it empty, as kube-apiserver does",
      DEPLOYMENT, deployment({ containers: [] }, { strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1 } } }),
      { spec: { strategy: { rollingUpdate: { $patch: "delete" } } } },
      deployment({ containers: [] }, { strategy: { type: "RollingUpdate", rollingUpdate: {} } })],
    ["directives in a field the original lacks are not checked, only dropped, as kube-apiserver does",
      DEPLOYMENT, deployment({ containers: [] }), { spec: { strategy: { $retainKeys: ["type"], rollingUpdate: { maxSurge: 1 } } } },
      deployment({ containers: [] }, { strategy: { rollingUpdate: { maxSurge: 1 } } })],
    ["$patch: delete on a field the original lacks adds nothing",
      POD, pod({ containers: [] }), { spec: { affinity: { $patch: "delete" } } }, pod({ containers: [] })],
    ["$patch: merge on a map merges as usual",
      POD, pod({ containers: [] }, { labels: { a: "1" } }), { metadata: { labels: { $patch: "merge", b: "2" } } },
      pod({ containers: [] }, { labels: { a: "1", b: "2" } })],
    ["a field with patchStrategy replace (PodDisruptionBudget selector) is replaced whole",
      PDB, { kind: "PodDisruptionBudget", spec: { minAvailable: 1, selector: { matchLabels: { a: "1" } } } },
      { spec: { selector: { matchLabels: { b: "2" } } } },
      { kind: "PodDisruptionBudget", spec: { minAvailable: 1, selector: { matchLabels: { b: "2" } } } }],
    ["null deletes a whole list",
      POD, pod({ containers: [], volumes: [{ name: "v" }] }), { spec: { volumes: null } }, pod({ containers: [] })],
    ["a value of another kind replaces the old one",
      POD, pod({ containers: [] }, { annotations: { a: "1" } }), { metadata: { annotations: ["x"] } }, pod({ containers: [] }, { annotations: ["x"] })],
    ["a null body changes nothing", POD, pod({ containers: [] }), null, pod({ containers: [] })],
    ["__proto__ is an ordinary field",
      POD, pod({ containers: [] }), JSON.parse('{"metadata": {"labels": {"__proto__": "x"}}}'),
      pod({ containers: [] }, { labels: JSON.parse('{"__proto__": "x"}') })],
  ]);
});

describe("types without patch metadata", () => {
  it("knows built-in kinds and not custom resources", () => {
    expect([POD, DEPLOYMENT, SERVICE, PDB, CRD, "io.k8s.api.apps.v1.StatefulSet", "io.k8s.api.batch.v1.Job"].map(supportsStrategicMerge)).toEqual([true, true, true, true, true, true, true]);
    expect(supportsStrategicMerge(CUSTOM)).toBe(false);
    expect(supportsStrategicMerge("toString")).toBe(false);
  });

  it("names the definition of each built-in kind", () => {
    expect([typeNameForKind("v1", "Pod"), typeNameForKind("apps/v1", "Deployment"), typeNameForKind("rbac.authorization.k8s.io/v1", "Role"),
      typeNameForKind("apiextensions.k8s.io/v1", "CustomResourceDefinition")]).toEqual([POD, DEPLOYMENT, "io.k8s.api.rbac.v1.Role", CRD]);
    expect([typeNameForKind("example.com/v1", "Widget"), typeNameForKind("v1", "PodList"), typeNameForKind("v1", "constructor")]).toEqual([undefined, undefined, undefined]);
  });

  runCases([
    ["a custom resource gets merge patch semantics: lists are replaced",
      CUSTOM, { spec: { items: [{ name: "a", v: 1 }, { name: "b" }], size: 1 } },
      { spec: { items: [{ name: "a", v: 2 }], size: null } },
      { spec: { items: [{ name: "a", v: 2 }] } }],
    ["a custom resource still honours $patch and $retainKeys",
      CUSTOM, { spec: { a: { x: 1 }, b: 2, c: 3 } },
      { spec: { $retainKeys: ["a", "b"], a: { $patch: "replace", y: 1 } } },
      { spec: { a: { y: 1 }, b: 2 } }],
    ["a custom resource's finalizers are replaced, not merged",
      CUSTOM, { metadata: { finalizers: ["a"] } }, { metadata: { finalizers: ["b"] } }, { metadata: { finalizers: ["b"] } }],
    ["a CRD's versions list has no merge key and is replaced whole",
      CRD, { spec: { group: "example.com", versions: [{ name: "v1", served: true }, { name: "v2", served: true }] } },
      { spec: { versions: [{ name: "v2", served: false }] } },
      { spec: { group: "example.com", versions: [{ name: "v2", served: false }] } }],
    ["maps of typed values: JSONSchemaProps properties merge x-kubernetes-validations by rule",
      SCHEMA_PROPS, { type: "object", properties: { spec: { type: "object", "x-kubernetes-validations": [{ rule: "a", message: "m" }] } } },
      { properties: { spec: { "x-kubernetes-validations": [{ rule: "b" }] } } },
      { type: "object", properties: { spec: { type: "object", "x-kubernetes-validations": [{ rule: "b" }, { rule: "a", message: "m" }] } } }],
  ]);
});

describe("errors, as kube-apiserver answers them", () => {
  const cases: [string, string, Json, unknown, [number, string, string]][] = [
    ["an item without its merge key", POD, pod({ containers: [{ name: "a" }] }), { spec: { containers: [{ image: "x" }] } },
      [500, "", "map: map[image:x] does not contain declared merge key: name"]],
    ["a $patch: delete item without its merge key", POD, pod({ containers: [{ name: "a" }] }), { spec: { containers: [{ $patch: "delete" }] } },
      [500, "", "map: map[$patch:delete] does not contain declared merge key: name"]],
    ["an unknown $patch in a map", POD, pod({ containers: [] }, { labels: {} }), { metadata: { labels: { $patch: "frob", a: "1" } } },
      [500, "", "unknown patch type: frob in map: map[$patch:frob a:1]"]],
    ["$patch: merge as a list item", POD, pod({ containers: [{ name: "a" }] }), { spec: { containers: [{ name: "a", $patch: "merge" }] } },
      [500, "", "merging lists cannot yet be specified in the patch"]],
    ["$retainKeys that leaves out a patched field", DEPLOYMENT, deployment({ containers: [] }, { strategy: { type: "Recreate" } }), { spec: { strategy: { $retainKeys: ["type"], rollingUpdate: {} } } },
      [400, "BadRequest", "invalid patch format of retainKeys"]],
    ["$retainKeys that is not a list", DEPLOYMENT, deployment({ containers: [] }, { strategy: { type: "Recreate" } }), { spec: { strategy: { $retainKeys: "type" } } },
      [400, "BadRequest", "invalid patch format of retainKeys"]],
    ["$deleteFromPrimitiveList without a list name", POD, pod({ containers: [] }), { metadata: { $deleteFromPrimitiveList: ["a"] } },
      [400, "BadRequest", "invalid patch format of primitive list"]],
    ["$setElementOrder without a list name", POD, pod({ containers: [] }), { spec: { $setElementOrder: [] } },
      [400, "BadRequest", "invalid patch format of setElementOrder list"]],
    ["$setElementOrder that is not a list", POD, pod({ containers: [] }), { spec: { "$setElementOrder/containers": "a" } },
      [500, "", "expected a []interface {}, but received a string"]],
    ["a patch list out of $setElementOrder's order", POD, pod({ containers: [{ name: "1" }, { name: "3" }, { name: "2" }] }),
      { spec: { "$setElementOrder/containers": [{ name: "1" }, { name: "2" }, { name: "3" }], containers: [{ name: "3", image: "3" }, { name: "1", image: "1" }] } },
      [500, "", "the order in patch list:\n[map[image:3 name:3] map[image:1 name:1]]\n doesn't match $setElementOrder list:\n[map[name:1] map[name:2] map[name:3]]"]],
    ["a merged list of lists", POD, pod({ containers: [] }, { finalizers: [["a"]] }), { metadata: { finalizers: [["b"]] } },
      [422, "Invalid", "the server rejected our request due to an error in our request"]],
    ["a merged list of mixed kinds", POD, pod({ containers: [] }, { finalizers: ["a"] }), { metadata: { finalizers: [1] } },
      [500, "", "list element types are not identical: [[a] [1]]"]],
    ["a list body", POD, pod({ containers: [] }), [{ spec: {} }],
      [400, "BadRequest", "json: cannot unmarshal array into Go value of type map[string]interface {}"]],
  ];
  for (const [name, type, original, patch, [code, reason, message]] of cases) {
    it(name, () => {
      const error = patchError(() => applyStrategicMergePatch(original, patch, type));
      expect([error.code, error.reason, error.message]).toEqual([code, reason, message]);
    });
  }
});
