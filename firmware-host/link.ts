// The byte-stream abstraction every transport implements (serial, TCP, in-process), with byte counters.

export type DataListener = (bytes: Uint8Array) => void;
export type CloseListener = (reason?: Error) => void;

export interface LinkStats {
  bytesIn: number;
  bytesOut: number;
  /** The most bytes that waited at once to be taken by the other end (transports that track it: TCP). */
  peakQueued?: number;
}

/** A bidirectional byte stream: no framing, no guarantees (bytes may be lost or damaged on the way). */
export interface Link {
  /** e.g. "serial /dev/ttyUSB0 @ 115200", "tcp 127.0.0.1:7000". */
  readonly description: string;
  /** Bits per second when the link has a known line rate (serial); used to size timeouts. */
  readonly baud?: number;
  /** Who is at the other end, for per-peer limits (TCP: the remote address, without the port). */
  readonly peerAddress?: string;
  readonly closed: boolean;
  readonly stats: LinkStats;
  /** Queues bytes for sending; a failed write closes the link (see onClose). */
  write(bytes: Uint8Array): void;
  onData(listener: DataListener): () => void;
  /** Stops taking bytes from the other end, where the transport can (TCP: its data waits in the system's buffers). */
  pauseInput?(): void;
  /** Called once when the link closes, with the reason when it was not closed by close(). */
  onClose(listener: CloseListener): () => void;
  close(): Promise<void>;
}

/** Listener bookkeeping shared by the transports. */
export abstract class BaseLink implements Link {
  abstract readonly description: string;
  readonly baud?: number;
  readonly stats: LinkStats = { bytesIn: 0, bytesOut: 0 };
  private dataListeners: DataListener[] = [];
  private closeListeners: CloseListener[] = [];
  private isClosed = false;

  get closed(): boolean { return this.isClosed; }

  abstract write(bytes: Uint8Array): void;
  abstract close(): Promise<void>;

  onData(listener: DataListener): () => void {
    this.dataListeners.push(listener);
    return () => { this.dataListeners = this.dataListeners.filter((l) => l !== listener); };
  }

  onClose(listener: CloseListener): () => void {
    if (this.isClosed) {
      queueMicrotask(() => listener());
      return () => {};
    }
    this.closeListeners.push(listener);
    return () => { this.closeListeners = this.closeListeners.filter((l) => l !== listener); };
  }

  protected emitData(bytes: Uint8Array): void {
    if (this.isClosed) return;
    this.stats.bytesIn += bytes.length;
    for (const l of [...this.dataListeners]) l(bytes);
  }

  protected countOut(bytes: Uint8Array): void {
    this.stats.bytesOut += bytes.length;
  }

  /** Marks the link closed and tells the listeners, once. */
  protected emitClose(reason?: Error): void {
    if (this.isClosed) return;
    this.isClosed = true;
    const listeners = this.closeListeners;
    this.closeListeners = [];
    this.dataListeners = [];
    for (const l of listeners) l(reason);
  }
}

/** The transport closed the link because the peer broke one of its limits (it does not read, for example). */
export class LinkLimitError extends Error {
  override name = "LinkLimitError";
}

export class LinkClosedError extends Error {
  override name = "LinkClosedError";
}
