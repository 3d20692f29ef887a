// The MutatingAdmissionWebhook and ValidatingAdmissionWebhook admission plugins: each webhook of a
// stored configuration whose rules, selectors and match conditions select the request is sent an
// AdmissionReview v1 over HTTPS (fetch, with the webhook's timeout); its answer allows, denies,
// patches (mutating, JSONPatch) and warns, and a failed call is judged by its failurePolicy.
// Configurations are read from the store and kept by an isolate for a second, as for policies.
import { IsolateCache } from "../../lib/isolate-cache.ts";
import type { MutatingWebhookConfiguration, ValidatingWebhookConfiguration } from "kubernetes-types/admissionregistration/v1";
import { applyPatch, type Operation } from "fast-json-patch";
import { ApiError, apiErrors, qualifiedResource } from "../../lib/k8s/status.ts";
import {
  admissionregistrationResources, celErrorText, compilePolicyExpression, PolicyCompileError, type PolicyProgram, type Webhook,
} from "../registry/admissionregistration.ts";
import { RegistryStore } from "../registry/store.ts";
import type { KubeObject, ResourceDefinition } from "../registry/types.ts";
import { ObjectStorage } from "../storage/object-storage.ts";
import type { AdmissionAttributes, AdmissionPlugin } from "./plugin.ts";
import { AdmissionRequest, celValue, matches, namespaceForCel } from "./validating-admission-policy.ts";

const FRESH_MS = 1000;
const GROUP = "admissionregistration.k8s.io";
const REVIEW_API_VERSION = "admission.k8s.io/v1";
/** Side effects a webhook may have and still be called for a dry run. */
const NO_SIDE_EFFECTS = ["None", "NoneOnDryRun"];

interface CompiledWebhook {
  hook: Webhook;
  matchConditions: { expression: string; program: PolicyProgram }[];
  /** Why the webhook cannot be used (a match condition stored before it stopped compiling). */
  error?: string;
}

interface Configurations {
  mutating: CompiledWebhook[];
  validating: CompiledWebhook[];
}

const configurations = new IsolateCache<Configurations>(FRESH_MS);

/** Forgets what this isolate read, after it wrote admission configuration itself. */
export function invalidateWebhookConfigurations(): void {
  configurations.invalidate();
}

function definition(kind: string): ResourceDefinition {
  return admissionregistrationResources.find((def) => def.kind === kind)!;
}

function loadConfigurations(env: Env): Promise<Configurations> {
  return configurations.get(() => readConfigurations(env));
}

/** The webhooks of every configuration of a kind: configurations in name order, as kube sorts them. */
async function readWebhooks(storage: ObjectStorage, kind: string): Promise<CompiledWebhook[]> {
  const { items } = await storage.list(new RegistryStore(definition(kind), storage).prefix(), {});
  const configurations = items.map((stored) => stored.object as MutatingWebhookConfiguration | ValidatingWebhookConfiguration);
  configurations.sort((x, y) => (x.metadata?.name ?? "").localeCompare(y.metadata?.name ?? ""));
  return configurations.flatMap((configuration) => (configuration.webhooks ?? []).map((hook) => compileWebhook(hook as Webhook)));
}

async function readConfigurations(env: Env): Promise<Configurations> {
  const storage = new ObjectStorage(env);
  const [mutating, validating] = await Promise.all([readWebhooks(storage, "MutatingWebhookConfiguration"), readWebhooks(storage, "ValidatingWebhookConfiguration")]);
  return { mutating, validating };
}

function compileWebhook(hook: Webhook): CompiledWebhook {
  try {
    const matchConditions = (hook.matchConditions ?? []).map((c) => ({ expression: c.expression, program: compilePolicyExpression(c.expression, "bool", { params: false, variables: false }) }));
    return { hook, matchConditions };
  } catch (e) {
    if (!(e instanceof PolicyCompileError)) throw e;
    return { hook, matchConditions: [], error: e.message };
  }
}

// ---- matching ----

/** A failed call: judged by the webhook's failurePolicy. */
class CallError extends Error {}

