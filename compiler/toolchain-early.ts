// Imported first by bin/kiln.ts: `kiln compile` starts its builder before the CLI's other modules load.

// Those modules take ~0.3 s of CPU to load; the builder (toolchain.ts) needs ~1.5 s from its start to the first blob,
// and it is the longest path of a small compile, so every early millisecond is one off the wall time.
import { startToolchain } from "./toolchain.js";

if (process.argv[2] === "compile") startToolchain();
