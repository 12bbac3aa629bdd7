// Fuzz target for the device protocol: mutated frames against an in-process agent, before and after HELLO, with a
// committed model or none; then the agent must still answer a fresh HELLO.
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import type { Agent } from "../../firmware-host/agent.js";
import { crc32 } from "../../firmware-host/crc32.js";
import { DeviceError, LinkError } from "../../firmware-host/errors.js";
import { FrameDecoder, encodeFrame, wrapFrame, buildFrame, type Frame } from "../../firmware-host/frame.js";
import type { Link } from "../../firmware-host/link.js";
import { localPair } from "../../firmware-host/local.js";
import { ErrorCode, MsgType, REQUEST_TYPE, decodeReply, encodeRequest, errorName, type Reply, type Request } from "../../firmware-host/messages.js";
import { createAgent } from "../../firmware-host/serve.js";
import { Model } from "../../runtime/model.js";
import { mutateBytes } from "./mutate-bytes.js";
import { BrokenPromise, Unresponsive } from "./oracle.js";
import type { Rng } from "./prng.js";
import { corpusFiles, type FuzzTarget } from "./target.js";

const TOKEN = "fuzz-token";
const SENTINEL_SEQ = 0xfff0;
const ANSWER_MS = 15_000, RESEND_MS = 1000;

interface Wire { bytes: Uint8Array; type: number | null; seq: number; what: string }

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(b).digest());

/** Plausible requests of every kind, some with hostile fields; uploads come as begin, chunks, commit. */
function requests(rng: Rng, inputSize: number, blobs: Uint8Array[]): { req: Request; what: string }[] {
  const kind = rng.weighted<string>([[2, "info"], [1, "more"], [3, "run"], [2, "profile"], [2, "eval"], [1, "reset"], [2, "upload"], [1, "hello"]]);
  const size = rng.chance(0.8) ? inputSize : rng.pick([0, 1, inputSize - 1, inputSize + 1, 4 * inputSize]);
  switch (kind) {
    case "info": return [{ req: { kind: "info", what: rng.pick([0, 1, 2, 255]) }, what: "INFO" }];
    case "more": return [{ req: { kind: "more", of: rng.below(8), offset: rng.pick([0, 1, 200, 2 ** 32 - 1]) }, what: "MORE" }];
    case "run": {
      const float = rng.chance(0.3);
      return [{ req: { kind: "run", float, input: rng.bytes(Math.max(0, size) * (float ? 4 : 1)) }, what: `RUN ${float ? "float" : "u8"} ×${size}` }];
    }
    case "profile": {
      const runs = rng.pick([0, 1, 5, 100, 100_001, 2 ** 32 - 1]), warmup = rng.pick([0, 1, 100_001]);
      return [{ req: { kind: "profile", runs, warmup }, what: `PROFILE ${runs}/${warmup}` }];
    }
    case "eval": {
      const count = rng.pick([0, 1, 3, 40]);
      return [{ req: { kind: "eval", outputs: rng.chance(0.5), count, inputs: rng.bytes(count * Math.max(0, size)), labels: rng.bytes(count) }, what: `EVAL ×${count}` }];
    }
    case "reset": return [{ req: { kind: "reset", discardUpload: rng.chance(0.5) }, what: "RESET" }];
    case "hello": {
      const token = rng.pick([TOKEN, "", "wrong", TOKEN + "x"]);
      return [{ req: { kind: "hello", maxFrame: rng.pick([0, 256, 4096, 65536, 2 ** 32 - 1]), token, client: "fuzz" }, what: `HELLO token=${JSON.stringify(token)}` }];
    }
    default: {
      const original = rng.pick(blobs);
      const damaged = rng.chance(0.5) ? mutateBytes(rng, original) : { bytes: original, what: "intact" };
      const blob = damaged.bytes, hash = sha256(blob), chunk = rng.pick([500, 1000, 4000]);
      const out: { req: Request; what: string }[] = [{ req: { kind: "loadBegin", size: blob.length, sha256: hash, crc32: crc32(blob), name: "fuzz.wasm" }, what: `upload (${damaged.what}) begin` }];
      for (let o = 0; o < blob.length; o += chunk) out.push({ req: { kind: "loadChunk", offset: o, data: blob.subarray(o, o + chunk) }, what: "chunk" });
      out.push({ req: { kind: "loadCommit", sha256: hash }, what: "commit" });
      return out;
    }
  }
}

