import { describe, expect, it } from "vitest";
import type { StatusCause } from "../../lib/k8s/status.ts";
import { appsResources } from "./apps.ts";
import { batchResources } from "./batch.ts";
import { coreResources } from "./core.ts";
import type { KubeObject } from "./types.ts";

type Obj = Record<string, any>;

const definitions = [...appsResources, ...batchResources, ...coreResources];

/** An object of `resource` as the store holds it: kube's defaults applied, then validated. */
function check(resource: string, object: Obj, old?: Obj): string[] {
  const def = definitions.find((d) => d.resource === resource)!;
  const o: KubeObject = structuredClone(object);
  o.metadata = { name: "web", namespace: "ns", uid: "0a1b2c3d", ...o.metadata };
  def.defaults?.(o);
  return (def.validate?.(o, old) ?? []).map((c: StatusCause) => `${c.reason} ${c.field}: ${c.message}`);
}

function defaulted(resource: string, object: Obj): Obj {
  const def = definitions.find((d) => d.resource === resource)!;
  const o: KubeObject = structuredClone(object);
  o.metadata = { name: "web", namespace: "ns", uid: "0a1b2c3d", ...o.metadata };
  def.defaults?.(o);
  return o;
}

const template = (labels: Obj = { app: "web" }, spec: Obj = {}) => ({ metadata: { labels }, spec: { containers: [{ name: "c", image: "nginx:1.25" }], ...spec } });
const deployment = (spec: Obj = {}) => ({ spec: { selector: { matchLabels: { app: "web" } }, template: template(), ...spec } });

const MISMATCH = "`selector` does not match template `labels`";

describe("Deployments", () => {
  it("accepts a deployment kube accepts", () => {
    expect(check("deployments", deployment({ replicas: 3, minReadySeconds: 5, strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: "50%" } } }))).toEqual([]);
    expect(check("deployments", deployment({ strategy: { type: "Recreate" }, selector: { matchExpressions: [{ key: "app", operator: "In", values: ["web", "api"] }] } }))).toEqual([]);
  });

  it.each<[string, Obj, string[]]>([
    ["a selector that does not match the template", deployment({ selector: { matchLabels: { app: "other" } } }), [
      `FieldValueInvalid spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: ${MISMATCH}`,
    ]],
    ["a template without labels", deployment({ template: { spec: template().spec } }), [
      `FieldValueInvalid spec.template.metadata.labels: Invalid value: map[string]string(nil): ${MISMATCH}`,
    ]],
    ["no selector", { spec: { template: template({ app: "web", tier: "front" }) } }, [
      "FieldValueRequired spec.selector: Required value",
      `FieldValueInvalid spec.template.metadata.labels: Invalid value: map[string]string{"app":"web", "tier":"front"}: ${MISMATCH}`,
    ]],
    ["an empty selector", deployment({ selector: {} }), [
      "FieldValueInvalid spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
    ]],
    ["a selector operator kube does not know", deployment({ selector: { matchExpressions: [{ key: "app", operator: "Near", values: ["web"] }] } }), [
      `FieldValueInvalid spec.selector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator`,
      `FieldValueInvalid spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"app", Operator:"Near", Values:[]string{"web"}}}}: invalid label selector`,
    ]],
    ["In without values", deployment({ selector: { matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "In" }] } }), [
      "FieldValueRequired spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
      `FieldValueInvalid spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"tier", Operator:"In", Values:[]string(nil)}}}: invalid label selector`,
    ]],
    ["negative replicas", deployment({ replicas: -1 }), ["FieldValueInvalid spec.replicas: Invalid value: -1: must be greater than or equal to 0"]],
    ["maxSurge and maxUnavailable both 0", deployment({ strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: "0%" } } }), [
      'FieldValueInvalid spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"0%"}: may not be 0 when `maxSurge` is 0',
    ]],
    ["percentages out of shape and range", deployment({ strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "lots", maxUnavailable: "150%" } } }), [
      `FieldValueInvalid spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"lots"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`,
      `FieldValueInvalid spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be greater than 100%`,
    ]],
    ["a negative maxSurge", deployment({ strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: -1 } } }), ["FieldValueInvalid spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0"]],
    ["Recreate with rollingUpdate", deployment({ strategy: { type: "Recreate", rollingUpdate: { maxSurge: 1 } } }), [
      "FieldValueForbidden spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
    ]],
    ["an unknown strategy", deployment({ strategy: { type: "BlueGreen" } }), [
      `FieldValueNotSupported spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"BlueGreen", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", "RollingUpdate"`,
    ]],
    ["negative counts", deployment({ minReadySeconds: -1, revisionHistoryLimit: -1 }), [
      "FieldValueInvalid spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0",
      "FieldValueInvalid spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
    ]],
    ["a progress deadline not above minReadySeconds", deployment({ minReadySeconds: 30, progressDeadlineSeconds: 30 }), [
      "FieldValueInvalid spec.progressDeadlineSeconds: Invalid value: 30: must be greater than minReadySeconds",
    ]],
    ["a template that does not restart always, with a deadline", deployment({ template: template({ app: "web" }, { restartPolicy: "OnFailure", activeDeadlineSeconds: 10 }) }), [
      `FieldValueNotSupported spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"`,
      "FieldValueForbidden spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported",
    ]],
    ["a template without containers", deployment({ template: { metadata: { labels: { app: "web" } }, spec: { containers: [] } } }), ["FieldValueRequired spec.template.spec.containers: Required value"]],
  ])("refuses %s", (_name, object, expected) => {
    expect(check("deployments", object)).toEqual(expected);
  });

  it("keeps the selector on update, as apps/v1 does", () => {
    const old = defaulted("deployments", deployment());
    expect(check("deployments", { ...old, spec: { ...old.spec, replicas: 5, template: template({ app: "web", v: "2" }) } }, old)).toEqual([]);
    const moved = { ...old, spec: { ...old.spec, selector: { matchLabels: { app: "other" } }, template: template({ app: "other" }) } };
    expect(check("deployments", moved, old)).toEqual([
      `FieldValueInvalid spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"other"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable`,
    ]);
  });
});

