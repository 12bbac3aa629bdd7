// Test utility: packs Kiln with `npm pack` and installs the tarball into a new project offline, as a user's project would.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..");
const NPM_ENV = { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip", npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" };

export function run(command: string, args: string[], cwd: string, timeout = 240_000): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, encoding: "utf8", env: NPM_ENV, timeout });
}

export interface Packed { tarball: string; files: string[] }

/**
 * `npm pack` of the dist/ the test setup built. --ignore-scripts: `prepare` would rebuild dist/ under the feet of
 * the test files running beside this one.
 */
export function pack(into: string): Packed {
  const r = run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", into], ROOT);
  if (r.status !== 0) throw new Error(`npm pack failed:\n${r.stderr}`);
  const [info] = JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[];
  return { tarball: join(into, info.filename), files: info.files.map((f) => f.path) };
}

interface LockEntry { version?: string; dev?: boolean; link?: boolean; devOptional?: boolean; [key: string]: unknown }
interface PackageJson { name: string; version: string; dependencies?: Record<string, string>; bin?: Record<string, string>; engines?: Record<string, string> }

/**
 * The consumer's lockfile: the tarball, and the entries of Kiln's own lockfile that are not devDependencies (their
 * versions and integrity hashes), so `npm ci --offline` takes every package from npm's cache, as `npm ci` here left it.
 */
function consumerLock(tarball: string, kiln: PackageJson): object {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };
  const dependencies = { kiln: `file:${tarball}` };
  const packages: Record<string, unknown> = {
    "": { name: "consumer", version: "1.0.0", dependencies },
    "node_modules/kiln": { version: kiln.version, resolved: `file:${tarball}`, dependencies: kiln.dependencies, bin: kiln.bin, engines: kiln.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (!path.startsWith("node_modules/") || entry.dev || entry.link) continue;
    const { devOptional: _, ...kept } = entry;
    packages[path] = kept;
  }
  return { name: "consumer", version: "1.0.0", lockfileVersion: 3, requires: true, packages };
}

export interface Consumer { dir: string; how: string }

/**
 * A project that depends on the tarball, installed with `npm ci --offline`. When npm's cache lacks a package (a
 * machine that never ran `npm ci`), the tarball is unpacked by npm and its dependencies are linked from this
 * repository's node_modules instead; `how` says which happened.
 */
export function installConsumer(dir: string, tarball: string): Consumer {
  mkdirSync(dir, { recursive: true });
  const kiln = JSON.parse(run("tar", ["-xzOf", tarball, "package/package.json"], dir).stdout) as PackageJson;
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module", dependencies: { kiln: `file:${tarball}` } }, null, 2));
  writeFileSync(join(dir, "package-lock.json"), JSON.stringify(consumerLock(tarball, kiln), null, 2));
  const ci = run("npm", ["ci", "--offline"], dir);
  if (ci.status === 0) return { dir, how: "npm ci --offline from npm's cache" };
  if (!/ENOTCACHED/.test(ci.stderr)) throw new Error(`npm ci --offline failed in ${dir}:\n${ci.stderr}`);
  // Without its dependencies' metadata npm cannot install the tarball: unpack it by hand instead.
  const kilnDir = join(dir, "node_modules", "kiln");
  mkdirSync(kilnDir, { recursive: true });
  const tar = run("tar", ["-xzf", tarball, "-C", kilnDir, "--strip-components=1"], dir);
  if (tar.status !== 0) throw new Error(`cannot unpack ${tarball}: ${tar.stderr}`);
  for (const name of Object.keys(kiln.dependencies ?? {})) linkPackage(dir, name);
  mkdirSync(join(dir, "node_modules", ".bin"), { recursive: true });
  symlinkSync(join("..", "kiln", kiln.bin?.kiln ?? "dist/bin/kiln.js"), join(dir, "node_modules", ".bin", "kiln"));
  return { dir, how: `tarball unpacked, dependencies linked from ${join(ROOT, "node_modules")} (npm's cache lacks some: ${ci.stderr.split("\n")[1] ?? ""})` };
}

/** Links one dependency (and, through Node's resolution from its real path, its own) from this repository. */
function linkPackage(dir: string, name: string): void {
  const target = join(dir, "node_modules", name);
  if (existsSync(target)) return;
  mkdirSync(dirname(target), { recursive: true });
  symlinkSync(join(ROOT, "node_modules", name), target, "dir");
}

/** Copies a file from Kiln's installed copy (node_modules/kiln) into the consumer's folder. */
export function copyFromPackage(consumer: string, from: string, to: string): void {
  cpSync(join(consumer, "node_modules", "kiln", from), join(consumer, to));
}
