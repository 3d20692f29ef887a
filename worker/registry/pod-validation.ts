// kube-apiserver's validation of a pod spec (pods and every pod template) and of a pod update:
// the checks, field paths and wording of Kubernetes 1.30's core validation.
import { canonicalQuantity, parseQuantity, QuantityError } from "../../lib/k8s/quantity.ts";
import { fieldErrorBody, labelValueErrors, qualifiedNameErrors, regexError, validateAnnotations, validateLabels, type FieldError } from "../../lib/k8s/selectors.ts";
import type { StatusCause } from "../../lib/k8s/status.ts";
import { fieldErrors, nonNegative } from "./field-errors.ts";
import { VOLUME_SOURCES } from "./pods.ts";
import { validateDnsLabel, validateDnsSubdomain } from "./validation.ts";

type Obj = Record<string, any>;

export interface PodSpecOptions {
  /** The spec is a pod's own, not a template's (hostPort must then equal containerPort on the host network). */
  isPod?: boolean;
  /** Volume names that exist besides spec.volumes (a StatefulSet's volumeClaimTemplates). */
  extraVolumes?: string[];
}

const MAX_INT32 = 2147483647;

function objects(value: unknown): Obj[] {
  return Array.isArray(value) ? value.map((v) => (v !== null && typeof v === "object" ? v : {})) : [];
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** StatusCauses from the FieldErrors lib/k8s/selectors.ts reports for labels and annotations. */
export function fromSelectorErrors(errors: FieldError[]): StatusCause[] {
  return errors.map((e) => ({ reason: e.reason, field: e.field, message: fieldErrorBody(e) }));
}

function qualifiedName(field: string, value: string): StatusCause[] {
  return qualifiedNameErrors(value).map((msg) => fieldErrors.invalid(field, value, msg));
}

// ---- ports ----

const PORT_NAME_CHARSET = /^[-a-z0-9]+$/;
const PORT_NAME_LETTER = /[a-z]/;

function portNameErrors(name: string): string[] {
  const errors: string[] = [];
  if (name.length > 15) errors.push("must be no more than 15 characters");
  if (!PORT_NAME_CHARSET.test(name)) errors.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (!PORT_NAME_LETTER.test(name)) errors.push("must contain at least one letter (a-z)");
  if (name.includes("--")) errors.push("must not contain consecutive hyphens");
  if (name.length > 0 && (name.startsWith("-") || name.endsWith("-"))) errors.push("must not begin or end with a hyphen");
  return errors;
}

function portNumErrors(port: number): string[] {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? [] : ["must be between 1 and 65535, inclusive"];
}

/** ValidatePortNumOrName: a number in range or an IANA service name. */
function portNumOrName(field: string, port: unknown): StatusCause[] {
  if (typeof port === "string") return portNameErrors(port).map((msg) => fieldErrors.invalid(field, port, msg));
  const n = typeof port === "number" ? port : 0;
  return portNumErrors(n).map((msg) => fieldErrors.invalid(field, n, msg));
}

const PROTOCOLS = ["SCTP", "TCP", "UDP"];

function validateContainerPorts(ports: Obj[], path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const names = new Set<string>();
  ports.forEach((port, i) => {
    const at = `${path}[${i}]`;
    const name = str(port.name);
    if (name) {
      const errors = portNameErrors(name);
      if (errors.length) causes.push(...errors.map((msg) => fieldErrors.invalid(`${at}.name`, name, msg)));
      else if (names.has(name)) causes.push(fieldErrors.duplicate(`${at}.name`, name));
      else names.add(name);
    }
    if (!port.containerPort) causes.push(fieldErrors.required(`${at}.containerPort`));
    else causes.push(...portNumErrors(port.containerPort).map((msg) => fieldErrors.invalid(`${at}.containerPort`, port.containerPort, msg)));
    if (port.hostPort) causes.push(...portNumErrors(port.hostPort).map((msg) => fieldErrors.invalid(`${at}.hostPort`, port.hostPort, msg)));
    if (!port.protocol) causes.push(fieldErrors.required(`${at}.protocol`));
    else if (!PROTOCOLS.includes(port.protocol)) causes.push(fieldErrors.notSupported(`${at}.protocol`, port.protocol, PROTOCOLS));
  });
  return causes;
}

/** Host ports may not collide (protocol, host IP and port) across the given containers. */
function hostPortConflicts(containers: Obj[], path: string, seen = new Set<string>()): StatusCause[] {
  const causes: StatusCause[] = [];
  containers.forEach((c, ci) => {
    objects(c.ports).forEach((port, pi) => {
      if (!port.hostPort) return;
      const key = `${str(port.protocol)}/${str(port.hostIP)}/${port.hostPort}`;
      if (seen.has(key)) causes.push(fieldErrors.duplicate(`${path}[${ci}].ports[${pi}].hostPort`, key));
      else seen.add(key);
    });
  });
  return causes;
}

// ---- env ----

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function envNameErrors(name: string): string[] {
  const errors: string[] = [];
  if (!ENV_NAME.test(name)) {
    errors.push(regexError("a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit", "[-._a-zA-Z][-._a-zA-Z0-9]*", "my.env-name", "MY_ENV.NAME", "MyEnvName1"));
  }
  if (name === ".") errors.push("must not be '.'");
  else if (name === "..") errors.push("must not be '..'");
  else if (name.startsWith("..")) errors.push("must not start with '..'");
  return errors;
}

function validateEnv(env: Obj[], path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  env.forEach((e, i) => {
    const name = str(e.name);
    if (!name) causes.push(fieldErrors.required(`${path}[${i}].name`));
    else causes.push(...envNameErrors(name).map((msg) => fieldErrors.invalid(`${path}[${i}].name`, name, msg)));
  });
  return causes;
}

// ---- probes and lifecycle handlers ----

const HTTP_SCHEMES = ["HTTP", "HTTPS"];
const HANDLERS = ["exec", "httpGet", "tcpSocket", "grpc", "sleep"] as const;

function validateHandler(handler: Obj, kinds: readonly string[], gracePeriod: number | undefined, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  let count = 0;
  for (const kind of HANDLERS) {
    if (!kinds.includes(kind) || handler[kind] === undefined || handler[kind] === null) continue;
    if (count > 0) {
      causes.push(fieldErrors.forbidden(`${path}.${kind}`, "may not specify more than 1 handler type"));
      continue;
    }
    count++;
    const action: Obj = handler[kind];
    const at = `${path}.${kind}`;
    if (kind === "exec" && !(Array.isArray(action.command) && action.command.length)) causes.push(fieldErrors.required(`${at}.command`));
    if (kind === "httpGet") {
      if (!action.path) causes.push(fieldErrors.required(`${at}.path`));
      causes.push(...portNumOrName(`${at}.port`, action.port));
      if (!HTTP_SCHEMES.includes(action.scheme)) causes.push(fieldErrors.notSupported(`${at}.scheme`, str(action.scheme), HTTP_SCHEMES));
    }
    if (kind === "tcpSocket") causes.push(...portNumOrName(`${at}.port`, action.port));
    if (kind === "grpc") {
      const n = typeof action.port === "number" ? action.port : 0;
      causes.push(...portNumErrors(n).map((msg) => fieldErrors.invalid(`${at}.port`, n, msg)));
    }
    if (kind === "sleep" && gracePeriod !== undefined) {
      const seconds = typeof action.seconds === "number" ? action.seconds : 0;
      if (seconds <= 0 || seconds > gracePeriod) causes.push(fieldErrors.invalid(at, seconds, `must be greater than 0 and less than terminationGracePeriodSeconds (${gracePeriod})`));
    }
  }
  if (count === 0) causes.push(fieldErrors.required(path, "must specify a handler type"));
  return causes;
}

type ProbeKind = "livenessProbe" | "readinessProbe" | "startupProbe";

function validateProbe(probe: Obj | undefined, kind: ProbeKind, gracePeriod: number | undefined, path: string): StatusCause[] {
  if (probe === undefined || probe === null) return [];
  const causes = validateHandler(probe, ["exec", "httpGet", "tcpSocket", "grpc"], gracePeriod, path);
  for (const field of ["initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"]) {
    causes.push(...nonNegative(`${path}.${field}`, probe[field]));
  }
  const grace = probe.terminationGracePeriodSeconds;
  if (typeof grace === "number" && grace <= 0) causes.push(fieldErrors.invalid(`${path}.terminationGracePeriodSeconds`, grace, "must be greater than 0"));
  if (kind !== "readinessProbe" && (probe.successThreshold ?? 0) !== 1) {
    causes.push(fieldErrors.invalid(`${path}.successThreshold`, probe.successThreshold ?? 0, "must be 1"));
  }
  if (kind === "readinessProbe" && grace !== undefined && grace !== null) {
    causes.push(fieldErrors.invalid(`${path}.terminationGracePeriodSeconds`, grace, "must not be set for readinessProbes"));
  }
  return causes;
}

function validateLifecycle(lifecycle: Obj, gracePeriod: number | undefined, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const hook of ["postStart", "preStop"]) {
    if (lifecycle[hook]) causes.push(...validateHandler(lifecycle[hook], ["exec", "httpGet", "tcpSocket", "sleep"], gracePeriod, `${path}.${hook}`));
  }
  return causes;
}

