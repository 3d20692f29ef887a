import { describe, expect, it } from "vitest";
import { CronSyntaxError, isKnownTimeZone, parseCronSchedule } from "./cron.ts";

const at = (iso: string) => new Date(iso);
const next = (schedule: string, after: string, zone?: string) => parseCronSchedule(schedule, zone).next(at(after))?.toISOString();

describe("cron schedules", () => {
  it.each([
    // schedule, after, first activation after it
    ["*/5 * * * *", "2024-03-10T10:03:27Z", "2024-03-10T10:05:00.000Z"],
    ["*/5 * * * *", "2024-03-10T10:05:00Z", "2024-03-10T10:10:00.000Z"],
    ["0 3 * * *", "2024-03-10T10:03:27Z", "2024-03-11T03:00:00.000Z"],
    ["30 2 1 * *", "2024-01-31T23:00:00Z", "2024-02-01T02:30:00.000Z"],
    ["0 0 29 2 *", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00.000Z"],
    ["0 9 * * mon-fri", "2024-03-08T10:00:00Z", "2024-03-11T09:00:00.000Z"], // Friday after 9 → Monday
    ["0 9 * * 0", "2024-03-08T10:00:00Z", "2024-03-10T09:00:00.000Z"],
    ["0 0 13 * 5", "2024-03-02T00:00:00Z", "2024-03-08T00:00:00.000Z"], // day of month OR Friday when neither is *
    ["0 0 13 * *", "2024-03-02T00:00:00Z", "2024-03-13T00:00:00.000Z"],
    ["15 10 * JAN,jul *", "2024-03-02T00:00:00Z", "2024-07-01T10:15:00.000Z"],
    ["0 12 1-7/3 * *", "2024-03-02T00:00:00Z", "2024-03-04T12:00:00.000Z"],
    ["59 23 31 12 *", "2024-12-31T23:59:00Z", "2025-12-31T23:59:00.000Z"],
    ["? * * * *", "2024-03-10T10:03:27Z", "2024-03-10T10:04:00.000Z"],
    ["@hourly", "2024-03-10T10:03:27Z", "2024-03-10T11:00:00.000Z"],
    ["@daily", "2024-03-10T10:03:27Z", "2024-03-11T00:00:00.000Z"],
    ["@midnight", "2024-03-10T00:00:00Z", "2024-03-11T00:00:00.000Z"],
    ["@weekly", "2024-03-10T10:03:27Z", "2024-03-17T00:00:00.000Z"],
    ["@monthly", "2024-03-10T10:03:27Z", "2024-04-01T00:00:00.000Z"],
    ["@yearly", "2024-03-10T10:03:27Z", "2025-01-01T00:00:00.000Z"],
    ["@annually", "2024-03-10T10:03:27Z", "2025-01-01T00:00:00.000Z"],
    ["@every 90s", "2024-03-10T10:03:27.500Z", "2024-03-10T10:04:57.000Z"],
    ["@every 1h30m", "2024-03-10T10:00:00Z", "2024-03-10T11:30:00.000Z"],
    ["@every 100ms", "2024-03-10T10:00:00Z", "2024-03-10T10:00:01.000Z"],
    ["TZ=UTC 0 6 * * *", "2024-03-10T10:03:27Z", "2024-03-11T06:00:00.000Z"],
    ["CRON_TZ=Asia/Tokyo 0 6 * * *", "2024-03-10T10:03:27Z", "2024-03-10T21:00:00.000Z"],
  ])("%s after %s is %s", (schedule, after, expected) => {
    expect(next(schedule, after)).toBe(expected);
  });

  it("runs in a time zone across daylight-saving changes as robfig/cron does", () => {
    // New York springs forward at 02:00 on 2024-03-10: 02:30 does not exist that day.
    expect(next("30 2 * * *", "2024-03-09T12:00:00Z", "America/New_York")).toBe("2024-03-11T06:30:00.000Z");
    expect(next("0 9 * * *", "2024-03-09T15:00:00Z", "America/New_York")).toBe("2024-03-10T13:00:00.000Z");
    // It falls back at 02:00 on 2024-11-03: 01:30 happens twice, and both run.
    const first = next("30 1 * * *", "2024-11-03T04:00:00Z", "America/New_York");
    expect(first).toBe("2024-11-03T05:30:00.000Z");
    expect(next("30 1 * * *", first!, "America/New_York")).toBe("2024-11-03T06:30:00.000Z");
  });

  it("has no activation for a date that never comes", () => {
    expect(parseCronSchedule("0 0 30 2 *").next(at("2024-01-01T00:00:00Z"))).toBeUndefined();
  });

  it.each([
    ["", "empty spec string"],
    ["* * * *", "expected exactly 5 fields, found 4: [* * * *]"],
    ["0 0 * * * *", "expected exactly 5 fields, found 6: [0 0 * * * *]"],
    ["61 * * * *", "end of range (61) above maximum (59): 61"],
    ["* 24 * * *", "end of range (24) above maximum (23): 24"],
    ["* * 0 * *", "beginning of range (0) below minimum (1): 0"],
    ["* * * 13 *", "end of range (13) above maximum (12): 13"],
    ["* * * * 7", "end of range (7) above maximum (6): 7"],
    ["5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"],
    ["*/0 * * * *", "step of range should be a positive number: */0"],
    ["1-2-3 * * * *", "too many hyphens: 1-2-3"],
    ["*/2/3 * * * *", "too many slashes: */2/3"],
    ["x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'],
    ["* * * foo *", 'failed to parse int from foo: strconv.Atoi: parsing "foo": invalid syntax'],
    ["@fortnightly", "unrecognized descriptor: @fortnightly"],
    ["@every soon", 'failed to parse duration @every soon: time: invalid duration "soon"'],
    ["@every 5", 'failed to parse duration @every 5: time: missing unit in duration "5"'],
    ["@every 5y", 'failed to parse duration @every 5y: time: unknown unit "y" in duration "5y"'],
    ["TZ=Mars/Olympus 0 * * * *", "provided bad location Mars/Olympus: unknown time zone Mars/Olympus"],
  ])("refuses %j: %s", (schedule, message) => {
    expect(() => parseCronSchedule(schedule)).toThrow(new CronSyntaxError(message));
  });

  it("knows the IANA time zones this runtime has", () => {
    expect(isKnownTimeZone("Europe/Paris")).toBe(true);
    expect(isKnownTimeZone("UTC")).toBe(true);
    expect(isKnownTimeZone("Europe/Pariss")).toBe(false);
  });
});
