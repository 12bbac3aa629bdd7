// Host client and agent over @serialport/binding-mock: CRC errors, stale, out-of-order and duplicate frames, timeouts.
import { createRequire } from "node:module";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Agent } from "../firmware-host/agent.js";
import { DeviceClient, timeouts } from "../firmware-host/client.js";
import { DeviceError, LinkError, ProtocolError } from "../firmware-host/errors.js";
import { encodeFrame, FrameDecoder, SEQ_NONE, type Frame } from "../firmware-host/frame.js";
import { decodeReply, encodeReply, encodeRequest, ErrorCode, MsgType, NakCode, REPLY_TYPE, REQUEST_TYPE, type Reply, type Request } from "../firmware-host/messages.js";
import { SerialLink } from "../firmware-host/serial.js";
import { ModelStore } from "../firmware-host/store.js";
import { tempDir } from "./helpers.js";

// `serialport` (CommonJS) requires the mock's CommonJS build; an ESM import would load a second copy whose ports
// the SerialPortMock cannot see. Same package, same version (the one serialport pins): one registry of mock ports.
// (Its typings are not reachable through the package's "exports", so the little used here is declared below.)
interface MockPortBinding {
  recording: Buffer;
  emitData(data: Buffer): void;
  write(buffer: Buffer): Promise<void>;
}
const { MockBinding } = createRequire(import.meta.url)("@serialport/binding-mock") as {
  MockBinding: { createPort(path: string, options: { echo?: boolean; record?: boolean }): void; reset(): void };
};

/** A mock serial port opened through the real SerialLink; the test plays the other end through the binding. */
interface MockEnd {
  link: SerialLink;
  binding: MockPortBinding;
  /** Frames the code under test wrote, decoded. */
  written: Frame[];
  /** Called for every frame the code under test writes. */
  onFrame: (f: Frame) => void;
  /** Bytes as if they came from the other end. */
  inject(bytes: Uint8Array): void;
}

let counter = 0;
const opened: SerialLink[] = [];

async function mockEnd(): Promise<MockEnd> {
  const path = `/dev/KILNMOCK${counter++}`;
  MockBinding.createPort(path, { echo: false, record: true });
  const link = await SerialLink.open(path, { mock: true, baudRate: 115200 });
  opened.push(link);
  const binding = link.binding as MockPortBinding;
  const end: MockEnd = {
    link, binding, written: [], onFrame: () => {},
    inject: (bytes) => binding.emitData(Buffer.from(bytes)),
  };
  const decoder = new FrameDecoder((f) => { end.written.push(f); end.onFrame(f); });
  const write = binding.write.bind(binding);
  binding.write = async (buffer: Buffer) => {
    await write(buffer);
    decoder.push(new Uint8Array(buffer));
  };
  return end;
}

const reply = (seq: number, r: Reply): Uint8Array => encodeFrame(REPLY_TYPE[r.kind], seq, encodeReply(r));
const ack = (next: number): Reply => ({ kind: "loadAck", next });
const chunk = (offset: number): Request => ({ kind: "loadChunk", offset, data: new Uint8Array(16).fill(offset & 0xff) });

afterEach(async () => {
  await Promise.all(opened.splice(0).map((l) => l.close()));
});
afterAll(() => MockBinding.reset());

