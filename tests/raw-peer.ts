// Hand-made peers for the agent limit tests: a raw TCP socket that sends any bytes and may refuse to read, and a scripted fake device.
import { connect, type Socket } from "node:net";
import { Channel } from "../firmware-host/channel.js";
import { DeviceClient } from "../firmware-host/client.js";
import { FrameDecoder, encodeFrame, type Frame } from "../firmware-host/frame.js";
import { localPair } from "../firmware-host/local.js";
import {
  REPLY_TYPE, REQUEST_TYPE, decodeReply, decodeRequest, encodeReply, encodeRequest, type HelloInfo, type Reply, type Request,
} from "../firmware-host/messages.js";

export interface RawPeer {
  socket: Socket;
  /** Replies decoded so far, with their seq (only while the peer reads). */
  replies: { seq: number; reply: Reply }[];
  bytesIn: number;
  readonly closed: boolean;
  whenClosed: Promise<void>;
  /** Sends a request frame as the host would. */
  request(req: Request, seq: number): void;
  /** Sends a frame of any type and body (malformed ones included). */
  frame(type: number, seq: number, body: Uint8Array): void;
  destroy(): void;
}

/** Connects to 127.0.0.1:port; with read: false the socket never takes what the agent sends. */
export async function rawPeer(port: number, options: { read?: boolean } = {}): Promise<RawPeer> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => { socket.once("connect", resolve); socket.once("error", reject); });
  socket.on("error", () => {});
  const replies: { seq: number; reply: Reply }[] = [];
  const decoder = new FrameDecoder((f: Frame) => replies.push({ seq: f.seq, reply: decodeReply(f.type, f.body) }));
  let closed = false, bytesIn = 0;
  const whenClosed = new Promise<void>((resolve) => socket.once("close", () => { closed = true; resolve(); }));
  if (options.read === false) socket.pause();
  else socket.on("data", (chunk: Buffer) => { bytesIn += chunk.length; decoder.push(new Uint8Array(chunk)); });
  return {
    socket, replies, whenClosed,
    get bytesIn() { return bytesIn; },
    get closed() { return closed; },
    request: (req, seq) => void socket.write(encodeFrame(REQUEST_TYPE[req.kind], seq, encodeRequest(req))),
    frame: (type, seq, body) => void socket.write(encodeFrame(type, seq, body)),
    destroy: () => socket.destroy(),
  };
}

export const helloRequest = (token: string): Request => ({ kind: "hello", maxFrame: 65536, token, client: "raw" });

export const FAKE_HELLO: HelloInfo = {
  maxFrame: 65536, memoryLimit: 1 << 28, maxBlob: 1 << 20, simd: true, modelId: "ab".repeat(32), modelSize: 5000,
  device: "fake", runtime: "fake", modelName: "m", runLimitMs: 10_000,
};

/**
 * A device that answers HELLO with `hello` and every other request with `answer` (no answer: null), connected to a
 * DeviceClient that has said HELLO. `requests` lists what the host sent.
 */
export async function fakeDevice(answer: (req: Request) => Reply | null, hello: Partial<HelloInfo> = {}): Promise<{ client: DeviceClient; requests: Request[] }> {
  const [host, device] = localPair("fake");
  const requests: Request[] = [];
  const channel = new Channel(device, {
    frame: (f) => {
      const req = decodeRequest(f.type, f.body);
      requests.push(req);
      const reply = req.kind === "hello" ? { kind: "helloOk" as const, ...FAKE_HELLO, ...hello } : answer(req);
      if (reply) channel.send(REPLY_TYPE[reply.kind], f.seq, encodeReply(reply));
    },
  });
  channel.sendLimit = 65536;
  const client = new DeviceClient(host, { timeoutMs: 300, attempts: 2 });
  await client.hello();
  return { client, requests };
}
