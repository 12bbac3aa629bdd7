// The TCP agent against hostile peers: floods that never read, connection and HELLO limits, timeouts, fair turns.
import { afterEach, describe, expect, it } from "vitest";
import type { Agent } from "../firmware-host/agent.js";
import { DeviceClient } from "../firmware-host/client.js";
import { DeviceError } from "../firmware-host/errors.js";
import { encodeFrame } from "../firmware-host/frame.js";
import type { AgentLimits } from "../firmware-host/limits.js";
import type { Link } from "../firmware-host/link.js";
import { localPair } from "../firmware-host/local.js";
import { ErrorCode, MsgType, NakCode } from "../firmware-host/messages.js";
import { createAgent, serveTcp } from "../firmware-host/serve.js";
import { DEFAULT_TCP_LIMITS, TcpLink, type TcpLimits } from "../firmware-host/tcp.js";
import { waitFor } from "./device-relay.js";
import { tempDir } from "./helpers.js";
import { helloRequest, rawPeer, type RawPeer } from "./raw-peer.js";

const TOKEN = "limits-secret";
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

/** An in-process agent serving TCP on a free loopback port; its log lines are collected. */
async function tcpAgent(limits: Partial<AgentLimits> = {}, tcp: Partial<TcpLimits> = {}) {
  const lines: string[] = [];
  const agent = await createAgent({ store: tempDir("kiln-limits-"), token: TOKEN, requireHello: true, limits, log: (l) => lines.push(l) });
  const serving = await serveTcp(agent, "127.0.0.1", 0, tcp);
  const peers: RawPeer[] = [], clients: DeviceClient[] = [];
  cleanups.push(async () => {
    peers.forEach((p) => p.destroy());
    await Promise.all(clients.map((c) => c.close()));
    await serving.close();
    await agent.close();
  });
  const raw = async (options: { read?: boolean } = {}): Promise<RawPeer> => { const p = await rawPeer(serving.port, options); peers.push(p); return p; };
  const client = async (token = TOKEN): Promise<DeviceClient> => {
    const c = new DeviceClient(await TcpLink.connect("127.0.0.1", serving.port), { token, timeoutMs: 3000, attempts: 2 });
    clients.push(c);
    await c.hello();
    return c;
  };
  return { agent, port: serving.port, lines, raw, client };
}

/** The agent still serves a well-behaved host: HELLO, then a request that reaches the store (no model yet). */
async function expectServesHosts(d: { client(): Promise<DeviceClient> }): Promise<void> {
  const c = await d.client();
  await expect(c.request({ kind: "info", what: 0 })).rejects.toMatchObject({ code: ErrorCode.NO_MODEL });
}

/** `count` copies of one wire frame back to back. */
const repeated = (wire: Uint8Array, count: number): Buffer => Buffer.concat(new Array<Buffer>(count).fill(Buffer.from(wire)));

/** 2 bytes per unreadable frame: 0x01 0x00 is a one-byte frame, too short to be one. */
const garbage = (bytes: number): Buffer => Buffer.alloc(bytes, Buffer.from([1, 0]));

describe("a peer that floods and never reads", () => {
  it("is answered under the queue cap and dropped; the agent does not grow and keeps serving", async () => {
    const d = await tcpAgent({}, { stallMs: 2000 });
    const rssBefore = process.memoryUsage().rss;
    const peer = await d.raw({ read: false });
    peer.request(helloRequest(TOKEN), 1);
    // 4 MiB of unreadable frames, then 300 000 copies of a malformed INFO (each copy is answered from the reply cache).
    peer.socket.write(garbage(4 << 20));
    peer.socket.write(repeated(encodeFrame(MsgType.INFO, 2, new Uint8Array(0)), 300_000));
    await waitFor(() => d.agent.stats().dropped >= 1, 60_000, "the agent to drop the peer");
    const stats = d.agent.stats();
    expect(stats.connections).toBe(0);
    expect(stats.peakQueuedBytes).toBeGreaterThan(0);
    expect(stats.peakQueuedBytes).toBeLessThanOrEqual(DEFAULT_TCP_LIMITS.maxQueuedBytes);
    expect(d.lines.join("\n")).toMatch(/closed tcp 127\.0\.0\.1:\d+: the peer (does not read|has not read its answers)/);
    // Before the cap a flood like this grew the agent by more than 1 GB.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(300 << 20);
    await expectServesHosts(d);
  });

  it("a peer that answers floods with more output than the cap is dropped at the cap", async () => {
    const cap = 4 * 1024; // small against one read chunk of INFO frames, so the answers to the frames read before the pause overflow it
    const d = await tcpAgent({}, { maxQueuedBytes: cap, stallMs: 60_000 });
    const peer = await d.raw({ read: false });
    peer.request(helloRequest(TOKEN), 1);
    peer.socket.write(repeated(encodeFrame(MsgType.INFO, 2, new Uint8Array(0)), 300_000));
    await waitFor(() => d.agent.stats().dropped >= 1, 60_000, "the agent to drop the peer");
    expect(d.agent.stats().peakQueuedBytes).toBeLessThanOrEqual(cap);
    expect(d.lines.join("\n")).toMatch(/the peer does not read: \d+ bytes would wait for it \(limit 4096\)/);
    await expectServesHosts(d);
  });

  it("unreadable frames are NAKed at most once per interval, not one NAK each", async () => {
    const d = await tcpAgent({ nakIntervalMs: 10 });
    const peer = await d.raw();
    const frames = 512 * 1024;
    peer.socket.write(garbage(2 * frames));
    peer.request(helloRequest(TOKEN), 9);
    await waitFor(() => peer.replies.some((r) => r.seq === 9), 30_000, "the HELLO after the garbage to be answered");
    const naks = peer.replies.filter((r) => r.reply.kind === "nak" && r.reply.code === NakCode.BAD_FRAME).length;
    expect(naks).toBeGreaterThanOrEqual(1);
    expect(naks).toBeLessThan(frames / 100);
    expect(peer.replies.find((r) => r.seq === 9)?.reply.kind).toBe("helloOk");
  });
});

