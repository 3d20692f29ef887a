// KubeSchedulerConfiguration v1: defaults, validation as kube words it, and plugin merging.
import { describe, expect, it } from "vitest";
import { ConfigurationError, DEFAULT_PLUGINS, resolveConfiguration, type KubeSchedulerConfiguration } from "./config.ts";

describe("resolveConfiguration", () => {
  it("defaults to one default-scheduler profile, adaptive scoring, 1 s and 10 s back-off", () => {
    const c = resolveConfiguration();
    expect(c.percentageOfNodesToScore).toBe(0);
    expect(c.podInitialBackoffMs).toBe(1000);
    expect(c.podMaxBackoffMs).toBe(10_000);
    expect(c.profiles.map((p) => p.schedulerName)).toEqual(["default-scheduler"]);
    expect(c.profiles[0]!.plugins!.multiPoint!.enabled).toEqual(DEFAULT_PLUGINS);
  });

  it("merges a profile's multiPoint settings: a default named again is replaced in place, new ones appended", () => {
    const c = resolveConfiguration({ profiles: [{ schedulerName: "s", plugins: { multiPoint: { enabled: [{ name: "Custom" }, { name: "TaintToleration", weight: 9 }], disabled: [{ name: "ImageLocality" }] } } }] });
    const enabled = c.profiles[0]!.plugins!.multiPoint!.enabled!;
    expect(enabled.find((p) => p.name === "TaintToleration")).toEqual({ name: "TaintToleration", weight: 9 });
    expect(enabled.findIndex((p) => p.name === "TaintToleration")).toBe(DEFAULT_PLUGINS.findIndex((p) => p.name === "TaintToleration"));
    expect(enabled.at(-1)).toEqual({ name: "Custom" });
    expect(enabled.some((p) => p.name === "ImageLocality")).toBe(false);
  });

  it('"*" disables every default at that point', () => {
    const c = resolveConfiguration({ profiles: [{ schedulerName: "s", plugins: { multiPoint: { enabled: [{ name: "PrioritySort" }, { name: "DefaultBinder" }], disabled: [{ name: "*" }] } } }] });
    expect(c.profiles[0]!.plugins!.multiPoint!.enabled!.map((p) => p.name)).toEqual(["PrioritySort", "DefaultBinder"]);
  });

  const invalid: [string, KubeSchedulerConfiguration, string][] = [
    ["another apiVersion", { apiVersion: "kubescheduler.config.k8s.io/v1beta3" }, 'apiVersion: Unsupported value: "kubescheduler.config.k8s.io/v1beta3": supported values: "kubescheduler.config.k8s.io/v1"'],
    ["percentage above 100", { percentageOfNodesToScore: 101 }, "percentageOfNodesToScore: Invalid value: 101: not in valid range [0-100]"],
    ["a profile's percentage below 0", { profiles: [{ schedulerName: "s", percentageOfNodesToScore: -1 }] }, "profiles[0].percentageOfNodesToScore: Invalid value: -1: not in valid range [0-100]"],
    ["zero initial back-off", { podInitialBackoffSeconds: 0 }, "podInitialBackoffSeconds: Invalid value: 0: must be greater than 0"],
    ["max back-off below initial", { podInitialBackoffSeconds: 5, podMaxBackoffSeconds: 2 }, "podMaxBackoffSeconds: Invalid value: 2: must be greater than or equal to PodInitialBackoffSeconds"],
    ["a second profile without a name", { profiles: [{ schedulerName: "a" }, {}] }, "profiles[1].schedulerName: Required value"],
    ["two profiles with one name", { profiles: [{ schedulerName: "s" }, { schedulerName: "s" }] }, 'profiles[1].schedulerName: Duplicate value: "s"'],
    ["args given twice", { profiles: [{ schedulerName: "s", pluginConfig: [{ name: "NodeAffinity" }, { name: "NodeAffinity" }] }] }, 'profiles[0].pluginConfig: Duplicate value: "NodeAffinity"'],
    ["profiles sorting the queue differently", { profiles: [{ schedulerName: "a" }, { schedulerName: "b", plugins: { queueSort: { enabled: [{ name: "Other" }], disabled: [{ name: "*" }] } } }] },
      "profiles[1].plugins.queueSort: Invalid value: queueSort must be the same for all profiles"],
    ["extenders", { extenders: [{ urlPrefix: "http://x" }] }, "extenders: Forbidden: scheduler extenders are not supported"],
    ["an unknown field", { percentageOfNodes: 5 }, 'unknown field "percentageOfNodes"'],
  ];
  for (const [name, config, message] of invalid) {
    it(`refuses ${name}`, () => {
      expect(() => resolveConfiguration(config)).toThrow(ConfigurationError);
      expect(() => resolveConfiguration(config)).toThrow(message);
    });
  }

  it("names a lone profile default-scheduler", () => {
    expect(resolveConfiguration({ profiles: [{ plugins: { score: { disabled: [{ name: "ImageLocality" }] } } }] }).profiles[0]!.schedulerName).toBe("default-scheduler");
  });

  it("accepts the fields about the process around the scheduler and ignores them", () => {
    expect(() => resolveConfiguration({ apiVersion: "kubescheduler.config.k8s.io/v1", kind: "KubeSchedulerConfiguration", leaderElection: { leaderElect: true }, clientConnection: { qps: 50 }, parallelism: 16 })).not.toThrow();
  });
});
