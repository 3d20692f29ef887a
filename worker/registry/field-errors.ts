// kube's field.Error kinds (Required, Invalid, Unsupported, Duplicate, Not found, Forbidden) as
// StatusCauses, with each bad value printed the way kube-apiserver's Go code prints it.
import { goQuote } from "../../lib/k8s/selectors.ts";
import type { StatusCause } from "../../lib/k8s/status.ts";

/** A value already printed as Go prints it (%#v of a struct, a map, …). */
export interface GoRendered {
  go: string;
}

export type BadValue = string | number | boolean | null | undefined | GoRendered;

function render(value: BadValue): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return goQuote(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return value.go;
}

type Obj = Record<string, any>;

/** %#v of a map[string]string: keys sorted, nil when absent. */
export function goStringMap(map: Obj | undefined | null): GoRendered {
  if (map === undefined || map === null) return { go: "map[string]string(nil)" };
  const keys = Object.keys(map).sort();
  return { go: `map[string]string{${keys.map((k) => `${goQuote(k)}:${goQuote(String(map[k] ?? ""))}`).join(", ")}}` };
}

function goStringSlice(values: unknown): string {
  if (!Array.isArray(values)) return "[]string(nil)";
  return `[]string{${values.map((v) => goQuote(String(v))).join(", ")}}`;
}

/** %#v of a metav1.LabelSelector (a nil pointer prints as null). */
export function goLabelSelector(selector: Obj | undefined | null): GoRendered {
  if (selector === undefined || selector === null) return { go: "null" };
  const matchLabels = selector.matchLabels === undefined || selector.matchLabels === null ? "map[string]string(nil)" : goStringMap(selector.matchLabels).go;
  const expressions: Obj[] | undefined = Array.isArray(selector.matchExpressions) ? selector.matchExpressions : undefined;
  const matchExpressions = expressions === undefined
    ? "[]v1.LabelSelectorRequirement(nil)"
    : `[]v1.LabelSelectorRequirement{${expressions.map((e) => `v1.LabelSelectorRequirement{Key:${goQuote(String(e.key ?? ""))}, Operator:${goQuote(String(e.operator ?? ""))}, Values:${e.values === undefined || e.values === null ? "[]string(nil)" : goStringSlice(e.values)}}`).join(", ")}}`;
  return { go: `v1.LabelSelector{MatchLabels:${matchLabels}, MatchExpressions:${matchExpressions}}` };
}

/** %#v of an intstr.IntOrString. */
export function goIntOrString(value: unknown): GoRendered {
  if (typeof value === "string") return { go: `intstr.IntOrString{Type:1, IntVal:0, StrVal:${goQuote(value)}}` };
  return { go: `intstr.IntOrString{Type:0, IntVal:${typeof value === "number" ? value : 0}, StrVal:""}` };
}

/** %#v of a struct holding a type name and an optional rollingUpdate pointer (the strategy structs). */
export function goStrategy(goType: string, rollingUpdateType: string, strategy: Obj | undefined): GoRendered {
  const rollingUpdate = strategy?.rollingUpdate ? `&${rollingUpdateType}{}` : `(*${rollingUpdateType})(nil)`;
  return { go: `${goType}{Type:${goQuote(String(strategy?.type ?? ""))}, RollingUpdate:${rollingUpdate}}` };
}

/** Values kube prints with a generated type name we do not mirror field by field: shown as JSON. */
export function goJson(value: unknown): GoRendered {
  return { go: JSON.stringify(value) ?? "null" };
}

function withDetail(head: string, detail: string): string {
  return detail ? `${head}: ${detail}` : head;
}

export const fieldErrors = {
  required: (field: string, detail = ""): StatusCause => ({ reason: "FieldValueRequired", field, message: withDetail("Required value", detail) }),
  invalid: (field: string, value: BadValue, detail: string): StatusCause => ({ reason: "FieldValueInvalid", field, message: withDetail(`Invalid value: ${render(value)}`, detail) }),
  notSupported: (field: string, value: BadValue, supported: readonly string[]): StatusCause => ({
    reason: "FieldValueNotSupported", field,
    message: withDetail(`Unsupported value: ${render(value)}`, supported.length ? `supported values: ${supported.map((s) => JSON.stringify(s)).join(", ")}` : ""),
  }),
  duplicate: (field: string, value: BadValue): StatusCause => ({ reason: "FieldValueDuplicate", field, message: `Duplicate value: ${render(value)}` }),
  notFound: (field: string, value: BadValue): StatusCause => ({ reason: "FieldValueNotFound", field, message: `Not found: ${render(value)}` }),
  forbidden: (field: string, detail: string): StatusCause => ({ reason: "FieldValueForbidden", field, message: withDetail("Forbidden", detail) }),
};

/** ValidateNonnegativeField: kube's "must be greater than or equal to 0". */
export function nonNegative(field: string, value: unknown): StatusCause[] {
  return typeof value === "number" && value < 0 ? [fieldErrors.invalid(field, value, "must be greater than or equal to 0")] : [];
}
