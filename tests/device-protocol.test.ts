// The wire format: COBS, CRC-32, the frame codec on a byte stream, and every message's body encoding.
import { describe, expect, it } from "vitest";
import { cobsDecode, cobsEncode, cobsMaxEncodedLength, CobsError } from "../firmware-host/cobs.js";
import { crc32 } from "../firmware-host/crc32.js";
import { buildFrame, encodeFrame, FrameDecoder, FRAME_OVERHEAD, type Frame, type FrameFault } from "../firmware-host/frame.js";
import { BodyError } from "../firmware-host/bytes.js";
import { decodeReply, decodeRequest, encodeReply, encodeRequest, MsgType, REPLY_TYPE, REQUEST_TYPE, type Reply, type Request } from "../firmware-host/messages.js";
import { parseDeviceUri, DeviceUriError } from "../firmware-host/device-uri.js";
import { parseHostPort } from "../firmware-host/tcp.js";
import { seededRandom } from "./helpers.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s/g, ""), "hex"));

describe("COBS", () => {
  it.each([
    ["00", "0101"], ["0000", "010101"], ["00110000", "01021101 01".replace(" ", "")], ["11220033", "0311220233"], ["11223344", "0511223344"],
    ["11000000", "02110101 01".replace(" ", "")], ["", "01"],
  ])("encodes %s as %s (reference vectors)", (input, output) => {
    expect(hex(cobsEncode(bytes(input)))).toBe(output);
    expect(hex(cobsDecode(bytes(output)))).toBe(input);
  });

  it("handles 254-byte blocks canonically (01…FE → FF 01…FE; 00 01…FE → 01 FF 01…FE)", () => {
    const run = Uint8Array.from({ length: 254 }, (_, i) => i + 1);
    expect(hex(cobsEncode(run))).toBe("ff" + hex(run));
    const withZero = Uint8Array.from([0, ...run]);
    expect(hex(cobsEncode(withZero))).toBe("01ff" + hex(run));
    const longer = Uint8Array.from([...run, 0xff]);
    expect(hex(cobsEncode(longer))).toBe("ff" + hex(run) + "02ff");
  });

  it("round-trips random data of every length up to 1100 with no zero in the encoding and bounded overhead", () => {
    const random = seededRandom(3);
    for (let n = 0; n <= 1100; n += n < 300 ? 1 : 37) {
      const data = Uint8Array.from({ length: n }, () => (random() < 0.2 ? 0 : Math.floor(random() * 256)));
      const enc = cobsEncode(data);
      expect(enc.includes(0)).toBe(false);
      expect(enc.length).toBeLessThanOrEqual(cobsMaxEncodedLength(n));
      expect(hex(cobsDecode(enc))).toBe(hex(data));
    }
  });

  it("rejects zero bytes and truncated blocks", () => {
    expect(() => cobsDecode(bytes("031100"))).toThrow(CobsError);
    expect(() => cobsDecode(bytes("0511"))).toThrow(CobsError);
  });
});

