// Kubernetes resource quantities ("100m", "1.5Gi", "2e3") as exact integers of milli-units, and
// back to kube's canonical text, for quota sums and limit checks.

const BINARY: Record<string, bigint> = { Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

export class QuantityError extends Error {}

/** A quantity in thousandths of its unit (so "100m" CPU is 100 and "1Ki" is 1024000), rounded up as kube rounds. */
export function parseQuantity(text: string | number): bigint {
  const s = String(text).trim();
  const m = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$/.exec(s);
  if (!m) throw new QuantityError(`quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`);
  const [, sign, number, suffix = "", exponent] = m;
  const [whole = "0", fraction = ""] = number!.split(".");
  let digits = BigInt(whole + fraction || "0");
  let scale = -fraction.length + 3; // milli-units
  let multiplier = 1n;
  if (exponent !== undefined) scale += Number(exponent);
  else if (suffix in BINARY) multiplier = BINARY[suffix]!;
  else scale += DECIMAL[suffix]!;
  digits *= multiplier;
  let value: bigint;
  if (scale >= 0) value = digits * 10n ** BigInt(scale);
  else {
    const divisor = 10n ** BigInt(-scale);
    value = digits / divisor + (digits % divisor ? 1n : 0n);
  }
  return sign === "-" ? -value : value;
}

/** Milli-units back to text: whole numbers bare, binary suffixes for byte-like amounts, else "m". */
export function formatQuantity(milli: bigint, binary = false): string {
  if (milli % 1000n !== 0n) return `${milli}m`;
  const units = milli / 1000n;
  if (binary && units !== 0n) {
    for (const suffix of ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"]) {
      const size = BINARY[suffix]!;
      if (units % size === 0n) return `${units / size}${suffix}`;
    }
  }
  return String(units);
}

const DECIMAL_SUFFIXES = ["", "k", "M", "G", "T", "P", "E"];

/**
 * A quantity as kube prints it back (Quantity.String()): binary amounts of whole bytes from 1Ki up
 * with the largest binary suffix, exponent notation kept, anything else in the largest SI suffix
 * that keeps it whole ("2000" is "2k", "0.5" is "500m").
 */
export function canonicalQuantity(text: string | number): string {
  const milli = parseQuantity(text);
  const s = String(text).trim();
  const sign = milli < 0n ? "-" : "";
  const abs = milli < 0n ? -milli : milli;
  if (abs === 0n) return "0";
  const units = abs % 1000n === 0n ? abs / 1000n : undefined;
  if (/(Ki|Mi|Gi|Ti|Pi|Ei)$/.test(s) && units !== undefined && units >= 1024n) return sign + formatQuantity(units * 1000n, true);
  const exponent = /[eE][+-]?\d+$/.test(s);
  if (units === undefined) return `${sign}${abs}${exponent ? "e-3" : "m"}`;
  let mantissa = units;
  let power = 0;
  while (power < 6 && mantissa % 1000n === 0n) {
    mantissa /= 1000n;
    power++;
  }
  if (exponent) return `${sign}${mantissa}${power ? `e${power * 3}` : ""}`;
  return `${sign}${mantissa}${DECIMAL_SUFFIXES[power]}`;
}
