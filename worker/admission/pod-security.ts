// The Pod Security Standards as kube's pod-security-admission policy package evaluates them in 1.30:
// the privileged, baseline and restricted checks of a pod's metadata and spec, the namespace labels
// that choose a policy, and kube's wording for a refusal or a warning. Pure: no store, no requests.
import type { Container, PodSpec, PodTemplateSpec } from "kubernetes-types/core/v1";
import type { ObjectMeta } from "kubernetes-types/meta/v1";
import type { StatusCause } from "../../lib/k8s/status.ts";

export type Level = "privileged" | "baseline" | "restricted";

/** One failed check: `reason (detail)` in kube's messages. */
export interface Violation {
  id: string;
  reason: string;
  detail: string;
}

/** A level at a policy version: "latest" or "v1.x", as the namespace label spells it. */
export interface LevelVersion {
  level: Level;
  version: string;
}

export interface NamespacePolicy {
  enforce: LevelVersion;
  audit: LevelVersion;
  warn: LevelVersion;
  /** Labels that do not parse, as Invalid causes; the policy then holds kube's fallbacks. */
  errors: StatusCause[];
}

type Finding = { reason: string; detail: string } | undefined;
type CheckPod = (meta: ObjectMeta, spec: PodSpec) => Finding;

interface Check {
  id: string;
  level: "baseline" | "restricted";
  /** Revisions, oldest first: each applies from policy version v1.<since>. */
  revisions: { since: number; check: CheckPod; overrides?: string[] }[];
}

// ---- How kube words things (policy/helpers.go) ----

const plural = (count: number, one: string, many: string): string => (count === 1 ? one : many);
const joinQuote = (items: string[]): string => (items.length ? `"${items.join('", "')}"` : "");
const containersNamed = (names: string[]): string => `${plural(names.length, "container", "containers")} ${joinQuote(names)}`;
/** Go's sets.String List(): distinct, in byte order. */
const sortedSet = (items: Iterable<string>): string[] => [...new Set(items)].sort();

const GO_ESCAPES: Record<string, string> = { "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v", '"': '\\"', "\\": "\\\\" };

/** Go's %q, which kube uses for annotation values and names in these messages. */
function goQuote(s: string): string {
  let out = "";
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (GO_ESCAPES[ch]) out += GO_ESCAPES[ch];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else if (code >= 0x80 && code <= 0x9f) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `"${out}"`;
}

/** Init containers, then containers, then ephemeral containers: the order kube names them in. */
function allContainers(spec: PodSpec): Container[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...((spec.ephemeralContainers ?? []) as Container[])];
}

const nameOf = (c: Container): string => c.name ?? "";
const isWindowsPod = (spec: PodSpec): boolean => spec.os?.name === "windows";

/** "pod", "pod and containers "a", "b"", "container "a"": who set a forbidden value. */
function setters(pod: boolean, containers: string[]): string {
  const parts = pod ? ["pod"] : [];
  if (containers.length) parts.push(containersNamed(containers));
  return parts.join(" and ");
}

// ---- Baseline ----

const APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/";

const appArmorProfile: CheckPod = (meta, spec) => {
  const allowedType = (type: string | undefined) => type === "RuntimeDefault" || type === "Localhost";
  const badValues: string[] = [];
  const podProfile = spec.securityContext?.appArmorProfile;
  const podBad = podProfile != null && !allowedType(podProfile.type);
  if (podBad) badValues.push(podProfile.type ?? "");
  const badContainers: string[] = [];
  for (const c of allContainers(spec)) {
    const profile = c.securityContext?.appArmorProfile;
    if (profile != null && !allowedType(profile.type)) {
      badContainers.push(nameOf(c));
      badValues.push(profile.type ?? "");
    }
  }
  const values = sortedSet(badValues);
  const parts = podBad || badContainers.length ? [setters(podBad, badContainers)] : [];
  // The beta annotations still count: empty, runtime/default and localhost/* are the allowed values.
  const annotations = Object.entries(meta.annotations ?? {})
    .filter(([key, value]) => key.startsWith(APPARMOR_ANNOTATION_PREFIX) && !(value === "" || value === "runtime/default" || String(value).startsWith("localhost/")))
    .map(([key, value]) => `${key}=${goQuote(String(value))}`)
    .sort();
  if (annotations.length) {
    values.push(...annotations);
    parts.push(plural(annotations.length, "annotation", "annotations"));
  }
  if (!parts.length) return undefined;
  return {
    reason: plural(values.length, "forbidden AppArmor profile", "forbidden AppArmor profiles"),
    detail: `${parts.join(" and ")} must not set AppArmor profile type to ${joinQuote(values)}`,
  };
};

