#!/usr/bin/env node
// The kiln command line: dispatches to one module per command and turns errors into one clear line.
import "./node-check.js"; // first: an unsupported Node is refused before the other modules load
import { UsageError } from "../compiler/errors.js";
import { helpText, type CommandSpec } from "./args.js";
import { runMain } from "./cli-main.js";
import { processIo, type Io } from "./io.js";
import { versionLine } from "./version.js";
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
    "Run 'kiln <command> --help' for a command's options.", versionLine()].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") { processIo.out(mainHelp()); return name ? 0 : 2; }
  if (name === "--version" || name === "-V") { processIo.out(versionLine()); return 0; }
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (!command) throw new UsageError(`kiln: unknown command '${name}' (commands: ${COMMANDS.map((c) => c.spec.name).join(", ")})`);
  if (rest.includes("--help") || rest.includes("-h")) { processIo.out(helpText(command.spec)); return 0; }
  await command.run(rest, processIo);
  return 0;
}

runMain(main);
