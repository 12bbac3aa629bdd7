// Where things are, whether this code runs from tests/fuzz (vitest) or dist/tests/fuzz (npm run fuzz).
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const compiled = import.meta.url.endsWith(".js");

/** The repository root. */
export const ROOT = resolve(here, compiled ? "../../.." : "../..");

/** Worker threads run the compiled worker (Node cannot load TypeScript): tsconfig.json builds it into dist/. */
export const WORKER_FILE = join(ROOT, "dist", "tests", "fuzz", "worker.js");
