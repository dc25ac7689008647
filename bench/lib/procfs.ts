import { readFileSync, readdirSync } from "node:fs";

/**
 * What the kernel says about a process: the server's memory and CPU are read from outside so the
 * numbers cost it nothing and include every thread (uWS, GC, JIT). A server is a process tree:
 * `start --workers N` is a primary and its N worker processes, so every reading sums the tree
 * (for a single-process server the tree is the process itself).
 */

/** USER_HZ; Linux fixes it at 100 on every architecture Bun runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** `pid` and every descendant, parents first (from /proc/<pid>/task/<tid>/children). */
export function treePids(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pids[i]}/task`);
    } catch {
      continue; // exited meanwhile
    }
    for (const tid of tasks) {
      let text = "";
      try {
        text = readFileSync(`/proc/${pids[i]}/task/${tid}/children`, "utf8");
      } catch {
        continue;
      }
      for (const child of text.trim().split(/\s+/)) if (child) pids.push(Number(child));
    }
  }
  return pids;
}

/** Resident set size in KiB (VmRSS) of one process; 0 if it is gone. */
export function processRssKb(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return 0;
  }
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) : 0;
}

/** User + system CPU seconds of one process, all threads; 0 if it is gone. */
export function processCpuSeconds(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return 0;
  }
  // The command name may hold spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat(5); the slice starts at field 3.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/** Resident set size in KiB (VmRSS) summed over the process tree. */
export function rssKb(pid: number): number {
  const total = treePids(pid).reduce((sum, p) => sum + processRssKb(p), 0);
  if (total === 0) throw new Error(`no VmRSS for pid ${pid}`);
  return total;
}

/** User + system CPU seconds of the whole process tree, all threads. */
export function cpuSeconds(pid: number): number {
  return treePids(pid).reduce((sum, p) => sum + processCpuSeconds(p), 0);
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

/** Each process of the tree's CPU seconds now, by pid: diff two of these for a per-process split. */
export function treeCpu(pid: number): Map<number, number> {
  return new Map(treePids(pid).map((p) => [p, processCpuSeconds(p)]));
}
