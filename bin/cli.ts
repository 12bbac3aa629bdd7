// The kiln command line (loaded by bin/kiln.ts): dispatches to one module per command and turns errors into one clear line.
import { UsageError } from "../compiler/errors.js";
import { helpText, type CommandSpec } from "./args.js";
import { runMain } from "./cli-main.js";
import { processIo, type Io } from "./io.js";
import { versionLine } from "./version.js";
import { didYouMean } from "./suggest.js";
import { compileCommand, compileSpec } from "./commands/compile.js";
import { runCommand, runSpec } from "./commands/run.js";
import { inspectCommand, inspectSpec } from "./commands/inspect.js";
import { demoCommand, demoSpec } from "./commands/demo.js";
import { evalCommand, evalSpec } from "./commands/eval.js";
import { profileCommand, profileSpec } from "./commands/profile.js";
import { agentCommand, agentSpec } from "./commands/agent.js";
import { deployCommand, deploySpec } from "./commands/deploy.js";
import { benchCommand, benchSpec } from "./commands/bench.js";
import { boardCommand, boardSpec } from "./commands/board.js";
import { serveCommand, serveSpec } from "./commands/serve.js";

interface Command { spec: CommandSpec; run(argv: string[], io: Io): Promise<void> }

const COMMANDS: Command[] = [
  { spec: compileSpec, run: compileCommand },
  { spec: runSpec, run: runCommand },
  { spec: inspectSpec, run: inspectCommand },
  { spec: evalSpec, run: evalCommand },
  { spec: profileSpec, run: profileCommand },
  { spec: deploySpec, run: deployCommand },
  { spec: benchSpec, run: benchCommand },
  { spec: agentSpec, run: agentCommand },
  { spec: boardSpec, run: boardCommand },
  { spec: serveSpec, run: serveCommand },
  { spec: demoSpec, run: demoCommand },
];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length)) + 2;
  return ["kiln — compile a trained CNN into one tiny WebAssembly blob, run it, profile it", "",
    "usage: kiln <command> [options]", "", "commands:",
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`), "",
    "'kiln help <command>' (or 'kiln <command> --help') shows a command's options; 'kiln --version' the version.", versionLine()].join("\n");
}

const NAMES = COMMANDS.map((c) => c.spec.name);

/** The command called `name`, or a usage error that suggests the closest one. */
function findCommand(name: string): Command {
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (command) return command;
  if (name.startsWith("-")) {
    throw new UsageError(`kiln: unknown option ${name}${didYouMean(name.replace(/^--?/, ""), ["help", "version"], (n) => `--${n}`)} (usage: kiln <command> [options]; commands: ${NAMES.join(", ")})`);
  }
  throw new UsageError(`kiln: unknown command '${name}'${didYouMean(name, NAMES, (n) => `'${n}'`)} (commands: ${NAMES.join(", ")})`);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) { processIo.out(mainHelp()); return 2; }
  if (name === "--help" || name === "-h") { processIo.out(mainHelp()); return 0; }
  if (name === "--version" || name === "-V") { processIo.out(versionLine()); return 0; }
  if (name === "help") {
    if (rest.length > 1) throw new UsageError(`kiln help: one command at a time (usage: kiln help [command])`);
    processIo.out(rest.length ? helpText(findCommand(rest[0]).spec) : mainHelp());
    return 0;
  }
  const command = findCommand(name);
  // Only before `--`: what follows it is positional, even when it looks like an option.
  const options = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (options.includes("--help") || options.includes("-h")) { processIo.out(helpText(command.spec)); return 0; }
  await command.run(rest, processIo);
  return 0;
}

runMain(main);
