// A small, strict command-line parser: every option declared with its type and default, parsed into values of those
// types (a command reads `options.runs` as a number, no casts); unknown options are usage errors with a suggestion.
import { UsageError } from "../compiler/errors.js";
import { didYouMean } from "../compiler/suggest.js";

interface OptionBase {
  description: string;
  /** One-letter alias, e.g. "o" for --output. */
  short?: string;
  /** The default as help shows it when the value alone would not say it well ("1/255", "<model dir>/model.wasm"). */
  defaultText?: string;
}

export interface StringOption extends OptionBase {
  type: "string";
  default?: string;
  choices?: readonly string[];
  multiple?: false;
}

/** A string option that may be repeated; its value is the list of values given, empty when none. */
export interface ListOption extends OptionBase {
  type: "string";
  multiple: true;
}

export interface NumberOption extends OptionBase {
  type: "number";
  default?: number;
  /** A whole number is required. */
  integer?: boolean;
  /** The accepted range, inclusive: every numeric option states one. */
  min: number;
  max: number;
  /** 0 is refused (a scale, say). */
  nonZero?: boolean;
}

/** A flag: off unless given (`--name`, `--name=true`; `--no-name` turns it off again). */
export interface BooleanOption extends OptionBase {
  type: "boolean";
  default?: boolean;
}

export type OptionSpec = StringOption | ListOption | NumberOption | BooleanOption;
export type OptionSpecs = Record<string, OptionSpec>;

/** The value an option's spec gives: its choices as a union, `undefined` only when it has no default. */
export type OptionValue<O> =
  O extends BooleanOption ? boolean
  : O extends ListOption ? string[]
  : O extends NumberOption ? (O extends { default: number } ? number : number | undefined)
  : O extends { choices: readonly (infer C)[] } ? (O extends { default: string } ? C : C | undefined)
  : O extends { default: string } ? string : string | undefined;

export type OptionValues<S extends OptionSpecs> = { -readonly [K in keyof S]: OptionValue<S[K]> };

export interface CommandSpec<S extends OptionSpecs = OptionSpecs> {
  name: string;
  summary: string;
  usage: string;
  options: S;
}

export interface Parsed<S extends OptionSpecs = OptionSpecs> {
  positionals: string[];
  options: OptionValues<S>;
}

/** Declares a command; the options keep their literal types (choices, defaults), so parsing them is typed. */
export function defineCommand<const S extends OptionSpecs>(spec: CommandSpec<S>): CommandSpec<S> {
  return spec;
}

export function parseArgs<S extends OptionSpecs>(spec: CommandSpec<S>, argv: string[]): Parsed<S> {
  const specs: OptionSpecs = spec.options;
  const values: Record<string, string | number | boolean | string[] | undefined> = {};
  for (const [name, o] of Object.entries(specs)) values[name] = initialValue(o);
  const positionals: string[] = [];
  const byShort = new Map(Object.entries(specs).flatMap(([n, o]) => (o.short ? [[o.short, n] as const] : [])));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") { positionals.push(...argv.slice(i + 1)); break; }
    if (!arg.startsWith("-") || arg === "-") { positionals.push(arg); continue; }
    const [name, inline] = arg.startsWith("--") ? splitInline(arg.slice(2)) : [byShort.get(arg.slice(1)) ?? arg, undefined];
    if (name.startsWith("no-") && specs[name.slice(3)]?.type === "boolean" && inline === undefined) { values[name.slice(3)] = false; continue; }
    const o = specs[name];
    if (!o) throw unknownOption(spec, arg);
    if (o.type === "boolean") {
      if (inline !== undefined && inline !== "true" && inline !== "false") throw new UsageError(`kiln ${spec.name}: --${name} takes no value (or =true/=false), got '${inline}'`);
      values[name] = inline !== "false";
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`kiln ${spec.name}: option --${name} needs a value`);
    if (o.type === "number") {
      values[name] = parseNumber(spec, name, o, value);
    } else if (o.multiple) {
      (values[name] as string[]).push(value);
    } else {
      if (o.choices && !o.choices.includes(value)) {
        throw new UsageError(`kiln ${spec.name}: --${name} must be one of ${o.choices.join(", ")}, got '${value}'${didYouMean(value, o.choices)}`);
      }
      values[name] = value;
    }
  }
  // The one place values meet their declared types: each was produced above from its own spec.
  return { positionals, options: values as OptionValues<S> };
}

