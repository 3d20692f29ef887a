// The ValidatingAdmissionPolicy admission plugin: each binding of a policy whose match constraints
// and the binding's match resources select the request runs the policy's CEL match conditions
// and validations (with its variables and the binding's params); failures deny the request or
// warn, as the binding's validationActions say. Policies and bindings are read from the store and
// kept by an isolate for a second, as kube-apiserver follows them through informers.
import { IsolateCache } from "../../lib/isolate-cache.ts";
import { celValue } from "../crd/cel.ts";
import type {
  MatchResources, ParamKind, ParamRef, ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding, Validation,
} from "kubernetes-types/admissionregistration/v1";
import { labelSelectorFromObject, matchesLabels, type LabelSelectorObject } from "../../lib/k8s/selectors.ts";
import { ApiError, qualifiedResource } from "../../lib/k8s/status.ts";
import { servedResources } from "../crd/custom-resources.ts";
import {
  admissionregistrationResources, celErrorText, compilePolicyExpression, PolicyCompileError, type ExpressionScope, type PolicyProgram, type ResourceRule,
} from "../registry/admissionregistration.ts";
import { RegistryStore } from "../registry/store.ts";
import { groupVersion, type KubeObject, type ResourceDefinition } from "../registry/types.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import { namespaceOf, type AdmissionAttributes, type AdmissionPlugin } from "./plugin.ts";

const FRESH_MS = 1000;
const GROUP = "admissionregistration.k8s.io";
const [policyDef, bindingDef] = admissionregistrationResources as [ResourceDefinition, ResourceDefinition];
/** kube drops a messageExpression's result above this size. */
const MAX_MESSAGE_BYTES = 5 * 1024;

interface CompiledValidation {
  validation: Validation;
  program: PolicyProgram;
  message?: PolicyProgram;
}

/** A policy with its expressions compiled, and the bindings that name it. */
interface CompiledPolicy {
  policy: ValidatingAdmissionPolicy;
  bindings: ValidatingAdmissionPolicyBinding[];
  matchConditions: { expression: string; program: PolicyProgram }[];
  variables: { name: string; program: PolicyProgram }[];
  validations: CompiledValidation[];
  /** Why the policy cannot be used (an expression stored before it stopped compiling). */
  error?: string;
}

const policies = new IsolateCache<CompiledPolicy[]>(FRESH_MS);
/** Compiled policies by uid and revision: a policy compiles once per change. */
const compiled = new Map<string, Omit<CompiledPolicy, "bindings">>();

/** Forgets what this isolate read, after it wrote admission configuration itself. */
export function invalidateValidatingAdmissionPolicies(): void {
  policies.invalidate();
}

function loadPolicies(env: Env): Promise<CompiledPolicy[]> {
  return policies.get(() => readPolicies(env));
}

async function readPolicies(env: Env): Promise<CompiledPolicy[]> {
  const storage = new ObjectStorage(env);
  const [policies, bindings] = await Promise.all([
    storage.list(new RegistryStore(policyDef, storage).prefix(), {}),
    storage.list(new RegistryStore(bindingDef, storage).prefix(), {}),
  ]);
  const byPolicy = new Map<string, ValidatingAdmissionPolicyBinding[]>();
  for (const { object } of bindings.items) {
    const binding = object as ValidatingAdmissionPolicyBinding;
    const name = binding.spec?.policyName ?? "";
    byPolicy.set(name, [...(byPolicy.get(name) ?? []), binding]);
  }
  const live = new Set<string>();
  const result: CompiledPolicy[] = [];
  for (const stored of policies.items) {
    const policy = stored.object as ValidatingAdmissionPolicy;
    const policyBindings = byPolicy.get(policy.metadata?.name ?? "");
    const key = `${policy.metadata?.uid}/${stored.modRevision}`;
    live.add(key);
    if (!policyBindings) continue;
    let compiledPolicy = compiled.get(key);
    if (!compiledPolicy) {
      compiledPolicy = compilePolicy(policy);
      compiled.set(key, compiledPolicy);
    }
    result.push({ ...compiledPolicy, bindings: policyBindings });
  }
  for (const key of compiled.keys()) if (!live.has(key)) compiled.delete(key);
  return result;
}

function compilePolicy(policy: ValidatingAdmissionPolicy): Omit<CompiledPolicy, "bindings"> {
  const spec = policy.spec ?? {};
  const scope: ExpressionScope = { params: !!spec.paramKind, variables: !!spec.variables?.length };
  try {
    return {
      policy,
      matchConditions: (spec.matchConditions ?? []).map((c) => ({ expression: c.expression, program: compilePolicyExpression(c.expression, "bool", { ...scope, variables: false }) })),
      variables: (spec.variables ?? []).map((v) => ({ name: v.name, program: compilePolicyExpression(v.expression, "any", scope) })),
      validations: (spec.validations ?? []).map((validation) => ({
        validation,
        program: compilePolicyExpression(validation.expression, "bool", scope),
        message: validation.messageExpression?.trim() ? compilePolicyExpression(validation.messageExpression, "string", scope) : undefined,
      })),
    };
  } catch (e) {
    if (!(e instanceof PolicyCompileError)) throw e;
    return { policy, matchConditions: [], variables: [], validations: [], error: e.message };
  }
}

