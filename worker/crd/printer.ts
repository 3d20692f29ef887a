// A custom resource's Table columns: Name, then the CRD version's additionalPrinterColumns (each a
// JSONPath into the object), or Name and Age when it declares none, as kube-apiserver prints them.
import { column, humanDuration, nameColumn, nameOf, parseTime, type TableColumnDefinition, type TablePrinter } from "../printers/table.ts";

export interface PrinterColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

type Step =
  | { kind: "field"; name: string }
  | { kind: "index"; index: number }
  | { kind: "all" }
  | { kind: "filter"; path: string[]; op: "==" | "!="; value: unknown };

export class JsonPathError extends Error {}

/**
 * The subset of Kubernetes JSONPath printer columns use: `.a.b`, `['a.b']`, `[0]`, `[-1]`, `[*]`
 * and `[?(@.type=="Ready")]`.
 */
export function parseJsonPath(text: string): Step[] {
  const source = text.trim().replace(/^\{(.*)\}$/, "$1").replace(/^\$/, "");
  const steps: Step[] = [];
  let i = 0;
  while (i < source.length) {
    if (source[i] === ".") {
      i++;
      const match = /^[A-Za-z0-9_\-\\]+/.exec(source.slice(i));
      if (!match) {
        if (source[i] === "[" || i === source.length) continue;
        throw new JsonPathError(`unexpected ${JSON.stringify(source[i])} at ${i}`);
      }
      steps.push({ kind: "field", name: match[0].replace(/\\/g, "") });
      i += match[0].length;
    } else if (source[i] === "[") {
      const end = source.indexOf("]", i);
      if (end < 0) throw new JsonPathError("unterminated [");
      const inner = source.slice(i + 1, end).trim();
      i = end + 1;
      if (inner === "*") steps.push({ kind: "all" });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: "index", index: Number(inner) });
      else if (/^'.*'$|^".*"$/.test(inner)) steps.push({ kind: "field", name: inner.slice(1, -1) });
      else {
        const filter = /^\?\(@((?:\.[A-Za-z0-9_\-]+)+)\s*(==|!=)\s*(.+)\)$/.exec(inner);
        if (!filter) throw new JsonPathError(`unsupported expression [${inner}]`);
        const raw = filter[3]!.trim();
        const value = /^'.*'$/.test(raw) ? raw.slice(1, -1) : JSON.parse(raw);
        steps.push({ kind: "filter", path: filter[1]!.slice(1).split("."), op: filter[2] as "==" | "!=", value });
      }
    } else {
      throw new JsonPathError(`unexpected ${JSON.stringify(source[i])} at ${i}`);
    }
  }
  return steps;
}

/** Every value the path reaches. */
export function evaluateJsonPath(steps: Step[], root: unknown): unknown[] {
  let values: unknown[] = [root];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const value of values) {
      if (value === null || typeof value !== "object") continue;
      if (step.kind === "field") {
        if (!Array.isArray(value) && step.name in value) next.push((value as Record<string, unknown>)[step.name]);
      } else if (Array.isArray(value)) {
        if (step.kind === "index") {
          const item = value[step.index < 0 ? value.length + step.index : step.index];
          if (item !== undefined) next.push(item);
        } else if (step.kind === "all") next.push(...value);
        else {
          next.push(...value.filter((item) => {
            let v: any = item;
            for (const key of step.path) v = v?.[key];
            return step.op === "==" ? v === step.value : v !== step.value;
          }));
        }
      } else if (step.kind === "all") next.push(...Object.values(value));
    }
    values = next;
  }
  return values;
}

const COLUMN_TYPES = new Set(["string", "integer", "number", "boolean", "date"]);

/** The cell a column prints for a value: typed values as they are, dates as ages, anything else as JSON text. */
function cell(type: string, values: unknown[], now: Date): unknown {
  if (!values.length) return null;
  const value = values[0];
  switch (type) {
    case "integer": return typeof value === "number" && Number.isInteger(value) ? value : null;
    case "number": return typeof value === "number" ? value : null;
    case "boolean": return typeof value === "boolean" ? value : null;
    case "date": {
      const ms = typeof value === "string" ? parseTime(value) : undefined;
      return ms === undefined ? "<unknown>" : humanDuration(now.getTime() - ms);
    }
    default:
      return values.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(",");
  }
}

export function customResourcePrinter(columns: PrinterColumn[] | undefined): TablePrinter {
  const declared = columns?.length ? columns : [{ name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }];
  const compiled = declared.map((c) => ({ ...c, steps: parseJsonPath(c.jsonPath) }));
  const definitions: TableColumnDefinition[] = [
    nameColumn,
    ...declared.map((c) => column(c.name, (COLUMN_TYPES.has(c.type) ? c.type : "string") as TableColumnDefinition["type"], c.description ?? "Custom resource definition column (in JSONPath format): " + c.jsonPath, { priority: c.priority ?? 0, format: c.format ?? "" })),
  ];
  return {
    columns: definitions,
    cells(object, now) {
      return [nameOf(object), ...compiled.map((c) => cell(c.type, evaluateJsonPath(c.steps, object), now))];
    },
  };
}
