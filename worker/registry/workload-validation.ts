// kube-apiserver's validation of the workload controllers' objects (Deployment, ReplicaSet,
// ReplicationController, DaemonSet, StatefulSet, Job, CronJob): selectors against their pod
// templates, counts, strategies and what an update may change, worded as Kubernetes 1.30 words it.
import { parseCronSchedule, CronSyntaxError, isKnownTimeZone } from "../../lib/k8s/cron.ts";
import { labelSelectorFromObject, labelValueErrors, matchesLabels, qualifiedNameErrors, SelectorError, validateLabels, type LabelRequirement } from "../../lib/k8s/selectors.ts";
import type { StatusCause } from "../../lib/k8s/status.ts";
import { fieldErrors, goIntOrString, goJson, goLabelSelector, goStrategy, goStringMap, nonNegative, type BadValue } from "./field-errors.ts";
import { fromSelectorErrors, validatePodTemplateSpec, type PodSpecOptions } from "./pod-validation.ts";
import { validateDnsLabel } from "./validation.ts";
import { deepEqual } from "./deep-equal.ts";

type Obj = Record<string, any>;

function obj(value: unknown): Obj {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Obj) : {};
}


// ---- selectors ----

/** ValidateLabelSelector: matchLabels as labels, each expression's operator, key and values. */
function validateLabelSelector(selector: Obj | undefined, path: string): StatusCause[] {
  if (!selector) return [];
  const causes = fromSelectorErrors(validateLabels(selector.matchLabels, `${path}.matchLabels`));
  (Array.isArray(selector.matchExpressions) ? selector.matchExpressions : []).forEach((e: Obj, i: number) => {
    const at = `${path}.matchExpressions[${i}]`;
    const values: unknown[] = Array.isArray(e?.values) ? e.values : [];
    switch (e?.operator) {
      case "In":
      case "NotIn":
        if (!values.length) causes.push(fieldErrors.required(`${at}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case "Exists":
      case "DoesNotExist":
        if (values.length) causes.push(fieldErrors.forbidden(`${at}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        break;
      default:
        causes.push(fieldErrors.invalid(`${at}.operator`, String(e?.operator ?? ""), "not a valid selector operator"));
    }
    const key = String(e?.key ?? "");
    causes.push(...qualifiedNameErrors(key).map((msg) => fieldErrors.invalid(`${at}.key`, key, msg)));
    values.forEach((v, vi) => causes.push(...labelValueErrors(String(v)).map((msg) => fieldErrors.invalid(`${at}.values[${vi}]`, String(v), msg))));
  });
  return causes;
}

/** metav1.LabelSelectorAsSelector: "nothing" for a missing selector, undefined when it cannot be built. */
function asSelector(selector: Obj | undefined): LabelRequirement[] | "nothing" | undefined {
  try {
    return labelSelectorFromObject(selector as Parameters<typeof labelSelectorFromObject>[0]);
  } catch (e) {
    // A SelectorError, or a TypeError from an expression that is not an object: kube's decoder refuses those shapes too.
    if (e instanceof SelectorError || e instanceof TypeError) return undefined;
    throw e;
  }
}

function templateLabels(template: Obj): Obj | undefined {
  return obj(template.metadata).labels ?? undefined;
}

/** The `selector` does not match template `labels` refusal, unless the selector selects everything. */
function selectorMatchesTemplate(selector: LabelRequirement[] | "nothing", template: Obj, path: string): StatusCause[] {
  if (selector !== "nothing" && selector.length === 0) return [];
  const labels = templateLabels(template);
  return matchesLabels(selector, labels) ? [] : [fieldErrors.invalid(`${path}.metadata.labels`, goStringMap(labels), "`selector` does not match template `labels`")];
}

function immutableSelector(next: Obj, old: Obj): StatusCause[] {
  return deepEqual(next.selector, old.selector) ? [] : [fieldErrors.invalid("spec.selector", goLabelSelector(next.selector), "field is immutable")];
}

// ---- ints and percentages ----

const PERCENT = /^[0-9]+%$/;

function validatePositiveIntOrPercent(value: unknown, path: string): StatusCause[] {
  if (typeof value === "string") return PERCENT.test(value) ? [] : [fieldErrors.invalid(path, goIntOrString(value), "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")];
  if (typeof value === "number") return nonNegative(path, value);
  return [];
}

function intOrPercentValue(value: unknown): number {
  if (typeof value === "string") return PERCENT.test(value) ? Number(value.slice(0, -1)) : 0;
  return typeof value === "number" ? value : 0;
}

function notMoreThan100Percent(value: unknown, path: string): StatusCause[] {
  return typeof value === "string" && PERCENT.test(value) && Number(value.slice(0, -1)) > 100 ? [fieldErrors.invalid(path, goIntOrString(value), "must not be greater than 100%")] : [];
}

// ---- templates of the replicated kinds ----

/** A controller's pod template: selector match, a valid pod template, restartPolicy Always, no deadline. */
function validateReplicatedTemplate(template: Obj | undefined, selector: LabelRequirement[] | "nothing", kind: string, path: string, options: PodSpecOptions = {}): StatusCause[] {
  if (!template) return [fieldErrors.required(path)];
  const causes = [...selectorMatchesTemplate(selector, template, path), ...validatePodTemplateSpec(template, path, options)];
  const spec = obj(template.spec);
  if (spec.restartPolicy !== "Always") causes.push(fieldErrors.notSupported(`${path}.spec.restartPolicy`, spec.restartPolicy ?? "", ["Always"]));
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds !== null) {
    causes.push(fieldErrors.forbidden(`${path}.spec.activeDeadlineSeconds`, `activeDeadlineSeconds in ${kind} is not Supported`));
  }
  return causes;
}

/** The apps/v1 selector rules: required, well formed, not empty, buildable; then the template against it. */
function validateAppsSelectorAndTemplate(spec: Obj, kind: "deployment" | "statefulset", templateKind: string, options: PodSpecOptions = {}): StatusCause[] {
  const causes: StatusCause[] = [];
  const selector = spec.selector === null ? undefined : spec.selector;
  if (selector === undefined) causes.push(fieldErrors.required("spec.selector"));
  else {
    causes.push(...validateLabelSelector(obj(selector), "spec.selector"));
    if (Object.keys(obj(obj(selector).matchLabels)).length + (Array.isArray(selector.matchExpressions) ? selector.matchExpressions.length : 0) === 0) {
      causes.push(fieldErrors.invalid("spec.selector", goLabelSelector(selector), `empty selector is invalid for ${kind}`));
    }
  }
  const built = asSelector(selector);
  if (built === undefined) causes.push(fieldErrors.invalid("spec.selector", goLabelSelector(selector), kind === "statefulset" ? "" : "invalid label selector"));
  else causes.push(...validateReplicatedTemplate(spec.template, built, templateKind, "spec.template", options));
  return causes;
}

// ---- Deployment ----

function validateDeploymentStrategy(strategy: Obj): StatusCause[] {
  switch (strategy.type) {
    case "Recreate":
      return strategy.rollingUpdate ? [fieldErrors.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")] : [];
    case "RollingUpdate": {
      const rollingUpdate = strategy.rollingUpdate;
      if (!rollingUpdate) return [fieldErrors.required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil")];
      const path = "spec.strategy.rollingUpdate";
      const causes = [...validatePositiveIntOrPercent(rollingUpdate.maxUnavailable, `${path}.maxUnavailable`), ...validatePositiveIntOrPercent(rollingUpdate.maxSurge, `${path}.maxSurge`)];
      if (intOrPercentValue(rollingUpdate.maxUnavailable) === 0 && intOrPercentValue(rollingUpdate.maxSurge) === 0) {
        causes.push(fieldErrors.invalid(`${path}.maxUnavailable`, goIntOrString(rollingUpdate.maxUnavailable), "may not be 0 when `maxSurge` is 0"));
      }
      causes.push(...notMoreThan100Percent(rollingUpdate.maxUnavailable, `${path}.maxUnavailable`));
      return causes;
    }
    default:
      return [fieldErrors.notSupported("spec.strategy", goStrategy("apps.DeploymentStrategy", "apps.RollingUpdateDeployment", strategy), ["Recreate", "RollingUpdate"])];
  }
}

export function validateDeployment(deployment: Obj, old?: Obj): StatusCause[] {
  const spec = obj(deployment.spec);
  const causes = [...nonNegative("spec.replicas", spec.replicas), ...validateAppsSelectorAndTemplate(spec, "deployment", "ReplicaSet")];
  causes.push(...validateDeploymentStrategy(obj(spec.strategy)));
  causes.push(...nonNegative("spec.minReadySeconds", spec.minReadySeconds));
  causes.push(...nonNegative("spec.revisionHistoryLimit", spec.revisionHistoryLimit));
  if (typeof spec.progressDeadlineSeconds === "number") {
    causes.push(...nonNegative("spec.progressDeadlineSeconds", spec.progressDeadlineSeconds));
    if (spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0)) causes.push(fieldErrors.invalid("spec.progressDeadlineSeconds", spec.progressDeadlineSeconds, "must be greater than minReadySeconds"));
  }
  if (old) causes.push(...immutableSelector(spec, obj(old.spec)));
  return causes;
}

// ---- ReplicaSet and ReplicationController ----

export function validateReplicaSet(replicaSet: Obj, old?: Obj): StatusCause[] {
  const spec = obj(replicaSet.spec);
  const causes = [...nonNegative("spec.replicas", spec.replicas), ...nonNegative("spec.minReadySeconds", spec.minReadySeconds)];
  // kube names the empty-selector refusal after deployments for ReplicaSets too.
  causes.push(...validateAppsSelectorAndTemplate(spec, "deployment", "ReplicaSet"));
  if (old) causes.push(...immutableSelector(spec, obj(old.spec)));
  return causes;
}

export function validateReplicationController(rc: Obj): StatusCause[] {
  const spec = obj(rc.spec);
  const causes = nonNegative("spec.minReadySeconds", spec.minReadySeconds);
  const selector = obj(spec.selector);
  if (Object.keys(selector).length === 0) causes.push(fieldErrors.required("spec.selector"));
  causes.push(...nonNegative("spec.replicas", spec.replicas));
  const requirements = Object.keys(selector).length ? (asSelector({ matchLabels: selector }) ?? []) : [];
  causes.push(...validateReplicatedTemplate(spec.template ?? undefined, requirements, "ReplicationController", "spec.template"));
  return causes;
}

/** kube's defaulting of a ReplicationController: selector and labels from the template's labels. */
export function defaultReplicationControllerSelector(rc: Obj): void {
  const labels = obj(obj(rc.spec?.template).metadata).labels;
  if (!labels || typeof labels !== "object") return;
  if (Object.keys(obj(rc.spec.selector)).length === 0) rc.spec.selector = { ...labels };
  if (Object.keys(obj(rc.metadata?.labels)).length === 0) rc.metadata!.labels = { ...labels };
}

// ---- DaemonSet ----

function validateDaemonSetStrategy(strategy: Obj): StatusCause[] {
  switch (strategy.type) {
    case "OnDelete":
      return [];
    case "RollingUpdate": {
      const rollingUpdate = strategy.rollingUpdate;
      if (!rollingUpdate) return [fieldErrors.required("spec.updateStrategy.rollingUpdate")];
      const path = "spec.updateStrategy.rollingUpdate";
      const causes = [
        ...validatePositiveIntOrPercent(rollingUpdate.maxUnavailable, `${path}.maxUnavailable`), ...validatePositiveIntOrPercent(rollingUpdate.maxSurge, `${path}.maxSurge`),
        ...notMoreThan100Percent(rollingUpdate.maxUnavailable, `${path}.maxUnavailable`), ...notMoreThan100Percent(rollingUpdate.maxSurge, `${path}.maxSurge`),
      ];
      const unavailable = intOrPercentValue(rollingUpdate.maxUnavailable) !== 0;
      const surge = intOrPercentValue(rollingUpdate.maxSurge) !== 0;
      if (unavailable && surge) causes.push(fieldErrors.invalid(`${path}.maxSurge`, goIntOrString(rollingUpdate.maxSurge), "may not be set when maxUnavailable is non-zero"));
      if (!unavailable && !surge) causes.push(fieldErrors.required(`${path}.maxUnavailable`, "cannot be 0 when maxSurge is 0"));
      return causes;
    }
    default:
      return [fieldErrors.notSupported("spec.updateStrategy", goStrategy("apps.DaemonSetUpdateStrategy", "apps.RollingUpdateDaemonSet", strategy), ["RollingUpdate", "OnDelete"])];
  }
}

export function validateDaemonSet(daemonSet: Obj, old?: Obj): StatusCause[] {
  const spec = obj(daemonSet.spec);
  const selector = spec.selector === null ? undefined : spec.selector;
  const causes = validateLabelSelector(selector, "spec.selector");
  const built = asSelector(selector);
  const template = obj(spec.template);
  if (built !== undefined && !matchesLabels(built, templateLabels(template))) {
    causes.push(fieldErrors.invalid("spec.template.metadata.labels", goStringMap(templateLabels(template)), "`selector` does not match template `labels`"));
  }
  if (selector && Object.keys(obj(selector.matchLabels)).length + (Array.isArray(selector.matchExpressions) ? selector.matchExpressions.length : 0) === 0) {
    causes.push(fieldErrors.invalid("spec.selector", goLabelSelector(selector), "empty selector is invalid for daemonset"));
  }
  causes.push(...validatePodTemplateSpec(template, "spec.template"));
  if (obj(template.spec).restartPolicy !== "Always") causes.push(fieldErrors.notSupported("spec.template.spec.restartPolicy", obj(template.spec).restartPolicy ?? "", ["Always"]));
  if (obj(template.spec).activeDeadlineSeconds !== undefined) causes.push(fieldErrors.forbidden("spec.template.spec.activeDeadlineSeconds", "activeDeadlineSeconds in DaemonSet is not Supported"));
  causes.push(...nonNegative("spec.minReadySeconds", spec.minReadySeconds));
  causes.push(...validateDaemonSetStrategy(obj(spec.updateStrategy)));
  causes.push(...nonNegative("spec.revisionHistoryLimit", spec.revisionHistoryLimit));
  if (old) causes.push(...immutableSelector(spec, obj(old.spec)));
  return causes;
}

// ---- StatefulSet ----

const STATEFULSET_UPDATABLE = ["replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds"];
const RETENTION_POLICIES = ["Retain", "Delete"];

function validateStatefulSetStrategy(strategy: Obj): StatusCause[] {
  const path = "spec.updateStrategy";
  switch (strategy.type) {
    case undefined:
    case null:
    case "":
      return [fieldErrors.required(path)];
    case "OnDelete":
      return strategy.rollingUpdate ? [fieldErrors.invalid(`${path}.rollingUpdate`, goJson(strategy.rollingUpdate), "only allowed for updateStrategy 'RollingUpdate'")] : [];
    case "RollingUpdate": {
      const rollingUpdate = strategy.rollingUpdate;
      if (!rollingUpdate) return [];
      const causes = nonNegative(`${path}.rollingUpdate.partition`, rollingUpdate.partition);
      if (rollingUpdate.maxUnavailable !== undefined && rollingUpdate.maxUnavailable !== null) {
        const at = `${path}.rollingUpdate.maxUnavailable`;
        causes.push(...validatePositiveIntOrPercent(rollingUpdate.maxUnavailable, at));
        if (intOrPercentValue(rollingUpdate.maxUnavailable) === 0) causes.push(fieldErrors.invalid(at, goIntOrString(rollingUpdate.maxUnavailable), "cannot be 0"));
        causes.push(...notMoreThan100Percent(rollingUpdate.maxUnavailable, at));
      }
      return causes;
    }
    default:
      return [fieldErrors.invalid(path, goStrategy("apps.StatefulSetUpdateStrategy", "apps.RollingUpdateStatefulSetStrategy", strategy), "must be 'RollingUpdate' or 'OnDelete'")];
  }
}

export function validateStatefulSet(statefulSet: Obj, old?: Obj): StatusCause[] {
  const spec = obj(statefulSet.spec);
  const causes: StatusCause[] = [];
  if (!spec.podManagementPolicy) causes.push(fieldErrors.required("spec.podManagementPolicy"));
  else if (!["OrderedReady", "Parallel"].includes(spec.podManagementPolicy)) causes.push(fieldErrors.invalid("spec.podManagementPolicy", String(spec.podManagementPolicy), "must be 'OrderedReady' or 'Parallel'"));
  causes.push(...validateStatefulSetStrategy(obj(spec.updateStrategy)));
  const retention = spec.persistentVolumeClaimRetentionPolicy;
  if (retention) {
    for (const when of ["whenDeleted", "whenScaled"]) {
      if (!RETENTION_POLICIES.includes(retention[when])) causes.push(fieldErrors.notSupported(`spec.persistentVolumeClaimRetentionPolicy.${when}`, retention[when] ?? "", RETENTION_POLICIES));
    }
  }
  causes.push(...nonNegative("spec.replicas", spec.replicas), ...nonNegative("spec.minReadySeconds", spec.minReadySeconds));
  if (spec.ordinals) causes.push(...nonNegative("spec.ordinals.start", spec.ordinals.start));
  // Pods mount the claims of volumeClaimTemplates as volumes of the same names.
  const claims = (Array.isArray(spec.volumeClaimTemplates) ? spec.volumeClaimTemplates : []).map((c: Obj) => String(obj(c?.metadata).name ?? ""));
  causes.push(...validateAppsSelectorAndTemplate(spec, "statefulset", "StatefulSet", { extraVolumes: claims }));
  if (old) {
    const oldSpec = obj(old.spec);
    const fixed = (s: Obj) => Object.fromEntries(Object.entries(s).filter(([k]) => !STATEFULSET_UPDATABLE.includes(k)));
    if (!deepEqual(fixed(spec), fixed(oldSpec))) {
      causes.push(fieldErrors.forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
    }
  }
  return causes;
}

// ---- Job ----

const MAX_PARALLELISM_INDEXED = 100000;
const MAX_FAILED_INDEXES = 100000;
const COMPLETION_MODES = ["NonIndexed", "Indexed"];
const JOB_RESTART_POLICIES = ["OnFailure", "Never"];
const POD_REPLACEMENT_POLICIES = ["Failed", "TerminatingOrFailed"];
/** With JobBackoffLimitPerIndex (beta, on in 1.30), FailIndex is among them. */
const POD_FAILURE_POLICY_ACTIONS = ["Count", "FailIndex", "FailJob", "Ignore"];
const EXIT_CODE_OPERATORS = ["In", "NotIn"];
const CONDITION_STATUSES = ["False", "True", "Unknown"];
const MAX_POD_FAILURE_POLICY_RULES = 20;
const MAX_EXIT_CODE_VALUES = 255;
const MAX_CONDITION_PATTERNS = 20;
/** Above this many completions, backoffLimitPerIndex asks for maxFailedIndexes and tighter limits. */
const COMPLETIONS_SOFT_LIMIT = 100000;
const LIMIT_FOR_HIGH_COMPLETIONS = 10000;

/** Go's %q of a []string: `["a" "b"]`. */
const goQuotedList = (values: readonly string[]) => `[${values.map((v) => JSON.stringify(v)).join(" ")}]`;
const tooMany = (field: string, count: number, max: number): StatusCause => ({ reason: "FieldValueTooMany", field, message: `Too many: ${count}: must have at most ${max} items` });
/** field.Invalid with an omitted value: only the detail. */
const invalidOmitted = (field: string, detail: string): StatusCause => ({ reason: "FieldValueInvalid", field, message: `Invalid value: ${detail}` });
const goInt32Slice = (values: unknown): BadValue => ({ go: Array.isArray(values) ? `[]int32{${values.join(", ")}}` : "[]int32(nil)" });

/** validatePodFailurePolicy: each rule's action, and exactly one of onExitCodes and onPodConditions, well formed. */
function validatePodFailurePolicy(spec: Obj, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const rules: Obj[] = Array.isArray(obj(spec.podFailurePolicy).rules) ? spec.podFailurePolicy.rules : [];
  const rulesPath = `${path}.podFailurePolicy.rules`;
  if (rules.length > MAX_POD_FAILURE_POLICY_RULES) causes.push(tooMany(rulesPath, rules.length, MAX_POD_FAILURE_POLICY_RULES));
  const podSpec = obj(obj(spec.template).spec);
  const containerNames = new Set([...(podSpec.containers ?? []), ...(podSpec.initContainers ?? [])].map((c: Obj) => c?.name));
  rules.forEach((rawRule, i) => {
    const rule = obj(rawRule);
    const at = `${rulesPath}[${i}]`;
    if (!rule.action) causes.push(fieldErrors.required(`${at}.action`, `valid values: ${goQuotedList(POD_FAILURE_POLICY_ACTIONS)}`));
    else if (rule.action === "FailIndex") {
      if (spec.backoffLimitPerIndex === undefined || spec.backoffLimitPerIndex === null) causes.push(fieldErrors.invalid(`${at}.action`, rule.action, "requires the backoffLimitPerIndex to be set"));
    } else if (!POD_FAILURE_POLICY_ACTIONS.includes(rule.action)) causes.push(fieldErrors.notSupported(`${at}.action`, String(rule.action), POD_FAILURE_POLICY_ACTIONS));
    const onExitCodes = rule.onExitCodes ? obj(rule.onExitCodes) : undefined;
    const patterns: Obj[] = Array.isArray(rule.onPodConditions) ? rule.onPodConditions : [];
    if (onExitCodes) {
      const codesAt = `${at}.onExitCodes`;
      if (!onExitCodes.operator) causes.push(fieldErrors.required(`${codesAt}.operator`, `valid values: ${goQuotedList(EXIT_CODE_OPERATORS)}`));
      else if (!EXIT_CODE_OPERATORS.includes(onExitCodes.operator)) causes.push(fieldErrors.notSupported(`${codesAt}.operator`, String(onExitCodes.operator), EXIT_CODE_OPERATORS));
      if (typeof onExitCodes.containerName === "string" && !containerNames.has(onExitCodes.containerName)) {
        causes.push(fieldErrors.invalid(`${codesAt}.containerName`, onExitCodes.containerName, "must be one of the container or initContainer names in the pod template"));
      }
      const values: number[] = Array.isArray(onExitCodes.values) ? onExitCodes.values : [];
      if (values.length === 0) causes.push(fieldErrors.invalid(`${codesAt}.values`, goInt32Slice(onExitCodes.values), "at least one value is required"));
      else if (values.length > MAX_EXIT_CODE_VALUES) causes.push(tooMany(`${codesAt}.values`, values.length, MAX_EXIT_CODE_VALUES));
      const seen = new Set<number>();
      values.forEach((value, j) => {
        if (onExitCodes.operator === "In" && value === 0) causes.push(fieldErrors.invalid(`${codesAt}.values[${j}]`, value, "must not be 0 for the In operator"));
        if (seen.has(value)) causes.push(fieldErrors.duplicate(`${codesAt}.values[${j}]`, value));
        seen.add(value);
      });
      if (values.some((value, j) => j > 0 && values[j - 1]! > value)) causes.push(fieldErrors.invalid(`${codesAt}.values`, goInt32Slice(values), "must be ordered"));
    }
    if (patterns.length > MAX_CONDITION_PATTERNS) causes.push(tooMany(`${at}.onPodConditions`, patterns.length, MAX_CONDITION_PATTERNS));
    patterns.forEach((rawPattern, j) => {
      const pattern = obj(rawPattern);
      const patternAt = `${at}.onPodConditions[${j}]`;
      for (const message of qualifiedNameErrors(String(pattern.type ?? ""))) causes.push(fieldErrors.invalid(`${patternAt}.type`, String(pattern.type ?? ""), message));
      if (!pattern.status) causes.push(fieldErrors.required(`${patternAt}.status`, `valid values: ${goQuotedList(CONDITION_STATUSES)}`));
      else if (!CONDITION_STATUSES.includes(pattern.status)) causes.push(fieldErrors.notSupported(`${patternAt}.status`, String(pattern.status), CONDITION_STATUSES));
    });
    if (onExitCodes && patterns.length) causes.push(invalidOmitted(at, "specifying both OnExitCodes and OnPodConditions is not supported"));
    if (!onExitCodes && !patterns.length) causes.push(invalidOmitted(at, "specifying one of OnExitCodes and OnPodConditions is required"));
  });
  return causes;
}

const JOB_LABELS = {
  controllerUid: "batch.kubernetes.io/controller-uid",
  jobName: "batch.kubernetes.io/job-name",
  legacyControllerUid: "controller-uid",
  legacyJobName: "job-name",
};

/** validateJobSpec: what a Job and a CronJob's job template share. */
function validateJobSpec(spec: Obj, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const field of ["parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"]) {
    causes.push(...nonNegative(`${path}.${field}`, spec[field]));
  }
  const has = (field: string) => spec[field] !== undefined && spec[field] !== null;
  if (has("maxFailedIndexes") && !has("backoffLimitPerIndex")) causes.push(fieldErrors.required(`${path}.backoffLimitPerIndex`, "when maxFailedIndexes is specified"));
  if (has("completionMode")) {
    if (!COMPLETION_MODES.includes(spec.completionMode)) causes.push(fieldErrors.notSupported(`${path}.completionMode`, String(spec.completionMode), COMPLETION_MODES));
    if (spec.completionMode === "Indexed") {
      if (!has("completions")) causes.push(fieldErrors.required(`${path}.completions`, "when completion mode is Indexed"));
      if (typeof spec.parallelism === "number" && spec.parallelism > MAX_PARALLELISM_INDEXED) {
        causes.push(fieldErrors.invalid(`${path}.parallelism`, spec.parallelism, `must be less than or equal to ${MAX_PARALLELISM_INDEXED} when completion mode is Indexed`));
      }
      if (typeof spec.completions === "number" && typeof spec.maxFailedIndexes === "number" && spec.maxFailedIndexes > spec.completions) {
        causes.push(fieldErrors.invalid(`${path}.maxFailedIndexes`, spec.maxFailedIndexes, "must be less than or equal to completions"));
      }
      if (typeof spec.maxFailedIndexes === "number" && spec.maxFailedIndexes > MAX_FAILED_INDEXES) {
        causes.push(fieldErrors.invalid(`${path}.maxFailedIndexes`, spec.maxFailedIndexes, `must be less than or equal to ${MAX_FAILED_INDEXES}`));
      }
      if (typeof spec.completions === "number" && spec.completions > COMPLETIONS_SOFT_LIMIT && has("backoffLimitPerIndex")) {
        const high = `when completions are above ${COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index`;
        if (!has("maxFailedIndexes")) causes.push(fieldErrors.required(`${path}.maxFailedIndexes`, `must be specified when completions is above ${COMPLETIONS_SOFT_LIMIT}`));
        if (typeof spec.parallelism === "number" && spec.parallelism > LIMIT_FOR_HIGH_COMPLETIONS) causes.push(fieldErrors.invalid(`${path}.parallelism`, spec.parallelism, `must be less than or equal to ${LIMIT_FOR_HIGH_COMPLETIONS} ${high}`));
        if (typeof spec.maxFailedIndexes === "number" && spec.maxFailedIndexes > LIMIT_FOR_HIGH_COMPLETIONS) causes.push(fieldErrors.invalid(`${path}.maxFailedIndexes`, spec.maxFailedIndexes, `must be less than or equal to ${LIMIT_FOR_HIGH_COMPLETIONS} ${high}`));
      }
    }
  }
  if (!has("completionMode") || spec.completionMode === "NonIndexed") {
    if (has("backoffLimitPerIndex")) causes.push(fieldErrors.invalid(`${path}.backoffLimitPerIndex`, spec.backoffLimitPerIndex, "requires indexed completion mode"));
    if (has("maxFailedIndexes")) causes.push(fieldErrors.invalid(`${path}.maxFailedIndexes`, spec.maxFailedIndexes, "requires indexed completion mode"));
  }
  if (has("podFailurePolicy")) causes.push(...validatePodFailurePolicy(spec, path));
  if (has("podReplacementPolicy")) {
    const allowed = has("podFailurePolicy") ? ["Failed"] : POD_REPLACEMENT_POLICIES;
    if (!allowed.includes(spec.podReplacementPolicy)) causes.push(fieldErrors.notSupported(`${path}.podReplacementPolicy`, String(spec.podReplacementPolicy), allowed));
  }
  const template = obj(spec.template);
  causes.push(...validatePodTemplateSpec(template, `${path}.template`));
  const restartPolicy = obj(template.spec).restartPolicy;
  if (restartPolicy === "Always" || !restartPolicy) {
    causes.push(fieldErrors.required(`${path}.template.spec.restartPolicy`, 'valid values: "OnFailure", "Never"'));
  } else if (!JOB_RESTART_POLICIES.includes(restartPolicy)) {
    causes.push(fieldErrors.notSupported(`${path}.template.spec.restartPolicy`, String(restartPolicy), JOB_RESTART_POLICIES));
  } else if (has("podFailurePolicy") && restartPolicy !== "Never") {
    causes.push(fieldErrors.invalid(`${path}.template.spec.restartPolicy`, restartPolicy, 'only "Never" is supported when podFailurePolicy is specified'));
  }
  return causes;
}

/** ValidateHasLabel: the template carries the label with exactly this value. */
function hasLabel(template: Obj, key: string, expected: string): StatusCause[] {
  const labels = templateLabels(template);
  const path = `spec.template.metadata.labels[${key}]`;
  if (!labels || !Object.hasOwn(labels, key)) return [fieldErrors.required(path, `must be '${expected}'`)];
  return labels[key] === expected ? [] : [fieldErrors.invalid(path, goStringMap(labels), `must be '${expected}'`)];
}

/** A generated selector (manualSelector unset) must select the labels generated from the Job's uid and name. */
function validateGeneratedSelector(job: Obj, requirePrefixedLabels: boolean): StatusCause[] {
  const spec = obj(job.spec);
  if (spec.manualSelector === true || !spec.selector) return [];
  const uid = String(job.metadata?.uid ?? "");
  const name = String(job.metadata?.name ?? "");
  const template = obj(spec.template);
  const causes: StatusCause[] = [];
  if (!uid) causes.push(fieldErrors.required("metadata.uid"));
  causes.push(...hasLabel(template, JOB_LABELS.legacyControllerUid, uid), ...hasLabel(template, JOB_LABELS.legacyJobName, name));
  const expected: Obj = { [JOB_LABELS.legacyControllerUid]: uid, [JOB_LABELS.legacyJobName]: name };
  if (requirePrefixedLabels) {
    causes.push(...hasLabel(template, JOB_LABELS.controllerUid, uid), ...hasLabel(template, JOB_LABELS.jobName, name));
    Object.assign(expected, { [JOB_LABELS.controllerUid]: uid, [JOB_LABELS.jobName]: name });
  }
  const selector = asSelector(spec.selector);
  if (selector !== undefined && !matchesLabels(selector, expected)) causes.push(fieldErrors.invalid("spec.selector", goLabelSelector(spec.selector), "`selector` not auto-generated"));
  return causes;
}

/** ValidateJobSpec: the shared rules plus the selector, which must select the template's labels. */
function validateJobSelector(spec: Obj): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!spec.selector) causes.push(fieldErrors.required("spec.selector"));
  else causes.push(...validateLabelSelector(spec.selector, "spec.selector"));
  const selector = asSelector(spec.selector);
  const labels = templateLabels(obj(spec.template));
  if (selector !== undefined && !matchesLabels(selector, labels)) causes.push(fieldErrors.invalid("spec.template.metadata.labels", goStringMap(labels), "`selector` does not match template `labels`"));
  return causes;
}