describe("ReplicaSets and ReplicationControllers", () => {
  it("checks a ReplicaSet as kube does (naming its empty selector after deployments)", () => {
    expect(check("replicasets", deployment())).toEqual([]);
    expect(check("replicasets", deployment({ selector: {}, replicas: -2 }))).toEqual([
      "FieldValueInvalid spec.replicas: Invalid value: -2: must be greater than or equal to 0",
      "FieldValueInvalid spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment",
    ]);
    const old = defaulted("replicasets", deployment());
    expect(check("replicasets", { ...old, spec: { ...old.spec, selector: { matchLabels: { app: "web", x: "y" } } } }, old)).toContain(
      `FieldValueInvalid spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "x":"y"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable`,
    );
  });

  it("defaults a ReplicationController's selector and labels from its template, as kube does", () => {
    const rc = defaulted("replicationcontrollers", { spec: { template: template() } });
    expect(rc.spec.selector).toEqual({ app: "web" });
    expect(rc.metadata.labels).toEqual({ app: "web" });
    expect(check("replicationcontrollers", { spec: { template: template() } })).toEqual([]);
  });

  it.each<[string, Obj, string[]]>([
    ["no selector and no template labels", { spec: { template: template({}) } }, ["FieldValueRequired spec.selector: Required value"]],
    ["a selector the template does not carry", { spec: { selector: { app: "api" }, template: template(), replicas: -1 } }, [
      "FieldValueInvalid spec.replicas: Invalid value: -1: must be greater than or equal to 0",
      `FieldValueInvalid spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: ${MISMATCH}`,
    ]],
    ["no template", { spec: { selector: { app: "web" } } }, ["FieldValueRequired spec.template: Required value"]],
    ["a template with a deadline", { spec: { template: template({ app: "web" }, { activeDeadlineSeconds: 5 }) } }, [
      "FieldValueForbidden spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicationController is not Supported",
    ]],
  ])("refuses a ReplicationController with %s", (_name, object, expected) => {
    expect(check("replicationcontrollers", object)).toEqual(expected);
  });
});