describe("CRC-32", () => {
  it("matches the IEEE check value and continues incrementally", () => {
    const text = new TextEncoder().encode("123456789");
    expect(crc32(text)).toBe(0xcbf43926);
    expect(crc32(text.subarray(4), crc32(text.subarray(0, 4)))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe("frame decoder", () => {
  function collect(maxFrame?: number) {
    const frames: Frame[] = [], faults: FrameFault[] = [];
    const decoder = new FrameDecoder((f) => frames.push(f), (f) => faults.push(f), maxFrame);
    return { frames, faults, decoder };
  }

  it("finds frames split at any byte, run together, and between garbage", () => {
    const { frames, faults, decoder } = collect();
    const a = encodeFrame(0x01, 7, Uint8Array.from([0, 1, 2, 0, 0])), b = encodeFrame(0x81, 65535, new Uint8Array(600).fill(0));
    const stream = Uint8Array.from([...a, ...b, 5, 6, 7, 0, ...a]);
    for (const byte of stream) decoder.push(Uint8Array.of(byte));
    expect(frames.map((f) => [f.type, f.seq, f.body.length])).toEqual([[1, 7, 5], [0x81, 65535, 600], [1, 7, 5]]);
    expect(hex(frames[0].body)).toBe("0001020000");
    expect(faults).toEqual(["cobs"]);
  });

  it("counts a damaged byte as a CRC (or COBS) fault and still reads the next frame", () => {
    const { frames, faults, decoder } = collect();
    const good = encodeFrame(0x04, 9, Uint8Array.from([1, 2, 3, 4, 5, 6]));
    for (let i = 1; i < good.length - 1; i++) {
      const bad = good.slice();
      bad[i] ^= 0x40;
      decoder.push(bad);
    }
    decoder.push(good);
    expect(frames).toHaveLength(1);
    expect(faults.length).toBeGreaterThanOrEqual(good.length - 2);
    expect(faults.every((f) => f === "crc" || f === "cobs" || f === "short")).toBe(true);
    expect(decoder.stats.bad.crc).toBeGreaterThan(0);
  });

  it("skips frames longer than its maximum up to the next delimiter", () => {
    const { frames, faults, decoder } = collect(300);
    decoder.push(encodeFrame(0x04, 1, new Uint8Array(400).fill(9)));
    decoder.push(encodeFrame(0x04, 2, new Uint8Array(300 - FRAME_OVERHEAD).fill(9)));
    expect(faults).toEqual(["too-long"]);
    expect(frames.map((f) => f.seq)).toEqual([2]);
  });

  it("frames carry version, type, seq and a CRC over all of them", () => {
    const f = buildFrame(0x06, 0x1234, Uint8Array.from([0xaa]), 3);
    expect(hex(f.subarray(0, 5))).toBe("03063412aa");
    expect(new DataView(f.buffer).getUint32(5, true)).toBe(crc32(f.subarray(0, 5)));
  });
});

describe("messages", () => {
  const sha = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
  const requests: Request[] = [
    { kind: "hello", maxFrame: 4096, token: "tökén", client: "kiln" },
    { kind: "info", what: 1 },
    { kind: "more", of: 513, offset: 70000 },
    { kind: "loadBegin", size: 212937, sha256: sha, crc32: 0xdeadbeef, name: "mnist.wasm" },
    { kind: "loadChunk", offset: 4096, data: Uint8Array.from([0, 1, 2, 0]) },
    { kind: "loadCommit", sha256: sha },
    { kind: "run", float: false, input: new Uint8Array(784).fill(3) },
    { kind: "profile", runs: 200, warmup: 20 },
    { kind: "eval", outputs: true, count: 2, inputs: Uint8Array.from([1, 2, 3, 4]), labels: Uint8Array.from([7, 9]) },
    { kind: "reset", discardUpload: true },
  ];
  const replies: Reply[] = [
    { kind: "helloOk", maxFrame: 4096, memoryLimit: 1 << 28, maxBlob: 1 << 26, simd: true, modelId: hex(sha), modelSize: 1234, device: "pi", runtime: "node", modelName: "m", runLimitMs: 10_000 },
    { kind: "helloOk", maxFrame: 256, memoryLimit: 0, maxBlob: 0, simd: false, modelId: null, modelSize: 0, device: "", runtime: "", modelName: "", runLimitMs: 0 },
    { kind: "infoOk", total: 10, data: Uint8Array.from([1, 2]) },
    { kind: "profileOk", total: 2, data: Uint8Array.from([1, 2]) },
    { kind: "moreOk", total: 10, offset: 2, data: Uint8Array.from([3]) },
    { kind: "loadReady", offset: 77 },
    { kind: "loadAck", next: 4096 },
    { kind: "loadDone", modelId: hex(sha), size: 99, name: "x", verifyUs: 12.5 },
    { kind: "runOk", deviceUs: 81.25, index: 3, dtype: "float32", output: new Uint8Array(40) },
    { kind: "evalOk", count: 2, correct: 1, deviceUs: 5, predictions: Uint16Array.from([7, 300]), outputs: Uint8Array.from([1, 2]) },
    { kind: "resetOk" },
    { kind: "nak", code: 2, expected: 512 },
    { kind: "error", code: 8, detail: 0, message: "stored bytes do not have the announced SHA-256" },
  ];

  it.each(requests.map((r) => [r.kind, r] as const))("request %s survives encode → decode", (_, r) => {
    expect(decodeRequest(REQUEST_TYPE[r.kind], encodeRequest(r))).toEqual(r);
  });

  it.each(replies.map((r, i) => [`${r.kind} #${i}`, r] as const))("reply %s survives encode → decode", (_, r) => {
    expect(decodeReply(REPLY_TYPE[r.kind], encodeReply(r))).toEqual(r);
  });

  it("rejects short bodies, trailing bytes and unknown types with a BodyError", () => {
    expect(() => decodeRequest(MsgType.PROFILE, new Uint8Array(7))).toThrow(BodyError);
    expect(() => decodeRequest(MsgType.PROFILE, new Uint8Array(9))).toThrow(/unexpected bytes/);
    expect(() => decodeRequest(0x42, new Uint8Array(0))).toThrow(/unknown request type/);
    expect(() => decodeReply(MsgType.LOAD_ACK, new Uint8Array(2))).toThrow(/too short/);
    expect(() => decodeRequest(MsgType.EVAL, Uint8Array.from([0, 5, 0, 1]))).toThrow(/labels/);
  });
});

describe("device URIs", () => {
  it("parses serial, tcp and local URIs", () => {
    expect(parseDeviceUri("serial:/dev/ttyUSB0?baud=115200")).toEqual({ kind: "serial", path: "/dev/ttyUSB0", baud: 115200 });
    expect(parseDeviceUri("serial:///dev/ttyACM1")).toEqual({ kind: "serial", path: "/dev/ttyACM1", baud: 115200 });
    expect(parseDeviceUri("tcp://192.168.1.20:7000?token=a%20b&frame=1024")).toEqual({ kind: "tcp", host: "192.168.1.20", port: 7000, token: "a b", frame: 1024 });
    expect(parseDeviceUri("tcp://[::1]:7000?token=x")).toMatchObject({ host: "::1", port: 7000 });
    expect(parseDeviceUri("local")).toEqual({ kind: "local", store: undefined });
    expect(parseDeviceUri("local?store=/tmp/s&timeout=50")).toEqual({ kind: "local", store: "/tmp/s", timeoutMs: 50 });
  });

  it.each(["usb:/dev/x", "serial:", "serial:/dev/x?baud=fast", "serial:/dev/x?speed=9600", "tcp://host", "tcp://h:1/path", "local?bogus=1"])(
    "rejects %s with a clear message", (uri) => {
      expect(() => parseDeviceUri(uri)).toThrow(DeviceUriError);
    });

  it("host:port for the agent defaults to loopback", () => {
    expect(parseHostPort(":7000")).toEqual({ host: "127.0.0.1", port: 7000 });
    expect(parseHostPort("7000")).toEqual({ host: "127.0.0.1", port: 7000 });
    expect(parseHostPort("0.0.0.0:7000")).toEqual({ host: "0.0.0.0", port: 7000 });
    expect(parseHostPort("[::1]:7")).toEqual({ host: "::1", port: 7 });
    expect(parseHostPort("host:99999")).toBeNull();
  });
});
