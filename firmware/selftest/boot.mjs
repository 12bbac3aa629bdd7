// The board self-test's host side, shared by firmware/selftest/run.mjs and `npm run bench:scalar`: the input it
// writes, Node's run of the same blob on it, and booting the self-test firmware under QEMU.
import { spawn } from "node:child_process";

/** selftest.c checks the UART's receive path with these many bytes, (13i + 5) mod 256, while it runs the blob. */
export const RX_TEST_BYTES = 4000;

/** The self-test's input: byte i is (7i + 3) mod 256 written raw into the input region (selftest.c does the same). */
export function selftestPattern(n) {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
}

/** Node's run of `blob` (loaded with `Model` from dist/runtime/model.js) on the self-test input: sizes and output bytes. */
export async function nodeSelftestOutput(Model, blob) {
  const m = await Model.load(blob);
  const width = (dtype) => (dtype === "float32" ? 4 : 1);
  const inBytes = m.inputSize * width(m.info.input.dtype), outBytes = m.outputSize * width(m.info.output.dtype);
  new Uint8Array(m.exports.memory.buffer, m.exports.input_ptr(), inBytes).set(selftestPattern(inBytes));
  m.exports.run();
  const out = new Uint8Array(m.exports.memory.buffer, m.exports.output_ptr(), outBytes).slice();
  return { inBytes, outBytes, out, hex: [...out].map((b) => b.toString(16).padStart(2, "0")).join(" "), layers: m.info.layers.map((l) => l.name) };
}

/** Boots the self-test ELF under QEMU with -icount shift=5 and collects the UART until SELFTEST END (or FAIL, or a timeout). */
export function bootSelftest(elf, timeoutMs) {
  return new Promise((resolve) => {
    const q = spawn("qemu-system-arm", ["-M", "mps2-an386", "-nographic", "-monitor", "none", "-icount", "shift=5",
      "-kernel", elf, "-serial", "stdio"], { stdio: ["pipe", "pipe", "pipe"] });
    let text = "", sent = false;
    const done = () => { clearTimeout(timer); q.kill(); resolve(text); };
    const timer = setTimeout(done, timeoutMs);
    q.stdout.on("data", (d) => {
      text += d;
      if (!sent && text.includes("RX READY")) {
        sent = true;
        q.stdin.write(Uint8Array.from({ length: RX_TEST_BYTES }, (_, i) => (i * 13 + 5) & 0xff));
      }
      if (/SELFTEST END|FAIL[^\n]*\n/.test(text)) done();
    });
    q.stderr.on("data", (d) => { text += d; });
    q.on("exit", () => { clearTimeout(timer); resolve(text); });
  });
}
