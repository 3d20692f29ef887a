// ValidatingAdmissionPolicy in workerd: policies and bindings written through the API, then the
// plugin asked about requests directly (what it denies and how kube words it, warnings, selectors,
// match conditions, variables, params, failurePolicy), and policies refused at write time.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../../lib/k8s/status.ts";
import { findResource } from "../registry/index.ts";
import type { KubeObject } from "../registry/types.ts";
import type { AdmissionAttributes, Operation } from "./plugin.ts";
import { invalidateValidatingAdmissionPolicies, validatingAdmissionPolicy } from "./validating-admission-policy.ts";
import { rawApi } from "../../lib/client/testing.ts";

const VAP = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies";
const BINDINGS = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings";
const deployments = findResource("apps", "v1", "deployments")!;

const api = (method: string, path: string, body?: unknown) => rawApi(method, path, body);

const suffix = () => crypto.randomUUID().slice(0, 6);
const created: string[] = [];

// Policies are cluster-wide: each test's match only its own namespaces, and go when it ends.
afterEach(async () => {
  for (const path of created.splice(0)) await api("DELETE", path);
  invalidateValidatingAdmissionPolicies();
});

async function namespace(labels: Record<string, string> = {}): Promise<{ name: string; test: string }> {
  const name = `vap-${suffix()}`;
  const test = name;
  expect((await api("POST", "/api/v1/namespaces", { metadata: { name, labels: { "vap-test": test, ...labels } } })).status).toBe(201);
  return { name, test };
}

/** A policy over apps/v1 deployments in the test's namespaces, and one binding of it. */
async function policyAndBinding(test: string, spec: Record<string, unknown>, bindingSpec: Record<string, unknown> = {}) {
  const policy = `replicas-${suffix()}.example.com`;
  const binding = `${policy}-binding`;
  const res = await api("POST", VAP, {
    metadata: { name: policy },
    spec: {
      matchConstraints: {
        namespaceSelector: { matchLabels: { "vap-test": test } },
        resourceRules: [{ apiGroups: ["apps"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["deployments"] }],
      },
      ...spec,
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  created.push(`${VAP}/${policy}`);
  const bound = await api("POST", BINDINGS, { metadata: { name: binding }, spec: { policyName: policy, validationActions: ["Deny"], ...bindingSpec } });
  expect(bound.status, JSON.stringify(bound.body)).toBe(201);
  created.push(`${BINDINGS}/${binding}`);
  invalidateValidatingAdmissionPolicies();
  return { policy, binding };
}

function deployment(name: string, replicas: number, labels?: Record<string, string>): KubeObject {
  return {
    apiVersion: "apps/v1", kind: "Deployment", metadata: { name, labels },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "c", image: "busybox" }] } } },
  };
}

/** The plugin's answer to a write of a deployment: the error it throws (if any) and its warnings. */
async function admit(ns: string, object: KubeObject | undefined, operation: Operation = "CREATE", oldObject?: KubeObject) {
  const a: AdmissionAttributes = {
    env, user: { name: "alice", uid: "u-1", groups: ["dev", "system:authenticated"] }, operation, def: deployments, namespace: ns,
    object: object && { ...object, metadata: { ...object.metadata, namespace: ns } }, oldObject, dryRun: false, warnings: [], reads: new Map(),
  };
  try {
    await validatingAdmissionPolicy.validate!(a);
    return { error: undefined, warnings: a.warnings };
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    return { error: e, warnings: a.warnings };
  }
}

const REPLICAS_RULE = { expression: "object.spec.replicas <= 5" };

