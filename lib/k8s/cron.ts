// CronJob schedules as Kubernetes reads them (the standard parser of robfig/cron v3 that
// kube-apiserver validates with and the CronJob controller schedules with): five fields, names for
// months and weekdays, @descriptors and @every, an optional TZ=/CRON_TZ= zone; parse errors worded
// as that parser words them, and next(after) for the controller.

export class CronSyntaxError extends Error {
  override name = "CronSyntaxError";
}

export interface CronSchedule {
  /** The first activation strictly after `after`, or undefined if there is none within five years. */
  next(after: Date): Date | undefined;
}

interface Bounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const MINUTES: Bounds = { min: 0, max: 59 };
const HOURS: Bounds = { min: 0, max: 23 };
const DAYS_OF_MONTH: Bounds = { min: 1, max: 31 };
const MONTHS: Bounds = { min: 1, max: 12, names: { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 } };
const DAYS_OF_WEEK: Bounds = { min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } };

/** The values a field allows, and whether it was written as "*" or "?" (which changes how days match). */
interface FieldSet {
  values: Set<number>;
  star: boolean;
}

const MAX_INT64 = 9223372036854775807n;

/** Go's strconv.Atoi, with the parser's refusal of negatives. */
function parseInteger(expr: string): number {
  if (!/^[+-]?\d+$/.test(expr)) throw new CronSyntaxError(`failed to parse int from ${expr}: strconv.Atoi: parsing ${JSON.stringify(expr)}: invalid syntax`);
  const n = BigInt(expr);
  if (n > MAX_INT64 || n < -MAX_INT64 - 1n) throw new CronSyntaxError(`failed to parse int from ${expr}: strconv.Atoi: parsing ${JSON.stringify(expr)}: value out of range`);
  if (n < 0n) throw new CronSyntaxError(`negative number (${n}) not allowed: ${expr}`);
  return n > 1_000_000_000n ? Number.MAX_SAFE_INTEGER : Number(n);
}

function parseIntOrName(expr: string, bounds: Bounds): number {
  const named = bounds.names?.[expr.toLowerCase()];
  return named ?? parseInteger(expr);
}

/** One comma-separated part: "*", "N", "N-M", each optionally "/step". */
function parseRange(expr: string, bounds: Bounds, into: FieldSet): void {
  const rangeAndStep = expr.split("/");
  const lowAndHigh = rangeAndStep[0]!.split("-");
  let start: number;
  let end: number;
  let star = false;
  if (lowAndHigh[0] === "*" || lowAndHigh[0] === "?") {
    [start, end, star] = [bounds.min, bounds.max, true];
  } else {
    start = parseIntOrName(lowAndHigh[0]!, bounds);
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) end = parseIntOrName(lowAndHigh[1]!, bounds);
    else throw new CronSyntaxError(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    step = parseInteger(rangeAndStep[1]!);
    // "N/step" means "N-max/step".
    if (lowAndHigh.length === 1) end = bounds.max;
    if (step > 1) star = false;
  } else if (rangeAndStep.length > 2) {
    throw new CronSyntaxError(`too many slashes: ${expr}`);
  }
  if (start < bounds.min) throw new CronSyntaxError(`beginning of range (${start}) below minimum (${bounds.min}): ${expr}`);
  if (end > bounds.max) throw new CronSyntaxError(`end of range (${end}) above maximum (${bounds.max}): ${expr}`);
  if (start > end) throw new CronSyntaxError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new CronSyntaxError(`step of range should be a positive number: ${expr}`);
  for (let i = start; i <= end; i += step) into.values.add(i);
  if (star) into.star = true;
}

function parseField(field: string, bounds: Bounds): FieldSet {
  const set: FieldSet = { values: new Set(), star: false };
  for (const expr of field.split(",")) if (expr !== "") parseRange(expr, bounds, set);
  return set;
}

function all(bounds: Bounds): FieldSet {
  const values = new Set<number>();
  for (let i = bounds.min; i <= bounds.max; i++) values.add(i);
  return { values, star: true };
}

function only(value: number): FieldSet {
  return { values: new Set([value]), star: false };
}

interface Spec {
  minute: FieldSet;
  hour: FieldSet;
  dayOfMonth: FieldSet;
  month: FieldSet;
  dayOfWeek: FieldSet;
}

