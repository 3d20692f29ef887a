// Server-side printing: which Table columns each kind gets, keyed "<group>/<Kind>" ("/Pod" for
// the core group), and the Name/Created At table kube serves for kinds without a printer.
import { kubeTime } from "../../lib/k8s/time.ts";
import { appsPrinters } from "./apps.ts";
import { batchPrinters } from "./batch.ts";
import { corePrinters } from "./core.ts";
import { networkingPrinters } from "./networking.ts";
import { otherPrinters } from "./other.ts";
import { storagePrinters } from "./storage.ts";
import { column, nameColumn, nameOf, parseTime, type Metadata, type TablePrinter } from "./table.ts";

export { humanDuration, type TableColumnDefinition, type TablePrinter, type TableRowCondition } from "./table.ts";

export const printers: Record<string, TablePrinter> = {
  ...corePrinters,
  ...appsPrinters,
  ...batchPrinters,
  ...networkingPrinters,
  ...otherPrinters,
  ...storagePrinters,
};

/** RFC 3339 in UTC to the second, as Go formats a metav1.Time; Go's zero time when unset. */
function createdAt(object: Metadata): string {
  const ms = parseTime(object.metadata?.creationTimestamp);
  if (ms === undefined) return "0001-01-01T00:00:00Z";
  return kubeTime(ms);
}

export const defaultPrinter: TablePrinter<Metadata> = {
  columns: [nameColumn, column("Created At", "date", "When the object was created.")],
  cells(object) {
    return [nameOf(object), createdAt(object)];
  },
};
