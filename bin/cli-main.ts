// Runs a command-line entry point (bin/kiln.ts, bin/agent-main.ts): every error becomes one clear line and an exit code.
import { KilnError } from "../compiler/errors.js";
import { redactTokens } from "../firmware-host/device-uri.js";
import { terminalSafe } from "./terminal.js";

export function runMain(main: (argv: string[]) => Promise<number>, prefix = "kiln: "): void {
  // A closed pipe (`kiln profile … | head`) is the reader's choice, not an error.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => { if (e.code === "EPIPE") process.exit(0); throw e; });

  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
    const err = e as Error;
    if (process.env.KILN_DEBUG) console.error(redactTokens(String(err?.stack)));
    // Messages quote file names, labels and device replies: escaped like every other line (bin/terminal.ts), and a
    // device URI's token is never shown, even when the URI was given where a file was expected.
    process.stderr.write(`${err instanceof KilnError ? "" : prefix}${terminalSafe(redactTokens(String(err?.message ?? err)), false)}\n`);
    process.exitCode = err instanceof KilnError ? err.exitCode : 1;
  });
}
