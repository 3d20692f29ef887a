// The pieces every printer shares: the Table shapes, kube's human durations, and how labels,
// selectors, containers and timestamps are written into cells.
import type { Container, PodTemplateSpec } from "kubernetes-types/core/v1";
import type { LabelSelector, ObjectMeta } from "kubernetes-types/meta/v1";

export interface TableColumnDefinition {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  format: string;
  description: string;
  /** 0: always shown; 1: only with `-o wide`. */
  priority: number;
}

/** A meta.k8s.io/v1 TableRowCondition; kube marks finished pods with one. */
export interface TableRowCondition {
  type: "Completed";
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
}

export interface TablePrinter<T = any> {
  columns: TableColumnDefinition[];
  /** One cell per column, wide columns included: the apiserver always prints wide, kubectl hides priority 1. */
  cells(object: T, now: Date): unknown[];
  conditions?(object: T): TableRowCondition[] | undefined;
}

/** Anything with object metadata; some API types declare it optional. */
export interface Metadata {
  metadata?: ObjectMeta;
}

export function column(
  name: string,
  type: TableColumnDefinition["type"],
  description: string,
  options: { priority?: number; format?: string } = {},
): TableColumnDefinition {
  return { name, type, format: options.format ?? "", description, priority: options.priority ?? 0 };
}

export const nameColumn = column("Name", "string", "The object's name, unique within its namespace.", { format: "name" });
export const ageColumn = column("Age", "string", "How long ago the object was created.");
export const containersColumn = column("Containers", "string", "Names of the containers in the pod template.", { priority: 1 });
export const imagesColumn = column("Images", "string", "Images of the containers in the pod template.", { priority: 1 });
export const selectorColumn = column("Selector", "string", "The label selector that picks the pods.", { priority: 1 });
/** The wide columns every owner of a pod template ends with. */
export const podTemplateColumns = [containersColumn, imagesColumn, selectorColumn];

/**
 * kube's HumanDuration (k8s.io/apimachinery/pkg/util/duration): two or three significant figures,
 * "0s" for up to a second of clock skew into the future, "<invalid>" beyond that.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes < 10) return withRemainder(minutes, "m", seconds % 60, "s");
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(ms / 3_600_000);
  if (hours < 8) return withRemainder(hours, "h", minutes % 60, "m");
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) return withRemainder(days, "d", hours % 24, "h");
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) return withRemainder(years, "y", days % 365, "d");
  return `${years}y`;
}

function withRemainder(whole: number, unit: string, rest: number, restUnit: string): string {
  return rest === 0 ? `${whole}${unit}` : `${whole}${unit}${rest}${restUnit}`;
}

/** Milliseconds since the epoch, or undefined for an absent or unreadable timestamp. */
export function parseTime(timestamp: string | undefined): number | undefined {
  if (!timestamp) return undefined;
  const ms = Date.parse(timestamp);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Time since a timestamp, as the Age and Last Seen columns show it. */
export function since(timestamp: string | undefined, now: Date): string {
  const ms = parseTime(timestamp);
  return ms === undefined ? "<unknown>" : humanDuration(now.getTime() - ms);
}

export function age(object: Metadata, now: Date): string {
  return since(object.metadata?.creationTimestamp, now);
}

export function nameOf(object: Metadata): string {
  return object.metadata?.name ?? "";
}

/** A label map as `a=1,b=2` in key order, or `<none>`. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort(compareStrings);
  if (keys.length === 0) return "<none>";
  return keys.map((k) => `${k}=${labels![k]}`).join(",");
}

/**
 * A label selector in kube's selector syntax (`app=web,tier in (a,b),!legacy`), requirements in
 * key order; undefined when the selector is malformed. An absent or empty selector is "".
 */
export function labelSelectorString(selector: LabelSelector | undefined): string | undefined {
  if (!selector) return "";
  const requirements: { key: string; text: string }[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    requirements.push({ key, text: `${key}=${value}` });
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const sorted = [...values].sort(compareStrings).join(",");
    switch (operator) {
      case "In":
      case "NotIn":
        if (values.length === 0) return undefined;
        requirements.push({ key, text: `${key} ${operator === "In" ? "in" : "notin"} (${sorted})` });
        break;
      case "Exists":
      case "DoesNotExist":
        if (values.length > 0) return undefined;
        requirements.push({ key, text: operator === "Exists" ? key : `!${key}` });
        break;
      default:
        return undefined;
    }
  }
  requirements.sort((a, b) => compareStrings(a.key, b.key));
  return requirements.map((r) => r.text).join(",");
}

/** metav1.FormatLabelSelector: like labelSelectorString, but `<none>` when empty and `<error>` when malformed. */
export function formatLabelSelector(selector: LabelSelector | undefined): string {
  const text = labelSelectorString(selector);
  if (text === undefined) return "<error>";
  return text === "" ? "<none>" : text;
}

/** The wide Containers and Images cells: each list comma-joined, in template order. */
export function containerCells(containers: Container[] | undefined): [string, string] {
  const list = containers ?? [];
  return [list.map((c) => c.name).join(","), list.map((c) => c.image ?? "").join(",")];
}

/** The cells of podTemplateColumns: the template's containers and images, and the selector. */
export function podTemplateCells(template: PodTemplateSpec | undefined, selector: LabelSelector | undefined): unknown[] {
  return [...containerCells(template?.spec?.containers), formatLabelSelector(selector)];
}

/** Code-unit order, as Go sorts label keys and names (localeCompare would not). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
