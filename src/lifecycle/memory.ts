import { readFileSync } from "node:fs";
import { totalmem } from "node:os";

/** cgroup v2, then v1: a container's memory limit, which the machine's total does not show. */
const CGROUP_LIMIT_FILES = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"];

/** Bytes of memory this process may use: the machine's, or its container's limit when lower. */
export function memoryLimit(): number {
  let limit = totalmem();
  for (const file of CGROUP_LIMIT_FILES) {
    try {
      const text = readFileSync(file, "utf8").trim();
      if (/^\d+$/.test(text)) limit = Math.min(limit, Number(text));
    } catch {
      // Not in a cgroup of that version.
    }
  }
  return limit;
}
