// Refuses a Node that Kiln does not support, in one line, before any other module loads (imported first; no imports).

/** The Node versions Kiln supports: package.json's `engines` says the same (tests/agent-bundle.test.ts checks). */
export const SUPPORTED_NODE = ">=18";
const MIN_MAJOR = 18;

const major = Number(process.versions.node.split(".")[0]);
if (!(major >= MIN_MAJOR)) {
  process.stderr.write(`kiln: Node ${process.versions.node} is not supported; Kiln needs Node ${MIN_MAJOR} or newer (${SUPPORTED_NODE})\n`);
  process.exit(1);
}
