// admissionregistration.k8s.io/v1 resources: ValidatingAdmissionPolicy and its bindings, and the
// Mutating/ValidatingWebhookConfigurations, with kube's defaults and validation, and the CEL
// environment their expressions compile in (the admission plugins evaluate what compiles here).
import { Environment } from "@marcbachmann/cel-js";
import type {
  AuditAnnotation, MatchCondition, MatchResources, MutatingWebhook, MutatingWebhookConfiguration, NamedRuleWithOperations, ParamKind, ParamRef,
  ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding, ValidatingAdmissionPolicySpec, ValidatingWebhook, ValidatingWebhookConfiguration,
  Validation, Variable, WebhookClientConfig,
} from "kubernetes-types/admissionregistration/v1";
import type { LabelSelector } from "kubernetes-types/meta/v1";
import { labelSelectorFromObject, qualifiedNameErrors, SelectorError, type LabelSelectorObject } from "../../lib/k8s/selectors.ts";
import type { StatusCause } from "../../lib/k8s/status.ts";
import { declare, type ResourceDefinition } from "./types.ts";
import { invalid, required, validateDnsSubdomain } from "./validation.ts";

/** kubernetes-types 1.30 leaves out a rule's resources and scope. */
export type ResourceRule = NamedRuleWithOperations & { resources?: string[]; scope?: string };

// ---- the CEL environment ----

export type PolicyProgram = ReturnType<Environment["parse"]>;

/** What an expression may read beyond object, oldObject, request and namespaceObject. */
export interface ExpressionScope {
  /** The policy has a paramKind. */
  params: boolean;
  /** The policy declares variables. */
  variables: boolean;
}

/** The type an expression must have: a validation's is bool, a message's string; a variable's anything. */
export type ExpressionType = "bool" | "string" | "string or null" | "any";

const environments = new Map<string, Environment>();

function environmentFor(scope: ExpressionScope): Environment {
  const key = `${scope.params}/${scope.variables}`;
  let environment = environments.get(key);
  if (!environment) {
    environment = new Environment({ homogeneousAggregateLiterals: false, enableOptionalTypes: true });
    // Unlisted names stay errors, as kube's type check makes them; everything read is dyn.
    const names = ["object", "oldObject", "request", "namespaceObject", ...(scope.params ? ["params"] : []), ...(scope.variables ? ["variables"] : [])];
    for (const name of names) environment.registerVariable(name, "dyn");
    environments.set(key, environment);
  }
  return environment;
}

/** The first line of a cel-js error (the rest is a caret drawing of the source). */
export function celErrorText(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0]!.trim();
}

const ACCEPTED: Record<ExpressionType, string[]> = { bool: ["bool", "dyn"], string: ["string", "dyn"], "string or null": ["string", "null", "dyn"], any: [] };
const REQUIRED_TYPE: Record<ExpressionType, string> = { bool: "must evaluate to bool", string: "must evaluate to string", "string or null": "must evaluate to one of [string null_type]", any: "" };

export class PolicyCompileError extends Error {}

/** Compiles one of a policy's expressions; throws a PolicyCompileError worded as kube's field detail. */
export function compilePolicyExpression(expression: string, type: ExpressionType, scope: ExpressionScope): PolicyProgram {
  const environment = environmentFor(scope);
  const checked = environment.check(expression);
  if (!checked.valid) {
    const text = celErrorText(checked.error);
    // kube declares an authorizer variable; this apiserver does not offer one.
    if (text === "Unknown variable: authorizer") throw new PolicyCompileError("compilation failed: the authorizer variable is not supported");
    throw new PolicyCompileError(`compilation failed: ${text}`);
  }
  if (type !== "any" && !ACCEPTED[type].includes(checked.type ?? "dyn")) throw new PolicyCompileError(REQUIRED_TYPE[type]);
  return environment.parse(expression);
}

// ---- validation ----