const DESCRIPTORS: Record<string, () => Spec> = {
  "@yearly": () => ({ minute: only(0), hour: only(0), dayOfMonth: only(1), month: only(1), dayOfWeek: all(DAYS_OF_WEEK) }),
  "@monthly": () => ({ minute: only(0), hour: only(0), dayOfMonth: only(1), month: all(MONTHS), dayOfWeek: all(DAYS_OF_WEEK) }),
  "@weekly": () => ({ minute: only(0), hour: only(0), dayOfMonth: all(DAYS_OF_MONTH), month: all(MONTHS), dayOfWeek: only(0) }),
  "@daily": () => ({ minute: only(0), hour: only(0), dayOfMonth: all(DAYS_OF_MONTH), month: all(MONTHS), dayOfWeek: all(DAYS_OF_WEEK) }),
  "@hourly": () => ({ minute: only(0), hour: all(HOURS), dayOfMonth: all(DAYS_OF_MONTH), month: all(MONTHS), dayOfWeek: all(DAYS_OF_WEEK) }),
};
DESCRIPTORS["@annually"] = DESCRIPTORS["@yearly"]!;
DESCRIPTORS["@midnight"] = DESCRIPTORS["@daily"]!;

// ---- time zones ----

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric", weekday: "short" });
    formatters.set(zone, f);
  }
  return f;
}

/** Whether the IANA time zone database here knows the zone (Go's time.LoadLocation would load it). */
export function isKnownTimeZone(zone: string): boolean {
  if (zone === "" || zone === "UTC" || zone === "Local") return true;
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

function wallClock(ms: number, zone: string): WallClock {
  if (zone === "UTC") {
    const d = new Date(ms);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), weekday: d.getUTCDay() };
  }
  const parts: Record<string, string> = {};
  for (const p of formatter(zone).formatToParts(new Date(ms))) parts[p.type] = p.value;
  return {
    year: Number(parts.year), month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour) % 24,
    minute: Number(parts.minute), second: Number(parts.second), weekday: WEEKDAYS[parts.weekday!] ?? 0,
  };
}

function offsetAt(ms: number, zone: string): number {
  const w = wallClock(ms, zone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(ms / 1000) * 1000;
}

/** Go's time.Date in a zone: out-of-range fields roll over; a wall time in a gap takes the later offset. */
function instantOf(year: number, month: number, day: number, hour: number, minute: number, second: number, zone: string): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  if (zone === "UTC") return wall;
  const guess = offsetAt(wall, zone);
  const actual = offsetAt(wall - guess, zone);
  return wall - actual;
}

// ---- schedules ----

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

class SpecSchedule implements CronSchedule {
  constructor(spec: Spec, zone: string) {
    this.spec = spec;
    this.zone = zone;
  }

  private readonly spec: Spec;
  private readonly zone: string;

  private dayMatches(w: WallClock): boolean {
    const dom = this.spec.dayOfMonth.values.has(w.day);
    const dow = this.spec.dayOfWeek.values.has(w.weekday);
    // Either field written as "*" means both must match; otherwise either may.
    return this.spec.dayOfMonth.star || this.spec.dayOfWeek.star ? dom && dow : dom || dow;
  }

  next(after: Date): Date | undefined {
    const zone = this.zone;
    // The earliest candidate is the next whole second.
    let t = Math.floor(after.getTime() / SECOND) * SECOND + SECOND;
    let w = wallClock(t, zone);
    const yearLimit = w.year + 5;
    // Once a field moved, every smaller field starts from its lowest value.
    let added = false;
    wrap: for (;;) {
      w = wallClock(t, zone);
      if (w.year > yearLimit) return undefined;
      while (!this.spec.month.values.has(w.month)) {
        if (!added) {
          added = true;
          t = instantOf(w.year, w.month, 1, 0, 0, 0, zone);
          w = wallClock(t, zone);
        }
        t = instantOf(w.year, w.month + 1, w.day, w.hour, w.minute, w.second, zone);
        w = wallClock(t, zone);
        if (w.month === 1) continue wrap;
      }
      while (!this.dayMatches(w)) {
        if (!added) {
          added = true;
          t = instantOf(w.year, w.month, w.day, 0, 0, 0, zone);
          w = wallClock(t, zone);
        }
        t = instantOf(w.year, w.month, w.day + 1, w.hour, w.minute, w.second, zone);
        w = wallClock(t, zone);
        // Across a daylight-saving change midnight may land an hour off: put it back on midnight.
        if (w.hour !== 0) {
          t += w.hour > 12 ? (24 - w.hour) * HOUR : -w.hour * HOUR;
          w = wallClock(t, zone);
        }
        if (w.day === 1) continue wrap;
      }
      while (!this.spec.hour.values.has(w.hour)) {
        if (!added) {
          added = true;
          t = instantOf(w.year, w.month, w.day, w.hour, 0, 0, zone);
        }
        t += HOUR;
        w = wallClock(t, zone);
        if (w.hour === 0) continue wrap;
      }
      while (!this.spec.minute.values.has(w.minute)) {
        if (!added) {
          added = true;
          t = Math.floor(t / MINUTE) * MINUTE;
        }
        t += MINUTE;
        w = wallClock(t, zone);
        if (w.minute === 0) continue wrap;
      }
      if (w.second !== 0) {
        // Schedules fire on second 0: move to the next minute and check it again.
        added = true;
        t = Math.floor(t / SECOND) * SECOND + (60 - w.second) * SECOND;
        continue wrap;
      }
      return new Date(t);
    }
  }
}

