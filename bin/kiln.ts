#!/usr/bin/env node
// The kiln command's entry: refuses an unsupported Node, starts `kiln compile`'s builder, then loads the CLI (bin/cli.ts).

// Static imports all load before any of them runs, so only these two are static: the builder starts ~0.1 s sooner
// than it would behind the CLI's whole module graph, and it is the longest path of a small compile.
import "./node-check.js"; // first: an unsupported Node is refused before the other modules load
import "../compiler/toolchain-early.js";

await import("./cli.js");