/** The container runtime's default capability set: adding any of these is not an escalation. */
const BASELINE_CAPABILITIES = new Set([
  "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
]);

const capabilitiesBaseline: CheckPod = (_meta, spec) => {
  const badContainers: string[] = [];
  const added: string[] = [];
  for (const c of allContainers(spec)) {
    const extra = (c.securityContext?.capabilities?.add ?? []).map(String).filter((cap) => !BASELINE_CAPABILITIES.has(cap));
    if (extra.length) {
      badContainers.push(nameOf(c));
      added.push(...extra);
    }
  }
  if (!badContainers.length) return undefined;
  return {
    reason: "non-default capabilities",
    detail: `${containersNamed(badContainers)} must not include ${joinQuote(sortedSet(added))} in securityContext.capabilities.add`,
  };
};

const hostNamespaces: CheckPod = (_meta, spec) => {
  const shared = sortedSet([
    ...(spec.hostNetwork === true ? ["hostNetwork"] : []),
    ...(spec.hostPID === true ? ["hostPID"] : []),
    ...(spec.hostIPC === true ? ["hostIPC"] : []),
  ]);
  return shared.length ? { reason: "host namespaces", detail: shared.join(", ") } : undefined;
};

const hostPathVolumes: CheckPod = (_meta, spec) => {
  const names = (spec.volumes ?? []).filter((v) => v.hostPath != null).map((v) => v.name ?? "");
  return names.length ? { reason: "hostPath volumes", detail: `${plural(names.length, "volume", "volumes")} ${joinQuote(names)}` } : undefined;
};

const hostPorts: CheckPod = (_meta, spec) => {
  const badContainers: string[] = [];
  const ports: string[] = [];
  for (const c of allContainers(spec)) {
    const used = (c.ports ?? []).map((p) => p.hostPort).filter((port): port is number => port != null && port !== 0);
    if (used.length) {
      badContainers.push(nameOf(c));
      ports.push(...used.map(String));
    }
  }
  if (!badContainers.length) return undefined;
  const distinct = sortedSet(ports);
  return {
    reason: "hostPort",
    detail: `${containersNamed(badContainers)} ${plural(badContainers.length, "uses", "use")} ${plural(distinct.length, "hostPort", "hostPorts")} ${distinct.join(", ")}`,
  };
};

const privileged: CheckPod = (_meta, spec) => {
  const bad = allContainers(spec).filter((c) => c.securityContext?.privileged === true).map(nameOf);
  return bad.length ? { reason: "privileged", detail: `${containersNamed(bad)} must not set securityContext.privileged=true` } : undefined;
};

const procMount: CheckPod = (_meta, spec) => {
  const badContainers: string[] = [];
  const types: string[] = [];
  for (const c of allContainers(spec)) {
    const mount = c.securityContext?.procMount;
    if (mount != null && mount !== "Default") {
      badContainers.push(nameOf(c));
      types.push(mount);
    }
  }
  if (!badContainers.length) return undefined;
  return { reason: "procMount", detail: `${containersNamed(badContainers)} must not set securityContext.procMount to ${joinQuote(sortedSet(types))}` };
};

/** Types the container runtimes label containers with; 1.31 adds container_engine_t. */
const SELINUX_TYPES = new Set(["", "container_t", "container_init_t", "container_kvm_t"]);