// ---- resources ----

const STANDARD_CONTAINER_RESOURCES = ["cpu", "memory", "ephemeral-storage"];

function isNativeResource(name: string): boolean {
  return !name.includes("/") || name.includes("kubernetes.io/");
}

function isHugePages(name: string): boolean {
  return name.startsWith("hugepages-");
}

/** Native resources other than huge pages may be requested below their limit. */
function overcommitAllowed(name: string): boolean {
  return isNativeResource(name) && !isHugePages(name);
}

function validateResourceName(name: string, path: string): StatusCause[] {
  const causes = qualifiedName(path, name);
  if (causes.length) return causes;
  if (!name.includes("/")) {
    if (!STANDARD_CONTAINER_RESOURCES.includes(name) && !isHugePages(name)) causes.push(fieldErrors.invalid(path, name, "must be a standard resource for containers"));
  } else if (!isNativeResource(name) && name.startsWith("requests.")) {
    causes.push(fieldErrors.invalid(path, name, "doesn't follow extended resource name standard"));
  }
  return causes;
}

/** A quantity in milli-units, or the cause refusing it. */
function quantity(value: unknown, path: string): bigint | StatusCause {
  try {
    if (typeof value !== "string" && typeof value !== "number") throw new QuantityError("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    return parseQuantity(value);
  } catch (e) {
    if (!(e instanceof QuantityError)) throw e;
    return fieldErrors.invalid(path, typeof value === "string" ? value : JSON.stringify(value), e.message);
  }
}

function validateResources(resources: Obj | undefined, path: string): StatusCause[] {
  if (!resources || typeof resources !== "object") return [];
  const causes: StatusCause[] = [];
  const limits: Obj = resources.limits && typeof resources.limits === "object" ? resources.limits : {};
  const requests: Obj = resources.requests && typeof resources.requests === "object" ? resources.requests : {};
  const parsedLimits = new Map<string, bigint>();
  let cpuOrMemory = false;
  let hugePages = false;
  for (const [name, value] of Object.entries(limits)) {
    const at = `${path}.limits[${name}]`;
    causes.push(...validateResourceName(name, at));
    const q = quantity(value, at);
    if (typeof q !== "bigint") {
      causes.push(q);
      continue;
    }
    parsedLimits.set(name, q);
    if (q < 0n) causes.push(fieldErrors.invalid(at, canonicalQuantity(String(value)), "must be greater than or equal to 0"));
    if (name === "cpu" || name === "memory") cpuOrMemory = true;
    if (isHugePages(name)) hugePages = true;
  }
  for (const [name, value] of Object.entries(requests)) {
    const at = `${path}.requests[${name}]`;
    causes.push(...validateResourceName(name, at));
    const q = quantity(value, at);
    if (typeof q !== "bigint") {
      causes.push(q);
      continue;
    }
    if (q < 0n) causes.push(fieldErrors.invalid(at, canonicalQuantity(String(value)), "must be greater than or equal to 0"));
    const limit = parsedLimits.get(name);
    if (limit !== undefined) {
      const shown = canonicalQuantity(String(value));
      const limitShown = canonicalQuantity(String(limits[name]));
      if (q !== limit && !overcommitAllowed(name)) causes.push(fieldErrors.invalid(`${path}.requests`, shown, `must be equal to ${name} limit of ${limitShown}`));
      else if (q > limit) causes.push(fieldErrors.invalid(`${path}.requests`, shown, `must be less than or equal to ${name} limit of ${limitShown}`));
    } else if (!overcommitAllowed(name)) {
      causes.push(fieldErrors.required(`${path}.limits`, "Limit must be set for non overcommitable resources"));
    }
    if (name === "cpu" || name === "memory") cpuOrMemory = true;
    if (isHugePages(name)) hugePages = true;
  }
  if (hugePages && !cpuOrMemory) causes.push(fieldErrors.forbidden(path, "HugePages require cpu or memory"));
  return causes;
}

// ---- volumes and mounts ----


/** The path kube names a second source at when a volume has several (kube's own spellings). */
const SOURCE_PATH: Record<string, string> = { cephfs: "cephFS", downwardAPI: "downwarAPI" };

const FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive";

function validateVolumeSource(volume: Obj, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  let count = 0;
  for (const source of VOLUME_SOURCES) {
    const value = volume[source];
    if (value === undefined || value === null) continue;
    if (count > 0 && source !== "emptyDir") {
      causes.push(fieldErrors.forbidden(`${path}.${SOURCE_PATH[source] ?? source}`, "may not specify more than 1 volume type"));
      continue;
    }
    count++;
    const at = `${path}.${source}`;
    const required = (field: string) => {
      if (!value[field]) causes.push(fieldErrors.required(`${at}.${field}`));
    };
    if (source === "hostPath") required("path");
    if (source === "secret") required("secretName");
    if (source === "configMap") required("name");
    if (source === "persistentVolumeClaim") required("claimName");
    if (source === "nfs") required("server");
    if (source === "emptyDir" && value.sizeLimit !== undefined) {
      const q = quantity(value.sizeLimit, `${at}.sizeLimit`);
      if (typeof q === "bigint" && q < 0n) causes.push(fieldErrors.forbidden(`${at}.sizeLimit`, "SizeLimit field must be a valid resource quantity"));
    }
    if (["secret", "configMap", "downwardAPI", "projected"].includes(source)) {
      const mode = value.defaultMode;
      if (typeof mode === "number" && (mode < 0 || mode > 0o777)) causes.push(fieldErrors.invalid(`${at}.defaultMode`, mode, FILE_MODE_ERROR));
    }
  }
  if (count === 0) causes.push(fieldErrors.required(path, "must specify a volume type"));
  return causes;
}

/** ValidateVolumes: the names of the volumes that passed, and the causes of those that did not. */
function validateVolumes(volumes: Obj[], path: string): { names: Set<string>; causes: StatusCause[] } {
  const names = new Set<string>();
  const causes: StatusCause[] = [];
  volumes.forEach((volume, i) => {
    const at = `${path}[${i}]`;
    const name = str(volume.name);
    const errors = validateVolumeSource(volume, at);
    if (!name) errors.push(fieldErrors.required(`${at}.name`));
    else errors.push(...validateDnsLabel(`${at}.name`, name));
    if (names.has(name)) errors.push(fieldErrors.duplicate(`${at}.name`, name));
    if (errors.length) causes.push(...errors);
    else names.add(name);
  });
  return { names, causes };
}

function localDescendingPath(value: string, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (value.startsWith("/")) causes.push(fieldErrors.invalid(path, value, "must be a relative path"));
  if (value.split("/").includes("..")) causes.push(fieldErrors.invalid(path, value, "must not contain '..'"));
  return causes;
}

function validateVolumeMounts(mounts: Obj[], volumes: Set<string>, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const mountPoints = new Set<string>();
  mounts.forEach((mount, i) => {
    const at = `${path}[${i}]`;
    const name = str(mount.name);
    const mountPath = str(mount.mountPath);
    if (!name) causes.push(fieldErrors.required(`${at}.name`));
    if (!volumes.has(name)) causes.push(fieldErrors.notFound(`${at}.name`, name));
    if (!mountPath) causes.push(fieldErrors.required(`${at}.mountPath`));
    if (mountPoints.has(mountPath)) causes.push(fieldErrors.invalid(`${at}.mountPath`, mountPath, "must be unique"));
    mountPoints.add(mountPath);
    // kube names these two at the list, not the item.
    if (str(mount.subPath)) causes.push(...localDescendingPath(mount.subPath, `${path}.subPath`));
    if (str(mount.subPathExpr)) {
      if (str(mount.subPath)) causes.push(fieldErrors.invalid(`${at}.subPathExpr`, mount.subPathExpr, "subPathExpr and subPath are mutually exclusive"));
      causes.push(...localDescendingPath(mount.subPathExpr, `${path}.subPathExpr`));
    }
  });
  return causes;
}

// ---- containers ----

const PULL_POLICIES = ["Always", "IfNotPresent", "Never"];
const TERMINATION_MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"];

/** validateContainerCommon: what every kind of container must have. */
function validateContainerCommon(c: Obj, volumes: Set<string>, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const name = str(c.name);
  if (!name) causes.push(fieldErrors.required(`${path}.name`));
  else causes.push(...validateDnsLabel(`${path}.name`, name));
  if (!str(c.image)) causes.push(fieldErrors.required(`${path}.image`));
  if (!c.terminationMessagePolicy) causes.push(fieldErrors.required(`${path}.terminationMessagePolicy`));
  else if (!TERMINATION_MESSAGE_POLICIES.includes(c.terminationMessagePolicy)) causes.push(fieldErrors.notSupported(`${path}.terminationMessagePolicy`, c.terminationMessagePolicy, TERMINATION_MESSAGE_POLICIES));
  causes.push(...validateContainerPorts(objects(c.ports), `${path}.ports`));
  causes.push(...validateEnv(objects(c.env), `${path}.env`));
  causes.push(...validateVolumeMounts(objects(c.volumeMounts), volumes, `${path}.volumeMounts`));
  if (!c.imagePullPolicy) causes.push(fieldErrors.required(`${path}.imagePullPolicy`));
  else if (!PULL_POLICIES.includes(c.imagePullPolicy)) causes.push(fieldErrors.notSupported(`${path}.imagePullPolicy`, c.imagePullPolicy, PULL_POLICIES));
  causes.push(...validateResources(c.resources, `${path}.resources`));
  return causes;
}

function validateContainers(containers: Obj[], volumes: Set<string>, grace: number | undefined, path: string): StatusCause[] {
  if (containers.length === 0) return [fieldErrors.required(path)];
  const causes: StatusCause[] = [];
  const names = new Set<string>();
  containers.forEach((c, i) => {
    const at = `${path}[${i}]`;
    causes.push(...validateContainerCommon(c, volumes, at));
    if (names.has(str(c.name))) causes.push(fieldErrors.duplicate(`${at}.name`, str(c.name)));
    else names.add(str(c.name));
    if (c.lifecycle) causes.push(...validateLifecycle(c.lifecycle, grace, `${at}.lifecycle`));
    for (const kind of ["livenessProbe", "readinessProbe", "startupProbe"] as const) causes.push(...validateProbe(c[kind], kind, grace, `${at}.${kind}`));
    if (c.restartPolicy !== undefined && c.restartPolicy !== null) causes.push(fieldErrors.forbidden(`${at}.restartPolicy`, "may not be set for non-init containers"));
  });
  causes.push(...hostPortConflicts(containers, path));
  return causes;
}

function validateInitContainers(containers: Obj[], regular: Obj[], volumes: Set<string>, grace: number | undefined, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const names = new Set(regular.map((c) => str(c.name)));
  containers.forEach((c, i) => {
    const at = `${path}[${i}]`;
    causes.push(...validateContainerCommon(c, volumes, at));
    let restartAlways = false;
    if (c.restartPolicy !== undefined && c.restartPolicy !== null) {
      if (c.restartPolicy === "Always") restartAlways = true;
      else causes.push(fieldErrors.notSupported(`${at}.restartPolicy`, c.restartPolicy, ["Always"]));
    }
    const name = str(c.name);
    if (names.has(name)) causes.push(fieldErrors.duplicate(`${at}.name`, name));
    else if (name) names.add(name);
    causes.push(...hostPortConflicts([c], path));
    if (restartAlways) {
      if (c.lifecycle) causes.push(...validateLifecycle(c.lifecycle, grace, `${at}.lifecycle`));
      for (const kind of ["livenessProbe", "readinessProbe", "startupProbe"] as const) causes.push(...validateProbe(c[kind], kind, grace, `${at}.${kind}`));
    } else {
      for (const field of ["lifecycle", "livenessProbe", "readinessProbe", "startupProbe"]) {
        if (c[field] !== undefined && c[field] !== null) causes.push(fieldErrors.forbidden(`${at}.${field}`, "may not be set for init containers without restartPolicy=Always"));
      }
    }
  });
  return causes;
}

const EPHEMERAL_FORBIDDEN = ["ports", "resources", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle"];

function validateEphemeralContainers(containers: Obj[], spec: Obj, volumes: Set<string>, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const others = new Set([...objects(spec.containers), ...objects(spec.initContainers)].map((c) => str(c.name)));
  const all = new Set(others);
  containers.forEach((c, i) => {
    const at = `${path}[${i}]`;
    causes.push(...validateContainerCommon(c, volumes, at));
    const name = str(c.name);
    if (all.has(name)) causes.push(fieldErrors.duplicate(`${at}.name`, name));
    else all.add(name);
    if (c.targetContainerName && !others.has(c.targetContainerName)) causes.push(fieldErrors.notFound(`${at}.targetContainerName`, c.targetContainerName));
    for (const field of EPHEMERAL_FORBIDDEN) {
      const value = c[field];
      const empty = value === undefined || value === null || (typeof value === "object" && Object.keys(value).length === 0);
      if (!empty) causes.push(fieldErrors.forbidden(`${at}.${field}`, "cannot be set for an Ephemeral Container"));
    }
  });
  return causes;
}

// ---- the pod spec ----

const RESTART_POLICIES = ["Always", "OnFailure", "Never"];
const DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const PREEMPTION_POLICIES = ["PreemptLowerPriority", "Never"];
const TOLERATION_OPERATORS = ["Equal", "Exists"];
const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

function validateTolerations(tolerations: Obj[], path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  tolerations.forEach((t, i) => {
    const at = `${path}[${i}]`;
    const key = str(t.key);
    if (key) causes.push(...qualifiedName(`${at}.key`, key));
    if (!key && t.operator !== "Exists") causes.push(fieldErrors.invalid(`${at}.operator`, str(t.operator), 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null && t.effect !== "NoExecute") {
      causes.push(fieldErrors.invalid(`${at}.effect`, str(t.effect), "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    }
    const operator = str(t.operator);
    if (operator === "Equal" || operator === "") {
      const errors = labelValueErrors(str(t.value));
      if (errors.length) causes.push(fieldErrors.invalid(`${at}.operator`, str(t.value), errors.join(";")));
    } else if (operator === "Exists") {
      if (str(t.value)) causes.push(fieldErrors.invalid(`${at}.operator`, t.value, "value must be empty when `operator` is 'Exists'"));
    } else {
      causes.push(fieldErrors.notSupported(`${at}.operator`, operator, TOLERATION_OPERATORS));
    }
    if (str(t.effect) && !TAINT_EFFECTS.includes(t.effect)) causes.push(fieldErrors.notSupported(`${at}.effect`, t.effect, TAINT_EFFECTS));
  });
  return causes;
}

function enumValue(value: unknown, allowed: string[], path: string): StatusCause[] {
  if (!value) return [fieldErrors.required(path)];
  if (!allowed.includes(value as string)) return [fieldErrors.notSupported(path, typeof value === "string" ? value : JSON.stringify(value), allowed)];
  return [];
}

/** ValidatePodSpec, in kube's order. */
function validatePodSpec(spec: Obj | undefined, path: string, options: PodSpecOptions = {}): StatusCause[] {
  if (!spec || typeof spec !== "object" || Array.isArray(spec)) return [fieldErrors.required(`${path}.containers`)];
  const causes: StatusCause[] = [];
  const grace = typeof spec.terminationGracePeriodSeconds === "number" ? spec.terminationGracePeriodSeconds : undefined;
  if (spec.terminationGracePeriodSeconds === undefined || spec.terminationGracePeriodSeconds === null) causes.push(fieldErrors.required(`${path}.terminationGracePeriodSeconds`));
  const { names: volumes, causes: volumeCauses } = validateVolumes(objects(spec.volumes), `${path}.volumes`);
  causes.push(...volumeCauses);
  for (const name of options.extraVolumes ?? []) volumes.add(name);
  const containers = objects(spec.containers);
  causes.push(...validateContainers(containers, volumes, grace, `${path}.containers`));
  causes.push(...validateInitContainers(objects(spec.initContainers), containers, volumes, grace, `${path}.initContainers`));
  causes.push(...validateEphemeralContainers(objects(spec.ephemeralContainers), spec, volumes, `${path}.ephemeralContainers`));
  if (spec.hostNetwork) {
    containers.forEach((c, ci) => objects(c.ports).forEach((port, pi) => {
      const host = port.hostPort ?? 0;
      if ((options.isPod || host !== 0) && host !== port.containerPort) {
        causes.push(fieldErrors.invalid(`${path}.containers[${ci}].ports[${pi}].hostPort`, host, "must match `containerPort` when `hostNetwork` is true"));
      }
    }));
  }
  causes.push(...enumValue(spec.restartPolicy, RESTART_POLICIES, `${path}.restartPolicy`));
  causes.push(...enumValue(spec.dnsPolicy, DNS_POLICIES, `${path}.dnsPolicy`));
  causes.push(...fromSelectorErrors(validateLabels(spec.nodeSelector, `${path}.nodeSelector`)));
  if (spec.dnsPolicy === "None") {
    if (!spec.dnsConfig) causes.push(fieldErrors.required(`${path}.dnsConfig`, "must provide `dnsConfig` when `dnsPolicy` is None"));
    else if (!(Array.isArray(spec.dnsConfig.nameservers) && spec.dnsConfig.nameservers.length)) {
      causes.push(fieldErrors.required(`${path}.dnsConfig.nameservers`, "must provide at least one DNS nameserver when `dnsPolicy` is None"));
    }
  }
  const gates = new Set<string>();
  objects(spec.schedulingGates).forEach((gate, i) => {
    const name = str(gate.name);
    causes.push(...qualifiedName(`${path}.schedulingGates[${i}]`, name));
    if (gates.has(name)) causes.push(fieldErrors.duplicate(`${path}.schedulingGates[${i}]`, name));
    gates.add(name);
  });
  if (str(spec.serviceAccountName)) causes.push(...validateDnsSubdomain(`${path}.serviceAccountName`, spec.serviceAccountName));
  if (str(spec.nodeName)) causes.push(...validateDnsSubdomain(`${path}.nodeName`, spec.nodeName));
  if (typeof spec.activeDeadlineSeconds === "number" && (spec.activeDeadlineSeconds < 1 || spec.activeDeadlineSeconds > MAX_INT32)) {
    causes.push(fieldErrors.invalid(`${path}.activeDeadlineSeconds`, spec.activeDeadlineSeconds, `must be between 1 and ${MAX_INT32}, inclusive`));
  }
  if (str(spec.hostname)) causes.push(...validateDnsLabel(`${path}.hostname`, spec.hostname));
  if (str(spec.subdomain)) causes.push(...validateDnsLabel(`${path}.subdomain`, spec.subdomain));
  causes.push(...validateTolerations(objects(spec.tolerations), `${path}.tolerations`));
  if (str(spec.priorityClassName)) causes.push(...validateDnsSubdomain(`${path}.priorityClassName`, spec.priorityClassName));
  if (spec.preemptionPolicy !== undefined && spec.preemptionPolicy !== null) causes.push(...enumValue(spec.preemptionPolicy, PREEMPTION_POLICIES, `${path}.preemptionPolicy`));
  return causes;
}

/** ValidatePodTemplateSpec: a template's labels, annotations and spec; no ephemeral containers. */
export function validatePodTemplateSpec(template: Obj | undefined, path: string, options: PodSpecOptions = {}): StatusCause[] {
  const t: Obj = template && typeof template === "object" ? template : {};
  const causes: StatusCause[] = [
    ...fromSelectorErrors(validateLabels(t.metadata?.labels, `${path}.labels`)),
    ...fromSelectorErrors(validateAnnotations(t.metadata?.annotations, `${path}.annotations`)),
    ...validatePodSpec(t.spec, `${path}.spec`, options),
  ];
  if (objects(t.spec?.ephemeralContainers).length) causes.push(fieldErrors.forbidden(`${path}.spec.ephemeralContainers`, "ephemeral containers not allowed in pod template"));
  return causes;
}

// ---- pods ----

/** Checks only a pod's own spec gets (not a template's): kube kept them apart for compatibility. */
function validatePodOnly(spec: Obj): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!str(spec.serviceAccountName)) {
    objects(spec.volumes).forEach((volume, vi) => objects(volume.projected?.sources).forEach((source, si) => {
      if (source.serviceAccountToken) causes.push(fieldErrors.forbidden(`spec.volumes[${vi}].projected.sources[${si}].serviceAccountToken`, "must not be specified when serviceAccountName is not set"));
    }));
  }
  for (const list of ["containers", "initContainers"]) {
    objects(spec[list]).forEach((c, i) => {
      const image = str(c.image);
      if (image.length !== image.trim().length) causes.push(fieldErrors.invalid(`spec.${list}[${i}].image`, image, "must not have leading or trailing whitespace"));
    });
  }
  return causes;
}

/** A pod on create, or (with `old`) on update. */
export function validatePod(pod: Obj, old?: Obj): StatusCause[] {
  const spec: Obj = pod.spec && typeof pod.spec === "object" ? pod.spec : {};
  const causes = [...validatePodSpec(pod.spec, "spec", { isPod: true }), ...validatePodOnly(spec)];
  if (!old) {
    if (objects(spec.ephemeralContainers).length) causes.push(fieldErrors.forbidden("spec.ephemeralContainers", "cannot be set on create"));
    if (str(spec.nodeName) && objects(spec.schedulingGates).length) causes.push(fieldErrors.forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"));
    return causes;
  }
  return [...causes, ...validatePodSpecUpdate(spec, old.spec && typeof old.spec === "object" ? old.spec : {})];
}

/**
 * ValidatePodStatusUpdate's share here: a /status write keeps the stored spec (valid when it was
 * written), so only the status is looked at: the nominated node must be a node's name.
 */
export function validatePodStatus(pod: Obj): StatusCause[] {
  const nominated = pod.status?.nominatedNodeName;
  if (nominated === undefined || nominated === null || nominated === "") return [];
  if (typeof nominated !== "string") return [fieldErrors.invalid("status.nominatedNodeName", nominated, "must be a string")];
  return validateDnsSubdomain("status.nominatedNodeName", nominated);
}

const UPDATABLE_POD_SPEC_FIELDS = [
  "`spec.containers[*].image`",
  "`spec.initContainers[*].image`",
  "`spec.activeDeadlineSeconds`",
  "`spec.tolerations` (only additions to existing tolerations)",
  "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
];

function containerUpdates(next: Obj[], old: Obj[], path: string): { causes: StatusCause[]; stop: boolean } {
  if (next.length !== old.length) return { causes: [fieldErrors.forbidden(path, "pod updates may not add or remove containers")], stop: true };
  const causes: StatusCause[] = [];
  next.forEach((c, i) => {
    const image = str(c.image);
    if (!image) causes.push(fieldErrors.required(`${path}[${i}].image`));
    if (image.trim().length !== image.length) causes.push(fieldErrors.invalid(`${path}[${i}].image`, image, "must not have leading or trailing whitespace"));
  });
  return { causes, stop: false };
}

/** ValidatePodUpdate's spec rules: only what kube lets an update change may differ from the stored spec. */
function validatePodSpecUpdate(spec: Obj, oldSpec: Obj): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const list of ["containers", "initContainers"]) {
    const result = containerUpdates(objects(spec[list]), objects(oldSpec[list]), `spec.${list}`);
    causes.push(...result.causes);
    if (result.stop) return causes;
  }
  const deadline = spec.activeDeadlineSeconds;
  const oldDeadline = oldSpec.activeDeadlineSeconds;
  if (typeof deadline === "number") {
    if (deadline < 0 || deadline > MAX_INT32) return [...causes, fieldErrors.invalid("spec.activeDeadlineSeconds", deadline, `must be between 0 and ${MAX_INT32}, inclusive`)];
    if (typeof oldDeadline === "number" && oldDeadline < deadline) return [...causes, fieldErrors.invalid("spec.activeDeadlineSeconds", deadline, "must be less than or equal to previous value")];
  } else if (typeof oldDeadline === "number") {
    causes.push(fieldErrors.invalid("spec.activeDeadlineSeconds", null, "must not update from a positive integer to nil value"));
  }
  const tolerations = objects(spec.tolerations);
  for (const before of objects(oldSpec.tolerations)) {
    const kept = tolerations.some((t) => semanticallyEqual({ ...before, tolerationSeconds: t.tolerationSeconds }, t));
    if (!kept) {
      causes.push(fieldErrors.forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"));
      break;
    }
  }
  const oldGates = new Set(objects(oldSpec.schedulingGates).map((g) => str(g.name)));
  objects(spec.schedulingGates).forEach((gate, i) => {
    if (!oldGates.has(str(gate.name))) causes.push(fieldErrors.forbidden(`spec.schedulingGates[${i}].name`, `only deletion is allowed, but found new scheduling gate '${str(gate.name)}'`));
  });

  // What an update may change is set back to the stored value; anything else that differs is refused.
  const munged: Obj = structuredClone(spec);
  for (const list of ["containers", "initContainers"]) {
    const before = objects(oldSpec[list]);
    if (Array.isArray(munged[list])) munged[list] = objects(munged[list]).map((c, i) => ({ ...c, image: before[i]?.image }));
  }
  munged.activeDeadlineSeconds = oldSpec.activeDeadlineSeconds;
  munged.schedulingGates = oldSpec.schedulingGates;
  munged.tolerations = oldSpec.tolerations;
  if (typeof oldSpec.terminationGracePeriodSeconds === "number" && oldSpec.terminationGracePeriodSeconds < 0 && munged.terminationGracePeriodSeconds === 1) {
    munged.terminationGracePeriodSeconds = oldSpec.terminationGracePeriodSeconds;
  }
  // The binding subresource is how a pod gets its node (once its scheduling gates are gone): that one change comes through here.
  if (!str(oldSpec.nodeName) && str(munged.nodeName) && !objects(oldSpec.schedulingGates).length) munged.nodeName = oldSpec.nodeName;
  if (!semanticallyEqual(munged, oldSpec)) {
    causes.push(fieldErrors.forbidden("spec", `pod updates may not change fields other than ${UPDATABLE_POD_SPEC_FIELDS.join(",")}\n${specDiff(oldSpec, munged)}`));
  }
  return causes;
}

// ---- comparing specs as kube does ----

/** Resource quantities compare by amount, and empty lists, maps and strings equal absent ones. */
function normalize(value: unknown, key = ""): unknown {
  if (Array.isArray(value)) return value.length ? value.map((v) => normalize(v)) : undefined;
  if (value !== null && typeof value === "object") {
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) {
      const n = (k === "limits" || k === "requests" || k === "overhead") && v && typeof v === "object" && !Array.isArray(v) ? quantities(v as Obj) : normalize(v, k);
      if (n !== undefined) out[k] = n;
    }
    return Object.keys(out).length || key === "" ? out : undefined;
  }
  if (value === null || value === "") return undefined;
  return value;
}

function quantities(map: Obj): Obj | undefined {
  const out: Obj = {};
  for (const [k, v] of Object.entries(map)) {
    try {
      out[k] = typeof v === "string" || typeof v === "number" ? String(parseQuantity(v)) : v;
    } catch {
      out[k] = v;
    }
  }
  return Object.keys(out).length ? out : undefined;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object" || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as Obj);
  const kb = Object.keys(b as Obj);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Obj)[k], (b as Obj)[k]));
}