/** What kube lets an update of a Job change in its template: only while suspended and never started. */
function jobTemplateForComparison(template: Obj, mutableScheduling: boolean): Obj {
  if (!mutableScheduling) return template;
  const { metadata, spec, ...rest } = template;
  const { nodeSelector: _n, tolerations: _t, schedulingGates: _g, affinity, ...fixed } = obj(spec);
  const { nodeAffinity: _a, ...otherAffinity } = obj(affinity);
  const { labels: _l, annotations: _an, ...meta } = obj(metadata);
  return { ...rest, metadata: meta, spec: { ...fixed, affinity: Object.keys(otherAffinity).length ? otherAffinity : undefined } };
}

function immutable(field: string, next: unknown, old: unknown, value: BadValue): StatusCause[] {
  return deepEqual(next, old) ? [] : [fieldErrors.invalid(field, value, "field is immutable")];
}

export function validateJob(job: Obj, old?: Obj): StatusCause[] {
  const spec = obj(job.spec);
  if (!old) {
    const causes = [...validateGeneratedSelector(job, true), ...validateJobSpec(spec, "spec"), ...validateJobSelector(spec)];
    const name = String(job.metadata?.name ?? "");
    if (spec.completionMode === "Indexed" && typeof spec.completions === "number" && spec.completions > 0) {
      const hostname = `${name}-${spec.completions - 1}`;
      if (validateDnsLabel("metadata.name", hostname).length) causes.push(fieldErrors.invalid("metadata.name", name, `will not able to create pod with invalid DNS label: ${hostname}`));
    }
    return causes;
  }
  const oldSpec = obj(old.spec);
  const causes = [...validateJobSpec(spec, "spec"), ...validateJobSelector(spec)];
  // Elastic Indexed Jobs: completions may move only together with parallelism.
  if (spec.completionMode === "Indexed") {
    if (!deepEqual(spec.completions, oldSpec.completions) && typeof spec.completions === "number" && spec.completions !== spec.parallelism) {
      causes.push(fieldErrors.invalid("spec.completions", spec.completions, "can only be modified in tandem with spec.parallelism"));
    }
  } else {
    causes.push(...immutable("spec.completions", spec.completions, oldSpec.completions, spec.completions ?? null));
  }
  causes.push(...immutable("spec.selector", spec.selector, oldSpec.selector, goLabelSelector(spec.selector)));
  const mutableScheduling = oldSpec.suspend === true && !obj(old.status).startTime;
  causes.push(...immutable("spec.template", jobTemplateForComparison(obj(spec.template), mutableScheduling), jobTemplateForComparison(obj(oldSpec.template), mutableScheduling), goJson(spec.template)));
  causes.push(...immutable("spec.completionMode", spec.completionMode, oldSpec.completionMode, spec.completionMode ?? null));
  causes.push(...immutable("spec.podFailurePolicy", spec.podFailurePolicy, oldSpec.podFailurePolicy, goJson(spec.podFailurePolicy)));
  causes.push(...immutable("spec.backoffLimitPerIndex", spec.backoffLimitPerIndex, oldSpec.backoffLimitPerIndex, spec.backoffLimitPerIndex ?? null));
  return causes;
}

