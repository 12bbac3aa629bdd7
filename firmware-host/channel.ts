// Frames over a link: encodes outgoing frames, decodes incoming bytes, and reports bad frames and closing.
import { DEFAULT_MAX_FRAME, FrameDecoder, LIMIT_MAX_FRAME, encodeFrame, type Frame, type FrameFault } from "./frame.js";
import type { Link } from "./link.js";

export interface ChannelHandlers {
  frame(frame: Frame): void;
  bad?(fault: FrameFault): void;
  close?(reason?: Error): void;
}

/** One end of a framed conversation. `sendLimit` is the largest frame the other end accepts. */
export class Channel {
  readonly decoder: FrameDecoder;
  /** Frames larger than this are not sent (DEFAULT_MAX_FRAME until HELLO negotiates more). */
  sendLimit = DEFAULT_MAX_FRAME;
  private unsubscribe: (() => void)[] = [];
  private stopData: () => void;

  constructor(readonly link: Link, handlers: ChannelHandlers, receiveLimit = LIMIT_MAX_FRAME) {
    this.decoder = new FrameDecoder(
      (f) => handlers.frame(f),
      (fault) => handlers.bad?.(fault),
      receiveLimit,
    );
    this.stopData = link.onData((bytes) => this.decoder.push(bytes));
    this.unsubscribe.push(this.stopData);
    this.unsubscribe.push(link.onClose((reason) => handlers.close?.(reason)));
  }

  get closed(): boolean { return this.link.closed; }

  /** Sends one frame; returns the wire bytes (kept by callers that may retransmit them). */
  send(type: number, seq: number, body: Uint8Array): Uint8Array {
    const wire = encodeFrame(type, seq, body);
    this.link.write(wire);
    return wire;
  }

  /** Sends bytes already encoded by send() again. */
  resend(wire: Uint8Array): void {
    this.link.write(wire);
  }

  /** Ignores whatever else arrives (not even decoded, and not read at all where the link can pause); close is still reported. */
  stopReading(): void {
    this.stopData();
    this.decoder.stop();
    this.link.pauseInput?.();
  }

  /** Stops listening to the link (the link itself stays open). */
  detach(): void {
    this.unsubscribe.forEach((u) => u());
    this.unsubscribe = [];
  }
}