/** "@every <duration>": a fixed delay, whole seconds of at least one. */
class EverySchedule implements CronSchedule {
  constructor(delayMs: number) {
    this.delayMs = delayMs;
  }

  private readonly delayMs: number;

  next(after: Date): Date {
    return new Date(Math.floor(after.getTime() / SECOND) * SECOND + this.delayMs);
  }
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, "μs": 1e-3, ms: 1, s: SECOND, m: MINUTE, h: HOUR };

/** Go's time.ParseDuration, in milliseconds, with its error wording. */
function parseGoDuration(text: string): number {
  const quoted = JSON.stringify(text);
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest[0] === "-") sign = -1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw new CronSyntaxError(`failed to parse duration @every ${text}: time: invalid duration ${quoted}`);
  let total = 0;
  while (rest !== "") {
    const number = /^(\d*)(?:\.(\d*))?/.exec(rest)!;
    if (number[0] === "" || number[0] === ".") throw new CronSyntaxError(`failed to parse duration @every ${text}: time: invalid duration ${quoted}`);
    rest = rest.slice(number[0].length);
    const unit = /^[^\d.]*/.exec(rest)![0];
    if (unit === "") throw new CronSyntaxError(`failed to parse duration @every ${text}: time: missing unit in duration ${quoted}`);
    const scale = DURATION_UNITS[unit];
    if (scale === undefined) throw new CronSyntaxError(`failed to parse duration @every ${text}: time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    total += Number(number[0]) * scale;
    rest = rest.slice(unit.length);
  }
  return sign * total;
}

/**
 * Parses a CronJob schedule; throws CronSyntaxError with robfig/cron's message. Without a TZ= or
 * CRON_TZ= prefix the schedule runs in `timeZone` (the controller passes spec.timeZone; UTC otherwise).
 */
export function parseCronSchedule(schedule: string, timeZone = "UTC"): CronSchedule {
  if (schedule.length === 0) throw new CronSyntaxError("empty spec string");
  let spec = schedule;
  let zone = timeZone;
  if (spec.startsWith("TZ=") || spec.startsWith("CRON_TZ=")) {
    const space = spec.indexOf(" ");
    const name = spec.slice(spec.indexOf("=") + 1, space < 0 ? undefined : space);
    if (!isKnownTimeZone(name)) throw new CronSyntaxError(`provided bad location ${name}: unknown time zone ${name}`);
    zone = name === "" || name === "Local" ? "UTC" : name;
    spec = space < 0 ? "" : spec.slice(space).trim();
  }
  if (spec.startsWith("@")) {
    const descriptor = DESCRIPTORS[spec];
    if (descriptor) return new SpecSchedule(descriptor(), zone);
    if (spec.startsWith("@every ")) {
      const ms = parseGoDuration(spec.slice("@every ".length));
      // Sub-second parts are dropped, and the delay is at least a second.
      return new EverySchedule(Math.max(SECOND, Math.floor(ms / SECOND) * SECOND));
    }
    throw new CronSyntaxError(`unrecognized descriptor: ${spec}`);
  }
  const fields = spec.split(/\s+/).filter((f) => f !== "");
  if (fields.length !== 5) throw new CronSyntaxError(`expected exactly 5 fields, found ${fields.length}: [${fields.join(" ")}]`);
  const [minute, hour, dayOfMonth, month, dayOfWeek] = fields as [string, string, string, string, string];
  return new SpecSchedule({
    minute: parseField(minute, MINUTES), hour: parseField(hour, HOURS), dayOfMonth: parseField(dayOfMonth, DAYS_OF_MONTH),
    month: parseField(month, MONTHS), dayOfWeek: parseField(dayOfWeek, DAYS_OF_WEEK),
  }, zone);
}