/**
 * kube's selector generation for a Job created without manualSelector: the template gets the
 * job-name and controller-uid labels (prefixed and legacy), the selector the prefixed uid.
 */
export function generateJobSelector(job: Obj): void {
  const spec = job.spec;
  if (!spec || typeof spec !== "object" || spec.manualSelector === true) return;
  const uid = String(job.metadata?.uid ?? "");
  const name = String(job.metadata?.name ?? "");
  spec.template = obj(spec.template);
  spec.template.metadata = obj(spec.template.metadata);
  const labels = (spec.template.metadata.labels = obj(spec.template.metadata.labels));
  for (const key of [JOB_LABELS.legacyJobName, JOB_LABELS.jobName]) if (!Object.hasOwn(labels, key)) labels[key] = name;
  for (const key of [JOB_LABELS.legacyControllerUid, JOB_LABELS.controllerUid]) if (!Object.hasOwn(labels, key)) labels[key] = uid;
  spec.selector = obj(spec.selector);
  spec.selector.matchLabels = obj(spec.selector.matchLabels);
  if (!Object.hasOwn(spec.selector.matchLabels, JOB_LABELS.controllerUid)) spec.selector.matchLabels[JOB_LABELS.controllerUid] = uid;
}

// ---- CronJob ----

const CONCURRENCY_POLICIES = ["Allow", "Forbid", "Replace"];
const TIME_ZONE_PART = /^[A-Za-z.\-_0-9+]{1,14}$/;