const seLinuxOptions: CheckPod = (_meta, spec) => {
  const badTypes: string[] = [];
  let setUser = false;
  let setRole = false;
  const valid = (opts: { type?: string; user?: string; role?: string }): boolean => {
    let ok = true;
    if (!SELINUX_TYPES.has(opts.type ?? "")) {
      ok = false;
      badTypes.push(opts.type ?? "");
    }
    if (opts.user) {
      ok = false;
      setUser = true;
    }
    if (opts.role) {
      ok = false;
      setRole = true;
    }
    return ok;
  };
  const podOptions = spec.securityContext?.seLinuxOptions;
  const podBad = podOptions != null && !valid(podOptions);
  const badContainers = allContainers(spec).filter((c) => c.securityContext?.seLinuxOptions != null && !valid(c.securityContext.seLinuxOptions)).map(nameOf);
  if (!podBad && !badContainers.length) return undefined;
  const types = sortedSet(badTypes);
  const data = [
    ...(types.length ? [`${plural(types.length, "type", "types")} ${joinQuote(types)}`] : []),
    ...(setUser ? ["user may not be set"] : []),
    ...(setRole ? ["role may not be set"] : []),
  ];
  return { reason: "seLinuxOptions", detail: `${setters(podBad, badContainers)} set forbidden securityContext.seLinuxOptions: ${data.join("; ")}` };
};

const SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/";
const validSeccompType = (type: string | undefined): boolean => type === "RuntimeDefault" || type === "Localhost";

/** Before 1.19 seccomp was set by annotations. */
const seccompAnnotationsBaseline: CheckPod = (meta, spec) => {
  const annotations = meta.annotations ?? {};
  const validValue = (v: string) => v === "runtime/default" || v === "docker/default" || v.startsWith("localhost/");
  const keys = [SECCOMP_POD_ANNOTATION, ...allContainers(spec).map((c) => SECCOMP_CONTAINER_ANNOTATION_PREFIX + nameOf(c))];
  const forbidden = sortedSet(keys.filter((k) => k in annotations && !validValue(String(annotations[k]))).map((k) => `${k}=${goQuote(String(annotations[k]))}`));
  return forbidden.length ? { reason: "seccompProfile", detail: `forbidden ${plural(forbidden.length, "annotation", "annotations")} ${forbidden.join(", ")}` } : undefined;
};

/** Explicitly bad seccompProfile types at pod or container level; an unset profile is fine for baseline. */
function explicitSeccompFinding(spec: PodSpec): Finding {
  const badValues: string[] = [];
  const podProfile = spec.securityContext?.seccompProfile;
  const podBad = podProfile != null && !validSeccompType(podProfile.type);
  if (podBad) badValues.push(podProfile.type ?? "");
  const badContainers: string[] = [];
  for (const c of allContainers(spec)) {
    const profile = c.securityContext?.seccompProfile;
    if (profile != null && !validSeccompType(profile.type)) {
      badContainers.push(nameOf(c));
      badValues.push(profile.type ?? "");
    }
  }
  if (!podBad && !badContainers.length) return undefined;
  return { reason: "seccompProfile", detail: `${setters(podBad, badContainers)} must not set securityContext.seccompProfile.type to ${joinQuote(sortedSet(badValues))}` };
}

const seccompProfileBaseline: CheckPod = (_meta, spec) => explicitSeccompFinding(spec);

/** Sysctls namespaced to the pod and isolated from the node, by the version that allowed them. */
const SAFE_SYSCTLS_1_0 = ["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"];
const SAFE_SYSCTLS_1_27 = [...SAFE_SYSCTLS_1_0, "net.ipv4.ip_local_reserved_ports"];
const SAFE_SYSCTLS_1_29 = [...SAFE_SYSCTLS_1_27, "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"];

function sysctls(allowed: string[]): CheckPod {
  const safe = new Set(allowed);
  return (_meta, spec) => {
    const forbidden = (spec.securityContext?.sysctls ?? []).map((s) => s.name ?? "").filter((name) => !safe.has(name));
    return forbidden.length ? { reason: "forbidden sysctls", detail: forbidden.join(", ") } : undefined;
  };
}

