// The serial transport through the `serialport` package (or its mock binding, for tests).
import { BaseLink } from "./link.js";

/** What this transport needs from a serialport stream (SerialPort and SerialPortMock both are one). */
interface PortLike {
  readonly isOpen: boolean;
  open(callback: (err: Error | null) => void): void;
  write(data: Buffer, callback?: (err: Error | null | undefined) => void): boolean;
  close(callback?: (err: Error | null) => void): void;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

export interface SerialOptions {
  baudRate?: number;
  /** Open a port of `@serialport/binding-mock` (created by the test with MockBinding.createPort). */
  mock?: boolean;
}

export const DEFAULT_BAUD = 115200;

export class SerialLink extends BaseLink {
  readonly description: string;
  override readonly baud: number;
  private closing = false;

  private constructor(private readonly port: PortLike, path: string, baud: number) {
    super();
    this.baud = baud;
    this.description = `serial ${path} @ ${baud} baud`;
    port.on("data", (chunk: Buffer) => this.emitData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    port.on("error", (err: Error) => this.emitClose(err));
    port.on("close", (err?: Error | null) => this.emitClose(this.closing ? undefined : (err ?? new Error(`${path} was closed`))));
  }

  /** Opens the port; rejects with the system's reason (no such device, permission denied, …). */
  static async open(path: string, options: SerialOptions = {}): Promise<SerialLink> {
    const baudRate = options.baudRate ?? DEFAULT_BAUD;
    // Loaded here, not at start-up: its native binding costs every kiln command ~30 ms, and few use a serial port.
    const { SerialPort, SerialPortMock } = await import("serialport");
    const port: PortLike = options.mock
      ? new SerialPortMock({ path, baudRate, autoOpen: false })
      : new SerialPort({ path, baudRate, autoOpen: false, highWaterMark: 64 * 1024 });
    return new Promise((resolve, reject) => {
      port.open((err) => {
        if (err) reject(new Error(`cannot open serial port ${path}: ${err.message}`));
        else resolve(new SerialLink(port, path, baudRate));
      });
    });
  }

  /** The port's binding (a MockPortBinding for mock ports): tests inject and inspect bytes through it. */
  get binding(): unknown {
    return (this.port as { port?: unknown }).port;
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    this.countOut(bytes);
    this.port.write(Buffer.from(bytes), (err) => {
      if (err) this.emitClose(new Error(`serial write failed: ${err.message}`));
    });
  }

  close(): Promise<void> {
    if (this.closed && !this.port.isOpen) return Promise.resolve();
    this.closing = true;
    this.emitClose();
    return new Promise((resolve) => {
      if (!this.port.isOpen) return resolve();
      this.port.close(() => resolve());
    });
  }
}
