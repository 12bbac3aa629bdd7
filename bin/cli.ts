// The kiln command line (loaded by bin/kiln.ts): dispatches to one module per command and turns errors into one clear line.
import { UsageError } from "../compiler/errors.js";
import { helpText, type CommandSpec } from "./args.js";
import { runMain } from "./cli-main.js";
import { processIo, type Io } from "./io.js";
import { versionLine } from "./version.js";
import { didYouMean } from "../compiler/suggest.js";

interface Command { spec: CommandSpec; run(argv: string[], io: Io): Promise<void> }

/**
 * Each command's module, loaded when that command runs (all of them only for `kiln help`): `kiln compile` then loads
 * the compiler and not the device tools, the web server or the demo (~50 ms less CPU beside its builder).
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  compile: async () => { const m = await import("./commands/compile.js"); return { spec: m.compileSpec, run: m.compileCommand }; },
  run: async () => { const m = await import("./commands/run.js"); return { spec: m.runSpec, run: m.runCommand }; },
  inspect: async () => { const m = await import("./commands/inspect.js"); return { spec: m.inspectSpec, run: m.inspectCommand }; },
  eval: async () => { const m = await import("./commands/eval.js"); return { spec: m.evalSpec, run: m.evalCommand }; },
  profile: async () => { const m = await import("./commands/profile.js"); return { spec: m.profileSpec, run: m.profileCommand }; },
  deploy: async () => { const m = await import("./commands/deploy.js"); return { spec: m.deploySpec, run: m.deployCommand }; },
  bench: async () => { const m = await import("./commands/bench.js"); return { spec: m.benchSpec, run: m.benchCommand }; },
  agent: async () => { const m = await import("./commands/agent.js"); return { spec: m.agentSpec, run: m.agentCommand }; },
  board: async () => { const m = await import("./commands/board.js"); return { spec: m.boardSpec, run: m.boardCommand }; },
  serve: async () => { const m = await import("./commands/serve.js"); return { spec: m.serveSpec, run: m.serveCommand }; },
  demo: async () => { const m = await import("./commands/demo.js"); return { spec: m.demoSpec, run: m.demoCommand }; },
};

const NAMES = Object.keys(COMMANDS);

/** The command's module, checked to be the command its key names. */
async function loadCommand(name: string): Promise<Command> {
  const command = await COMMANDS[name]();
  if (command.spec.name !== name) throw new Error(`internal: the command table's '${name}' loads '${command.spec.name}'`);
  return command;
}

async function mainHelp(): Promise<string> {
  const commands = await Promise.all(NAMES.map(loadCommand));
  const width = Math.max(...commands.map((c) => c.spec.name.length)) + 2;
  return ["kiln — compile a trained CNN into one tiny WebAssembly blob, run it, profile it", "",
    "usage: kiln <command> [options]", "", "commands:",
    ...commands.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`), "",
    "'kiln help <command>' (or 'kiln <command> --help') shows a command's options; 'kiln --version' the version.", versionLine()].join("\n");
}

/** The command called `name`, or a usage error that suggests the closest one. */
function findCommand(name: string): Promise<Command> {
  if (Object.hasOwn(COMMANDS, name)) return loadCommand(name);
  if (name.startsWith("-")) {
    throw new UsageError(`kiln: unknown option ${name}${didYouMean(name.replace(/^--?/, ""), ["help", "version"], (n) => `--${n}`)} (usage: kiln <command> [options]; commands: ${NAMES.join(", ")})`);
  }
  throw new UsageError(`kiln: unknown command '${name}'${didYouMean(name, NAMES, (n) => `'${n}'`)} (commands: ${NAMES.join(", ")})`);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) { processIo.out(await mainHelp()); return 2; }
  if (name === "--help" || name === "-h") { processIo.out(await mainHelp()); return 0; }
  if (name === "--version" || name === "-V") { processIo.out(versionLine()); return 0; }
  if (name === "help") {
    if (rest.length > 1) throw new UsageError(`kiln help: one command at a time (usage: kiln help [command])`);
    processIo.out(rest.length ? helpText((await findCommand(rest[0])).spec) : await mainHelp());
    return 0;
  }
  const command = await findCommand(name);
  // Only before `--`: what follows it is positional, even when it looks like an option.
  const options = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (options.includes("--help") || options.includes("-h")) { processIo.out(helpText(command.spec)); return 0; }
  await command.run(rest, processIo);
  return 0;
}

runMain(main);