describe("authentication", () => {
  it("before HELLO, malformed and unknown requests get UNAUTHORIZED (not BAD_REQUEST); the 9th request closes the connection", async () => {
    const d = await tcpAgent({ unauthorizedRequests: 8 });
    const peer = await d.raw();
    peer.frame(MsgType.INFO, 1, new Uint8Array(0)); // malformed body
    peer.frame(0x55, 2, new Uint8Array([1, 2, 3])); // unknown type
    peer.frame(MsgType.LOAD_BEGIN, 3, new Uint8Array(7)); // malformed body
    for (let seq = 4; seq <= 8; seq++) peer.request({ kind: "reset", discardUpload: true }, seq);
    peer.request({ kind: "reset", discardUpload: true }, 9);
    peer.request(helloRequest(TOKEN), 10);
    await peer.whenClosed;
    expect(peer.replies.map((r) => [r.seq, r.reply.kind === "error" ? r.reply.code : r.reply.kind]))
      .toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((seq) => [seq, ErrorCode.UNAUTHORIZED]));
  });

  it("a wrong HELLO closes the connection; nothing pipelined after it is evaluated", async () => {
    const d = await tcpAgent();
    const peer = await d.raw();
    for (let seq = 1; seq <= 2000; seq++) peer.request(helloRequest(`guess-${seq}`), seq);
    peer.request(helloRequest(TOKEN), 2001);
    await peer.whenClosed;
    expect(peer.replies).toHaveLength(1);
    expect(peer.replies[0]).toMatchObject({ seq: 1, reply: { kind: "error", code: ErrorCode.UNAUTHORIZED } });
    expect(d.lines.filter((l) => /wrong token: rejected/.test(l))).toHaveLength(1);
  });

  it("a malformed HELLO counts as a failed one", async () => {
    const d = await tcpAgent();
    const peer = await d.raw();
    peer.frame(MsgType.HELLO, 1, new Uint8Array([0, 1, 0]));
    await peer.whenClosed;
    expect(peer.replies.map((r) => r.reply)).toMatchObject([{ kind: "error", code: ErrorCode.UNAUTHORIZED, message: expect.stringMatching(/malformed HELLO/) }]);
  });

  it("after K failed HELLOs from an address its HELLOs get BUSY with the wait, without checking the token", async () => {
    const d = await tcpAgent({ helloFailures: 3, helloWindowMs: 60_000 });
    for (let i = 0; i < 3; i++) await expect(d.client(`wrong-${i}`)).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED });
    const busy = await d.client(TOKEN).then(() => null, (e: unknown) => e);
    expect(busy).toBeInstanceOf(DeviceError);
    expect(busy).toMatchObject({ code: ErrorCode.BUSY, message: expect.stringMatching(/too many failed HELLOs from 127\.0\.0\.1; try again in \d+ s/) });
    expect((busy as DeviceError).detail).toBeGreaterThan(0);
    expect((busy as DeviceError).detail).toBeLessThanOrEqual(60_000);
  });

  it("log lines of one kind are limited per window, the rest summed up in one line", async () => {
    const d = await tcpAgent({ logBurst: 2, logWindowMs: 1000, helloFailures: 100 });
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) await expect(d.client(`wrong-${i}`)).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED });
    const elapsedMs = performance.now() - t0;
    const wrong = (): number => d.lines.filter((l) => /wrong token: rejected/.test(l)).length;
    const suppressed = (): number => d.lines.filter((l) => /more "wrong token" lines suppressed/.test(l))
      .reduce((sum, l) => sum + Number(/(\d+) more/.exec(l)?.[1]), 0);
    // Every failure is either logged or counted in a summary line once its window has closed.
    await waitFor(() => wrong() + suppressed() === 10, 10_000, "a log line or a summary count for each of the 10 failures");
    // At most 2 lines per 1 s window; on a busy machine the 10 failures may span several windows.
    expect(wrong()).toBeLessThanOrEqual(2 * (Math.ceil(elapsedMs / 1000) + 1));
    // Ten failures within two windows cannot all be logged.
    if (elapsedMs < 1000) expect(suppressed()).toBeGreaterThan(0);
  });
});

