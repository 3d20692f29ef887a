// MicroTime as Kubernetes writes it in Events and Leases: RFC 3339, UTC, six fractional digits.

/** `ms` (milliseconds since the epoch, fractions kept to the microsecond) as "2026-01-01T00:00:00.123456Z". */
export function microTime(ms: number): string {
  const micros = Math.round(ms * 1000);
  const seconds = Math.floor(micros / 1_000_000);
  const fraction = String(micros - seconds * 1_000_000).padStart(6, "0");
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, `.${fraction}Z`);
}

/** A MicroTime (or any RFC 3339 time) as milliseconds since the epoch. */
export function parseMicroTime(text: string): number {
  const match = /^(.*?)(?:\.(\d+))?Z$/.exec(text);
  if (!match) return Date.parse(text);
  const fraction = (match[2] ?? "").padEnd(6, "0").slice(0, 6);
  return Date.parse(`${match[1]}Z`) + Number(fraction) / 1000;
}