// ---- matching ----

/** What a request offers the matchers and the CEL expressions; the namespace is read once, when needed. */
export class AdmissionRequest {

  constructor(readonly a: AdmissionAttributes) {}

  get isNamespace(): boolean {
    return this.a.def.group === "" && this.a.def.resource === "namespaces";
  }

  get name(): string {
    return this.a.object?.metadata?.name ?? this.a.oldObject?.metadata?.name ?? "";
  }

  /** The namespace the request is in (a Namespace's own request counts as its own, as in kube). */
  get namespaceName(): string {
    return this.isNamespace ? this.name : (this.a.def.namespaced && this.a.namespace) || "";
  }

  namespaceObject(): Promise<KubeObject | undefined> {
    if (this.isNamespace || !this.a.def.namespaced || !this.a.namespace) return Promise.resolve(undefined);
    return namespaceOf(this.a);
  }

  /** The labels a namespaceSelector is matched against: a Namespace's own, or those of the request's namespace. */
  async namespaceLabels(): Promise<Record<string, string> | undefined> {
    if (this.isNamespace) return (this.a.operation === "DELETE" ? this.a.oldObject : this.a.object)?.metadata?.labels;
    return (await this.namespaceObject())?.metadata?.labels;
  }
}

function isEmptySelector(selector: LabelSelectorObject | undefined): boolean {
  return !selector || (!Object.keys(selector.matchLabels ?? {}).length && !selector.matchExpressions?.length);
}

/** rules.Matcher: scope, operation, group, version, then resource and subresource ("*" and "a/*" forms). */
function ruleMatches(rule: ResourceRule, request: AdmissionRequest): boolean {
  const { a } = request;
  const scope = rule.scope ?? "*";
  if (scope === "Namespaced" && (request.isNamespace || !a.def.namespaced)) return false;
  if (scope === "Cluster" && !request.isNamespace && a.def.namespaced) return false;
  const any = (values: string[] | undefined, value: string) => !!values?.some((v) => v === "*" || v === value);
  if (!any(rule.operations, a.operation) || !any(rule.apiGroups, a.def.group) || !any(rule.apiVersions, a.def.version)) return false;
  const resourceMatches = (rule.resources ?? []).some((entry) => {
    const slash = entry.indexOf("/");
    const [resource, subresource] = slash < 0 ? [entry, ""] : [entry.slice(0, slash), entry.slice(slash + 1)];
    return (resource === "*" || resource === a.def.resource) && (subresource === "*" || subresource === (a.subresource ?? ""));
  });
  if (!resourceMatches) return false;
  return !rule.resourceNames?.length || rule.resourceNames.includes(request.name);
}

/** Whether match constraints (a policy's) or match resources (a binding's) select the request. */
export async function matches(match: MatchResources, request: AdmissionRequest): Promise<boolean> {
  const { a } = request;
  if ((match.excludeResourceRules ?? []).some((rule) => ruleMatches(rule, request))) return false;
  if (match.resourceRules?.length && !match.resourceRules.some((rule) => ruleMatches(rule, request))) return false;
  const objectSelector = match.objectSelector as LabelSelectorObject | undefined;
  if (!isEmptySelector(objectSelector)) {
    const requirements = labelSelectorFromObject(objectSelector);
    const objects = [a.object, a.oldObject].filter((o): o is KubeObject => !!o);
    if (!objects.some((o) => matchesLabels(requirements, o.metadata?.labels))) return false;
  }
  const namespaceSelector = match.namespaceSelector as LabelSelectorObject | undefined;
  // Cluster-scoped objects other than Namespaces are never excluded by a namespace selector.
  if (isEmptySelector(namespaceSelector) || (!a.def.namespaced && !request.isNamespace)) return true;
  return matchesLabels(labelSelectorFromObject(namespaceSelector), await request.namespaceLabels());
}

// ---- params ----

/** A failure of a policy's or binding's configuration rather than of the request. */
class ConfigurationError extends Error {}

async function paramDefinition(env: Env, paramKind: ParamKind): Promise<ResourceDefinition> {
  const def = (await servedResources(env)).find((d) => groupVersion(d) === paramKind.apiVersion && d.kind === paramKind.kind);
  if (def) return def;
  const apiVersion = paramKind.apiVersion ?? "";
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  throw new ConfigurationError(`failed to find resource referenced by paramKind: '${group}/${version}, Kind=${paramKind.kind}'`);
}