/** Before the command line is read: the default, off for a flag, an empty list for a repeatable option. */
function initialValue(o: OptionSpec): string | number | boolean | string[] | undefined {
  if (o.type === "boolean") return o.default ?? false;
  if (o.type === "number") return o.default;
  return o.multiple ? [] : o.default;
}

function unknownOption(spec: CommandSpec, arg: string): UsageError {
  const known = [...Object.keys(spec.options), ...Object.entries(spec.options).filter(([, o]) => o.type === "boolean").map(([n]) => `no-${n}`), "help"];
  const typed = arg.replace(/^--?/, "").split("=")[0];
  const hint = didYouMean(typed, known, (n) => `--${n}`);
  return new UsageError(`kiln ${spec.name}: unknown option ${arg.split("=")[0]}${hint} (kiln help ${spec.name} lists the options)`);
}

const DECIMAL = "[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:e[+-]?\\d+)?";
/** Decimal notation only: Number() would also take "", " ", "0x10" and "Infinity". */
const WHOLE_OR_DECIMAL = new RegExp(`^${DECIMAL}$`, "i");
/** A fraction as people write scales: 1/255. */
const FRACTION = new RegExp(`^(${DECIMAL})/(${DECIMAL})$`, "i");

function parseNumber(spec: CommandSpec, name: string, o: NumberOption, value: string): number {
  const fraction = o.integer ? null : FRACTION.exec(value);
  const n = fraction ? Number(fraction[1]) / Number(fraction[2]) : WHOLE_OR_DECIMAL.test(value) ? Number(value) : NaN;
  const ok = Number.isFinite(n) && (!o.integer || Number.isSafeInteger(n)) && !(o.nonZero && n === 0) && n >= o.min && n <= o.max;
  if (!ok) throw new UsageError(`kiln ${spec.name}: --${name} must be ${describeNumber(o)}, got '${value}'`);
  return n;
}

/** "a whole number from 1 to 1,000,000", "a number from -1,000,000 to 1,000,000, not 0"… */
export function describeNumber(o: NumberOption): string {
  const f = (v: number): string => v.toLocaleString("en-US", { maximumFractionDigits: 6 });
  return `${o.integer ? "a whole number" : "a number"} from ${f(o.min)} to ${f(o.max)}${o.nonZero ? ", not 0" : ""}`;
}

function splitInline(s: string): [string, string | undefined] {
  const eq = s.indexOf("=");
  return eq < 0 ? [s, undefined] : [s.slice(0, eq), s.slice(eq + 1)];
}

/** The default as a person would write it on the command line; flags that are off say nothing. */
function defaultShown(o: OptionSpec): string | undefined {
  if (o.defaultText !== undefined) return o.defaultText;
  if (o.type === "boolean") return o.default ? "on" : undefined;
  if (o.type === "string" && o.multiple) return undefined;
  return o.default === undefined ? undefined : String(o.default);
}

export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([name, o]) => {
    const placeholder = o.type === "boolean" ? "" : ` <${o.type === "number" ? "n" : !o.multiple && o.choices ? o.choices.join("|") : "value"}>`;
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${placeholder}`;
    const shown = defaultShown(o);
    const notes = [shown === undefined ? "" : `default: ${shown}`, o.type === "number" ? describeNumber(o) : "", o.type === "string" && o.multiple ? "repeatable" : ""].filter(Boolean);
    return [flag, o.description + (notes.length ? ` (${notes.join("; ")})` : "")];
  });
  rows.push(["-h, --help", "show this help"]);
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  return [`kiln ${spec.name} — ${spec.summary}`, "", `usage: ${spec.usage}`, "", "options:", ...rows.map(([f, d]) => `  ${f.padEnd(width)}${d}`)].join("\n");
}

export function requirePositionals(spec: CommandSpec, parsed: { positionals: string[] }, count: number, what: string): string[] {
  if (parsed.positionals.length < count) throw new UsageError(`kiln ${spec.name}: missing ${what} (usage: ${spec.usage})`);
  if (parsed.positionals.length > count) throw new UsageError(`kiln ${spec.name}: unexpected argument '${parsed.positionals[count]}' (usage: ${spec.usage})`);
  return parsed.positionals;
}