/** A request as wire bytes, damaged half the time: its body (CRC kept valid), its header, or the wire itself. */
function toWire(rng: Rng, req: Request, seq: number, what: string): Wire {
  const type = REQUEST_TYPE[req.kind];
  const body = encodeRequest(req);
  const damage = rng.weighted<string>([[50, "none"], [25, "body"], [10, "header"], [10, "wire"], [5, "garbage"]]);
  if (damage === "body") {
    const m = mutateBytes(rng, body);
    return { bytes: encodeFrame(type, seq, m.bytes), type, seq, what: `${what} body ${m.what}` };
  }
  if (damage === "header") {
    const t = rng.chance(0.6) ? rng.below(256) : type, version = rng.chance(0.4) ? rng.pick([0, 2, 255]) : 1;
    return { bytes: wrapFrame(buildFrame(t, seq, body, version)), type: t, seq, what: `${what} as type ${t} version ${version}` };
  }
  if (damage === "wire") {
    const m = mutateBytes(rng, encodeFrame(type, seq, body));
    return { bytes: m.bytes, type: null, seq, what: `${what} wire ${m.what}` };
  }
  if (damage === "garbage") {
    const bytes = rng.chance(0.5) ? rng.bytes(rng.int(1, 3000)) : Uint8Array.from({ length: 2 * rng.int(1, 20_000) }, (_v, i) => (i & 1 ? 0 : 1));
    return { bytes, type: null, seq, what: `${bytes.length} bytes of garbage` };
  }
  return { bytes: encodeFrame(type, seq, body), type, seq, what };
}

/** Sends HELLO on a fresh link and waits for HELLO_OK: the agent still serves. */
async function stillServes(agent: Agent): Promise<void> {
  const [host, device] = localPair("fuzz-probe");
  agent.serve(device);
  const answer = new Promise<Frame>((resolve) => {
    const decoder = new FrameDecoder(resolve);
    host.onData((b) => decoder.push(b));
  });
  host.write(encodeFrame(MsgType.HELLO, 1, encodeRequest({ kind: "hello", maxFrame: 4096, token: TOKEN, client: "probe" })));
  const frame = await within(answer, "the agent did not answer a HELLO on a new link after the case");
  await host.close();
  const reply = decodeReply(frame.type, frame.body);
  if (reply.kind !== "helloOk") throw new BrokenPromise(`after the case a correct HELLO got ${reply.kind}${reply.kind === "error" ? ` ${errorName(reply.code)}: ${reply.message}` : ""}`);
}

async function within<T>(p: Promise<T>, what: string, ms = ANSWER_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_r, reject) => { timer = setTimeout(() => reject(new Unresponsive(what)), ms); });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

export const deviceTarget: FuzzTarget = {
  name: "device", about: "protocol frames (valid, damaged bodies, headers, wire bytes, garbage) → in-process agent; then a fresh HELLO must succeed",
  timeoutMs: 60_000,
  async prepare(rng, context) {
    const blobs = corpusFiles(context.corpus, "blob");
    const committed = rng.chance(0.6) ? rng.pick(blobs) : null;
    const inputSize = (await Model.load((committed ?? blobs[0]).bytes)).inputSize;
    const phase = rng.pick(["before HELLO", "after HELLO", "after HELLO"]);
    const useToken = rng.chance(0.5);
    const wires: Wire[] = [];
    let seq = 1;
    if (phase === "after HELLO") {
      const hello = encodeRequest({ kind: "hello", maxFrame: rng.pick([256, 4096, 65536]), token: TOKEN, client: "fuzz" });
      wires.push({ bytes: encodeFrame(MsgType.HELLO, seq, hello), type: MsgType.HELLO, seq: seq++, what: "HELLO" });
    }
    for (let n = rng.int(1, 4); n > 0; n--) {
      for (const { req, what } of requests(rng, inputSize, blobs.map((b) => b.bytes))) wires.push(toWire(rng, req, seq++, what));
    }
    const store = join(context.scratch, "store");
    mkdirSync(store, { recursive: true });
    if (committed) copyFileSync(committed.path, join(store, "model.wasm"));
    return {
      what: `${committed ? `model ${committed.name}` : "no model"}, ${useToken ? "token" : "no token"}, ${phase}: ${wires.map((w) => w.what).join(", ")}`,
      async run() {
        const log: string[] = [];
        const agent = await createAgent({ store, requireHello: true, token: useToken ? TOKEN : undefined, log: (l) => log.push(l) });
        // Thrown after the checks, so a case the agent refused counts as a clean error.
        let refusal: Error | null = null;
        try {
          refusal = await exchange(agent, wires);
          await stillServes(agent);
          const internal = log.find((l) => /internal/i.test(l));
          if (internal) throw new BrokenPromise(`agent log: ${internal.split("\n")[0]}`);
        } finally {
          await within(agent.close(), "the agent did not close");
        }
        if (refusal) throw refusal;
      },
    };
  },
};