/** generic.CollectParams: the objects a binding's paramRef names; [null] when the policy takes none. */
async function collectParams(a: AdmissionAttributes, def: ResourceDefinition | undefined, ref: ParamRef | undefined, paramKind: ParamKind | undefined): Promise<(KubeObject | null)[]> {
  if (!def || !ref || !paramKind) return [null];
  let namespace: string | undefined;
  if (def.namespaced) {
    namespace = ref.namespace || (a.def.namespaced ? a.namespace : undefined);
    if (!namespace) throw new ConfigurationError("cannot use namespaced paramRef in policy binding that matches cluster-scoped resources");
  } else if (ref.namespace) {
    throw new ConfigurationError("paramRef.namespace must not be provided for a cluster-scoped `paramKind`");
  }
  const store = new RegistryStore(def, new ObjectStorage(a.env));
  let params: KubeObject[];
  if (ref.name) {
    const param = await store.find(namespace, ref.name);
    params = param ? [param] : [];
  } else {
    const requirements = labelSelectorFromObject((ref.selector ?? {}) as LabelSelectorObject);
    params = (await store.all(namespace)).filter((o) => matchesLabels(requirements, o.metadata?.labels));
  }
  if (!params.length && ref.parameterNotFoundAction === "Deny") throw new ConfigurationError("no params found for policy binding with `Deny` parameterNotFoundAction");
  return params.map((p) => ({ apiVersion: paramKind.apiVersion, kind: paramKind.kind, ...p }));
}

// ---- evaluation ----

/** A validation that failed (or could not be evaluated and the policy fails closed). */
interface Decision {
  message: string;
  /** The Status reason of a denial; evaluation errors have none (kube answers Invalid). */
  reason?: string;
}


/** kube's cel.CreateNamespaceObject: the namespace without its managed fields, owners and finalizers. */
export function namespaceForCel(namespace: KubeObject | undefined): KubeObject | null {
  if (!namespace) return null;
  const { managedFields: _m, ownerReferences: _o, finalizers: _f, ...metadata } = namespace.metadata ?? {};
  return { apiVersion: "v1", kind: "Namespace", metadata, spec: namespace.spec, status: namespace.status };
}

export function requestForCel(a: AdmissionAttributes, request: AdmissionRequest): Record<string, unknown> {
  const kind = { group: a.def.group, version: a.def.version, kind: a.def.kind };
  const resource = { group: a.def.group, version: a.def.version, resource: a.def.resource };
  return {
    uid: crypto.randomUUID(), kind, resource, subResource: a.subresource ?? "", requestKind: kind, requestResource: resource, requestSubResource: a.subresource ?? "",
    name: request.name, namespace: request.namespaceName, operation: a.operation,
    userInfo: { username: a.user.name, uid: a.user.uid, groups: a.user.groups, ...(a.user.extra ? { extra: a.user.extra } : {}) },
    dryRun: a.dryRun,
  };
}

/** The variables object: each variable is evaluated on first use, once per evaluation. */
function variablesFor(compiledPolicy: CompiledPolicy, context: Record<string, unknown>): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  for (const { name, program } of compiledPolicy.variables) {
    let outcome: { value: unknown } | { error: unknown } | "evaluating" | undefined;
    Object.defineProperty(variables, name, {
      enumerable: true,
      get() {
        if (outcome === "evaluating") throw new Error(`variable "${name}" refers to itself`);
        if (!outcome) {
          outcome = "evaluating";
          try {
            outcome = { value: program(context) };
          } catch (error) {
            outcome = { error };
          }
        }
        if ("error" in outcome) throw outcome.error;
        return outcome.value;
      },
    });
  }
  return variables;
}

function evaluationError(expression: string, e: unknown): string {
  return `expression '${expression}' resulted in error: ${celErrorText(e)}`;
}

/** The failure message: messageExpression's result, else message, else the expression. */
function failureMessage(v: CompiledValidation, context: Record<string, unknown>): string {
  if (v.message) {
    try {
      const result = v.message(context);
      if (typeof result === "string") {
        const text = result.trim();
        if (text && !text.includes("\n") && new TextEncoder().encode(text).length <= MAX_MESSAGE_BYTES) return text;
      }
    } catch {
      // kube falls back to the static message when messageExpression fails.
    }
  }
  return v.validation.message?.trim() || `failed expression: ${v.validation.expression.trim()}`;
}