describe("ValidatingAdmissionPolicy", () => {
  it("denies a deployment over a replicas limit with kube's message and code, and admits one under it", async () => {
    const { name: ns, test } = await namespace();
    const { policy, binding } = await policyAndBinding(test, { validations: [REPLICAS_RULE] });
    const denied = (await admit(ns, deployment("big", 7))).error!;
    expect(denied.code).toBe(422);
    expect(denied.reason).toBe("Invalid");
    expect(denied.message).toBe(`deployments.apps "big" is forbidden: ValidatingAdmissionPolicy '${policy}' with binding '${binding}' denied request: failed expression: object.spec.replicas <= 5`);
    expect(denied.toStatus()).toMatchObject({
      code: 422, reason: "Invalid",
      details: { name: "big", group: "apps", kind: "deployments", causes: [{ message: `ValidatingAdmissionPolicy '${policy}' with binding '${binding}' denied request: failed expression: object.spec.replicas <= 5` }] },
    });
    expect((await admit(ns, deployment("small", 3))).error).toBeUndefined();
    // An update is judged by the new object; a delete is not matched by these rules.
    expect((await admit(ns, deployment("small", 9), "UPDATE", deployment("small", 3))).error?.code).toBe(422);
    expect((await admit(ns, undefined, "DELETE", deployment("big", 7))).error).toBeUndefined();
    // Other namespaces are outside the policy's match constraints.
    const other = await namespace();
    expect((await admit(other.name, deployment("big", 7))).error).toBeUndefined();
  });

  it("answers with the validation's reason and message", async () => {
    const { name: ns, test } = await namespace();
    const { policy, binding } = await policyAndBinding(test, { validations: [{ ...REPLICAS_RULE, reason: "Forbidden", message: "at most 5 replicas" }] });
    const denied = (await admit(ns, deployment("big", 6))).error!;
    expect(denied.code).toBe(403);
    expect(denied.reason).toBe("Forbidden");
    expect(denied.message).toBe(`deployments.apps "big" is forbidden: ValidatingAdmissionPolicy '${policy}' with binding '${binding}' denied request: at most 5 replicas`);
  });

  it("warns instead of denying for a Warn binding", async () => {
    const { name: ns, test } = await namespace();
    const { policy, binding } = await policyAndBinding(test, { validations: [{ ...REPLICAS_RULE, message: "too many replicas" }] }, { validationActions: ["Warn"] });
    const answer = await admit(ns, deployment("big", 7));
    expect(answer.error).toBeUndefined();
    expect(answer.warnings).toEqual([`Validation failed for ValidatingAdmissionPolicy '${policy}' with binding '${binding}': too many replicas`]);
    expect((await admit(ns, deployment("small", 1))).warnings).toEqual([]);
  });

  it("applies a binding only in namespaces its namespaceSelector selects", async () => {
    const prod = await namespace({ env: "prod" });
    const dev = await namespace({ env: "dev" });
    // The policy matches both test namespaces; the binding narrows it to prod.
    const policy = `ns-${suffix()}.example.com`;
    expect((await api("POST", VAP, {
      metadata: { name: policy },
      spec: {
        matchConstraints: {
          namespaceSelector: { matchExpressions: [{ key: "vap-test", operator: "In", values: [prod.test, dev.test] }] },
          resourceRules: [{ apiGroups: ["*"], apiVersions: ["*"], operations: ["*"], resources: ["deployments"] }],
        },
        validations: [REPLICAS_RULE],
      },
    })).status).toBe(201);
    created.push(`${VAP}/${policy}`);
    expect((await api("POST", BINDINGS, {
      metadata: { name: policy },
      spec: { policyName: policy, validationActions: ["Deny"], matchResources: { namespaceSelector: { matchLabels: { env: "prod" } } } },
    })).status).toBe(201);
    created.push(`${BINDINGS}/${policy}`);
    invalidateValidatingAdmissionPolicies();
    expect((await admit(prod.name, deployment("big", 7))).error?.code).toBe(422);
    expect((await admit(dev.name, deployment("big", 7))).error).toBeUndefined();
  });

  it("skips objects whose match conditions are false, and selects by object labels", async () => {
    const { name: ns, test } = await namespace();
    await policyAndBinding(test, {
      matchConditions: [{ name: "not-exempt", expression: "!has(object.metadata.labels) || !('exempt' in object.metadata.labels)" }],
      validations: [REPLICAS_RULE],
    }, { matchResources: { objectSelector: { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["batch"] }] } } });
    expect((await admit(ns, deployment("plain", 7))).error?.code).toBe(422);
    expect((await admit(ns, deployment("exempt", 7, { exempt: "yes" }))).error).toBeUndefined();
    expect((await admit(ns, deployment("batch", 7, { tier: "batch" }))).error).toBeUndefined();
  });

  it("evaluates variables and messageExpression, and sees the request", async () => {
    const { name: ns, test } = await namespace();
    const { policy, binding } = await policyAndBinding(test, {
      variables: [{ name: "replicas", expression: "object.spec.replicas" }, { name: "limit", expression: "request.userInfo.username == 'alice' ? 2 : 10" }],
      validations: [{
        expression: "variables.replicas <= variables.limit",
        messageExpression: "'replicas ' + string(variables.replicas) + ' exceed ' + string(variables.limit) + ' for ' + request.userInfo.username + ' in ' + request.namespace + ' on ' + request.operation",
        message: "static message",
      }],
    });
    expect((await admit(ns, deployment("two", 2))).error).toBeUndefined();
    expect((await admit(ns, deployment("three", 3))).error!.message)
      .toBe(`deployments.apps "three" is forbidden: ValidatingAdmissionPolicy '${policy}' with binding '${binding}' denied request: replicas 3 exceed 2 for alice in ${ns} on CREATE`);
  });

  it("reads params from a ConfigMap the binding names, and applies parameterNotFoundAction", async () => {
    const { name: ns, test } = await namespace();
    expect((await api("POST", `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "limits", labels: { role: "limits" } }, data: { maxReplicas: "4" } })).status).toBe(201);
    const spec = {
      paramKind: { apiVersion: "v1", kind: "ConfigMap" },
      validations: [{ expression: "object.spec.replicas <= int(params.data.maxReplicas)", messageExpression: "'at most ' + params.data.maxReplicas + ' replicas (' + params.kind + ')'" }],
    };
    const byName = await policyAndBinding(test, spec, { paramRef: { name: "limits", parameterNotFoundAction: "Deny" } });
    expect((await admit(ns, deployment("four", 4))).error).toBeUndefined();
    expect((await admit(ns, deployment("five", 5))).error!.message)
      .toBe(`deployments.apps "five" is forbidden: ValidatingAdmissionPolicy '${byName.policy}' with binding '${byName.binding}' denied request: at most 4 replicas (ConfigMap)`);
    for (const path of created.splice(0)) await api("DELETE", path);

    // A selector finds them too; none found is a configuration error under Deny, a pass under Allow.
    await policyAndBinding(test, spec, { paramRef: { selector: { matchLabels: { role: "limits" } }, parameterNotFoundAction: "Deny" } });
    expect((await admit(ns, deployment("five", 5))).error?.code).toBe(422);
    for (const path of created.splice(0)) await api("DELETE", path);
    const missing = await policyAndBinding(test, spec, { paramRef: { name: "absent", parameterNotFoundAction: "Deny" } });
    expect((await admit(ns, deployment("one", 1))).error!.message)
      .toBe(`deployments.apps "one" is forbidden: ValidatingAdmissionPolicy '${missing.policy}' with binding '${missing.binding}' denied request: failed to configure binding: no params found for policy binding with \`Deny\` parameterNotFoundAction`);
    for (const path of created.splice(0)) await api("DELETE", path);
    await policyAndBinding(test, spec, { paramRef: { name: "absent", parameterNotFoundAction: "Allow" } });
    expect((await admit(ns, deployment("nine", 9))).error).toBeUndefined();
  });

  it("denies on an evaluation error under failurePolicy Fail and admits under Ignore", async () => {
    const { name: ns, test } = await namespace();
    const failing = { validations: [{ expression: "object.spec.paused == false" }] };
    const fail = await policyAndBinding(test, { ...failing, failurePolicy: "Fail" });
    const denied = (await admit(ns, deployment("d", 1))).error!;
    expect(denied.code).toBe(422);
    expect(denied.message).toBe(`deployments.apps "d" is forbidden: ValidatingAdmissionPolicy '${fail.policy}' with binding '${fail.binding}' denied request: expression 'object.spec.paused == false' resulted in error: No such key: paused`);
    for (const path of created.splice(0)) await api("DELETE", path);
    await policyAndBinding(test, { ...failing, failurePolicy: "Ignore" });
    expect((await admit(ns, deployment("d", 1))).error).toBeUndefined();
  });

  it("defaults a policy and a binding as kube does", async () => {
    const { test } = await namespace();
    const { policy, binding } = await policyAndBinding(test, { validations: [REPLICAS_RULE] }, { matchResources: {} });
    const stored = (await api("GET", `${VAP}/${policy}`)).body;
    expect(stored.spec.failurePolicy).toBe("Fail");
    expect(stored.spec.matchConstraints).toMatchObject({ matchPolicy: "Equivalent", objectSelector: {}, resourceRules: [{ scope: "*" }] });
    expect(stored.metadata.generation).toBe(1);
    expect((await api("GET", `${BINDINGS}/${binding}`)).body.spec.matchResources).toEqual({ matchPolicy: "Equivalent", namespaceSelector: {}, objectSelector: {} });
  });

  it("refuses a policy whose expressions do not compile, naming each field", async () => {
    const res = await api("POST", VAP, {
      metadata: { name: `broken-${suffix()}` },
      spec: {
        matchConstraints: { resourceRules: [{ apiGroups: ["apps"], apiVersions: ["v1"], operations: ["CREATE"], resources: ["deployments"] }] },
        matchConditions: [{ name: "m", expression: "object.metadata.name ==" }],
        variables: [{ name: "v", expression: "object.spec.(" }],
        validations: [{ expression: "object.spec.replicas <=", messageExpression: "'n' +" }, { expression: "params.max > 1" }, { expression: "'not a bool'" }],
        auditAnnotations: [{ key: "k", valueExpression: "1 +" }],
      },
    });
    expect(res.status).toBe(422);
    expect(res.body.reason).toBe("Invalid");
    const fields = res.body.details.causes.map((c: { field: string }) => c.field);
    expect(fields).toEqual([
      "spec.matchConditions[0].expression", "spec.variables[0].expression", "spec.validations[0].expression", "spec.validations[0].messageExpression",
      "spec.validations[1].expression", "spec.validations[2].expression", "spec.auditAnnotations[0].valueExpression",
    ]);
    expect(res.body.message).toContain(`spec.validations[0].expression: Invalid value: "object.spec.replicas <=": compilation failed: `);
    expect(res.body.message).toContain(`spec.validations[1].expression: Invalid value: "params.max > 1": compilation failed: Unknown variable: params`);
    expect(res.body.message).toContain(`spec.validations[2].expression: Invalid value: "'not a bool'": must evaluate to bool`);
    expect(res.body.message).toMatch(/^ValidatingAdmissionPolicy\.admissionregistration\.k8s\.io "broken-\w+" is invalid: /);
  });

  it("refuses policies and bindings missing what kube requires", async () => {
    const policy = await api("POST", VAP, { metadata: { name: `empty-${suffix()}` }, spec: { failurePolicy: "Sometimes" } });
    expect(policy.status).toBe(422);
    expect(policy.body.details.causes).toEqual([
      { reason: "FieldValueNotSupported", field: "spec.failurePolicy", message: `Unsupported value: "Sometimes": supported values: "Fail", "Ignore"` },
      { reason: "FieldValueRequired", field: "spec.matchConstraints", message: "Required value" },
      { reason: "FieldValueRequired", field: "spec.validations", message: "Required value: validations or auditAnnotations must contain at least one item" },
      { reason: "FieldValueRequired", field: "spec.auditAnnotations", message: "Required value: validations or auditAnnotations must contain at least one item" },
    ]);
    const binding = await api("POST", BINDINGS, {
      metadata: { name: `empty-${suffix()}` },
      spec: { paramRef: { name: "a", selector: {} }, validationActions: ["Deny", "Warn"] },
    });
    expect(binding.status).toBe(422);
    expect(binding.body.details.causes.map((c: { field: string; reason: string }) => `${c.field} ${c.reason}`)).toEqual([
      "spec.policyName FieldValueRequired",
      "spec.paramRef.name FieldValueForbidden",
      "spec.paramRef.selector FieldValueForbidden",
      "spec.paramRef.parameterNotFoundAction FieldValueRequired",
      "spec.validationActions FieldValueInvalid",
    ]);
  });
});