/**
 * Sends the frames stop-and-wait, as a host does (an agent may ignore requests pipelined past its limit): each frame
 * that should get an answer is answered (or the link closes) before the next; then a last INFO. Checks every reply;
 * returns the first refusal (ERROR or NAK), if any.
 */
async function exchange(agent: Agent, wires: Wire[]): Promise<Error | null> {
  const [host, device]: [Link, Link] = localPair("fuzz");
  agent.serve(device);
  const sentTypes = new Map<number, number | null>(wires.map((w) => [w.seq, w.type]));
  let authorized = false;
  let failure: Error | null = null;
  let firstRefusal: Error | null = null;
  const answered = new Set<number>();
  let naks = 0;
  let wake: () => void = () => {};
  const closed = new Promise<void>((resolve) => host.onClose(() => resolve()));
  const decoder = new FrameDecoder((f) => {
    let reply: Reply;
    try {
      reply = decodeReply(f.type, f.body);
      if (process.env.KILN_FUZZ_DEBUG) console.error(`reply seq ${f.seq}: ${JSON.stringify(reply, (_k, v: unknown) => (v instanceof Uint8Array ? `${v.length} bytes` : v))}`);
    } catch (e) {
      failure ??= new BrokenPromise(`the agent sent an undecodable reply (type ${f.type}): ${(e as Error).message}`);
      return;
    }
    answered.add(f.seq);
    if (reply.kind === "nak") naks++;
    wake();
    if (reply.kind === "helloOk") authorized = true;
    if (reply.kind === "nak") firstRefusal ??= new LinkError(`frame NAKed (code ${reply.code})`);
    if (reply.kind !== "error") return;
    const type = sentTypes.get(f.seq);
    if (reply.code === ErrorCode.INTERNAL || errorName(reply.code).startsWith("ERROR_")) {
      failure ??= new BrokenPromise(`the agent answered ${errorName(reply.code)}: ${reply.message}`);
    } else if (!authorized && typeof type === "number" && type !== MsgType.HELLO && reply.code !== ErrorCode.UNAUTHORIZED && reply.code !== ErrorCode.BAD_VERSION) {
      failure ??= new BrokenPromise(`before HELLO, a frame of type ${type} got ${errorName(reply.code)} instead of UNAUTHORIZED (${reply.message})`);
    }
    if (f.seq !== SENTINEL_SEQ) firstRefusal ??= new DeviceError(`frame ${f.seq}`, reply.code, reply.detail, reply.message);
  });
  host.onData((b) => decoder.push(b));
  /** Resolves when `seq` is answered or NAKed (e.g. too long), or the link closes; damaged frames get a moment for a NAK. */
  const answer = (seq: number, damaged: boolean): Promise<void> => {
    if (damaged) return new Promise((r) => setTimeout(r, 20));
    const naksBefore = naks;
    return Promise.race([closed, new Promise<void>((resolve) => {
      wake = () => { if (answered.has(seq) || naks > naksBefore) resolve(); };
      wake();
    })]);
  };
  for (const w of [...wires, { bytes: encodeFrame(MsgType.INFO, SENTINEL_SEQ, encodeRequest({ kind: "info", what: 0 })), type: MsgType.INFO, seq: SENTINEL_SEQ, what: "INFO (last)" }]) {
    if (host.closed) break;
    const answered = answer(w.seq, w.type === null);
    let done = false;
    void answered.then(() => { done = true; });
    // Like a host, resend an unanswered frame now and then: the agent may rightly stay silent once (it NAKs bad
    // frames at most every nakIntervalMs, and ignores a repeat of a request it is still working on).
    for (let waited = 0; !done && !host.closed; waited += RESEND_MS) {
      if (waited >= ANSWER_MS) throw new Unresponsive(`the agent did not answer frame ${w.seq} (${w.what}), sent ${waited / RESEND_MS} times`);
      host.write(w.bytes);
      await Promise.race([answered, new Promise((r) => setTimeout(r, RESEND_MS))]);
    }
  }
  await host.close();
  if (failure) throw failure;
  return firstRefusal;
}