describe("connection limits", () => {
  it("connections beyond the limit get BUSY and are closed; a freed slot is usable again", async () => {
    const d = await tcpAgent({ maxConnections: 2 });
    const first = await d.client();
    await d.client();
    await expect(d.client()).rejects.toMatchObject({ code: ErrorCode.BUSY, message: expect.stringMatching(/serves 2 connections at once/) });
    expect(d.agent.stats().refused).toBe(1);
    // A refused peer gets one answer, however much it pipelines.
    const pipelining = await d.raw();
    for (let seq = 1; seq <= 100; seq++) pipelining.request(helloRequest(TOKEN), seq);
    await pipelining.whenClosed;
    expect(pipelining.replies).toMatchObject([{ seq: 1, reply: { kind: "error", code: ErrorCode.BUSY, detail: 1000 } }]);
    await first.close();
    await waitFor(() => d.agent.stats().connections === 1, 5000, "the closed session to be released");
    await expectServesHosts(d);
  });

  it("at the limit, a new connection takes the place of the oldest one without a good HELLO", async () => {
    const d = await tcpAgent({ maxConnections: 2 });
    const oldest = await d.raw(), newer = await d.raw();
    await waitFor(() => d.agent.stats().connections === 2, 5000, "both peers to be served");
    await expectServesHosts(d);
    await oldest.whenClosed;
    expect(newer.closed).toBe(false);
    expect(d.agent.stats()).toMatchObject({ refused: 0, dropped: 1 });
    expect(d.lines.join("\n")).toMatch(/no good HELLO yet, and tcp 127\.0\.0\.1:\d+ needs its place \(limit 2\)/);
  });

  it("connections without a HELLO (slowloris) are closed after the auth timeout", async () => {
    const d = await tcpAgent({ authTimeoutMs: 500 });
    const peers = await Promise.all(Array.from({ length: 10 }, () => d.raw()));
    // A byte now and then, never a whole frame.
    const drip = setInterval(() => peers.forEach((p) => p.closed || p.socket.write(Buffer.from([0x41]))), 100);
    try {
      await Promise.all(peers.map((p) => p.whenClosed));
    } finally {
      clearInterval(drip);
    }
    expect(d.agent.stats()).toMatchObject({ connections: 0, dropped: 10 });
    expect(d.lines.join("\n")).toMatch(/no successful HELLO within 0\.5 s/);
  });

  it("an authenticated connection that stays silent is closed after the idle timeout; an active one is not", async () => {
    const d = await tcpAgent({ idleTimeoutMs: 1500 });
    const idle = await d.client(), active = await d.client();
    const closed = new Promise<void>((resolve) => idle.link.onClose(() => resolve()));
    const started = Date.now();
    while (Date.now() - started < 3500) {
      await expect(active.request({ kind: "info", what: 0 })).rejects.toMatchObject({ code: ErrorCode.NO_MODEL });
      await new Promise((r) => setTimeout(r, 100));
    }
    await closed;
    expect(active.link.closed).toBe(false);
    expect(d.lines.join("\n")).toMatch(/idle for \d/);
  });
});

/** Lets in-process links deliver what was written (they deliver on setImmediate). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

describe("scheduling", () => {
  /** An agent over in-process links whose writes are recorded in one list, in the order the agent makes them. */
  async function recordedAgent() {
    const agent: Agent = await createAgent({ store: tempDir("kiln-limits-"), token: TOKEN, requireHello: true });
    cleanups.push(() => agent.close());
    const writes: string[] = [];
    const connect = async (name: string): Promise<DeviceClient> => {
      const [host, device] = localPair(name);
      const write = device.write.bind(device);
      (device as { write: Link["write"] }).write = (bytes) => { writes.push(name); write(bytes); };
      agent.serve(device);
      const c = new DeviceClient(host, { token: TOKEN, timeoutMs: 5000 });
      await c.hello();
      return c;
    };
    return { agent, writes, connect };
  }

  it("HELLO is answered while the request queue is busy, and sessions take turns", async () => {
    const d = await recordedAgent();
    const a = await d.connect("a"), b = await d.connect("b");
    let release: () => void = () => {};
    const gate = d.agent.exclusive(() => new Promise<void>((r) => { release = r; }));
    // A pre-auth HELLO does not wait for the queue.
    const late = await Promise.race([d.connect("late").then(() => "answered"), new Promise((r) => setTimeout(() => r("waited"), 5000))]);
    expect(late).toBe("answered");
    d.writes.length = 0;
    // a pipelines three requests (sent raw: a DeviceClient would wait for each answer), then b sends one.
    for (const seq of [101, 102, 103]) a.channel.send(MsgType.INFO, seq, new Uint8Array([0]));
    await settle();
    const bDone = b.request({ kind: "info", what: 0 }).catch((e: unknown) => e);
    await settle();
    release();
    await gate;
    expect(await bDone).toMatchObject({ code: ErrorCode.NO_MODEL });
    await waitFor(() => d.writes.length >= 4, 5000, "all four answers");
    expect(d.writes).toEqual(["a", "b", "a", "a"]);
  });
});