/** Whether the webhook is called for the request: its rules and selectors, then its match conditions. */
async function shouldCall(compiled: CompiledWebhook, request: AdmissionRequest): Promise<boolean> {
  const { hook } = compiled;
  // A webhook without rules matches nothing.
  if (!hook.rules?.length) return false;
  if (!(await matches({ namespaceSelector: hook.namespaceSelector, objectSelector: hook.objectSelector, resourceRules: hook.rules, matchPolicy: hook.matchPolicy }, request))) return false;
  if (compiled.error) throw new CallError(`failed to compile match conditions: ${compiled.error}`);
  if (!compiled.matchConditions.length) return true;
  const { a } = request;
  const context = {
    object: celValue(a.object), oldObject: celValue(a.oldObject), request: celValue(reviewRequest(a, request, "")),
    namespaceObject: celValue(namespaceForCel(await request.namespaceObject())),
  };
  const errors: string[] = [];
  for (const condition of compiled.matchConditions) {
    try {
      if (condition.program(context) === false) return false;
    } catch (e) {
      errors.push(`expression '${condition.expression}' resulted in error: ${celErrorText(e)}`);
    }
  }
  if (!errors.length) return true;
  if (hook.failurePolicy === "Ignore") return false;
  const resource = qualifiedResource(a.def.group, a.def.resource);
  throw apiErrors.forbidden(`${resource} "${request.name}" is forbidden: ${errors.join(", ")}`);
}

// ---- the call ----

const OPTIONS_KIND = { CREATE: "CreateOptions", UPDATE: "UpdateOptions", DELETE: "DeleteOptions" } as const;

/** AdmissionReview v1's request. */
function reviewRequest(a: AdmissionAttributes, request: AdmissionRequest, uid: string): Record<string, unknown> {
  const kind = { group: a.def.group, version: a.def.version, kind: a.def.kind };
  const resource = { group: a.def.group, version: a.def.version, resource: a.def.resource };
  return {
    uid, kind, resource, subResource: a.subresource, requestKind: kind, requestResource: resource, requestSubResource: a.subresource,
    name: request.name || undefined, namespace: request.namespaceName || undefined, operation: a.operation,
    userInfo: { username: a.user.name, uid: a.user.uid, groups: a.user.groups, ...(a.user.extra ? { extra: a.user.extra } : {}) },
    object: a.operation === "DELETE" ? null : a.object ?? null, oldObject: a.operation === "CREATE" ? null : a.oldObject ?? null,
    dryRun: a.dryRun, options: { apiVersion: "meta.k8s.io/v1", kind: OPTIONS_KIND[a.operation], ...(a.dryRun ? { dryRun: ["All"] } : {}) },
  };
}

interface ReviewResponse {
  uid?: string;
  allowed?: boolean;
  status?: { code?: number; message?: string; reason?: string };
  patch?: string;
  patchType?: string;
  warnings?: string[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Posts the review and checks the answer (VerifyAdmissionResponse); anything amiss is a CallError worded as kube's. */
async function callWebhook(hook: Webhook, review: Record<string, unknown>, uid: string, mutating: boolean): Promise<ReviewResponse> {
  const url = hook.clientConfig.url!;
  const signal = AbortSignal.timeout((hook.timeoutSeconds ?? 10) * 1000);
  let status: number;
  let text: string;
  try {
    const res = await fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(review), signal,
    });
    status = res.status;
    text = await res.text();
  } catch (e) {
    const why = signal.aborted ? "context deadline exceeded" : (e as Error)?.message ?? String(e);
    throw new CallError(`failed to call webhook: Post ${JSON.stringify(url)}: ${why}`);
  }
  if (status < 200 || status > 299) throw new CallError(`failed to call webhook: the server responded with HTTP status ${status}`);
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    // The parser's message quotes the body: say only that it is not JSON.
    throw new CallError("received invalid webhook response: the response is not JSON");
  }
  const invalid = (why: string) => new CallError(`received invalid webhook response: ${why}`);
  if (!isObject(answer)) throw invalid("the response is not a JSON object");
  if (answer.apiVersion !== REVIEW_API_VERSION || answer.kind !== "AdmissionReview") {
    throw invalid(`expected webhook response of ${REVIEW_API_VERSION}, Kind=AdmissionReview, got ${String(answer.apiVersion ?? "")}, Kind=${String(answer.kind ?? "")}`);
  }
  const response = answer.response;
  if (!isObject(response)) throw invalid("webhook response was absent");
  const result = response as ReviewResponse;
  if (result.uid !== uid) throw invalid(`expected response.uid=${JSON.stringify(uid)}, got ${JSON.stringify(result.uid ?? "")}`);
  if (typeof result.allowed !== "boolean") throw invalid("response.allowed is required");
  if (result.patch !== undefined || result.patchType !== undefined) {
    if (!mutating) throw invalid("validating webhooks may not return response.patch or response.patchType");
    if (result.patch !== undefined && result.patchType === undefined) throw invalid("webhook returned response.patch but not response.patchType");
    if (result.patchType !== undefined && result.patchType !== "JSONPatch") throw invalid(`webhook returned invalid response.patchType of ${JSON.stringify(result.patchType)}`);
  }
  return result;
}

