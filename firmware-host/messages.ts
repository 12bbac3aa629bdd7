// Every protocol message as a typed object, and its body encoding and decoding (docs/protocol.md, "Messages").
import { BodyError, Reader, Writer } from "./bytes.js";

export const MsgType = {
  HELLO: 0x01, INFO: 0x02, LOAD_BEGIN: 0x03, LOAD_CHUNK: 0x04, LOAD_COMMIT: 0x05, RUN: 0x06, PROFILE: 0x07,
  EVAL: 0x08, RESET: 0x09, MORE: 0x0a,
  HELLO_OK: 0x81, INFO_OK: 0x82, LOAD_READY: 0x83, LOAD_ACK: 0x84, LOAD_DONE: 0x85, RUN_OK: 0x86, PROFILE_OK: 0x87,
  EVAL_OK: 0x88, RESET_OK: 0x89, MORE_OK: 0x8a, NAK: 0xfe, ERROR: 0xff,
} as const;

export const NakCode = { BAD_FRAME: 1, OUT_OF_ORDER: 2 } as const;

export const ErrorCode = {
  BAD_VERSION: 1, UNAUTHORIZED: 2, BAD_REQUEST: 3, NO_MODEL: 4, NO_UPLOAD: 5, TOO_LARGE: 6, INCOMPLETE: 7,
  HASH_MISMATCH: 8, INVALID_BLOB: 9, BAD_MANIFEST: 10, OUT_OF_MEMORY: 11, BAD_INPUT: 12, STORAGE: 13, NO_RESULT: 14,
  INTERNAL: 15, TIMEOUT: 16, BUSY: 17,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export function errorName(code: number): string {
  return Object.entries(ErrorCode).find(([, v]) => v === code)?.[0] ?? `ERROR_${code}`;
}

export function typeName(type: number): string {
  return Object.entries(MsgType).find(([, v]) => v === type)?.[0] ?? `0x${type.toString(16).padStart(2, "0")}`;
}

/** INFO selectors. */
export const INFO_MANIFEST = 0, INFO_BLOB = 1;

export type Request =
  | { kind: "hello"; maxFrame: number; token: string; client: string }
  | { kind: "info"; what: number }
  | { kind: "more"; of: number; offset: number }
  | { kind: "loadBegin"; size: number; sha256: Uint8Array; crc32: number; name: string }
  | { kind: "loadChunk"; offset: number; data: Uint8Array }
  | { kind: "loadCommit"; sha256: Uint8Array }
  | { kind: "run"; float: boolean; input: Uint8Array }
  | { kind: "profile"; runs: number; warmup: number }
  | { kind: "eval"; outputs: boolean; count: number; inputs: Uint8Array; labels: Uint8Array }
  | { kind: "reset"; discardUpload: boolean };

export interface HelloInfo {
  maxFrame: number;
  memoryLimit: number;
  maxBlob: number;
  simd: boolean;
  /** SHA-256 (hex) of the active blob, or null when the device has no model. */
  modelId: string | null;
  modelSize: number;
  device: string;
  runtime: string;
  modelName: string;
  /** Longest a single RUN, PROFILE or EVAL may take on this device (ms); past it the request gets TIMEOUT. */
  runLimitMs: number;
}

export type Reply =
  | ({ kind: "helloOk" } & HelloInfo)
  | { kind: "infoOk"; total: number; data: Uint8Array }
  | { kind: "profileOk"; total: number; data: Uint8Array }
  | { kind: "moreOk"; total: number; offset: number; data: Uint8Array }
  | { kind: "loadReady"; offset: number }
  | { kind: "loadAck"; next: number }
  | { kind: "loadDone"; modelId: string; size: number; name: string; verifyUs: number }
  | { kind: "runOk"; deviceUs: number; index: number; dtype: "int8" | "float32"; output: Uint8Array }
  | { kind: "evalOk"; count: number; correct: number; deviceUs: number; predictions: Uint16Array; outputs: Uint8Array }
  | { kind: "resetOk" }
  | { kind: "nak"; code: number; expected: number }
  | { kind: "error"; code: number; detail: number; message: string };

export const REQUEST_TYPE: Record<Request["kind"], number> = {
  hello: MsgType.HELLO, info: MsgType.INFO, more: MsgType.MORE, loadBegin: MsgType.LOAD_BEGIN, loadChunk: MsgType.LOAD_CHUNK,
  loadCommit: MsgType.LOAD_COMMIT, run: MsgType.RUN, profile: MsgType.PROFILE, eval: MsgType.EVAL, reset: MsgType.RESET,
};

export const REPLY_TYPE: Record<Reply["kind"], number> = {
  helloOk: MsgType.HELLO_OK, infoOk: MsgType.INFO_OK, profileOk: MsgType.PROFILE_OK, moreOk: MsgType.MORE_OK,
  loadReady: MsgType.LOAD_READY, loadAck: MsgType.LOAD_ACK, loadDone: MsgType.LOAD_DONE, runOk: MsgType.RUN_OK,
  evalOk: MsgType.EVAL_OK, resetOk: MsgType.RESET_OK, nak: MsgType.NAK, error: MsgType.ERROR,
};

/** The reply a successful request gets (NAK and ERROR aside). */
export const EXPECTED_REPLY: Record<Request["kind"], Reply["kind"]> = {
  hello: "helloOk", info: "infoOk", more: "moreOk", loadBegin: "loadReady", loadChunk: "loadAck", loadCommit: "loadDone",
  run: "runOk", profile: "profileOk", eval: "evalOk", reset: "resetOk",
};

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const unhex = (s: string | null): Uint8Array => (s ? Uint8Array.from(Buffer.from(s, "hex")) : new Uint8Array(32));
const isZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

export function encodeRequest(r: Request): Uint8Array {
  const w = new Writer();
  switch (r.kind) {
    case "hello": return w.u32(r.maxFrame).str(r.token).str(r.client, 64).finish();
    case "info": return w.u8(r.what).finish();
    case "more": return w.u16(r.of).u32(r.offset).finish();
    case "loadBegin": return w.u32(r.size).bytes(r.sha256).u32(r.crc32).str(r.name, 64).finish();
    case "loadChunk": return w.u32(r.offset).bytes(r.data).finish();
    case "loadCommit": return w.bytes(r.sha256).finish();
    case "run": return w.u8(r.float ? 1 : 0).bytes(r.input).finish();
    case "profile": return w.u32(r.runs).u32(r.warmup).finish();
    case "eval": return w.u8(r.outputs ? 1 : 0).u16(r.count).bytes(r.inputs).bytes(r.labels).finish();
    case "reset": return w.u8(r.discardUpload ? 1 : 0).finish();
  }
}

/** Decodes a request body; throws BodyError for an unknown type or a malformed body. */
export function decodeRequest(type: number, body: Uint8Array): Request {
  const r = new Reader(body, typeName(type));
  let req: Request;
  switch (type) {
    case MsgType.HELLO: req = { kind: "hello", maxFrame: r.u32(), token: r.str(), client: r.str() }; break;
    case MsgType.INFO: req = { kind: "info", what: r.u8() }; break;
    case MsgType.MORE: req = { kind: "more", of: r.u16(), offset: r.u32() }; break;
    case MsgType.LOAD_BEGIN: req = { kind: "loadBegin", size: r.u32(), sha256: r.bytes(32), crc32: r.u32(), name: r.str() }; break;
    case MsgType.LOAD_CHUNK: req = { kind: "loadChunk", offset: r.u32(), data: r.rest() }; break;
    case MsgType.LOAD_COMMIT: req = { kind: "loadCommit", sha256: r.bytes(32) }; break;
    case MsgType.RUN: req = { kind: "run", float: r.u8() === 1, input: r.rest() }; break;
    case MsgType.PROFILE: req = { kind: "profile", runs: r.u32(), warmup: r.u32() }; break;
    case MsgType.EVAL: {
      const outputs = (r.u8() & 1) === 1, count = r.u16();
      const rest = r.rest();
      if (rest.length < count) throw new BodyError(`EVAL: ${count} labels announced, ${rest.length} bytes sent`);
      req = { kind: "eval", outputs, count, inputs: rest.subarray(0, rest.length - count), labels: rest.subarray(rest.length - count) };
      break;
    }
    case MsgType.RESET: req = { kind: "reset", discardUpload: (r.u8() & 1) === 1 }; break;
    default: throw new BodyError(`unknown request type ${typeName(type)}`);
  }
  r.end();
  return req;
}

export function encodeReply(r: Reply): Uint8Array {
  const w = new Writer();
  switch (r.kind) {
    case "helloOk":
      return w.u32(r.maxFrame).u32(r.memoryLimit).u32(r.maxBlob).u8((r.simd ? 1 : 0) | (r.modelId ? 2 : 0)).bytes(unhex(r.modelId))
        .u32(r.modelSize).str(r.device, 48).str(r.runtime, 64).str(r.modelName, 48).u32(r.runLimitMs).finish();
    case "infoOk": case "profileOk": return w.u32(r.total).bytes(r.data).finish();
    case "moreOk": return w.u32(r.total).u32(r.offset).bytes(r.data).finish();
    case "loadReady": return w.u32(r.offset).finish();
    case "loadAck": return w.u32(r.next).finish();
    case "loadDone": return w.bytes(unhex(r.modelId)).u32(r.size).str(r.name, 64).f64(r.verifyUs).finish();
    case "runOk": return w.f64(r.deviceUs).u16(r.index).u8(r.dtype === "float32" ? 1 : 0).bytes(r.output).finish();
    case "evalOk": {
      w.u16(r.count).u16(r.correct).f64(r.deviceUs);
      for (const p of r.predictions) w.u16(p);
      return w.bytes(r.outputs).finish();
    }
    case "resetOk": return w.finish();
    case "nak": return w.u8(r.code).u32(r.expected).finish();
    case "error": return w.u8(r.code).u32(r.detail).str(r.message, 200).finish();
  }
}

export function decodeReply(type: number, body: Uint8Array): Reply {
  const r = new Reader(body, typeName(type));
  let reply: Reply;
  switch (type) {
    case MsgType.HELLO_OK: {
      const maxFrame = r.u32(), memoryLimit = r.u32(), maxBlob = r.u32(), flags = r.u8(), id = r.bytes(32), modelSize = r.u32();
      reply = { kind: "helloOk", maxFrame, memoryLimit, maxBlob, simd: (flags & 1) === 1, modelId: flags & 2 && !isZero(id) ? hex(id) : null,
        modelSize, device: r.str(), runtime: r.str(), modelName: r.str(), runLimitMs: r.u32() };
      break;
    }
    case MsgType.INFO_OK: reply = { kind: "infoOk", total: r.u32(), data: r.rest() }; break;
    case MsgType.PROFILE_OK: reply = { kind: "profileOk", total: r.u32(), data: r.rest() }; break;
    case MsgType.MORE_OK: reply = { kind: "moreOk", total: r.u32(), offset: r.u32(), data: r.rest() }; break;
    case MsgType.LOAD_READY: reply = { kind: "loadReady", offset: r.u32() }; break;
    case MsgType.LOAD_ACK: reply = { kind: "loadAck", next: r.u32() }; break;
    case MsgType.LOAD_DONE: reply = { kind: "loadDone", modelId: hex(r.bytes(32)), size: r.u32(), name: r.str(), verifyUs: r.f64() }; break;
    case MsgType.RUN_OK: reply = { kind: "runOk", deviceUs: r.f64(), index: r.u16(), dtype: r.u8() === 1 ? "float32" : "int8", output: r.rest() }; break;
    case MsgType.EVAL_OK: {
      const count = r.u16(), correct = r.u16(), deviceUs = r.f64();
      const predictions = Uint16Array.from({ length: count }, () => r.u16());
      reply = { kind: "evalOk", count, correct, deviceUs, predictions, outputs: r.rest() };
      break;
    }
    case MsgType.RESET_OK: reply = { kind: "resetOk" }; break;
    case MsgType.NAK: reply = { kind: "nak", code: r.u8(), expected: r.u32() }; break;
    case MsgType.ERROR: reply = { kind: "error", code: r.u8(), detail: r.u32(), message: r.str() }; break;
    default: throw new BodyError(`unknown reply type ${typeName(type)}`);
  }
  r.end();
  return reply;
}

export type RawOutput = Int8Array | Float32Array;

/** Raw output bytes as the blob's output buffer type (int8 or float32 little-endian). */
export function rawFromBytes(bytes: Uint8Array, dtype: "int8" | "float32"): RawOutput {
  if (dtype === "int8") return new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: bytes.length >> 2 }, (_, i) => view.getFloat32(4 * i, true));
}

/** A raw output buffer as the bytes the protocol carries. */
export function rawToBytes(raw: RawOutput): Uint8Array {
  if (raw instanceof Int8Array) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength).slice();
  const out = new Uint8Array(raw.length * 4);
  const view = new DataView(out.buffer);
  raw.forEach((v, i) => view.setFloat32(4 * i, v, true));
  return out;
}

export { hex as toHex, unhex as fromHex };
