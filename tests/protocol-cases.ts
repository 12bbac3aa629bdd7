// The device protocol as data: requests (or raw frames) in, reply kinds and codes out (docs/protocol.md). Every case
// is run by tests/protocol-suite.test.ts against the Node agent and against the firmware's protocol core (native
// build). Only what both devices must do identically on a serial-style link without a token is here, and nothing
// whose outcome depends on a blob actually running (the native build runs a fake runtime).
import { createHash } from "node:crypto";
import { crc32 } from "../firmware-host/crc32.js";
import { buildFrame } from "../firmware-host/frame.js";
import { ErrorCode, MsgType, NakCode, type HelloInfo, type Reply, type Request } from "../firmware-host/messages.js";

/** What a case knows while it runs: the last HELLO_OK (if any). */
export interface CaseContext {
  hello: HelloInfo | null;
}

/** A value given directly or computed from what the case has seen so far (e.g. maxBlob from HELLO_OK). */
export type Dyn<T> = T | ((ctx: CaseContext) => T);

export type Send =
  /** A request, encoded as the host would (firmware-host/messages.ts). */
  | { request: Request }
  /** A type and a body sent as is in a good frame (unknown types, malformed bodies); `version` defaults to 1. */
  | { type: number; body: Uint8Array; version?: number }
  /** A decoded frame (header + body + CRC, seq included) to damage; the runner COBS-wraps it. */
  | { frame: Uint8Array }
  /** An earlier step's wire bytes again (same seq, same CRC): the previous step's, or step `step` (0-based). */
  | { resend: true; step?: number };

export interface Expect {
  kind: Reply["kind"];
  /** ERROR or NAK code; a list when the devices may differ (any of them is accepted). */
  code?: number | number[];
  /** ERROR detail. */
  detail?: Dyn<number>;
  /** NAK expected offset. */
  expected?: number;
  /** The reply's seq; by default the seq of the frame sent. */
  seq?: number;
  /** The reply must be byte-identical to the reply of the step that is resent (`resend`). */
  identical?: true;
  /** Fields of the decoded reply, checked with toMatchObject. */
  fields?: Dyn<Record<string, unknown>>;
  /** Extra loose checks on the decoded reply (e.g. HELLO_OK ranges). */
  check?: (reply: Reply, ctx: CaseContext) => void;
}

export interface Step {
  send: Dyn<Send>;
  expect: Expect;
  /** The seq of a frame built by the runner; by default the next of the case's counter (starting at 100). */
  seq?: number;
}

export interface ProtocolCase {
  name: string;
  steps: Step[];
}

const sha = (b: Uint8Array | string): Uint8Array => new Uint8Array(createHash("sha256").update(b).digest());
/** Bytes of an upload that never needs to run: COMMIT is only checked before anything is validated. */
const DATA = Uint8Array.from({ length: 100 }, (_, i) => (i * 31 + 7) & 0xff);
const DATA_SHA = sha(DATA);
const begin = (size = DATA.length, hash = DATA_SHA): Send => ({ request: { kind: "loadBegin", size, sha256: hash, crc32: crc32(DATA), name: "suite" } });
const chunk = (offset: number, data: Uint8Array): Send => ({ request: { kind: "loadChunk", offset, data } });
const hello: Send = { request: { kind: "hello", maxFrame: 65536, token: "", client: "protocol-suite" } };
const helloOk: Expect = {
  kind: "helloOk",
  check: (r) => {
    const h = r as Extract<Reply, { kind: "helloOk" }>;
    if (!(h.maxFrame >= 256 && h.maxFrame <= 65536)) throw new Error(`HELLO_OK maxFrame ${h.maxFrame} outside 256…65536`);
    if (typeof h.simd !== "boolean") throw new Error("HELLO_OK simd is not a boolean");
    if (!(h.maxBlob > 0)) throw new Error(`HELLO_OK maxBlob ${h.maxBlob}`);
  },
  fields: { modelId: null, modelSize: 0, modelName: "" },
};
const error = (code: number | number[], detail?: Dyn<number>): Expect => ({ kind: "error", code, ...(detail === undefined ? {} : { detail }) });

/** A good INFO frame (seq 77) with its CRC damaged. */
function damagedFrame(): Uint8Array {
  const f = buildFrame(MsgType.INFO, 77, new Uint8Array([0]));
  f[f.length - 1] ^= 0xff;
  return f;
}