const windowsHostProcess: CheckPod = (_meta, spec) => {
  const podBad = spec.securityContext?.windowsOptions?.hostProcess === true;
  const badContainers = allContainers(spec).filter((c) => c.securityContext?.windowsOptions?.hostProcess === true).map(nameOf);
  if (!podBad && !badContainers.length) return undefined;
  return { reason: "hostProcess", detail: `${setters(podBad, badContainers)} must not set securityContext.windowsOptions.hostProcess=true` };
};

// ---- Restricted ----

/** From 1.25 a pod with spec.os.name=windows is exempt: these fields are Linux-only and refused by validation. */
const exceptWindows = (check: CheckPod): CheckPod => (meta, spec) => (isWindowsPod(spec) ? undefined : check(meta, spec));

const allowPrivilegeEscalation: CheckPod = (_meta, spec) => {
  const bad = allContainers(spec).filter((c) => c.securityContext?.allowPrivilegeEscalation !== false).map(nameOf);
  return bad.length
    ? { reason: "allowPrivilegeEscalation != false", detail: `${containersNamed(bad)} must set securityContext.allowPrivilegeEscalation=false` }
    : undefined;
};

const capabilitiesRestricted: CheckPod = (_meta, spec) => {
  const missingDropAll: string[] = [];
  const addingForbidden: string[] = [];
  const forbidden: string[] = [];
  for (const c of allContainers(spec)) {
    const capabilities = c.securityContext?.capabilities;
    if (capabilities == null) {
      missingDropAll.push(nameOf(c));
      continue;
    }
    if (!(capabilities.drop ?? []).includes("ALL")) missingDropAll.push(nameOf(c));
    const extra = (capabilities.add ?? []).map(String).filter((cap) => cap !== "NET_BIND_SERVICE");
    if (extra.length) {
      addingForbidden.push(nameOf(c));
      forbidden.push(...extra);
    }
  }
  const details = [
    ...(missingDropAll.length ? [`${containersNamed(missingDropAll)} must set securityContext.capabilities.drop=["ALL"]`] : []),
    ...(addingForbidden.length ? [`${containersNamed(addingForbidden)} must not include ${joinQuote(sortedSet(forbidden))} in securityContext.capabilities.add`] : []),
  ];
  return details.length ? { reason: "unrestricted capabilities", detail: details.join("; ") } : undefined;
};

/** Volume sources the restricted level allows: ones a PersistentVolume or the pod itself provides. */
const ALLOWED_VOLUME_SOURCES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];
/** The other in-tree sources, in the order kube names the first one a volume sets; anything else is "unknown". */
const RESTRICTED_VOLUME_SOURCES = [
  "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc",
  "azureFile", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos",
];

const restrictedVolumes: CheckPod = (_meta, spec) => {
  const badVolumes: string[] = [];
  const types: string[] = [];
  for (const volume of spec.volumes ?? []) {
    const source = volume as unknown as Record<string, unknown>;
    if (ALLOWED_VOLUME_SOURCES.some((key) => source[key] != null)) continue;
    badVolumes.push(volume.name ?? "");
    types.push(RESTRICTED_VOLUME_SOURCES.find((key) => source[key] != null) ?? "unknown");
  }
  if (!badVolumes.length) return undefined;
  const distinct = sortedSet(types);
  return {
    reason: "restricted volume types",
    detail: `${plural(badVolumes.length, "volume", "volumes")} ${joinQuote(badVolumes)} ${plural(badVolumes.length, "uses", "use")} ` +
      `${plural(distinct.length, "restricted volume type", "restricted volume types")} ${joinQuote(distinct)}`,
  };
};

