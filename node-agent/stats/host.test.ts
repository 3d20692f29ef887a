// The host figures as cAdvisor reads the root container's: busy CPU time from /proc/stat, the
// working set from /proc/meminfo, page faults from /proc/vmstat; and on this machine, sane values.
import { describe, expect, it } from "vitest";
import { hostMemory, parseMeminfo, parseProcStat, readHost } from "./host.ts";

describe("host stats", () => {
  it("counts busy CPU time (not idle or iowait) in ns, and the boot time", () => {
    const stat = "cpu  100 20 30 4000 50 6 7 8 9 10\ncpu0 50 10 15 2000 25 3 3 4 0 0\nbtime 1796666553\n";
    // user+nice+system+irq+softirq+steal = 100+20+30+6+7+8 = 171 ticks of 10 ms
    expect(parseProcStat(stat)).toEqual({ usageCoreNanoSeconds: 171 * 10_000_000, bootTime: 1796666553000 });
    expect(() => parseProcStat("intr 1 2 3\n")).toThrow("/proc/stat has no cpu line");
  });

  it("reads memory as the kubelet reports a node's: usage with the page cache, working set without inactive file pages", () => {
    const meminfo = parseMeminfo("MemTotal:       1000 kB\nMemFree:         300 kB\nInactive(file):  200 kB\nAnonPages:       250 kB\nHugePages_Total:       0\n");
    expect(meminfo).toMatchObject({ MemTotal: 1000 * 1024, MemFree: 300 * 1024, "Inactive(file)": 200 * 1024, HugePages_Total: 0 });
    expect(hostMemory(meminfo, "pgfault 1234\npgmajfault 5\n")).toEqual({
      totalBytes: 1000 * 1024, usageBytes: 700 * 1024, workingSetBytes: 500 * 1024, rssBytes: 250 * 1024, pageFaults: 1234, majorPageFaults: 5,
    });
  });

  it("reads this host", () => {
    const sample = readHost("/", 1_000);
    expect(sample.timestamp).toBe(1_000);
    expect(sample.bootTime).toBeGreaterThan(Date.parse("2000-01-01"));
    expect(sample.usageCoreNanoSeconds).toBeGreaterThan(0);
    expect(sample.memory.workingSetBytes).toBeGreaterThan(0);
    expect(sample.memory.workingSetBytes).toBeLessThanOrEqual(sample.memory.usageBytes);
    expect(sample.memory.usageBytes).toBeLessThanOrEqual(sample.memory.totalBytes);
    expect(sample.fs!.capacityBytes).toBeGreaterThan(sample.fs!.availableBytes);
    expect(sample.rlimit!.curproc).toBeGreaterThan(1);
    expect(sample.rlimit!.maxpid).toBeGreaterThanOrEqual(sample.rlimit!.curproc);
  });
});
