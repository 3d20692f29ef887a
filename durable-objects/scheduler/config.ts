// KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) as kube-scheduler 1.30 reads it:
// defaults, validation, and each profile's plugins merged with the default multiPoint set the way
// v1's mergePlugins merges them (a plugin named again replaces its default in place, "*" disables
// every default at an extension point).

export interface PluginRef {
  name: string;
  weight?: number;
}

export interface PluginSet {
  enabled?: PluginRef[];
  disabled?: PluginRef[];
}

export interface Plugins {
  preEnqueue?: PluginSet;
  queueSort?: PluginSet;
  preFilter?: PluginSet;
  filter?: PluginSet;
  postFilter?: PluginSet;
  preScore?: PluginSet;
  score?: PluginSet;
  reserve?: PluginSet;
  permit?: PluginSet;
  preBind?: PluginSet;
  bind?: PluginSet;
  postBind?: PluginSet;
  multiPoint?: PluginSet;
}

export interface PluginConfig {
  name: string;
  args?: unknown;
}

export interface KubeSchedulerProfile {
  schedulerName?: string;
  /** Overrides the configuration's percentage for this profile; 0 or unset: adaptive. */
  percentageOfNodesToScore?: number | null;
  plugins?: Plugins;
  pluginConfig?: PluginConfig[];
}

export interface KubeSchedulerConfiguration {
  apiVersion?: string;
  kind?: string;
  parallelism?: number;
  /** 0 or unset: adaptive (50% minus 1% per 125 nodes, at least 5%, at least 100 nodes). */
  percentageOfNodesToScore?: number | null;
  podInitialBackoffSeconds?: number;
  podMaxBackoffSeconds?: number;
  profiles?: KubeSchedulerProfile[];
  extenders?: unknown[];
  [field: string]: unknown;
}

/** A configuration with defaults applied and validated: what the scheduler runs with. */
export interface ResolvedConfiguration {
  percentageOfNodesToScore: number;
  podInitialBackoffMs: number;
  podMaxBackoffMs: number;
  /** Profiles with their plugins merged with the defaults. */
  profiles: KubeSchedulerProfile[];
}

const API_VERSION = "kubescheduler.config.k8s.io/v1";
export const DEFAULT_SCHEDULER_NAME = "default-scheduler";

/** kube's default plugins (getDefaultPlugins), those this scheduler has, in kube's order and weights. */
export const DEFAULT_PLUGINS: readonly PluginRef[] = [
  { name: "SchedulingGates" },
  { name: "PrioritySort" },
  { name: "NodeUnschedulable" },
  { name: "NodeName" },
  { name: "TaintToleration", weight: 3 },
  { name: "NodeAffinity", weight: 2 },
  { name: "NodePorts" },
  { name: "NodeResourcesFit", weight: 1 },
  { name: "VolumeBinding" },
  { name: "PodTopologySpread", weight: 2 },
  { name: "InterPodAffinity", weight: 2 },
  { name: "DefaultPreemption" },
  { name: "NodeResourcesBalancedAllocation", weight: 1 },
  { name: "ImageLocality", weight: 1 },
  { name: "DefaultBinder" },
];

/** Fields kube accepts that concern the process around the scheduler, not scheduling: read and ignored. */
const PROCESS_FIELDS = new Set([
  "apiVersion", "kind", "parallelism", "leaderElection", "clientConnection", "healthzBindAddress", "metricsBindAddress",
  "enableProfiling", "enableContentionProfiling", "delayCacheUntilActive",
]);
const SCHEDULING_FIELDS = new Set(["percentageOfNodesToScore", "podInitialBackoffSeconds", "podMaxBackoffSeconds", "profiles", "extenders"]);
const POINTS = ["preEnqueue", "queueSort", "preFilter", "filter", "postFilter", "preScore", "score", "reserve", "permit", "preBind", "bind", "postBind", "multiPoint"] as const;

export class ConfigurationError extends Error {
  override name = "ConfigurationError";
}

/** v1's mergePluginSet: custom settings over the defaults of one extension point. */
function mergePluginSet(defaults: PluginSet, custom: PluginSet | undefined): PluginSet {
  const disabled = [...(custom?.disabled ?? []), ...(defaults.disabled ?? [])].map((p) => ({ name: p.name }));
  const disabledNames = new Set(disabled.map((p) => p.name));
  const customEnabled = custom?.enabled ?? [];
  const replaced = new Set<number>();
  const enabled: PluginRef[] = [];
  if (!disabledNames.has("*")) {
    for (const d of defaults.enabled ?? []) {
      if (disabledNames.has(d.name)) continue;
      const i = customEnabled.findIndex((c) => c.name === d.name);
      if (i >= 0) {
        enabled.push({ ...customEnabled[i]! });
        replaced.add(i);
      } else enabled.push({ ...d });
    }
  }
  customEnabled.forEach((c, i) => {
    if (!replaced.has(i)) enabled.push({ ...c });
  });
  return { enabled, disabled };
}

