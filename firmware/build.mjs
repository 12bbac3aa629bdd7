// `npm run firmware`: builds firmware/build/kiln-fw.elf with CMake and the Arm cross compiler, and prints flash and RAM use.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export const firmwareDir = dirname(fileURLToPath(import.meta.url));
export const defaultBuildDir = join(firmwareDir, "build");

const TOOLS = [
  ["cmake", "--version", "cmake (Debian: apt-get install cmake)"],
  ["make", "--version", "make (Debian: apt-get install make)"],
  ["arm-none-eabi-gcc", "--version", "the Arm cross compiler (Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)"],
  ["arm-none-eabi-size", "--version", "arm-none-eabi-size (Debian: apt-get install binutils-arm-none-eabi)"],
];

/** Names of the build tools that are missing, as install hints; empty when all are there. */
export function missingTools() {
  return TOOLS.filter(([cmd, arg]) => spawnSync(cmd, [arg], { stdio: "ignore" }).error).map(([, , hint]) => hint);
}

function run(cmd, args, quiet) {
  const r = spawnSync(cmd, args, { stdio: quiet ? ["ignore", "pipe", "pipe"] : "inherit", encoding: "utf8" });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    if (quiet) process.stderr.write(r.stdout + r.stderr);
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status})`);
  }
  return r.stdout;
}

/** Configures and builds one target; `defines` are extra -D cache entries. Returns the ELF's path. */
export function buildFirmware({ buildDir = defaultBuildDir, target = "kiln-fw", defines = {}, quiet = false } = {}) {
  const missing = missingTools();
  if (missing.length) throw new Error(`cannot build the firmware: missing ${missing.join("; ")}`);
  const d = Object.entries(defines).map(([k, v]) => `-D${k}=${v}`);
  run("cmake", ["-S", firmwareDir, "-B", buildDir, ...d], quiet);
  run("cmake", ["--build", buildDir, "--target", target, "-j", "2"], quiet);
  return join(buildDir, `${target}.elf`);
}

/** Flash and RAM use of an ELF, from its section sizes (arm-none-eabi-size -A). */
export function memoryUse(elf) {
  const sections = new Map();
  for (const line of run("arm-none-eabi-size", ["-A", elf], true).split("\n")) {
    const m = /^(\.\S+)\s+(\d+)\s+(\d+)/.exec(line);
    if (m) sections.set(m[1], Number(m[2]));
  }
  const s = (name) => sections.get(name) ?? 0;
  const flash = s(".text") + s(".ARM.exidx") + s(".data");
  return {
    flash,
    firmwareRam: s(".data") + s(".bss"),
    slots: s(".slots"),
    wamrPool: s(".wamr_pool"),
    heap: s(".heap"),
    stack: s(".stack"),
  };
}

export function formatMemoryUse(u) {
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  return [
    `flash: ${kib(u.flash)} (code, constants and .data's initial values) of 4096 KiB`,
    `RAM:   ${kib(u.firmwareRam)} firmware (.data + .bss), ${kib(u.slots)} model slots (2), ${kib(u.wamrPool)} WAMR pool, ` +
      `${kib(u.stack)} stack, ${kib(u.heap)} heap — of 4096 KiB`,
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const elf = buildFirmware();
    console.log(`\n${elf}`);
    console.log(formatMemoryUse(memoryUse(elf)));
  } catch (e) {
    console.error(`firmware: ${e.message}`);
    process.exit(1);
  }
}