function validateSchedule(schedule: string, allowTZ: boolean, timeZone: unknown): StatusCause[] {
  const causes: StatusCause[] = [];
  try {
    parseCronSchedule(schedule);
  } catch (e) {
    if (!(e instanceof CronSyntaxError)) throw e;
    causes.push(fieldErrors.invalid("spec.schedule", schedule, e.message));
  }
  const hasTZ = schedule.includes("TZ");
  if (allowTZ && hasTZ && timeZone !== undefined && timeZone !== null) causes.push(fieldErrors.invalid("spec.schedule", schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"));
  else if (!allowTZ && hasTZ) causes.push(fieldErrors.invalid("spec.schedule", schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
  return causes;
}

function validateTimeZone(timeZone: unknown): StatusCause[] {
  if (timeZone === undefined || timeZone === null) return [];
  const zone = String(timeZone);
  if (!zone) return [fieldErrors.invalid("spec.timeZone", zone, "timeZone must be nil or non-empty string")];
  if (zone.split("/").some((part) => part === "." || part === ".." || part.startsWith("-") || !TIME_ZONE_PART.test(part))) {
    return [fieldErrors.invalid("spec.timeZone", zone, `unknown time zone ${zone}`)];
  }
  if (zone.toLowerCase() === "local") return [fieldErrors.invalid("spec.timeZone", zone, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")];
  return isKnownTimeZone(zone) ? [] : [fieldErrors.invalid("spec.timeZone", zone, `unknown time zone ${zone}`)];
}

export function validateCronJob(cronJob: Obj, old?: Obj): StatusCause[] {
  const spec = obj(cronJob.spec);
  const oldSpec = old ? obj(old.spec) : undefined;
  const causes: StatusCause[] = [];
  const schedule = typeof spec.schedule === "string" ? spec.schedule : "";
  if (!schedule) causes.push(fieldErrors.required("spec.schedule"));
  else causes.push(...validateSchedule(schedule, typeof oldSpec?.schedule === "string" && oldSpec.schedule.includes("TZ"), spec.timeZone));
  causes.push(...nonNegative("spec.startingDeadlineSeconds", spec.startingDeadlineSeconds));
  if (!oldSpec || oldSpec.timeZone !== spec.timeZone) causes.push(...validateTimeZone(spec.timeZone));
  if (!spec.concurrencyPolicy) causes.push(fieldErrors.required("spec.concurrencyPolicy"));
  else if (!CONCURRENCY_POLICIES.includes(spec.concurrencyPolicy)) causes.push(fieldErrors.notSupported("spec.concurrencyPolicy", String(spec.concurrencyPolicy), CONCURRENCY_POLICIES));
  const jobSpec = obj(obj(spec.jobTemplate).spec);
  causes.push(...validateJobSpec(jobSpec, "spec.jobTemplate.spec"));
  if (jobSpec.selector) causes.push(fieldErrors.invalid("spec.jobTemplate.spec.selector", goLabelSelector(jobSpec.selector), "`selector` will be auto-generated"));
  if (jobSpec.manualSelector === true) causes.push(fieldErrors.notSupported("spec.jobTemplate.spec.manualSelector", true, ["nil", "false"]));
  causes.push(...nonNegative("spec.successfulJobsHistoryLimit", spec.successfulJobsHistoryLimit), ...nonNegative("spec.failedJobsHistoryLimit", spec.failedJobsHistoryLimit));
  const name = String(cronJob.metadata?.name ?? "");
  // The controller names each Job "<cronjob>-<11 characters>", and a Job's name is at most 63.
  if (!old && name.length > 52) causes.push(fieldErrors.invalid("metadata.name", name, "must be no more than 52 characters"));
  return causes;
}
