import { readFileSync } from "node:fs";

/**
 * What the kernel says about a process: the server's memory and CPU are read from outside so the
 * numbers cost it nothing and include every thread (uWS, GC, JIT).
 */

/** USER_HZ; Linux fixes it at 100 on every architecture Bun runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Resident set size in KiB (VmRSS). */
export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

/** User + system CPU seconds of the whole process, all threads. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may hold spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat(5); the slice starts at field 3.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/** A CPU reading to diff later: seconds of CPU, seconds of wall time. */
export interface CpuMark {
  cpu: number;
  wall: number;
}

export function markCpu(pid: number): CpuMark {
  return { cpu: cpuSeconds(pid), wall: performance.now() / 1000 };
}

export function cpuSince(pid: number, mark: CpuMark): { cpuSeconds: number; wallSeconds: number } {
  return { cpuSeconds: cpuSeconds(pid) - mark.cpu, wallSeconds: performance.now() / 1000 - mark.wall };
}