const runAsNonRoot: CheckPod = (_meta, spec) => {
  const podValue = spec.securityContext?.runAsNonRoot;
  const podBad = podValue === false;
  const explicitlyBad: string[] = [];
  // Containers that leave it unset and have no pod-level runAsNonRoot=true to inherit.
  const implicitlyBad: string[] = [];
  for (const c of allContainers(spec)) {
    const value = c.securityContext?.runAsNonRoot;
    if (value != null) {
      if (value === false) explicitlyBad.push(nameOf(c));
    } else if (podValue !== true) {
      implicitlyBad.push(nameOf(c));
    }
  }
  if (podBad || explicitlyBad.length) {
    return { reason: "runAsNonRoot != true", detail: `${setters(podBad, explicitlyBad)} must not set securityContext.runAsNonRoot=false` };
  }
  if (implicitlyBad.length) {
    return { reason: "runAsNonRoot != true", detail: `pod or ${containersNamed(implicitlyBad)} must set securityContext.runAsNonRoot=true` };
  }
  return undefined;
};

const runAsUser: CheckPod = (_meta, spec) => {
  const podBad = spec.securityContext?.runAsUser === 0;
  const badContainers = allContainers(spec).filter((c) => c.securityContext?.runAsUser === 0).map(nameOf);
  if (!podBad && !badContainers.length) return undefined;
  return { reason: "runAsUser=0", detail: `${setters(podBad, badContainers)} must not set runAsUser=0` };
};

const seccompProfileRestricted: CheckPod = (_meta, spec) => {
  const explicit = explicitSeccompFinding(spec);
  if (explicit) return explicit;
  const podProfile = spec.securityContext?.seccompProfile;
  const podSet = podProfile != null && validSeccompType(podProfile.type);
  const implicitlyBad = podSet ? [] : allContainers(spec).filter((c) => c.securityContext?.seccompProfile == null).map(nameOf);
  return implicitlyBad.length
    ? { reason: "seccompProfile", detail: `pod or ${containersNamed(implicitlyBad)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"` }
    : undefined;
};

/**
 * kube's checks by id. Baseline ones run at baseline and restricted; a restricted revision may
 * override (replace) a baseline check that covers the same fields.
 */
const CHECKS: Check[] = [
  { id: "appArmorProfile", level: "baseline", revisions: [{ since: 0, check: appArmorProfile }] },
  { id: "capabilities_baseline", level: "baseline", revisions: [{ since: 0, check: capabilitiesBaseline }] },
  { id: "hostNamespaces", level: "baseline", revisions: [{ since: 0, check: hostNamespaces }] },
  { id: "hostPathVolumes", level: "baseline", revisions: [{ since: 0, check: hostPathVolumes }] },
  { id: "hostPorts", level: "baseline", revisions: [{ since: 0, check: hostPorts }] },
  { id: "privileged", level: "baseline", revisions: [{ since: 0, check: privileged }] },
  { id: "procMount", level: "baseline", revisions: [{ since: 0, check: procMount }] },
  { id: "seLinuxOptions", level: "baseline", revisions: [{ since: 0, check: seLinuxOptions }] },
  {
    id: "seccompProfile_baseline", level: "baseline",
    revisions: [{ since: 0, check: seccompAnnotationsBaseline }, { since: 19, check: seccompProfileBaseline }],
  },
  {
    id: "sysctls", level: "baseline",
    revisions: [{ since: 0, check: sysctls(SAFE_SYSCTLS_1_0) }, { since: 27, check: sysctls(SAFE_SYSCTLS_1_27) }, { since: 29, check: sysctls(SAFE_SYSCTLS_1_29) }],
  },
  { id: "windowsHostProcess", level: "baseline", revisions: [{ since: 0, check: windowsHostProcess }] },
  {
    id: "allowPrivilegeEscalation", level: "restricted",
    revisions: [{ since: 8, check: allowPrivilegeEscalation }, { since: 25, check: exceptWindows(allowPrivilegeEscalation) }],
  },
  {
    id: "capabilities_restricted", level: "restricted",
    revisions: [
      { since: 22, check: capabilitiesRestricted, overrides: ["capabilities_baseline"] },
      { since: 25, check: exceptWindows(capabilitiesRestricted), overrides: ["capabilities_baseline"] },
    ],
  },
  { id: "restrictedVolumes", level: "restricted", revisions: [{ since: 0, check: restrictedVolumes, overrides: ["hostPathVolumes"] }] },
  { id: "runAsNonRoot", level: "restricted", revisions: [{ since: 0, check: runAsNonRoot }] },
  { id: "runAsUser", level: "restricted", revisions: [{ since: 23, check: runAsUser }] },
  {
    id: "seccompProfile_restricted", level: "restricted",
    revisions: [
      { since: 19, check: seccompProfileRestricted, overrides: ["seccompProfile_baseline"] },
      { since: 25, check: exceptWindows(seccompProfileRestricted), overrides: ["seccompProfile_baseline"] },
    ],
  },
];