describe("DaemonSets", () => {
  it("accepts one kube accepts and defaults its update strategy", () => {
    expect(check("daemonsets", deployment())).toEqual([]);
    expect(defaulted("daemonsets", deployment({ updateStrategy: { type: "RollingUpdate" } })).spec.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
  });

  it.each<[string, Obj, string[]]>([
    ["no selector (only the mismatch, as kube says)", { spec: { template: template() } }, [`FieldValueInvalid spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: ${MISMATCH}`]],
    ["an empty selector", deployment({ selector: {} }), [
      "FieldValueInvalid spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for daemonset",
    ]],
    ["both maxSurge and maxUnavailable", deployment({ updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } } }), [
      `FieldValueInvalid spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, IntVal:1, StrVal:""}: may not be set when maxUnavailable is non-zero`,
    ]],
    ["neither maxSurge nor maxUnavailable", deployment({ updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } } }), [
      "FieldValueRequired spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0",
    ]],
    ["an unknown update strategy", deployment({ updateStrategy: { type: "Sometimes" } }), [
      `FieldValueNotSupported spec.updateStrategy: Unsupported value: apps.DaemonSetUpdateStrategy{Type:"Sometimes", RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}: supported values: "RollingUpdate", "OnDelete"`,
    ]],
  ])("refuses %s", (_name, object, expected) => {
    expect(check("daemonsets", object)).toEqual(expected);
  });
});

describe("StatefulSets", () => {
  const statefulSet = (spec: Obj = {}) => deployment({ serviceName: "web", ...spec });

  it("accepts one kube accepts, mounting its volumeClaimTemplates", () => {
    const withClaims = statefulSet({
      template: template({ app: "web" }, { containers: [{ name: "c", image: "nginx", volumeMounts: [{ name: "data", mountPath: "/data" }] }] }),
      volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
    });
    expect(check("statefulsets", withClaims)).toEqual([]);
    expect(defaulted("statefulsets", statefulSet()).spec).toMatchObject({ podManagementPolicy: "OrderedReady", updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } } });
  });

  it.each<[string, Obj, string[]]>([
    ["an unknown pod management policy", statefulSet({ podManagementPolicy: "AllAtOnce" }), [`FieldValueInvalid spec.podManagementPolicy: Invalid value: "AllAtOnce": must be 'OrderedReady' or 'Parallel'`]],
    ["an unknown update strategy", statefulSet({ updateStrategy: { type: "Rolling" } }), [
      `FieldValueInvalid spec.updateStrategy: Invalid value: apps.StatefulSetUpdateStrategy{Type:"Rolling", RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}: must be 'RollingUpdate' or 'OnDelete'`,
    ]],
    ["OnDelete with rollingUpdate", statefulSet({ updateStrategy: { type: "OnDelete", rollingUpdate: { partition: 1 } } }), [
      `FieldValueInvalid spec.updateStrategy.rollingUpdate: Invalid value: {"partition":1}: only allowed for updateStrategy 'RollingUpdate'`,
    ]],
    ["a negative partition", statefulSet({ updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: -1 } } }), ["FieldValueInvalid spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0"]],
    ["an empty selector", statefulSet({ selector: {} }), [
      "FieldValueInvalid spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for statefulset",
    ]],
    ["a mount of no volume", statefulSet({ template: template({ app: "web" }, { containers: [{ name: "c", image: "nginx", volumeMounts: [{ name: "data", mountPath: "/data" }] }] }) }), [
      `FieldValueNotFound spec.template.spec.containers[0].volumeMounts[0].name: Not found: "data"`,
    ]],
    ["an unknown PVC retention policy", statefulSet({ persistentVolumeClaimRetentionPolicy: { whenDeleted: "Keep", whenScaled: "Retain" } }), [
      `FieldValueNotSupported spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": supported values: "Retain", "Delete"`,
    ]],
  ])("refuses %s", (_name, object, expected) => {
    expect(check("statefulsets", object)).toEqual(expected);
  });

  it("lets an update change only replicas, ordinals, template, updateStrategy, the PVC retention policy and minReadySeconds", () => {
    const old = defaulted("statefulsets", statefulSet());
    const allowed = structuredClone(old);
    Object.assign(allowed.spec, { replicas: 4, minReadySeconds: 3, template: template({ app: "web", v: "2" }), updateStrategy: { type: "OnDelete" } });
    expect(check("statefulsets", allowed, old)).toEqual([]);
    expect(check("statefulsets", { ...old, spec: { ...old.spec, serviceName: "other" } }, old)).toEqual([
      "FieldValueForbidden spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    ]);
  });
});