export const PROTOCOL_CASES: ProtocolCase[] = [
  { name: "HELLO → HELLO_OK (no model)", steps: [{ send: hello, expect: helloOk }] },
  { name: "INFO before any model → NO_MODEL", steps: [{ send: { request: { kind: "info", what: 0 } }, expect: error(ErrorCode.NO_MODEL) }] },
  { name: "RUN before any model → NO_MODEL", steps: [{ send: { request: { kind: "run", float: false, input: new Uint8Array(16) } }, expect: error(ErrorCode.NO_MODEL) }] },
  { name: "unknown request type → BAD_REQUEST", steps: [{ send: { type: 0x42, body: new Uint8Array() }, expect: error(ErrorCode.BAD_REQUEST) }] },
  { name: "a reply type sent as a request → BAD_REQUEST", steps: [{ send: { type: MsgType.HELLO_OK, body: new Uint8Array() }, expect: error(ErrorCode.BAD_REQUEST) }] },
  { name: "bad protocol version → BAD_VERSION (detail = 1)", steps: [{ send: { type: MsgType.INFO, body: new Uint8Array([0]), version: 2 }, expect: error(ErrorCode.BAD_VERSION, 1) }] },
  { name: "malformed body (trailing bytes) → BAD_REQUEST", steps: [{ send: { type: MsgType.INFO, body: new Uint8Array([0, 0]) }, expect: error(ErrorCode.BAD_REQUEST) }] },
  { name: "malformed body (truncated LOAD_BEGIN) → BAD_REQUEST", steps: [{ send: { type: MsgType.LOAD_BEGIN, body: new Uint8Array([100, 0, 0, 0, 1, 2]) }, expect: error(ErrorCode.BAD_REQUEST) }] },
  {
    name: "a frame with a bad CRC → NAK BAD_FRAME with seq 0, then the line works",
    steps: [
      { send: { frame: damagedFrame() }, expect: { kind: "nak", code: NakCode.BAD_FRAME, expected: 0, seq: 0 } },
      { send: { request: { kind: "info", what: 0 } }, expect: error(ErrorCode.NO_MODEL) },
    ],
  },
  { name: "LOAD_CHUNK without LOAD_BEGIN → NO_UPLOAD", steps: [{ send: chunk(0, DATA.subarray(0, 10)), expect: error(ErrorCode.NO_UPLOAD) }] },
  { name: "LOAD_COMMIT without LOAD_BEGIN → NO_UPLOAD", steps: [{ send: { request: { kind: "loadCommit", sha256: DATA_SHA } }, expect: error(ErrorCode.NO_UPLOAD) }] },
  { name: "LOAD_BEGIN of size 0 → BAD_REQUEST", steps: [{ send: begin(0, sha(new Uint8Array())), expect: error(ErrorCode.BAD_REQUEST) }] },
  {
    name: "LOAD_BEGIN larger than maxBlob (from HELLO_OK) → TOO_LARGE (detail = maxBlob)",
    steps: [
      { send: hello, expect: helloOk },
      { send: (ctx) => begin(ctx.hello!.maxBlob + 1), expect: error(ErrorCode.TOO_LARGE, (ctx) => ctx.hello!.maxBlob) },
    ],
  },
  {
    name: "LOAD_BEGIN → LOAD_READY 0; LOAD_CHUNKs → LOAD_ACK; a chunk it has is acknowledged again",
    steps: [
      { send: begin(), expect: { kind: "loadReady", fields: { offset: 0 } } },
      { send: chunk(0, DATA.subarray(0, 40)), expect: { kind: "loadAck", fields: { next: 40 } } },
      { send: chunk(40, DATA.subarray(40, 60)), expect: { kind: "loadAck", fields: { next: 60 } } },
      { send: chunk(0, DATA.subarray(0, 40)), expect: { kind: "loadAck", fields: { next: 60 } } },
      // The same upload announced again resumes where it is.
      { send: begin(), expect: { kind: "loadReady", fields: { offset: 60 } } },
    ],
  },
  {
    name: "out-of-order LOAD_CHUNK → NAK OUT_OF_ORDER with the expected offset",
    steps: [
      { send: begin(), expect: { kind: "loadReady", fields: { offset: 0 } } },
      { send: chunk(50, DATA.subarray(50, 60)), expect: { kind: "nak", code: NakCode.OUT_OF_ORDER, expected: 0 } },
      { send: chunk(0, DATA.subarray(0, 30)), expect: { kind: "loadAck", fields: { next: 30 } } },
      { send: chunk(50, DATA.subarray(50, 60)), expect: { kind: "nak", code: NakCode.OUT_OF_ORDER, expected: 30 } },
    ],
  },
  {
    name: "LOAD_COMMIT before all bytes → INCOMPLETE (detail = bytes held)",
    steps: [
      { send: begin(), expect: { kind: "loadReady", fields: { offset: 0 } } },
      { send: chunk(0, DATA.subarray(0, 40)), expect: { kind: "loadAck", fields: { next: 40 } } },
      { send: { request: { kind: "loadCommit", sha256: DATA_SHA } }, expect: error(ErrorCode.INCOMPLETE, 40) },
    ],
  },
  {
    // All bytes held, with the SHA-256 LOAD_BEGIN announced; COMMIT names another hash. Both devices answer
    // BAD_REQUEST ("LOAD_COMMIT names another blob than LOAD_BEGIN"); HASH_MISMATCH is for stored bytes that do not
    // have the announced hash.
    name: "LOAD_COMMIT with a hash other than LOAD_BEGIN's → BAD_REQUEST",
    steps: [
      { send: begin(), expect: { kind: "loadReady", fields: { offset: 0 } } },
      { send: chunk(0, DATA), expect: { kind: "loadAck", fields: { next: DATA.length } } },
      { send: { request: { kind: "loadCommit", sha256: sha("another blob") } }, expect: error(ErrorCode.BAD_REQUEST) },
    ],
  },
  { name: "MORE without a long reply → NO_RESULT", steps: [{ send: { request: { kind: "more", of: 99, offset: 0 } }, expect: error(ErrorCode.NO_RESULT) }] },
  {
    name: "RESET → RESET_OK; RESET with discard drops the pending upload",
    steps: [
      { send: { request: { kind: "reset", discardUpload: false } }, expect: { kind: "resetOk" } },
      { send: begin(), expect: { kind: "loadReady", fields: { offset: 0 } } },
      { send: chunk(0, DATA.subarray(0, 40)), expect: { kind: "loadAck", fields: { next: 40 } } },
      { send: { request: { kind: "reset", discardUpload: false } }, expect: { kind: "resetOk" } },
      { send: begin(), expect: { kind: "loadReady", fields: { offset: 40 } } },
      { send: { request: { kind: "reset", discardUpload: true } }, expect: { kind: "resetOk" } },
      { send: chunk(0, DATA.subarray(0, 10)), expect: error(ErrorCode.NO_UPLOAD) },
    ],
  },
  {
    name: "retransmission (same seq and CRC) → byte-identical reply, not executed again",
    steps: [
      { send: hello, expect: helloOk },
      { send: { request: { kind: "info", what: 0 } }, expect: error(ErrorCode.NO_MODEL) },
      { send: { resend: true }, expect: { kind: "error", code: ErrorCode.NO_MODEL, identical: true } },
      { send: begin(), expect: { kind: "loadReady", fields: { offset: 0 } } },
      { send: chunk(0, DATA.subarray(0, 40)), expect: { kind: "loadAck", fields: { next: 40 } } },
      { send: { resend: true }, expect: { kind: "loadAck", identical: true } },
      // A new chunk with a new seq moves on, and its own retransmission is answered identically too.
      { send: chunk(40, DATA.subarray(40, 50)), expect: { kind: "loadAck", fields: { next: 50 } } },
      { send: { resend: true }, expect: { kind: "loadAck", identical: true, fields: { next: 50 } } },
      // LOAD_BEGIN (step 4) again, after 50 bytes arrived: answered from the reply cache (offset 0), not executed
      // again (which would answer the resume offset, 50).
      { send: { resend: true, step: 3 }, expect: { kind: "loadReady", identical: true, fields: { offset: 0 } } },
      // The same LOAD_BEGIN as a new request (new seq) is executed: it resumes at 50.
      { send: begin(), expect: { kind: "loadReady", fields: { offset: 50 } } },
    ],
  },
];