describe("host client over a mock serial port", () => {
  it("drops a reply with a bad CRC, counts it, and resends at once instead of waiting for the timeout", async () => {
    const dev = await mockEnd();
    const client = new DeviceClient(dev.link, { timeoutMs: 3000 });
    dev.onFrame = (f) => {
      const wire = reply(f.seq, ack(16));
      if (dev.written.length === 1) wire[4] ^= 0x10; // damage the first answer
      setTimeout(() => dev.inject(wire), 10); // a reply cannot arrive before the request has left a 115200-baud wire
    };
    const started = performance.now();
    const r = await client.request(chunk(0));
    expect(r).toEqual(ack(16));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(client.stats).toMatchObject({ badFrames: 1, resends: 1, timeouts: 0 });
    expect(dev.written).toHaveLength(2);
    expect(dev.written[1].crc).toBe(dev.written[0].crc); // the identical frame, same seq
  });

  it("ignores stale and out-of-order replies (other seqs, other types) and takes its own", async () => {
    const dev = await mockEnd();
    const client = new DeviceClient(dev.link, { timeoutMs: 3000 });
    dev.onFrame = (f) => {
      dev.inject(reply((f.seq + 65534) % 65536, ack(999))); // an answer to an earlier request
      dev.inject(reply((f.seq + 5) % 65536, ack(998)));     // one from the future
      dev.inject(reply(f.seq, { kind: "resetOk" }));          // right seq, wrong type
      dev.inject(reply(f.seq, ack(32)));
    };
    expect(await client.request(chunk(16))).toEqual(ack(32));
    expect(client.stats.stale).toBe(3);
    expect(client.stats.resends).toBe(0);
  });

  it("takes each answer once when the device answers every request twice", async () => {
    const dev = await mockEnd();
    const client = new DeviceClient(dev.link, { timeoutMs: 3000 });
    dev.onFrame = (f) => {
      const next = new DataView(f.body.buffer, f.body.byteOffset).getUint32(0, true) + 16;
      dev.inject(reply(f.seq, ack(next)));
      dev.inject(reply(f.seq, ack(next)));
    };
    for (const offset of [0, 16, 32]) expect(await client.request(chunk(offset))).toEqual(ack(offset + 16));
    await new Promise((r) => setTimeout(r, 20));
    expect(client.stats.stale).toBe(3);
    expect(new Set(dev.written.map((f) => f.seq)).size).toBe(3);
  });

  it("resends the identical frame on each timeout and fails with a clear error after the last attempt", async () => {
    const dev = await mockEnd();
    const client = new DeviceClient(dev.link, { timeoutMs: 40, attempts: 3 });
    await expect(client.request({ kind: "info", what: 0 })).rejects.toThrow(/no answer to INFO from serial \/dev\/KILNMOCK\d+ @ 115200 baud after 3 tries/);
    expect(dev.written).toHaveLength(3);
    expect(new Set(dev.written.map((f) => `${f.seq}:${f.crc}`)).size).toBe(1);
    expect(client.stats.timeouts).toBe(3);
    expect(Buffer.from(dev.binding.recording).equals(Buffer.concat(Array(3).fill(Buffer.from(encodeFrame(MsgType.INFO, dev.written[0].seq, encodeRequest({ kind: "info", what: 0 }))))))).toBe(true);
  });

  it("waits with doubling timeouts while the device works (COMMIT, PROFILE, EVAL), and a constant one otherwise", async () => {
    expect(timeouts(500, 5, 0)).toEqual([500, 500, 500, 500, 500]);
    expect(timeouts(500, 5, 10_000)).toEqual([500, 1000, 2000, 4000, 8000]);
    expect(timeouts(500, 2, 60_000).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(60_500);
    const dev = await mockEnd();
    const client = new DeviceClient(dev.link, { timeoutMs: 40, attempts: 2 });
    dev.onFrame = (f) => { if (dev.written.length === 1) setTimeout(() => dev.inject(reply(f.seq, { kind: "resetOk" })), 200); };
    expect(await client.request({ kind: "reset", discardUpload: false }, { deviceMs: 400 })).toEqual({ kind: "resetOk" });
    expect(client.stats.timeouts).toBeGreaterThanOrEqual(2); // 40 + 80 ms passed: a plain request would have failed
  });

  it("accepts an answer to a retransmission after a timeout", async () => {
    const dev = await mockEnd();
    const client = new DeviceClient(dev.link, { timeoutMs: 60, attempts: 4 });
    dev.onFrame = (f) => { if (dev.written.length === 2) dev.inject(reply(f.seq, ack(48))); };
    expect(await client.request(chunk(32))).toEqual(ack(48));
    expect(client.stats).toMatchObject({ timeouts: 1, resends: 1 });
  });

  it("resends at once on a NAK for an unreadable frame, and returns an OUT_OF_ORDER NAK to the caller", async () => {
    const dev = await mockEnd();
    const client = new DeviceClient(dev.link, { timeoutMs: 3000 });
    dev.onFrame = (f) => {
      const answer = dev.written.length === 1 ? reply(SEQ_NONE, { kind: "nak", code: NakCode.BAD_FRAME, expected: 0 })
        : reply(f.seq, { kind: "nak", code: NakCode.OUT_OF_ORDER, expected: 16 });
      setTimeout(() => dev.inject(answer), 10);
    };
    expect(await client.request(chunk(64))).toEqual({ kind: "nak", code: NakCode.OUT_OF_ORDER, expected: 16 });
    expect(client.stats).toMatchObject({ naks: 2, resends: 1, timeouts: 0 });
  });

  it("turns an ERROR into a DeviceError naming the code, and a closed port into a LinkError", async () => {
    const dev = await mockEnd();
    const client = new DeviceClient(dev.link, { timeoutMs: 3000 });
    dev.onFrame = (f) => dev.inject(reply(f.seq, { kind: "error", code: ErrorCode.NO_MODEL, detail: 0, message: "no model committed yet" }));
    const e = await client.request({ kind: "run", float: false, input: new Uint8Array(4) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DeviceError);
    expect((e as DeviceError).message).toBe("device refused RUN: NO_MODEL (no model committed yet)");
    dev.onFrame = () => { void dev.link.close(); };
    await expect(client.request({ kind: "info", what: 0 })).rejects.toThrow(LinkError);
  });

  it("ignores a damaged frame that arrives before its request can have left the wire (a piece of an earlier frame)", async () => {
    const dev = await mockEnd();
    const client = new DeviceClient(dev.link, { timeoutMs: 3000 });
    dev.onFrame = (f) => {
      dev.inject(Uint8Array.of(0, 5, 1, 2, 0)); // garbage at once: not about this request
      setTimeout(() => dev.inject(reply(f.seq, ack(16))), 10);
    };
    expect(await client.request(chunk(0))).toEqual(ack(16));
    expect(client.stats).toMatchObject({ badFrames: 1, resends: 0 });
  });

  it("refuses to send a frame larger than the device accepts", async () => {
    const dev = await mockEnd();
    const client = new DeviceClient(dev.link, { timeoutMs: 3000 });
    await expect(client.request({ kind: "run", float: false, input: new Uint8Array(300) })).rejects.toThrow(ProtocolError);
    expect(dev.written).toHaveLength(0);
  });
});

describe("agent over a mock serial port", () => {
  let store: ModelStore;
  beforeAll(async () => {
    store = await ModelStore.open(tempDir("kiln-mock-store-"), { memoryLimit: 1 << 26, maxBlob: 1 << 20 });
  });

  async function agentEnd() {
    const dev = await mockEnd();
    new Agent({ store, maxFrame: 1024 }).serve(dev.link);
    const answers: { seq: number; reply: Reply; crc: number }[] = [];
    dev.onFrame = (f) => answers.push({ seq: f.seq, reply: decodeReply(f.type, f.body), crc: f.crc });
    const send = async (seq: number, r: Request, mangle?: (wire: Uint8Array) => void): Promise<void> => {
      const wire = encodeFrame(REQUEST_TYPE[r.kind], seq, encodeRequest(r));
      mangle?.(wire);
      const before = answers.length;
      dev.inject(wire);
      const end = performance.now() + 2000;
      while (answers.length === before && performance.now() < end) await new Promise((res) => setTimeout(res, 2));
    };
    return { dev, answers, send };
  }

  it("answers a duplicate request from its cache without executing it again, and NAKs chunks beyond what it holds", async () => {
    const { answers, send } = await agentEnd();
    const sha = new Uint8Array(32).fill(1);
    await send(10, { kind: "loadBegin", size: 64, sha256: sha, crc32: 0, name: "x" });
    expect(answers[0].reply).toEqual({ kind: "loadReady", offset: 0 });
    await send(11, chunk(0));
    await send(11, chunk(0)); // a retransmission: same seq, same bytes
    expect(answers[1].reply).toEqual(ack(16));
    expect(answers[2]).toEqual(answers[1]);
    expect(store.pending?.received).toBe(16);
    await send(12, chunk(48));
    expect(answers[3]).toMatchObject({ seq: 12, reply: { kind: "nak", code: NakCode.OUT_OF_ORDER, expected: 16 } });
    await send(10, { kind: "loadBegin", size: 64, sha256: sha, crc32: 0, name: "x" }); // a stale duplicate of an older request
    expect(answers[4].reply).toEqual({ kind: "loadReady", offset: 0 });
    expect(store.pending?.received).toBe(16); // not restarted
    await send(13, chunk(16));
    expect(answers[5].reply).toEqual(ack(32));
  });

  it("NAKs a frame with a bad CRC with seq 0, refuses another protocol version and unknown or malformed requests", async () => {
    const { answers, send } = await agentEnd();
    await send(20, { kind: "info", what: 0 }, (wire) => { wire[3] ^= 0x01; });
    expect(answers[0]).toMatchObject({ seq: SEQ_NONE, reply: { kind: "nak", code: NakCode.BAD_FRAME } });
    await send(21, { kind: "info", what: 0 }, (wire) => wire.set(encodeFrame(MsgType.INFO, 21, Uint8Array.of(0), 9)));
    expect(answers[1]).toMatchObject({ seq: 21, reply: { kind: "error", code: ErrorCode.BAD_VERSION, detail: 1 } });
    const dev = (await agentEnd());
    dev.dev.inject(encodeFrame(0x55, 22, new Uint8Array(0)));
    dev.dev.inject(encodeFrame(MsgType.PROFILE, 23, new Uint8Array(3)));
    await new Promise((r) => setTimeout(r, 30));
    expect(dev.answers.map((a) => [a.seq, a.reply.kind, (a.reply as { code?: number }).code])).toEqual([[22, "error", ErrorCode.BAD_REQUEST], [23, "error", ErrorCode.BAD_REQUEST]]);
    await dev.send(24, { kind: "run", float: false, input: new Uint8Array(4) });
    expect(dev.answers[2].reply).toMatchObject({ kind: "error", code: ErrorCode.NO_MODEL });
  });
});