describe("Jobs", () => {
  const job = (spec: Obj = {}) => ({ spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox" }] } }, ...spec } });

  it("generates the selector and template labels from the Job's uid and name, as kube does on create", () => {
    const created = defaulted("jobs", job());
    expect(created.spec.selector).toEqual({ matchLabels: { "batch.kubernetes.io/controller-uid": "0a1b2c3d" } });
    expect(created.spec.template.metadata.labels).toEqual({
      "batch.kubernetes.io/controller-uid": "0a1b2c3d", "batch.kubernetes.io/job-name": "web", "controller-uid": "0a1b2c3d", "job-name": "web",
    });
    expect(created.spec).toMatchObject({ completions: 1, parallelism: 1, backoffLimit: 6, completionMode: "NonIndexed", suspend: false });
    expect(check("jobs", job())).toEqual([]);
    expect(defaulted("jobs", job({ parallelism: 3 })).spec.completions).toBeUndefined();
  });

  it("takes a manual selector as given", () => {
    const manual = job({ manualSelector: true, selector: { matchLabels: { app: "batch" } }, template: { metadata: { labels: { app: "batch" } }, spec: job().spec.template.spec } });
    expect(defaulted("jobs", manual).spec.selector).toEqual({ matchLabels: { app: "batch" } });
    expect(check("jobs", manual)).toEqual([]);
  });

  it.each<[string, Obj, string[]]>([
    ["a selector of its own without manualSelector", job({ selector: { matchLabels: { app: "batch" } }, template: { metadata: { labels: { app: "batch" } }, spec: job().spec.template.spec } }), [
      `FieldValueInvalid spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"batch", "batch.kubernetes.io/controller-uid":"0a1b2c3d"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: \`selector\` not auto-generated`,
    ]],
    ["manualSelector without a selector", job({ manualSelector: true }), [
      "FieldValueRequired spec.selector: Required value",
      `FieldValueInvalid spec.template.metadata.labels: Invalid value: map[string]string(nil): ${MISMATCH}`,
    ]],
    ["a template that restarts always", job({ template: { spec: { containers: [{ name: "c", image: "busybox" }] } } }), [
      `FieldValueRequired spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`,
    ]],
    ["negative counts", job({ completions: -1, parallelism: -1, backoffLimit: -1, activeDeadlineSeconds: -1 }), [
      "FieldValueInvalid spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
      "FieldValueInvalid spec.completions: Invalid value: -1: must be greater than or equal to 0",
      "FieldValueInvalid spec.activeDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0",
      "FieldValueInvalid spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
    ]],
    ["Indexed without completions", job({ completionMode: "Indexed", parallelism: 2 }), ["FieldValueRequired spec.completions: Required value: when completion mode is Indexed"]],
    ["an unknown completion mode", job({ completionMode: "Sometimes" }), [`FieldValueNotSupported spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"`]],
    ["backoffLimitPerIndex without Indexed", job({ backoffLimitPerIndex: 1 }), ["FieldValueInvalid spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"]],
    ["a FailIndex rule without backoffLimitPerIndex", job({ template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox" }] } }, podFailurePolicy: { rules: [{ action: "FailIndex", onExitCodes: { operator: "In", values: [1] } }] } }), [
      `FieldValueInvalid spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set`,
    ]],
    ["pod failure policy rules that are malformed", job({ template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox" }] } }, podFailurePolicy: { rules: [
      { action: "Retry", onExitCodes: { operator: "In", values: [0, 3, 3, 2], containerName: "ghost" } },
      { action: "Ignore" },
      { action: "Count", onExitCodes: { operator: "Maybe", values: [] }, onPodConditions: [{ type: "DisruptionTarget" }] },
    ] } }), [
      `FieldValueNotSupported spec.podFailurePolicy.rules[0].action: Unsupported value: "Retry": supported values: "Count", "FailIndex", "FailJob", "Ignore"`,
      `FieldValueInvalid spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "ghost": must be one of the container or initContainer names in the pod template`,
      "FieldValueInvalid spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator",
      "FieldValueDuplicate spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 3",
      "FieldValueInvalid spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{0, 3, 3, 2}: must be ordered",
      "FieldValueInvalid spec.podFailurePolicy.rules[1]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
      `FieldValueNotSupported spec.podFailurePolicy.rules[2].onExitCodes.operator: Unsupported value: "Maybe": supported values: "In", "NotIn"`,
      "FieldValueInvalid spec.podFailurePolicy.rules[2].onExitCodes.values: Invalid value: []int32{}: at least one value is required",
      `FieldValueRequired spec.podFailurePolicy.rules[2].onPodConditions[0].status: Required value: valid values: ["False" "True" "Unknown"]`,
      "FieldValueInvalid spec.podFailurePolicy.rules[2]: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported",
    ]],
    ["maxFailedIndexes beyond completions, or without backoffLimitPerIndex", job({ completionMode: "Indexed", completions: 2, maxFailedIndexes: 3 }), [
      "FieldValueRequired spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
      "FieldValueInvalid spec.maxFailedIndexes: Invalid value: 3: must be less than or equal to completions",
    ]],
    ["backoffLimitPerIndex over 100000 completions without maxFailedIndexes", job({ completionMode: "Indexed", completions: 100001, parallelism: 10001, backoffLimitPerIndex: 1 }), [
      "FieldValueRequired spec.maxFailedIndexes: Required value: must be specified when completions is above 100000",
      "FieldValueInvalid spec.parallelism: Invalid value: 10001: must be less than or equal to 10000 when completions are above 100000 and used with backoff limit per index",
    ]],
  ])("refuses %s", (_name, object, expected) => {
    expect(check("jobs", object)).toEqual(expected);
  });

  it("drops successPolicy and managedBy, alpha and off in 1.30, as kube-apiserver does", () => {
    const indexed = defaulted("jobs", job({ completionMode: "Indexed", completions: 2, successPolicy: { rules: [{ succeededCount: 1 }] }, managedBy: "example.com/queue" }));
    expect(indexed.spec).not.toHaveProperty("successPolicy");
    expect(indexed.spec).not.toHaveProperty("managedBy");
  });

  it("keeps completions, selector and template on update; a suspended Job that never ran may move its pods", () => {
    const old = defaulted("jobs", job());
    expect(check("jobs", { ...old, spec: { ...old.spec, backoffLimit: 2, parallelism: 0 } }, old)).toEqual([]);
    expect(check("jobs", { ...old, spec: { ...old.spec, completions: 3 } }, old)).toEqual(["FieldValueInvalid spec.completions: Invalid value: 3: field is immutable"]);
    const image = structuredClone(old);
    image.spec.template.spec.containers[0].image = "busybox:2";
    expect(check("jobs", image, old)).toEqual([`FieldValueInvalid spec.template: Invalid value: ${JSON.stringify(image.spec.template)}: field is immutable`]);

    const suspended = defaulted("jobs", job({ suspend: true }));
    const placed = structuredClone(suspended);
    placed.spec.template.spec.nodeSelector = { zone: "a" };
    expect(check("jobs", placed, suspended)).toEqual([]);
  });

  it("lets an Indexed Job change completions only together with parallelism", () => {
    const old = defaulted("jobs", job({ completionMode: "Indexed", completions: 2, parallelism: 2 }));
    expect(check("jobs", { ...old, spec: { ...old.spec, completions: 4, parallelism: 4 } }, old)).toEqual([]);
    expect(check("jobs", { ...old, spec: { ...old.spec, completions: 4 } }, old)).toEqual(["FieldValueInvalid spec.completions: Invalid value: 4: can only be modified in tandem with spec.parallelism"]);
  });
});

describe("CronJobs", () => {
  const cronJob = (spec: Obj = {}, jobSpec: Obj = {}) => ({
    spec: { schedule: "*/5 * * * *", jobTemplate: { spec: { template: { spec: { restartPolicy: "OnFailure", containers: [{ name: "c", image: "busybox" }] } }, ...jobSpec } }, ...spec },
  });

  it("accepts the schedules kube accepts", () => {
    for (const schedule of ["0 3 * * *", "@hourly", "@every 1h", "0 0 1 jan,jul *", "*/15 9-17 * * MON-FRI"]) expect(check("cronjobs", cronJob({ schedule })), schedule).toEqual([]);
    expect(check("cronjobs", cronJob({ timeZone: "Europe/Paris" }))).toEqual([]);
  });

  it.each<[string, Obj, string[]]>([
    ["no schedule", cronJob({ schedule: "" }), ["FieldValueRequired spec.schedule: Required value"]],
    ["a minute out of range", cronJob({ schedule: "61 * * * *" }), [`FieldValueInvalid spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61`]],
    ["six fields", cronJob({ schedule: "0 0 * * * *" }), [`FieldValueInvalid spec.schedule: Invalid value: "0 0 * * * *": expected exactly 5 fields, found 6: [0 0 * * * *]`]],
    ["a time zone in the schedule", cronJob({ schedule: "CRON_TZ=UTC * * * * *" }), [
      `FieldValueInvalid spec.schedule: Invalid value: "CRON_TZ=UTC * * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`,
    ]],
    ["an unknown time zone", cronJob({ timeZone: "Europe/Pariss" }), [`FieldValueInvalid spec.timeZone: Invalid value: "Europe/Pariss": unknown time zone Europe/Pariss`]],
    ["Local as time zone", cronJob({ timeZone: "Local" }), [`FieldValueInvalid spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones`]],
    ["an unknown concurrency policy", cronJob({ concurrencyPolicy: "Sometimes" }), [`FieldValueNotSupported spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"`]],
    ["negative deadlines and limits", cronJob({ startingDeadlineSeconds: -1, successfulJobsHistoryLimit: -1, failedJobsHistoryLimit: -2 }), [
      "FieldValueInvalid spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0",
      "FieldValueInvalid spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
      "FieldValueInvalid spec.failedJobsHistoryLimit: Invalid value: -2: must be greater than or equal to 0",
    ]],
    ["a job template with a selector and manualSelector", cronJob({}, { selector: { matchLabels: { a: "b" } }, manualSelector: true }), [
      `FieldValueInvalid spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"a":"b"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: \`selector\` will be auto-generated`,
      `FieldValueNotSupported spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "nil", "false"`,
    ]],
    ["a job template that restarts always", cronJob({}, { template: { spec: { restartPolicy: "Always", containers: [{ name: "c", image: "busybox" }] } } }), [
      `FieldValueRequired spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`,
    ]],
    ["a name the controller's Job names would not fit", { metadata: { name: "c".repeat(53) }, ...cronJob() }, [`FieldValueInvalid metadata.name: Invalid value: "${"c".repeat(53)}": must be no more than 52 characters`]],
  ])("refuses %s", (_name, object, expected) => {
    expect(check("cronjobs", object)).toEqual(expected);
  });

  it("keeps a TZ= schedule that was already stored, as kube does", () => {
    const old = defaulted("cronjobs", cronJob());
    old.spec.schedule = "TZ=UTC 0 * * * *";
    expect(check("cronjobs", { ...old, spec: { ...old.spec, suspend: true } }, old)).toEqual([]);
  });
});
