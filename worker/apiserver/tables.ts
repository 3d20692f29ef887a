// Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` answers a
// meta.k8s.io/v1 Table with the columns kube-apiserver prints for the kind.
import type { Context } from "hono";
import { defaultPrinter, printers } from "../printers/index.ts";
import type { KubeObject, ResourceDefinition } from "../registry/types.ts";

/** Watch streams send the column definitions with their first event only, as kube-apiserver does. */
const watchedBefore = new WeakSet<Context>();

export function tableFor(def: ResourceDefinition, items: KubeObject[], c: Context, options: { watch?: boolean } = {}) {
  const printer = def.printer ?? printers[`${def.group}/${def.kind}`] ?? defaultPrinter;
  const include = c.req.query("includeObject") ?? "Metadata";
  const now = new Date();
  const rows = items.map((object) => {
    const row: Record<string, unknown> = { cells: printer.cells(object, now) };
    const conditions = printer.conditions?.(object);
    if (conditions) row.conditions = conditions;
    if (include === "Object") row.object = object;
    else if (include !== "None") row.object = { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: object.metadata };
    return row;
  });
  const table: Record<string, unknown> = { kind: "Table", apiVersion: "meta.k8s.io/v1", metadata: {}, rows };
  if (!options.watch || !watchedBefore.has(c)) table.columnDefinitions = printer.columns;
  if (options.watch) watchedBefore.add(c);
  return table;
}
