// A target that misbehaves on purpose, one way per case index, to prove the harness catches each kind of failure.
import { KilnError } from "../../compiler/errors.js";
import type { FuzzTarget } from "./target.js";

export const SELF_TEST_CASES = ["success", "clean", "crash", "stack", "hang", "heap", "rss", "stray"] as const;

export const selfTestTarget: FuzzTarget = {
  name: "self-test", about: "misbehaves on purpose (tests of the harness)", timeoutMs: 3000,
  prepare(_rng, { index }) {
    const kind = SELF_TEST_CASES[index % SELF_TEST_CASES.length];
    return {
      what: kind,
      async run() {
        if (kind === "clean") throw new KilnError("model.json: a one-line error");
        if (kind === "crash") throw new TypeError("Cannot read properties of undefined (reading 'shape')");
        if (kind === "stack") throw new KilnError("asc failed:\nERROR TS1005: ';' expected.");
        if (kind === "hang") for (;;);
        if (kind === "heap") {
          const hoard: number[][] = [];
          for (;;) hoard.push(new Array(2e6).fill(1.5));
        }
        if (kind === "rss") {
          const hoard: Uint8Array[] = [];
          for (let i = 0; i < 64; i++) {
            hoard.push(new Uint8Array(64 << 20).fill(1));
            await new Promise((r) => setTimeout(r, 20));
          }
        }
        if (kind === "stray") void Promise.reject(new RangeError("Invalid typed array length: -4608"));
      },
    };
  },
};
