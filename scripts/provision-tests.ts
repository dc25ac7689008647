/**
 * `npm test`'s own set-up (the `pretest` step): the programs the tests start or drive must be on
 * this machine. When they are, this only looks and exits. When some are missing it installs them
 * with apt-get if it can (root on Debian/Ubuntu), and otherwise stops the run before any test with
 * one line naming what is missing and how to install it.
 */
import { existsSync, readdirSync } from "node:fs";

interface Requirement {
  /** What the tests run, as a person would name it. */
  program: string;
  /** The Debian package that brings it. */
  debian: string;
  /** Why a test needs it, for the line printed when it is missing. */
  usedBy: string;
  present: () => boolean;
}

/** The dashboard test drives this Chromium through playwright-core, which downloads no browser. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const REQUIREMENTS: Requirement[] = [
  { program: "redis-server", debian: "redis-server", usedBy: "the scaling tests", present: () => Bun.which("redis-server") !== null },
  { program: "chromium", debian: "chromium", usedBy: "the dashboard test", present: () => existsSync(CHROMIUM) },
  { program: "openssl", debian: "openssl", usedBy: "the TLS tests", present: () => Bun.which("openssl") !== null },
  {
    program: "PostgreSQL",
    debian: "postgresql",
    usedBy: "the Pulse and reverb:restart tests on PostgreSQL",
    present: () => existsSync("/usr/lib/postgresql") && readdirSync("/usr/lib/postgresql").some((version) => existsSync(`/usr/lib/postgresql/${version}/bin/postgres`)),
  },
  { program: "MariaDB", debian: "mariadb-server-core", usedBy: "the Pulse and reverb:restart tests on MariaDB", present: () => existsSync("/usr/sbin/mariadbd") },
  { program: "curl", debian: "curl", usedBy: "the README's curl recipes", present: () => Bun.which("curl") !== null },
];

function run(command: string[]): boolean {
  const result = Bun.spawnSync(command, { stdout: "inherit", stderr: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  return result.exitCode === 0;
}

const missing = REQUIREMENTS.filter((requirement) => !requirement.present());
if (missing.length > 0) {
  const packages = missing.map((requirement) => requirement.debian);
  const canInstall = process.getuid?.() === 0 && Bun.which("apt-get") !== null;
  if (canInstall) {
    process.stdout.write(`Installing what the tests need: ${packages.join(", ")} (apt-get)\n`);
    const installed =
      run(["apt-get", "update", "-qq"]) && run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...packages]);
    const still = missing.filter((requirement) => !requirement.present());
    if (!installed || still.length > 0) {
      process.stderr.write(`Could not install ${still.map((requirement) => requirement.program).join(", ") || packages.join(", ")} with apt-get: see above\n`);
      process.exit(1);
    }
  } else {
    const needs = missing.map((requirement) => `${requirement.program} (${requirement.usedBy})`).join(", ");
    const how = Bun.which("apt-get") !== null ? `sudo apt-get install ${packages.join(" ")}` : `install ${packages.join(", ")} with your package manager`;
    const where = missing.some((requirement) => requirement.program === "chromium") ? `; set CHROMIUM_PATH if Chromium lives elsewhere than ${CHROMIUM}` : "";
    process.stderr.write(`npm test needs programs this machine lacks: ${needs}. Install them with: ${how}${where}\n`);
    process.exit(1);
  }
}