const VERSION = /^v1\.([0-9]|[1-9][0-9]*)$/;

/** The minor version a policy version evaluates at; "latest" and anything unparseable are the newest. */
function policyMinor(version: string): number {
  const match = VERSION.exec(version);
  return match ? Number(match[1]) : Infinity;
}

/**
 * The Pod Security Standards violations of a pod (or pod template) at a level and policy version,
 * in kube's order: baseline checks by id, then restricted ones by id.
 */
export function checkPodSpec(level: Level, podMetadata: ObjectMeta | undefined, podSpec: PodSpec | undefined, version = "latest"): Violation[] {
  if (level === "privileged") return [];
  const minor = policyMinor(version);
  const active = CHECKS
    .filter((c) => c.level === "baseline" || level === "restricted")
    .map((c) => ({ id: c.id, revision: c.revisions.findLast((r) => r.since <= minor) }))
    .filter((c): c is { id: string; revision: Check["revisions"][number] } => c.revision !== undefined);
  const overridden = new Set(active.flatMap((c) => c.revision.overrides ?? []));
  const meta = podMetadata ?? {};
  const spec = podSpec ?? { containers: [] };
  const violations: Violation[] = [];
  for (const { id, revision } of active) {
    if (overridden.has(id)) continue;
    const finding = revision.check(meta, spec);
    if (finding) violations.push({ id, ...finding });
  }
  return violations;
}

/** "reason (detail), reason (detail)": kube's aggregate of failed checks. */
function describe(violations: Violation[]): string {
  return violations.map((v) => (v.detail ? `${v.reason} (${v.detail})` : v.reason)).join(", ");
}

/** The enforce refusal of a pod, as kube-apiserver words it (the 403 Status message). */
export function forbiddenMessage(podName: string, level: Level, version: string, violations: Violation[]): string {
  const subject = podName ? `pods ${goQuote(podName)}` : "pods";
  return `${subject} is forbidden: violates PodSecurity ${goQuote(`${level}:${version}`)}: ${describe(violations)}`;
}

/** The warn-mode Warning header of a pod or a workload's pod template, and the audit annotation's text. */
export function warningMessage(level: Level, version: string, violations: Violation[]): string {
  return `would violate PodSecurity ${goQuote(`${level}:${version}`)}: ${describe(violations)}`;
}

const LEVELS: Level[] = ["privileged", "baseline", "restricted"];
const LABEL_PREFIX = "pod-security.kubernetes.io/";

/**
 * The policy a namespace's pod-security.kubernetes.io labels choose; unlabelled modes are
 * privileged:latest. A bad level fails closed for enforce (restricted) and open for audit and
 * warn (privileged); a bad version reads as latest — kube's fallbacks, reported as errors too.
 */