const FAILURE_POLICIES = ["Fail", "Ignore"];
const MATCH_POLICIES = ["Equivalent", "Exact"];
const OPERATIONS = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"];
const SCOPES = ["*", "Cluster", "Namespaced"];
const VALIDATION_REASONS = ["Forbidden", "Invalid", "RequestEntityTooLarge"];
const VALIDATION_ACTIONS = ["Audit", "Deny", "Warn"];
const PARAMETER_NOT_FOUND_ACTIONS = ["Allow", "Deny"];
const MAX_MATCH_CONDITIONS = 64;
const MAX_AUDIT_ANNOTATIONS = 20;
const MAX_VALUE_EXPRESSION_BYTES = 5 * 1024;
const CEL_IDENTIFIER = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
const CEL_RESERVED = new Set(["true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"]);
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function notSupported(field: string, value: unknown, supported: string[]): StatusCause {
  return { reason: "FieldValueNotSupported", field, message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(", ")}` };
}

function duplicate(field: string, value: unknown): StatusCause {
  return { reason: "FieldValueDuplicate", field, message: `Duplicate value: ${JSON.stringify(value)}` };
}

function forbidden(field: string, message: string): StatusCause {
  return { reason: "FieldValueForbidden", field, message: `Forbidden: ${message}` };
}

function isBlank(value: string | undefined): boolean {
  return !value || !value.trim();
}

/** A name usable as one URL path segment (resourceNames, paramRef.name). */
function pathSegmentErrors(name: string): string[] {
  if (name === "." || name === "..") return [`may not be '${name}'`];
  return ["/", "%"].filter((bad) => name.includes(bad)).map((bad) => `may not contain '${bad}'`);
}

function validateSelector(selector: LabelSelector | undefined, field: string): StatusCause[] {
  if (!selector) return [required(field)];
  try {
    labelSelectorFromObject(selector as LabelSelectorObject);
    return [];
  } catch (e) {
    if (e instanceof SelectorError) return [{ reason: "FieldValueInvalid", field, message: e.message }];
    throw e;
  }
}

function wildcardWithOthers(values: string[] | undefined): boolean {
  return !!values && values.length > 1 && values.includes("*");
}

/** Resources with subresources: "pods", "pods/status", "pods/*", "*\/status", "*" and "*\/*" may not overlap. */
function validateResources(resources: string[] | undefined, field: string): StatusCause[] {
  if (!resources?.length) return [required(field)];
  const causes: StatusCause[] = [];
  const wildcardSubresourcesOf = new Set<string>();
  const wildcardResourcesFor = new Set<string>();
  let plain = false;
  resources.forEach((entry, i) => {
    if (!entry) return void causes.push(required(`${field}[${i}]`));
    const slash = entry.indexOf("/");
    if (slash < 0) {
      plain = entry !== "*";
      return;
    }
    const [resource, subresource] = [entry.slice(0, slash), entry.slice(slash + 1)];
    if (wildcardSubresourcesOf.has(resource)) causes.push(invalid(`${field}[${i}]`, entry, `if '${resource}/*' is present, must not specify ${entry}`));
    if (wildcardResourcesFor.has(subresource)) causes.push(invalid(`${field}[${i}]`, entry, `if '*/${subresource}' is present, must not specify ${entry}`));
    if (subresource === "*") wildcardSubresourcesOf.add(resource);
    if (resource === "*") wildcardResourcesFor.add(subresource);
  });
  if (resources.length > 1 && resources.includes("*/*")) causes.push(invalid(field, resources, "if '*/*' is present, must not specify other resources"));
  if (resources.includes("*") && plain) causes.push(invalid(field, resources, "if '*' is present, must not specify other resources without subresources"));
  return causes;
}

function validateRule(rule: ResourceRule, field: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const names = new Set<string>();
  (rule.resourceNames ?? []).forEach((name, i) => {
    for (const message of pathSegmentErrors(name)) causes.push(invalid(`${field}.resourceNames[${i}]`, name, message));
    if (names.has(name)) causes.push(duplicate(`${field}.resourceNames[${i}]`, name));
    names.add(name);
  });
  if (!rule.operations?.length) causes.push(required(`${field}.operations`));
  if (wildcardWithOthers(rule.operations)) causes.push(invalid(`${field}.operations`, rule.operations, "if '*' is present, must not specify other operations"));
  (rule.operations ?? []).forEach((operation, i) => {
    if (!OPERATIONS.includes(operation)) causes.push(notSupported(`${field}.operations[${i}]`, operation, OPERATIONS));
  });
  if (!rule.apiGroups?.length) causes.push(required(`${field}.apiGroups`));
  if (wildcardWithOthers(rule.apiGroups)) causes.push(invalid(`${field}.apiGroups`, rule.apiGroups, "if '*' is present, must not specify other API groups"));
  if (!rule.apiVersions?.length) causes.push(required(`${field}.apiVersions`));
  if (wildcardWithOthers(rule.apiVersions)) causes.push(invalid(`${field}.apiVersions`, rule.apiVersions, "if '*' is present, must not specify other API versions"));
  (rule.apiVersions ?? []).forEach((version, i) => {
    if (!version) causes.push(required(`${field}.apiVersions[${i}]`));
  });
  causes.push(...validateResources(rule.resources, `${field}.resources`));
  if (rule.scope !== undefined && !SCOPES.includes(rule.scope)) causes.push(notSupported(`${field}.scope`, rule.scope, SCOPES));
  return causes;
}

function validateMatchResources(match: MatchResources, field: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!match.matchPolicy) causes.push(required(`${field}.matchPolicy`));
  else if (!MATCH_POLICIES.includes(match.matchPolicy)) causes.push(notSupported(`${field}.matchPolicy`, match.matchPolicy, MATCH_POLICIES));
  causes.push(...validateSelector(match.namespaceSelector, `${field}.namespaceSelector`));
  causes.push(...validateSelector(match.objectSelector, `${field}.objectSelector`));
  (match.resourceRules ?? []).forEach((rule, i) => causes.push(...validateRule(rule, `${field}.resourceRules[${i}]`)));
  (match.excludeResourceRules ?? []).forEach((rule, i) => causes.push(...validateRule(rule, `${field}.excludeResourceRules[${i}]`)));
  return causes;
}

function validateParamKind(paramKind: ParamKind, field: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const apiVersion = paramKind.apiVersion ?? "";
  if (!apiVersion) causes.push(required(`${field}.apiVersion`));
  else {
    const parts = apiVersion.split("/");
    if (parts.length > 2) causes.push(invalid(`${field}.apiVersion`, apiVersion, `unexpected GroupVersion string: ${apiVersion}`));
    else {
      const [group, version] = parts.length === 2 ? parts as [string, string] : ["", parts[0]!];
      if (group) causes.push(...validateDnsSubdomain(`${field}.apiVersion`, group));
      if (!version) causes.push(invalid(`${field}.apiVersion`, apiVersion, "version must be specified"));
      else if (!DNS1035_LABEL.test(version)) causes.push(invalid(`${field}.apiVersion`, version, "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character"));
    }
  }
  if (!paramKind.kind) causes.push(required(`${field}.kind`));
  else if (!DNS1035_LABEL.test(paramKind.kind.toLowerCase())) causes.push(invalid(`${field}.kind`, paramKind.kind, "may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character"));
  return causes;
}

/** An expression that is required and must compile to the given type. */
function validateExpression(expression: string | undefined, field: string, type: ExpressionType, scope: ExpressionScope, missing = ""): StatusCause[] {
  if (isBlank(expression)) return [required(field, missing ? `Required value: ${missing}` : "Required value")];
  try {
    compilePolicyExpression(expression!, type, scope);
    return [];
  } catch (e) {
    if (e instanceof PolicyCompileError) return [invalid(field, expression, e.message)];
    throw e;
  }
}

function validateMatchConditions(conditions: MatchCondition[], field: string, scope: ExpressionScope): StatusCause[] {
  const causes: StatusCause[] = [];
  if (conditions.length > MAX_MATCH_CONDITIONS) causes.push({ reason: "FieldValueTooMany", field, message: `Too many: ${conditions.length}: must have at most ${MAX_MATCH_CONDITIONS} items` });
  const names = new Set<string>();
  conditions.forEach((condition, i) => {
    const at = `${field}[${i}]`;
    causes.push(...validateExpression(condition.expression?.trim(), `${at}.expression`, "bool", { ...scope, variables: false }));
    if (!condition.name) causes.push(required(`${at}.name`));
    else {
      for (const message of qualifiedNameErrors(condition.name)) causes.push(invalid(`${at}.name`, condition.name, message));
      if (names.has(condition.name)) causes.push(duplicate(`${at}.name`, condition.name));
      names.add(condition.name);
    }
  });
  return causes;
}

function validateVariable(variable: Variable, field: string, scope: ExpressionScope): StatusCause[] {
  const causes: StatusCause[] = [];
  if (isBlank(variable.name)) causes.push(required(`${field}.name`, "Required value: name is not specified"));
  else if (!CEL_IDENTIFIER.test(variable.name) || CEL_RESERVED.has(variable.name)) causes.push(invalid(`${field}.name`, variable.name, "name is not a valid CEL identifier"));
  causes.push(...validateExpression(variable.expression, `${field}.expression`, "any", scope, "expression is not specified"));
  return causes;
}

function validateValidation(validation: Validation, field: string, scope: ExpressionScope): StatusCause[] {
  const causes = validateExpression(validation.expression, `${field}.expression`, "bool", scope, "expression is not specified");
  const { messageExpression, message } = validation;
  if (messageExpression && isBlank(messageExpression)) causes.push(invalid(`${field}.messageExpression`, messageExpression, "must be non-empty if specified"));
  else if (messageExpression) causes.push(...validateExpression(messageExpression, `${field}.messageExpression`, "string", scope));
  if (message && isBlank(message)) causes.push(invalid(`${field}.message`, message, "message must be non-empty if specified"));
  else if (message && /[\n\r]/.test(message.trim())) causes.push(invalid(`${field}.message`, message, "message must not contain line breaks"));
  if (validation.reason !== undefined && !VALIDATION_REASONS.includes(validation.reason)) causes.push(notSupported(`${field}.reason`, validation.reason, VALIDATION_REASONS));
  return causes;
}

function validateAuditAnnotation(annotation: AuditAnnotation, policyName: string, field: string, scope: ExpressionScope): StatusCause[] {
  const causes: StatusCause[] = [];
  if (policyName) {
    const key = `${policyName}/${annotation.key ?? ""}`;
    for (const message of qualifiedNameErrors(key)) causes.push(invalid(`${field}.key`, key, message));
  } else {
    causes.push(invalid(`${field}.key`, annotation.key, "requires metadata.name be non-empty"));
  }
  const value = annotation.valueExpression?.trim();
  if (!value) causes.push(required(`${field}.valueExpression`, "Required value: valueExpression is not specified"));
  else if (new TextEncoder().encode(value).length > MAX_VALUE_EXPRESSION_BYTES) causes.push(required(`${field}.valueExpression`, `Required value: must not exceed ${MAX_VALUE_EXPRESSION_BYTES} bytes in length`));
  else causes.push(...validateExpression(value, `${field}.valueExpression`, "string or null", scope));
  return causes;
}

function validatePolicy(policy: ValidatingAdmissionPolicy): StatusCause[] {
  const spec: Partial<ValidatingAdmissionPolicySpec> = policy.spec ?? {};
  const causes: StatusCause[] = [];
  const scope: ExpressionScope = { params: !!spec.paramKind, variables: !!spec.variables?.length };
  if (!spec.failurePolicy) causes.push(required("spec.failurePolicy"));
  else if (!FAILURE_POLICIES.includes(spec.failurePolicy)) causes.push(notSupported("spec.failurePolicy", spec.failurePolicy, FAILURE_POLICIES));
  if (spec.paramKind) causes.push(...validateParamKind(spec.paramKind, "spec.paramKind"));
  if (!spec.matchConstraints) causes.push(required("spec.matchConstraints"));
  else {
    causes.push(...validateMatchResources(spec.matchConstraints, "spec.matchConstraints"));
    // The rules say which kinds the expressions see.
    if (!spec.matchConstraints.resourceRules?.length) causes.push(required("spec.matchConstraints.resourceRules"));
  }
  causes.push(...validateMatchConditions(spec.matchConditions ?? [], "spec.matchConditions", scope));
  (spec.variables ?? []).forEach((variable, i) => causes.push(...validateVariable(variable, `spec.variables[${i}]`, scope)));
  if (!spec.validations?.length && !spec.auditAnnotations?.length) {
    causes.push(required("spec.validations", "Required value: validations or auditAnnotations must contain at least one item"));
    causes.push(required("spec.auditAnnotations", "Required value: validations or auditAnnotations must contain at least one item"));
    return causes;
  }
  (spec.validations ?? []).forEach((validation, i) => causes.push(...validateValidation(validation, `spec.validations[${i}]`, scope)));
  const annotations = spec.auditAnnotations ?? [];
  if (annotations.length > MAX_AUDIT_ANNOTATIONS) causes.push(invalid("spec.auditAnnotations", annotations, `must not have more than ${MAX_AUDIT_ANNOTATIONS} auditAnnotations`));
  const keys = new Set<string>();
  annotations.forEach((annotation, i) => {
    causes.push(...validateAuditAnnotation(annotation, policy.metadata?.name ?? "", `spec.auditAnnotations[${i}]`, scope));
    if (keys.has(annotation.key)) causes.push(duplicate(`spec.auditAnnotations[${i}].key`, annotation.key));
    keys.add(annotation.key);
  });
  return causes;
}

function validateParamRef(ref: ParamRef, field: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (ref.name) {
    for (const message of pathSegmentErrors(ref.name)) causes.push(invalid(`${field}.name`, ref.name, message));
    if (ref.selector) causes.push(forbidden(`${field}.name`, "name and selector are mutually exclusive"));
  }
  if (ref.selector) {
    causes.push(...validateSelector(ref.selector, `${field}.selector`));
    if (ref.name) causes.push(forbidden(`${field}.selector`, "name and selector are mutually exclusive"));
  }
  if (!ref.name && !ref.selector) causes.push(required(field, "Required value: one of name or selector must be specified"));
  if (!ref.parameterNotFoundAction) causes.push(required(`${field}.parameterNotFoundAction`));
  else if (!PARAMETER_NOT_FOUND_ACTIONS.includes(ref.parameterNotFoundAction)) causes.push(notSupported(`${field}.parameterNotFoundAction`, ref.parameterNotFoundAction, PARAMETER_NOT_FOUND_ACTIONS));
  return causes;
}

function validateBinding(binding: ValidatingAdmissionPolicyBinding): StatusCause[] {
  const spec = binding.spec ?? {};
  const causes: StatusCause[] = [];
  if (!spec.policyName) causes.push(required("spec.policyName"));
  else causes.push(...validateDnsSubdomain("spec.policyName", spec.policyName));
  if (spec.paramRef) causes.push(...validateParamRef(spec.paramRef, "spec.paramRef"));
  // kube spells this path "matchResouces" in its errors; clients matching on it see the same.
  if (spec.matchResources) causes.push(...validateMatchResources(spec.matchResources, "spec.matchResouces"));
  const actions = spec.validationActions ?? [];
  const seen = new Set<string>();
  actions.forEach((action, i) => {
    if (!VALIDATION_ACTIONS.includes(action)) causes.push(notSupported(`spec.validationActions[${i}]`, action, VALIDATION_ACTIONS));
    if (seen.has(action)) causes.push(duplicate(`spec.validationActions[${i}]`, action));
    seen.add(action);
  });
  if (seen.has("Deny") && seen.has("Warn")) {
    causes.push(invalid("spec.validationActions", actions, "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)"));
  }
  if (!seen.size) causes.push(required("spec.validationActions", "Required value: at least one validation action is required"));
  return causes;
}

// ---- webhook configurations ----

const SIDE_EFFECTS = ["None", "NoneOnDryRun"];
const REINVOCATION_POLICIES = ["IfNeeded", "Never"];
const REVIEW_VERSIONS = ["v1"];
const URL_FORM = "; desired format: https://host[/path]";
/** Hosts a webhook may be called on over plain http: a local-dev deviation from kube's https-only rule. */
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** A webhook of either kind, as stored. */
export type Webhook = (MutatingWebhook | ValidatingWebhook) & { reinvocationPolicy?: string; rules?: ResourceRule[] };

/** IsFullyQualifiedName: a DNS subdomain of at least three segments. */
function fullyQualifiedNameErrors(field: string, name: string | undefined): StatusCause[] {
  if (!name) return [required(field)];
  const causes = validateDnsSubdomain(field, name);
  if (causes.length) return causes;
  return name.split(".").length < 3 ? [invalid(field, name, "should be a domain with at least three segments separated by dots")] : [];
}

/** ValidateWebhookURL with forceHttps, but loopback hosts may be plain http. */
function validateWebhookUrl(url: string, field: string): StatusCause[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [required(field, `url must be a valid URL: parse ${JSON.stringify(url)}: invalid URL${URL_FORM}`)];
  }
  const causes: StatusCause[] = [];
  const scheme = parsed.protocol.replace(/:$/, "");
  if (scheme !== "https" && !(scheme === "http" && LOOPBACK_HOSTS.has(parsed.hostname))) {
    causes.push(invalid(field, scheme, `'https' is the only allowed URL scheme (http only for 127.0.0.1, localhost or [::1])${URL_FORM}`));
  }
  if (!parsed.host) causes.push(invalid(field, parsed.host, `host must be specified${URL_FORM}`));
  if (parsed.username || parsed.password) causes.push(invalid(field, "", "user information is not permitted in the URL"));
  if (parsed.hash) causes.push(invalid(field, parsed.hash.slice(1), "fragments are not permitted in the URL"));
  if (parsed.search) causes.push(invalid(field, parsed.search.slice(1), "query parameters are not permitted in the URL"));
  return causes;
}

function validateClientConfig(config: WebhookClientConfig | undefined, field: string): StatusCause[] {
  const { url, service } = config ?? {};
  if ((url === undefined) === (service === undefined)) return [required(field, "Required value: exactly one of url or service is required")];
  // The Worker reaches the internet, never a Service's cluster IP.
  if (service) return [forbidden(`${field}.service`, "service references are not supported: this control plane has no cluster network; use url")];
  return validateWebhookUrl(url!, `${field}.url`);
}

function validateWebhook(hook: Webhook, field: string, mutating: boolean): StatusCause[] {
  const causes = fullyQualifiedNameErrors(`${field}.name`, hook.name);
  const versions = hook.admissionReviewVersions ?? [];
  if (!versions.length) causes.push(required(`${field}.admissionReviewVersions`, `Required value: must specify one of ${REVIEW_VERSIONS.join(", ")}`));
  else {
    const seen = new Set<string>();
    versions.forEach((version, i) => {
      if (!DNS1035_LABEL.test(version)) causes.push(invalid(`${field}.admissionReviewVersions[${i}]`, version, "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character"));
      if (seen.has(version)) causes.push(duplicate(`${field}.admissionReviewVersions[${i}]`, version));
      seen.add(version);
    });
    // This apiserver speaks AdmissionReview v1 only.
    if (!versions.some((v) => REVIEW_VERSIONS.includes(v))) causes.push(invalid(`${field}.admissionReviewVersions`, versions, `must include at least one of ${REVIEW_VERSIONS.join(", ")}`));
  }
  (hook.rules ?? []).forEach((rule, i) => causes.push(...validateRule(rule, `${field}.rules[${i}]`)));
  if (hook.failurePolicy !== undefined && !FAILURE_POLICIES.includes(hook.failurePolicy)) causes.push(notSupported(`${field}.failurePolicy`, hook.failurePolicy, FAILURE_POLICIES));
  if (hook.matchPolicy !== undefined && !MATCH_POLICIES.includes(hook.matchPolicy)) causes.push(notSupported(`${field}.matchPolicy`, hook.matchPolicy, MATCH_POLICIES));
  if (!hook.sideEffects) causes.push(required(`${field}.sideEffects`, `Required value: must specify one of ${SIDE_EFFECTS.join(", ")}`));
  else if (!SIDE_EFFECTS.includes(hook.sideEffects)) causes.push(notSupported(`${field}.sideEffects`, hook.sideEffects, SIDE_EFFECTS));
  if (hook.timeoutSeconds !== undefined && (hook.timeoutSeconds < 1 || hook.timeoutSeconds > 30)) {
    causes.push(invalid(`${field}.timeoutSeconds`, hook.timeoutSeconds, "the timeout value must be between 1 and 30 seconds"));
  }
  if (hook.namespaceSelector) causes.push(...validateSelector(hook.namespaceSelector, `${field}.namespaceSelector`));
  if (hook.objectSelector) causes.push(...validateSelector(hook.objectSelector, `${field}.objectSelector`));
  if (mutating && hook.reinvocationPolicy !== undefined && !REINVOCATION_POLICIES.includes(hook.reinvocationPolicy)) {
    causes.push(notSupported(`${field}.reinvocationPolicy`, hook.reinvocationPolicy, REINVOCATION_POLICIES));
  }
  causes.push(...validateClientConfig(hook.clientConfig, `${field}.clientConfig`));
  causes.push(...validateMatchConditions(hook.matchConditions ?? [], `${field}.matchConditions`, { params: false, variables: false }));
  return causes;
}

function validateWebhookConfiguration(configuration: MutatingWebhookConfiguration | ValidatingWebhookConfiguration, mutating: boolean): StatusCause[] {
  const causes: StatusCause[] = [];
  const names = new Set<string>();
  (configuration.webhooks ?? []).forEach((hook, i) => {
    causes.push(...validateWebhook(hook, `webhooks[${i}]`, mutating));
    if (hook.name && names.has(hook.name)) causes.push(duplicate(`webhooks[${i}].name`, hook.name));
    names.add(hook.name);
  });
  return causes;
}

function defaultWebhook(hook: Webhook, mutating: boolean): void {
  hook.failurePolicy ??= "Fail";
  hook.matchPolicy ??= "Equivalent";
  hook.namespaceSelector ??= {};
  hook.objectSelector ??= {};
  hook.timeoutSeconds ??= 10;
  if (mutating) hook.reinvocationPolicy ??= "Never";
  for (const rule of hook.rules ?? []) rule.scope ??= "*";
}

// ---- defaults ----

function defaultMatchResources(match: MatchResources): void {
  match.matchPolicy ??= "Equivalent";
  match.namespaceSelector ??= {};
  match.objectSelector ??= {};
  for (const rule of [...(match.resourceRules ?? []), ...(match.excludeResourceRules ?? [])] as ResourceRule[]) rule.scope ??= "*";
}

export const admissionregistrationResources: ResourceDefinition[] = [
  declare("admissionregistration.k8s.io/v1", "validatingadmissionpolicies", {
    hasStatus: true, generation: true,
    defaults(policy) {
      const spec = (policy.spec ??= {}) as ValidatingAdmissionPolicySpec;
      spec.failurePolicy ??= "Fail";
      if (spec.matchConstraints) defaultMatchResources(spec.matchConstraints);
    },
    validate: (policy) => validatePolicy(policy as ValidatingAdmissionPolicy),
  }),
  declare("admissionregistration.k8s.io/v1", "validatingadmissionpolicybindings", {
    generation: true,
    defaults(binding) {
      binding.spec ??= {};
      if (binding.spec.matchResources) defaultMatchResources(binding.spec.matchResources);
    },
    validate: (binding) => validateBinding(binding as ValidatingAdmissionPolicyBinding),
  }),
  declare("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", {
    generation: true,
    defaults(configuration) {
      for (const hook of (configuration.webhooks ?? []) as Webhook[]) defaultWebhook(hook, true);
    },
    validate: (configuration) => validateWebhookConfiguration(configuration as MutatingWebhookConfiguration, true),
  }),
  declare("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", {
    generation: true,
    defaults(configuration) {
      for (const hook of (configuration.webhooks ?? []) as Webhook[]) defaultWebhook(hook, false);
    },
    validate: (configuration) => validateWebhookConfiguration(configuration as ValidatingWebhookConfiguration, false),
  }),
];
