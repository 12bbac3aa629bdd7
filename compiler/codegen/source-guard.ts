// Defense in depth before asc: the generated module must be exactly Kiln's template, and every layer statement a
// call of a kernel-library function (or memory.copy/fill) whose arguments are numeric literals of the right kind.
import { fileText, KilnError, quoteName } from "../errors.js";
import { GENERATED_HEADER } from "./model-source.js";
import type { KernelLibrary } from "./kernels.js";

const INT = /^-?(0|[1-9][0-9]*)$/;
const FLOAT = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;
const INT_RANGES: Record<string, [number, number]> = { i32: [-(2 ** 31), 2 ** 31 - 1], usize: [0, 2 ** 32 - 1], u8: [0, 255] };
const MEMORY_CALLS: Record<string, string[]> = { "memory.copy": ["usize", "usize", "usize"], "memory.fill": ["usize", "u8", "usize"] };
const CALL = /^([a-z_][a-z0-9_]*|memory\.copy|memory\.fill)\(([^()]*)\);$/;

/** Why `arg` is not a literal of `type`, or undefined if it is. */
function argProblem(arg: string, type: string): string | undefined {
  const range = INT_RANGES[type];
  if (range) {
    if (!INT.test(arg)) return `${quoteName(arg)} is not an integer literal (the parameter is ${type})`;
    const v = Number(arg);
    return v < range[0] || v > range[1] ? `${arg} is out of range for ${type}` : undefined;
  }
  if (type === "f32") {
    const literal = arg.startsWith("<f32>") ? arg.slice(5) : arg;
    if (!FLOAT.test(literal)) return `${quoteName(arg)} is not a number literal (the parameter is f32)`;
    return Number.isFinite(Math.fround(Number(literal))) ? undefined : `${arg} is not a finite f32`;
  }
  return `the parameter type ${type} is not one codegen passes`;
}

/** Why `statement` is not a well-formed kernel call, or undefined if it is. */
function statementProblem(statement: string, kernels: KernelLibrary): string | undefined {
  const call = CALL.exec(statement);
  if (!call) return "it is not a single call";
  const [, fn, argText] = call;
  const params = Object.hasOwn(MEMORY_CALLS, fn) ? MEMORY_CALLS[fn] : kernels.signatures.get(fn);
  if (!params) return `${fileText(fn)} is not a kernel-library function`;
  const args = argText.trim() === "" ? [] : argText.split(",").map((a) => a.trim());
  if (args.length !== params.length) return `${fileText(fn)} takes ${params.length} arguments, not ${args.length}`;
  for (let i = 0; i < args.length; i++) {
    const problem = argProblem(args[i], params[i]);
    if (problem) return `argument ${i + 1} of ${fileText(fn)}: ${problem}`;
  }
  return undefined;
}

/** The fixed lines of the template (everything but imports and layer bodies), as patterns. */
const TEMPLATE_LINES = [
  /^$/, /^export function (input_ptr|output_ptr)\(\): usize \{ return (0|[1-9][0-9]*); \}$/,
  /^export function layer_count\(\): i32 \{ return (0|[1-9][0-9]*); \}$/,
  /^export function run_layer\(i: i32\): void \{$/, /^ {2}switch \(i\) \{$/, /^ {4}case (\d+): layer_\1\(\); break;$/,
  /^ {2}\}$/, /^\}$/, /^export function run\(\): void \{$/, /^ {2}layer_\d+\(\);$/,
];
const IMPORT = /^import \{ ([a-z0-9_, ]+) \} from "\.\/kernels\/([a-z0-9-]+)";$/;
const LAYER_START = /^function layer_(\d+)\(\): void \{$/;

/**
 * Throws an internal KilnError (naming the layer when a layer's statement is at fault) unless `source` is Kiln's
 * template filled with kernel calls; `layerNames[i]` is the name of the node behind layer_i.
 */
export function checkGeneratedSource(source: string, layerNames: string[], kernels: KernelLibrary): void {
  const lines = source.split("\n");
  const refuse = (where: string, why: string): never => {
    throw new KilnError(`internal: the generated code for ${where} is malformed (${why}); it was not compiled`);
  };
  if (lines[0] !== GENERATED_HEADER) refuse("the module header", "unexpected first line");
  let layer: number | undefined;
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n];
    if (layer !== undefined) {
      if (line === "}") { layer = undefined; continue; }
      const name = layerNames[layer] ?? `#${layer}`;
      if (!line.startsWith("  ")) refuse(`layer ${quoteName(name)}`, `line ${n + 1} is not an indented statement`);
      const problem = statementProblem(line.slice(2), kernels);
      if (problem) refuse(`layer ${quoteName(name)}`, problem);
      continue;
    }
    const start = LAYER_START.exec(line);
    if (start) { layer = Number(start[1]); continue; }
    const imported = IMPORT.exec(line);
    if (imported) {
      const exported = kernels.exports.get(imported[2]);
      if (!exported || !imported[1].split(", ").every((f) => exported.includes(f))) refuse("the imports", `line ${n + 1} imports what the kernel library does not export`);
      continue;
    }
    if (!TEMPLATE_LINES.some((p) => p.test(line))) refuse("the module", `line ${n + 1} is not part of Kiln's template`);
  }
  if (layer !== undefined) refuse(`layer ${quoteName(layerNames[layer] ?? String(layer))}`, "its function is not closed");
}
