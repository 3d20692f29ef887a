// x-kubernetes-validations: CEL rules on a custom resource's schema nodes, evaluated with `self`
// bound to the node's value (and `oldSelf` to its previous value on update, for transition
// rules), by @marcbachmann/cel-js, an interpreter (no code generation, so it runs in workerd).
import { Environment } from "@marcbachmann/cel-js";
import type { StatusCause } from "../../lib/k8s/status.ts";
import type { SchemaProps } from "./schema.ts";

const environment = new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false, enableOptionalTypes: true });

type Program = ReturnType<Environment["parse"]>;

interface Rule {
  rule: string;
  program: Program;
  /** A transition rule: it reads oldSelf, so it runs only on update where an old value exists. */
  transition: boolean;
  message?: string;
  messageExpression?: Program;
  reason?: string;
  fieldPath?: string;
}

/** The schema tree cut down to the nodes that carry rules or lead to some. */
interface RuleNode {
  type: string;
  rules: Rule[];
  properties?: Map<string, RuleNode>;
  items?: RuleNode;
  additionalProperties?: RuleNode;
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The first line of a cel-js error (the rest is a caret drawing of the source). */
function firstLine(e: unknown): string {
  return String((e as Error).message ?? e).split("\n")[0]!.trim();
}

function compileRules(schema: SchemaProps, path: string, errors: StatusCause[]): Rule[] {
  const rules: Rule[] = [];
  ((schema["x-kubernetes-validations"] ?? []) as Record<string, any>[]).forEach((spec, i) => {
    const field = `${path}.x-kubernetes-validations[${i}]`;
    try {
      if (typeof spec.rule !== "string" || !spec.rule.trim()) throw new Error("rule is not specified");
      const rule: Rule = {
        rule: spec.rule, program: environment.parse(spec.rule), transition: /\boldSelf\b/.test(spec.rule),
        message: spec.message, reason: spec.reason, fieldPath: spec.fieldPath,
      };
      if (spec.messageExpression) {
        try {
          rule.messageExpression = environment.parse(spec.messageExpression);
        } catch (e) {
          errors.push({ reason: "FieldValueInvalid", field: `${field}.messageExpression`, message: `Invalid value: ${JSON.stringify(spec.messageExpression)}: messageExpression compilation failed: ${firstLine(e)}` });
        }
      }
      rules.push(rule);
    } catch (e) {
      errors.push({ reason: "FieldValueInvalid", field: `${field}.rule`, message: `Invalid value: ${JSON.stringify(spec.rule)}: compilation failed: ${firstLine(e)}` });
    }
  });
  return rules;
}

function compileNode(schema: SchemaProps, path: string, errors: StatusCause[]): RuleNode | undefined {
  if (!isObject(schema)) return undefined;
  const node: RuleNode = { type: schema["x-kubernetes-int-or-string"] ? "integer-or-string" : schema.type ?? "object", rules: compileRules(schema, path, errors) };
  let found = node.rules.length > 0;
  for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, SchemaProps>)) {
    const compiled = compileNode(child, `${path}.properties[${key}]`, errors);
    if (compiled) (node.properties ??= new Map()).set(key, compiled);
  }
  if (node.properties) found = true;
  if (isObject(schema.items)) node.items = compileNode(schema.items, `${path}.items`, errors);
  if (isObject(schema.additionalProperties)) node.additionalProperties = compileNode(schema.additionalProperties, `${path}.additionalProperties`, errors);
  return found || node.items || node.additionalProperties ? node : undefined;
}

/** A JSON value as CEL sees it: whole numbers are CEL ints (BigInt here), others doubles; absent is null. */
export function celValue(value: unknown): unknown {
  if (typeof value === "number") return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(celValue);
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, celValue(v)]));
  return value ?? null;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

export class CelRules {
  private readonly root: RuleNode | undefined;

  /** Compiles every rule of a schema; a rule that does not compile is an error of the CRD. */
  constructor(schema: SchemaProps, path = "openAPIV3Schema", readonly errors: StatusCause[] = []) {
    this.root = compileNode(schema, path, errors);
  }

  get empty(): boolean {
    return !this.root;
  }

  /** The rules' failures for an object (and the object it replaces, for transition rules). */
  validate(object: unknown, old?: unknown): StatusCause[] {
    const causes: StatusCause[] = [];
    if (this.root) this.walk(this.root, object, old, "", causes);
    return causes;
  }

  private walk(node: RuleNode, value: unknown, old: unknown, path: string, causes: StatusCause[]): void {
    if (value === undefined || value === null) return;
    for (const rule of node.rules) this.check(rule, node, value, old, path, causes);
    if (Array.isArray(value)) {
      if (node.items) value.forEach((item, i) => this.walk(node.items!, item, undefined, `${path}[${i}]`, causes));
      return;
    }
    if (!isObject(value)) return;
    const oldObject = isObject(old) ? old : undefined;
    for (const [key, child] of node.properties ?? []) this.walk(child, value[key], oldObject?.[key], join(path, key), causes);
    if (node.additionalProperties) {
      for (const [key, child] of Object.entries(value)) this.walk(node.additionalProperties, child, oldObject?.[key], join(path, key), causes);
    }
  }

  private check(rule: Rule, node: RuleNode, value: unknown, old: unknown, path: string, causes: StatusCause[]): void {
    if (rule.transition && old === undefined) return;
    const context = { self: celValue(value), ...(rule.transition ? { oldSelf: celValue(old) } : {}) };
    const field = rule.fieldPath ? `${path}${rule.fieldPath.startsWith("[") ? "" : "."}${rule.fieldPath.replace(/^\./, "")}`.replace(/^\./, "") : path;
    let result: unknown;
    try {
      result = rule.program(context);
    } catch (e) {
      causes.push({ reason: "FieldValueInvalid", field: path, message: `Invalid value: "${node.type}": ${rule.rule}: evaluation error: ${firstLine(e)}` });
      return;
    }
    if (result === true) return;
    let message = rule.message ?? `failed rule: ${rule.rule}`;
    if (rule.messageExpression) {
      try {
        const text = rule.messageExpression(context);
        if (typeof text === "string" && text.trim()) message = text;
      } catch {
        // kube falls back to the static message when messageExpression fails.
      }
    }
    switch (rule.reason) {
      case "FieldValueForbidden":
        causes.push({ reason: rule.reason, field, message: `Forbidden: ${message}` });
        break;
      case "FieldValueRequired":
        causes.push({ reason: rule.reason, field, message: `Required value: ${message}` });
        break;
      case "FieldValueDuplicate":
        causes.push({ reason: rule.reason, field, message: `Duplicate value: "${node.type}": ${message}` });
        break;
      default:
        causes.push({ reason: "FieldValueInvalid", field, message: `Invalid value: "${node.type}": ${message}` });
    }
  }
}
