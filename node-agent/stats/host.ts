// A real node's own figures, read from the kernel as cAdvisor reads the root container's: CPU time
// from /proc/stat, memory from /proc/meminfo (working set = usage less inactive file pages), page
// faults from /proc/vmstat, the state directory's filesystem from statfs, processes from /proc.
import { readdirSync, readFileSync, statfsSync } from "node:fs";

/** The kernel's clock ticks per second (USER_HZ), 100 on every Linux architecture kube runs on. */
const USER_HZ = 100;

export interface HostSample {
  /** ms since the epoch. */
  timestamp: number;
  /** When the host booted (ms since the epoch). */
  bootTime: number;
  usageCoreNanoSeconds: number;
  memory: { totalBytes: number; usageBytes: number; workingSetBytes: number; rssBytes: number; pageFaults: number; majorPageFaults: number };
  fs?: { capacityBytes: number; availableBytes: number; usedBytes: number; inodes: number; inodesFree: number; inodesUsed: number };
  rlimit?: { maxpid: number; curproc: number };
}

/** The CPU time all cores spent busy (everything but idle and iowait), in ns, and the boot time, from /proc/stat. */
export function parseProcStat(text: string): { usageCoreNanoSeconds: number; bootTime: number } {
  const cpu = /^cpu\s+(.+)$/m.exec(text);
  if (!cpu) throw new Error("/proc/stat has no cpu line");
  // user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu[1]!.trim().split(/\s+/).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  const btime = /^btime\s+(\d+)$/m.exec(text);
  return { usageCoreNanoSeconds: busy * (1e9 / USER_HZ), bootTime: btime ? Number(btime[1]) * 1000 : 0 };
}

/** /proc/meminfo's fields in bytes. */
export function parseMeminfo(text: string): Record<string, number> {
  const fields: Record<string, number> = {};
  for (const match of text.matchAll(/^([\w()]+):\s+(\d+)(?:\s+kB)?$/gm)) {
    fields[match[1]!] = Number(match[2]) * (match[0].endsWith("kB") ? 1024 : 1);
  }
  return fields;
}

/** The node's memory as cAdvisor reports the root container's: usage counts the page cache, the working set leaves out what the kernel can drop first. */
export function hostMemory(meminfo: Record<string, number>, vmstat: string): HostSample["memory"] {
  const totalBytes = meminfo.MemTotal ?? 0;
  const usageBytes = Math.max(0, totalBytes - (meminfo.MemFree ?? 0));
  const workingSetBytes = Math.max(0, usageBytes - (meminfo["Inactive(file)"] ?? 0));
  const counter = (name: string) => Number(new RegExp(`^${name}\\s+(\\d+)$`, "m").exec(vmstat)?.[1] ?? 0);
  return { totalBytes, usageBytes, workingSetBytes, rssBytes: meminfo.AnonPages ?? 0, pageFaults: counter("pgfault"), majorPageFaults: counter("pgmajfault") };
}

/** Reads the host now; `fsPath` is where the agent keeps its state (the kubelet reports its root directory's filesystem). */
export function readHost(fsPath: string, now = Date.now()): HostSample {
  const { usageCoreNanoSeconds, bootTime } = parseProcStat(readFileSync("/proc/stat", "utf8"));
  const memory = hostMemory(parseMeminfo(readFileSync("/proc/meminfo", "utf8")), readFileSync("/proc/vmstat", "utf8"));
  const sample: HostSample = { timestamp: now, bootTime, usageCoreNanoSeconds, memory };
  try {
    const fs = statfsSync(fsPath);
    const capacityBytes = fs.blocks * fs.bsize;
    sample.fs = {
      capacityBytes, availableBytes: fs.bavail * fs.bsize, usedBytes: (fs.blocks - fs.bfree) * fs.bsize,
      inodes: fs.files, inodesFree: fs.ffree, inodesUsed: fs.files - fs.ffree,
    };
  } catch {
    // The directory may be gone (a cleaned-up node): no filesystem figures, as cAdvisor omits them.
  }
  try {
    const maxpid = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8").trim());
    const curproc = readdirSync("/proc").filter((name) => /^\d+$/.test(name)).length;
    sample.rlimit = { maxpid, curproc };
  } catch {
    // /proc without pid_max (an unusual kernel): no rlimit figures.
  }
  return sample;
}