function semanticallyEqual(a: unknown, b: unknown): boolean {
  return deepEqual(normalize(a), normalize(b));
}

/** The changed fields, one "-"/"+" pair per leaf, framed as kube frames its spec diff. */
function specDiff(before: Obj, after: Obj): string {
  const lines: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if (deepEqual(a, b)) return;
    const bothObjects = a !== null && b !== null && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b);
    if (bothObjects) {
      const keys = Array.isArray(a) ? [...Array(Math.max(a.length, (b as unknown[]).length)).keys()].map(String) : [...new Set([...Object.keys(a as Obj), ...Object.keys(b as Obj)])].sort();
      for (const k of keys) walk((a as Obj)[k], (b as Obj)[k], Array.isArray(a) ? `${path}[${k}]` : path ? `${path}.${k}` : k);
      return;
    }
    if (a !== undefined) lines.push(`- \t${path}: ${JSON.stringify(a)},`);
    if (b !== undefined) lines.push(`+ \t${path}: ${JSON.stringify(b)},`);
  };
  walk(normalize(before), normalize(after), "");
  return `  core.PodSpec{\n${lines.join("\n")}\n  }\n`;
}

/** A PodTemplate object: its template must be a valid pod template. */
export function validatePodTemplate(podTemplate: Obj): StatusCause[] {
  return validatePodTemplateSpec(podTemplate.template, "template");
}