/** ToStatusErr: the webhook's status, worded `admission webhook "<name>" denied the request: <message>`, never below 400. */
function denial(hook: Webhook, status: ReviewResponse["status"]): ApiError {
  const deniedBy = `admission webhook ${JSON.stringify(hook.name)} denied the request`;
  const code = status?.code && status.code >= 400 ? status.code : 400;
  const message = status?.message ? `${deniedBy}: ${status.message}` : status?.reason ? `${deniedBy}: ${status.reason}` : `${deniedBy} without explanation`;
  return new ApiError(code, status?.reason ?? "", message);
}

/** Applies a JSONPatch answer to the object in place; a patch that does not apply is the webhook's fault, not the request's. */
function applyWebhookPatch(hook: Webhook, object: KubeObject, patch: string): void {
  let patched: unknown;
  try {
    const operations = JSON.parse(atob(patch)) as Operation[];
    patched = applyPatch(structuredClone(object), operations, true, false).newDocument;
  } catch (e) {
    throw apiErrors.internal(`failed to apply the patch of webhook ${JSON.stringify(hook.name)}: ${(e as Error)?.name ?? "error"}`);
  }
  if (!isObject(patched)) throw apiErrors.internal(`the patch of webhook ${JSON.stringify(hook.name)} did not leave an object`);
  for (const key of Object.keys(object)) delete object[key];
  Object.assign(object, patched);
}

/**
 * Calls one webhook: refuses dry runs it may not see, and answers its denial; a failed call
 * fails the request (Fail) or is logged and passed over (Ignore).
 */
async function admit(compiled: CompiledWebhook, a: AdmissionAttributes, request: AdmissionRequest, mutating: boolean): Promise<ReviewResponse | undefined> {
  const { hook } = compiled;
  try {
    if (!(await shouldCall(compiled, request))) return undefined;
    if (a.dryRun && !NO_SIDE_EFFECTS.includes(hook.sideEffects)) throw apiErrors.badRequest(`admission webhook ${JSON.stringify(hook.name)} does not support dry run`);
    const uid = crypto.randomUUID();
    const review = { apiVersion: REVIEW_API_VERSION, kind: "AdmissionReview", request: reviewRequest(a, request, uid) };
    const result = await callWebhook(hook, review, uid, mutating);
    if (!result.allowed) throw denial(hook, result.status);
    return result;
  } catch (e) {
    if (!(e instanceof CallError)) throw e;
    // Only the webhook and the reason: never the object, which may be a Secret.
    if (hook.failurePolicy === "Ignore") {
      console.warn(JSON.stringify({ level: "warn", msg: "failed calling webhook, failing open", webhook: hook.name, error: e.message }));
      return undefined;
    }
    throw apiErrors.internal(`failed calling webhook ${JSON.stringify(hook.name)}: ${e.message}`);
  }
}

function passWarnings(a: AdmissionAttributes, result: ReviewResponse | undefined): void {
  for (const warning of result?.warnings ?? []) if (typeof warning === "string") a.warnings.push(warning);
}

// ---- the plugins ----

export const mutatingAdmissionWebhook: AdmissionPlugin = {
  name: "MutatingAdmissionWebhook",
  async mutate(a) {
    // Webhooks never judge writes of admission configuration itself, as in kube.
    if (a.def.group === GROUP) return;
    const { mutating } = await loadConfigurations(a.env);
    if (!mutating.length) return;
    const request = new AdmissionRequest(a);
    // reinvocationPolicy IfNeeded: a webhook is called once more when a later one changed the object after it.
    const seenAfter = new Map<CompiledWebhook, string>();
    for (const compiled of mutating) {
      const result = await admit(compiled, a, request, true);
      if (result?.patch && a.object) applyWebhookPatch(compiled.hook, a.object, result.patch);
      passWarnings(a, result);
      if (result && compiled.hook.reinvocationPolicy === "IfNeeded") seenAfter.set(compiled, JSON.stringify(a.object));
    }
    for (const [compiled, seen] of seenAfter) {
      if (seen === JSON.stringify(a.object)) continue;
      const result = await admit(compiled, a, request, true);
      if (result?.patch && a.object) applyWebhookPatch(compiled.hook, a.object, result.patch);
      passWarnings(a, result);
    }
  },
};

export const validatingAdmissionWebhook: AdmissionPlugin = {
  name: "ValidatingAdmissionWebhook",
  async validate(a) {
    if (a.def.group === GROUP) return;
    const { validating } = await loadConfigurations(a.env);
    if (!validating.length) return;
    const request = new AdmissionRequest(a);
    // Validating webhooks are called together, as kube does; the first refusal in order answers.
    const outcomes = await Promise.allSettled(validating.map((compiled) => admit(compiled, a, request, false)));
    for (const outcome of outcomes) if (outcome.status === "fulfilled") passWarnings(a, outcome.value);
    const refused = outcomes.find((outcome) => outcome.status === "rejected");
    if (refused) throw refused.reason;
  },
};
