// A small, strict command-line parser: every option declared with its default; unknown options are usage errors.
import { UsageError } from "../compiler/errors.js";

export interface OptionSpec {
  type: "string" | "number" | "boolean";
  description: string;
  default?: string | number | boolean;
  /** One-letter alias, e.g. "o" for --output. */
  short?: string;
  choices?: string[];
  /** For numbers: a whole number is required. */
  integer?: boolean;
  /** For numbers: the accepted range, inclusive. Every numeric option states one. */
  min?: number;
  max?: number;
  /** For numbers: 0 is refused (a scale, say). */
  nonZero?: boolean;
  /** For strings: the option may be repeated; its value is the list of values given (or undefined). */
  multiple?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
}

export type ParsedOptions = Record<string, string | number | boolean | string[] | undefined>;

export interface Parsed {
  positionals: string[];
  options: ParsedOptions;
}

export function parseArgs(spec: CommandSpec, argv: string[]): Parsed {
  const options: ParsedOptions = {};
  for (const [name, o] of Object.entries(spec.options)) options[name] = o.default;
  const positionals: string[] = [];
  const byShort = new Map(Object.entries(spec.options).filter(([, o]) => o.short).map(([n, o]) => [o.short as string, n]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") { positionals.push(...argv.slice(i + 1)); break; }
    if (!arg.startsWith("-") || arg === "-") { positionals.push(arg); continue; }
    let [name, inline] = arg.startsWith("--") ? splitInline(arg.slice(2)) : [byShort.get(arg.slice(1)) ?? arg, undefined];
    if (name.startsWith("no-") && spec.options[name.slice(3)]?.type === "boolean") { options[name.slice(3)] = false; continue; }
    const o = spec.options[name];
    if (!o) throw new UsageError(`kiln ${spec.name}: unknown option ${arg} (see kiln ${spec.name} --help)`);
    if (o.type === "boolean") {
      if (inline !== undefined && inline !== "true" && inline !== "false") throw new UsageError(`kiln ${spec.name}: --${name} takes no value (or =true/=false), got '${inline}'`);
      options[name] = inline !== "false";
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`kiln ${spec.name}: option --${name} needs a value`);
    if (o.type === "number") {
      options[name] = parseNumber(spec, name, o, value);
    } else {
      if (o.choices && !o.choices.includes(value)) throw new UsageError(`kiln ${spec.name}: --${name} must be one of ${o.choices.join(", ")}, got '${value}'`);
      const earlier = options[name];
      options[name] = o.multiple ? [...(Array.isArray(earlier) ? earlier : []), value] : value;
    }
    name = "";
  }
  return { positionals, options };
}

/** Decimal notation only: Number() would also take "", " ", "0x10" and "Infinity". */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

function parseNumber(spec: CommandSpec, name: string, o: OptionSpec, value: string): number {
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  const ok = Number.isFinite(n) && (!o.integer || Number.isSafeInteger(n)) && !(o.nonZero && n === 0)
    && (o.min === undefined || n >= o.min) && (o.max === undefined || n <= o.max);
  if (!ok) throw new UsageError(`kiln ${spec.name}: --${name} must be ${describeNumber(o)}, got '${value}'`);
  return n;
}

/** "a whole number from 1 to 1,000,000", "a number from -1,000,000 to 1,000,000, not 0"… */
export function describeNumber(o: OptionSpec): string {
  const f = (v: number): string => v.toLocaleString("en-US", { maximumFractionDigits: 6 });
  const range = o.min !== undefined && o.max !== undefined ? ` from ${f(o.min)} to ${f(o.max)}`
    : o.min !== undefined ? ` ≥ ${f(o.min)}` : o.max !== undefined ? ` ≤ ${f(o.max)}` : "";
  return `${o.integer ? "a whole number" : "a number"}${range}${o.nonZero ? ", not 0" : ""}`;
}

function splitInline(s: string): [string, string | undefined] {
  const eq = s.indexOf("=");
  return eq < 0 ? [s, undefined] : [s.slice(0, eq), s.slice(eq + 1)];
}

export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "boolean" ? "" : ` <${o.choices ? o.choices.join("|") : o.type === "number" ? "n" : "value"}>`}`;
    const range = o.type === "number" && (o.min !== undefined || o.max !== undefined) ? describeNumber(o) : "";
    const notes = [o.default === undefined ? "" : `default: ${String(o.default)}`, range].filter(Boolean);
    const def = notes.length ? ` (${notes.join("; ")})` : "";
    return [flag, o.description + def];
  });
  rows.push(["-h, --help", "show this help"]);
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  return [`kiln ${spec.name} — ${spec.summary}`, "", `usage: ${spec.usage}`, "", "options:", ...rows.map(([f, d]) => `  ${f.padEnd(width)}${d}`)].join("\n");
}

export function requirePositionals(spec: CommandSpec, parsed: Parsed, count: number, what: string): string[] {
  if (parsed.positionals.length < count) throw new UsageError(`kiln ${spec.name}: missing ${what} (usage: ${spec.usage})`);
  if (parsed.positionals.length > count) throw new UsageError(`kiln ${spec.name}: unexpected argument '${parsed.positionals[count]}' (usage: ${spec.usage})`);
  return parsed.positionals;
}