/** validator.Validate: match conditions, then each validation, for one param. */
function evaluate(compiledPolicy: CompiledPolicy, base: Record<string, unknown>, params: KubeObject | null): Decision[] {
  const ignore = compiledPolicy.policy.spec?.failurePolicy === "Ignore";
  const context: Record<string, unknown> = { ...base };
  if (compiledPolicy.policy.spec?.paramKind) context.params = celValue(params);
  if (compiledPolicy.variables.length) context.variables = variablesFor(compiledPolicy, context);
  const errors: string[] = [];
  for (const condition of compiledPolicy.matchConditions) {
    try {
      if (condition.program(context) === false) return [];
    } catch (e) {
      errors.push(evaluationError(condition.expression, e));
    }
  }
  if (errors.length) return ignore ? [] : [{ message: errors.length === 1 ? errors[0]! : `[${errors.join(", ")}]` }];
  const decisions: Decision[] = [];
  for (const v of compiledPolicy.validations) {
    let result: unknown;
    try {
      result = v.program(context);
    } catch (e) {
      if (!ignore) decisions.push({ message: evaluationError(v.validation.expression, e) });
      continue;
    }
    if (result !== true) decisions.push({ reason: v.validation.reason ?? "Invalid", message: failureMessage(v, context) });
  }
  return decisions;
}

// ---- the plugin ----

const REASON_CODES: Record<string, number> = { Forbidden: 403, Invalid: 422, RequestEntityTooLarge: 413 };

/** kube's admission.NewForbidden with the decision's reason and code: `<resource> "<name>" is forbidden: <message>`. */
function denial(a: AdmissionAttributes, request: AdmissionRequest, policy: string, binding: string | undefined, decision: Decision): ApiError {
  const message = `ValidatingAdmissionPolicy '${policy}'${binding === undefined ? "" : ` with binding '${binding}'`} denied request: ${decision.message}`;
  const resource = qualifiedResource(a.def.group, a.def.resource);
  const name = request.name || a.object?.metadata?.generateName || "Unknown";
  const reason = decision.reason ?? "Invalid";
  return new ApiError(REASON_CODES[reason] ?? 500, reason, `${resource} "${name}" is forbidden: ${message}`,
    { name, group: a.def.group || undefined, kind: a.def.resource, causes: [{ message }] });
}

export const validatingAdmissionPolicy: AdmissionPlugin = {
  name: "ValidatingAdmissionPolicy",
  async validate(a) {
    // Policies never judge writes of admission configuration itself, as in kube.
    if (a.def.group === GROUP) return;
    const policies = await loadPolicies(a.env);
    if (!policies.length) return;
    const request = new AdmissionRequest(a);
    let base: Record<string, unknown> | undefined;
    const denied: { policy: string; binding?: string; decision: Decision }[] = [];
    for (const compiledPolicy of policies) {
      const { policy } = compiledPolicy;
      const policyName = policy.metadata?.name ?? "";
      const failClosed = policy.spec?.failurePolicy !== "Ignore";
      if (!policy.spec?.matchConstraints || !(await matches(policy.spec.matchConstraints, request))) continue;
      let paramDef: ResourceDefinition | undefined;
      try {
        if (compiledPolicy.error) throw new ConfigurationError(compiledPolicy.error);
        if (policy.spec.paramKind) paramDef = await paramDefinition(a.env, policy.spec.paramKind);
      } catch (e) {
        if (!(e instanceof ConfigurationError)) throw e;
        if (failClosed) denied.push({ policy: policyName, decision: { message: `failed to configure policy: ${e.message}` } });
        continue;
      }
      for (const binding of compiledPolicy.bindings) {
        const bindingName = binding.metadata?.name ?? "";
        if (binding.spec?.matchResources && !(await matches(binding.spec.matchResources, request))) continue;
        let params: (KubeObject | null)[];
        try {
          params = await collectParams(a, paramDef, binding.spec?.paramRef, policy.spec.paramKind);
        } catch (e) {
          if (!(e instanceof ConfigurationError)) throw e;
          if (failClosed) denied.push({ policy: policyName, binding: bindingName, decision: { message: `failed to configure binding: ${e.message}` } });
          continue;
        }
        base ??= {
          object: celValue(a.object), oldObject: celValue(a.oldObject), request: celValue(requestForCel(a, request)),
          namespaceObject: celValue(namespaceForCel(await request.namespaceObject())),
        };
        for (const param of params) {
          for (const decision of evaluate(compiledPolicy, base, param)) {
            const actions = binding.spec?.validationActions ?? [];
            if (actions.includes("Deny")) denied.push({ policy: policyName, binding: bindingName, decision });
            if (actions.includes("Warn")) a.warnings.push(`Validation failed for ValidatingAdmissionPolicy '${policyName}' with binding '${bindingName}': ${decision.message}`);
            // Audit needs the audit log to carry admission annotations; until then it records nothing.
          }
        }
      }
    }
    const first = denied[0];
    if (first) throw denial(a, request, first.policy, first.binding, first.decision);
  },
};

export { celValue };