function checkPercentage(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 100) {
    throw new ConfigurationError(`${field}: Invalid value: ${JSON.stringify(value)}: not in valid range [0-100]`);
  }
  return value;
}

/** Applies v1 defaults and validates; throws ConfigurationError worded after kube's field errors. */
export function resolveConfiguration(input: KubeSchedulerConfiguration = {}): ResolvedConfiguration {
  if (input.apiVersion !== undefined && input.apiVersion !== API_VERSION) {
    throw new ConfigurationError(`apiVersion: Unsupported value: "${input.apiVersion}": supported values: "${API_VERSION}"`);
  }
  if (input.kind !== undefined && input.kind !== "KubeSchedulerConfiguration") {
    throw new ConfigurationError(`kind: Unsupported value: "${input.kind}": supported values: "KubeSchedulerConfiguration"`);
  }
  for (const field of Object.keys(input)) {
    if (!PROCESS_FIELDS.has(field) && !SCHEDULING_FIELDS.has(field)) throw new ConfigurationError(`unknown field "${field}"`);
  }
  if ((input.extenders ?? []).length > 0) throw new ConfigurationError("extenders: Forbidden: scheduler extenders are not supported");
  if (input.parallelism !== undefined && !(Number.isInteger(input.parallelism) && input.parallelism > 0)) {
    throw new ConfigurationError(`parallelism: Invalid value: ${input.parallelism}: should be an integer value greater than zero`);
  }
  const percentage = checkPercentage(input.percentageOfNodesToScore, "percentageOfNodesToScore");
  const initial = input.podInitialBackoffSeconds ?? 1;
  const max = input.podMaxBackoffSeconds ?? 10;
  if (!(initial > 0)) throw new ConfigurationError(`podInitialBackoffSeconds: Invalid value: ${initial}: must be greater than 0`);
  if (!(max >= initial)) throw new ConfigurationError(`podMaxBackoffSeconds: Invalid value: ${max}: must be greater than or equal to PodInitialBackoffSeconds`);

  const given = input.profiles && input.profiles.length > 0 ? input.profiles : [{}];
  const names = new Set<string>();
  const profiles = given.map((p, i): KubeSchedulerProfile => {
    // Only a lone profile gets the default name.
    const name = p.schedulerName ?? (given.length === 1 ? DEFAULT_SCHEDULER_NAME : undefined);
    if (!name) throw new ConfigurationError(`profiles[${i}].schedulerName: Required value`);
    if (names.has(name)) throw new ConfigurationError(`profiles[${i}].schedulerName: Duplicate value: "${name}"`);
    names.add(name);
    const pct = p.percentageOfNodesToScore === undefined || p.percentageOfNodesToScore === null ? undefined : checkPercentage(p.percentageOfNodesToScore, `profiles[${i}].percentageOfNodesToScore`);
    const plugins: Plugins = {};
    for (const point of POINTS) {
      const defaults: PluginSet = point === "multiPoint" ? { enabled: DEFAULT_PLUGINS.map((d) => ({ ...d })) } : {};
      plugins[point] = mergePluginSet(defaults, p.plugins?.[point]);
    }
    const configured = new Set<string>();
    for (const c of p.pluginConfig ?? []) {
      if (configured.has(c.name)) throw new ConfigurationError(`profiles[${i}].pluginConfig: Duplicate value: "${c.name}"`);
      configured.add(c.name);
    }
    return { schedulerName: name, percentageOfNodesToScore: pct, plugins, pluginConfig: (p.pluginConfig ?? []).map((c) => ({ ...c })) };
  });
  // One queue serves every profile, so they must sort it alike (validateCommonQueueSort).
  const sortOf = (p: KubeSchedulerProfile) => JSON.stringify([p.plugins?.queueSort, p.plugins?.multiPoint?.enabled?.find((e) => e.name === "PrioritySort")]);
  for (let i = 1; i < profiles.length; i++) {
    if (sortOf(profiles[i]!) !== sortOf(profiles[0]!)) throw new ConfigurationError(`profiles[${i}].plugins.queueSort: Invalid value: queueSort must be the same for all profiles`);
  }
  return { percentageOfNodesToScore: percentage, podInitialBackoffMs: initial * 1000, podMaxBackoffMs: max * 1000, profiles };
}