export function namespacePolicy(namespaceLabels: Record<string, string> | undefined): NamespacePolicy {
  const labels = namespaceLabels ?? {};
  const errors: StatusCause[] = [];
  const invalid = (label: string, value: string, message: string) =>
    errors.push({ reason: "FieldValueInvalid", field: `metadata.labels[${label}]`, message: `Invalid value: ${goQuote(value)}: ${message}` });
  const mode = (name: "enforce" | "audit" | "warn"): LevelVersion => {
    const result: LevelVersion = { level: "privileged", version: "latest" };
    const levelLabel = LABEL_PREFIX + name;
    const level = labels[levelLabel];
    if (level !== undefined) {
      if ((LEVELS as string[]).includes(level)) {
        result.level = level as Level;
      } else {
        result.level = name === "enforce" ? "restricted" : "privileged";
        invalid(levelLabel, level, `must be one of ${LEVELS.join(", ")}`);
      }
    }
    const versionLabel = `${levelLabel}-version`;
    const version = labels[versionLabel];
    if (version !== undefined) {
      if (version === "latest" || VERSION.test(version)) {
        result.version = version;
      } else {
        invalid(versionLabel, version, `must be "latest" or "v1.x"`);
      }
    }
    return result;
  };
  return { enforce: mode("enforce"), audit: mode("audit"), warn: mode("warn"), errors };
}

/** API group of each kind whose pod template PodSecurity warns about, as kube's pod spec extractor knows them. */
const POD_TEMPLATE_KINDS: Record<string, string> = {
  Pod: "", PodTemplate: "", ReplicationController: "", ReplicaSet: "apps", Deployment: "apps", StatefulSet: "apps", DaemonSet: "apps", Job: "batch", CronJob: "batch",
};

/**
 * The pod (metadata and spec) a workload object would create: a Pod itself, or the pod template
 * of a PodTemplate, ReplicationController, ReplicaSet, Deployment, StatefulSet, DaemonSet, Job or
 * CronJob. Undefined for other kinds (a same-named kind of another API group included) and for
 * an object without a template.
 */
export function podSpecOf(kind: string, object: Record<string, any> | undefined): { metadata: ObjectMeta; spec: PodSpec } | undefined {
  const group = POD_TEMPLATE_KINDS[kind];
  if (group === undefined || !object) return undefined;
  const apiVersion: unknown = object.apiVersion;
  if (typeof apiVersion === "string" && (apiVersion.includes("/") ? apiVersion.split("/")[0] : "") !== group) return undefined;
  let template: PodTemplateSpec | undefined;
  switch (kind) {
    case "Pod":
      return { metadata: object.metadata ?? {}, spec: object.spec ?? { containers: [] } };
    case "PodTemplate":
      template = object.template;
      break;
    case "CronJob":
      template = object.spec?.jobTemplate?.spec?.template;
      break;
    default:
      template = object.spec?.template;
  }
  return template ? { metadata: template.metadata ?? {}, spec: template.spec ?? { containers: [] } } : undefined;
}

/**
 * Whether a pod update can change what PodSecurity decides, so must be checked again: kube checks
 * only updates of what a running pod may still change (images, seccomp annotations, ephemeral
 * containers), so relabelling a pod admitted before its namespace's policy tightened still works.
 */
export function isSignificantPodUpdate(pod: Record<string, any>, oldPod: Record<string, any>): boolean {
  const annotations: Record<string, string> = pod.metadata?.annotations ?? {};
  const oldAnnotations: Record<string, string> = oldPod.metadata?.annotations ?? {};
  if (annotations[SECCOMP_POD_ANNOTATION] !== oldAnnotations[SECCOMP_POD_ANNOTATION]) return true;
  const changed = (c: Container, old: Container): boolean => {
    const key = SECCOMP_CONTAINER_ANNOTATION_PREFIX + nameOf(c);
    return (c.image ?? "") !== (old.image ?? "") || annotations[key] !== oldAnnotations[key];
  };
  for (const field of ["containers", "initContainers"]) {
    const now: Container[] = pod.spec?.[field] ?? [];
    const before: Container[] = oldPod.spec?.[field] ?? [];
    if (now.length !== before.length || now.some((c, i) => changed(c, before[i]!))) return true;
  }
  const oldEphemeral: Container[] = oldPod.spec?.ephemeralContainers ?? [];
  return (pod.spec?.ephemeralContainers ?? []).some((c: Container) => {
    const old = oldEphemeral.find((o) => o.name === c.name);
    return !old || changed(c, old);
  });
}
