// One protocol suite (tests/protocol-cases.ts) run against both devices: the Node agent over an in-process link, and
// the firmware's protocol core built natively (firmware/src + firmware/test/host) over a child process's stdio.
// Frames are sent stop-and-wait on a raw Channel, so damaged frames and exact seq numbers are the test's.
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Channel } from "../firmware-host/channel.js";
import { wrapFrame, encodeFrame, type Frame } from "../firmware-host/frame.js";
import type { Link } from "../firmware-host/link.js";
import { localPair } from "../firmware-host/local.js";
import { REQUEST_TYPE, decodeReply, errorName, encodeRequest, type Reply } from "../firmware-host/messages.js";
import { createAgent } from "../firmware-host/serve.js";
import { PROTOCOL_CASES, type CaseContext, type Dyn, type ProtocolCase, type Send } from "./protocol-cases.js";
import { tempDir } from "./helpers.js";
import { StdioLink, buildNativeAgent, nativeTools } from "./native-firmware.js";

const make = nativeTools;

/** A fresh device (no model, no upload) and the host's end of its link. */
interface Device {
  name: string;
  link: Link;
  close(): Promise<void>;
}

const resolveDyn = <T>(v: Dyn<T>, ctx: CaseContext): T => (typeof v === "function" ? (v as (c: CaseContext) => T)(ctx) : v);

/** Runs one case stop-and-wait: every step sends one frame and waits for exactly one reply frame. */
async function runCase(c: ProtocolCase, device: Device): Promise<void> {
  const frames: Frame[] = [];
  let waiting: ((f: Frame) => void) | null = null;
  const channel = new Channel(device.link, { frame: (f) => (waiting ? waiting(f) : frames.push(f)) });
  const next = (label: string, timeoutMs = 3000): Promise<Frame> => {
    const queued = frames.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { waiting = null; reject(new Error(`${label}: no reply within ${timeoutMs} ms`)); }, timeoutMs);
      waiting = (f) => { clearTimeout(timer); waiting = null; resolve(f); };
    });
  };
  const ctx: CaseContext = { hello: null };
  let seq = 100;
  const history: { wire: Uint8Array; seq: number; reply: Frame }[] = [];
  let resent: Frame | null = null;
  try {
    for (const [i, step] of c.steps.entries()) {
      const label = `step ${i + 1}`;
      const send: Send = resolveDyn(step.send, ctx);
      let wire: Uint8Array, sent: number;
      if ("resend" in send) {
        const earlier = history[send.step ?? history.length - 1];
        if (!earlier) throw new Error(`${label}: nothing to resend`);
        wire = earlier.wire;
        sent = earlier.seq;
        resent = earlier.reply;
      } else if ("frame" in send) {
        wire = wrapFrame(send.frame);
        sent = send.frame[2] | (send.frame[3] << 8);
      } else {
        sent = step.seq ?? seq++;
        wire = "request" in send
          ? encodeFrame(REQUEST_TYPE[send.request.kind], sent, encodeRequest(send.request))
          : encodeFrame(send.type, sent, send.body, send.version);
      }
      channel.resend(wire);
      const f = await next(label);
      const want = step.expect;
      expect(f.seq, `${label}: reply seq`).toBe(want.seq ?? sent);
      const reply: Reply = decodeReply(f.type, f.body);
      const what = `${label}: ${JSON.stringify(reply, (_, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))}`;
      expect(reply.kind, what).toBe(want.kind);
      if (want.code !== undefined) {
        const code = (reply as { code: number }).code;
        expect(Array.isArray(want.code) ? want.code : [want.code], what).toContain(code);
        // Where the case accepts several codes, say which one this device gave (the devices may differ there).
        if (Array.isArray(want.code)) console.log(`${device.name} · ${c.name} · ${label}: ${reply.kind} ${errorName(code)} "${(reply as { message?: string }).message ?? ""}"`);
      }
      if (want.detail !== undefined) expect((reply as { detail: number }).detail, what).toBe(resolveDyn(want.detail, ctx));
      if (want.expected !== undefined) expect((reply as { expected: number }).expected, what).toBe(want.expected);
      if (want.fields !== undefined) expect(reply, what).toMatchObject(resolveDyn(want.fields, ctx));
      want.check?.(reply, ctx);
      if (want.identical) {
        expect(resent, `${label}: \`identical\` needs a resend`).not.toBeNull();
        expect(Buffer.from(frameBytes(f)).equals(Buffer.from(frameBytes(resent!))), `${label}: reply not byte-identical`).toBe(true);
      }
      if (reply.kind === "helloOk") ctx.hello = reply;
      history.push({ wire, seq: sent, reply: f });
      resent = null;
    }
    // Stop-and-wait: nothing more arrives than the one reply per step.
    await new Promise((r) => setTimeout(r, 20));
    expect(frames.map((f) => f.type), "unexpected extra frames").toEqual([]);
  } finally {
    channel.detach();
  }
}

/** A received frame's bytes as sent (header, body, CRC). */
function frameBytes(f: Frame): Uint8Array {
  const out = new Uint8Array(8 + f.body.length);
  out.set([f.version, f.type, f.seq & 0xff, f.seq >> 8]);
  out.set(f.body, 4);
  new DataView(out.buffer).setUint32(4 + f.body.length, f.crc >>> 0, true);
  return out;
}

describe("protocol suite: Node agent (in-process link, serial-style: no token, no HELLO required)", () => {
  const open: Device[] = [];
  afterAll(async () => { await Promise.all(open.map((d) => d.close())); });

  it.each(PROTOCOL_CASES.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    const agent = await createAgent({ store: tempDir("kiln-suite-store-"), maxFrame: 4096 });
    const [hostEnd, deviceEnd] = localPair("protocol suite");
    const served = agent.serve(deviceEnd);
    const device: Device = { name: "Node agent", link: hostEnd, close: async () => { await served.close(); await hostEnd.close(); } };
    open.push(device);
    await runCase(c, device);
  });
});

describe(`protocol suite: firmware protocol core, native build${make.note}`, () => {
  let binary = "";
  const open: Device[] = [];

  beforeAll(() => {
    if (!make.ok) return;
    binary = buildNativeAgent();
  }, 120_000);
  afterAll(async () => { await Promise.all(open.map((d) => d.close())); });

  it.skipIf(!make.ok).each(PROTOCOL_CASES.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    const link = new StdioLink(spawn(binary, [], { stdio: ["pipe", "pipe", "inherit"] }));
    const device: Device = { name: "native firmware", link, close: () => link.close() };
    open.push(device);
    await runCase(c, device);
  });
});
