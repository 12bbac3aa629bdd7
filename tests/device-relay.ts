// A relay between host and device links for tests: paces bytes like a serial line and injects faults.
import type { Link } from "../firmware-host/link.js";
import { seededRandom } from "./helpers.js";

export interface Faults {
  /** Probability per byte of being damaged (a random non-zero xor). */
  corrupt?: number;
  /** Probability per byte of being lost. */
  drop?: number;
}

export interface RelayStats {
  /** Bytes delivered host → device and device → host. */
  toDevice: number;
  toHost: number;
  corrupted: number;
  dropped: number;
}

/** One direction: a queue released at `bytesPerSecond` (Infinity: as soon as possible), faults applied on release. */
class Pipe {
  private queue: Uint8Array[] = [];
  private queued = 0;
  private timer: NodeJS.Timeout | null = null;
  private busySince = 0;
  private releasedSinceBusy = 0;
  private stopped = false;

  constructor(private readonly relay: Relay, private readonly to: () => Link | null, private readonly bytesPerSecond: number,
    private readonly count: (n: number) => void) {}

  push(bytes: Uint8Array): void {
    if (this.stopped) return;
    if (this.queued === 0) { this.busySince = performance.now(); this.releasedSinceBusy = 0; }
    this.queue.push(bytes.slice());
    this.queued += bytes.length;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.timer || this.stopped || this.queued === 0) return;
    this.timer = setTimeout(() => { this.timer = null; this.tick(); }, ms);
  }

  private tick(): void {
    const allowed = Number.isFinite(this.bytesPerSecond)
      ? Math.floor(((performance.now() - this.busySince) * this.bytesPerSecond) / 1000) - this.releasedSinceBusy
      : this.queued;
    let n = Math.min(allowed, this.queued);
    if (n > 0) {
      const out = new Uint8Array(n);
      let o = 0;
      while (o < n) {
        const head = this.queue[0];
        const take = Math.min(head.length, n - o);
        out.set(head.subarray(0, take), o);
        o += take;
        if (take === head.length) this.queue.shift(); else this.queue[0] = head.subarray(take);
      }
      this.queued -= n;
      this.releasedSinceBusy += n;
      const delivered = this.relay.damage(out);
      const link = this.to();
      if (delivered.length > 0 && link && !link.closed) link.write(delivered);
      this.count(delivered.length);
      n = 0;
    }
    // A tick per millisecond (≈ 11 bytes at 115200 baud) keeps latency close to a real line's.
    this.schedule(Number.isFinite(this.bytesPerSecond) ? 1 : 0);
  }

  /** Forgets bytes still on the line (a reconnect starts with an empty line). */
  clear(): void {
    this.queue = [];
    this.queued = 0;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
    this.queued = 0;
  }
}

export class Relay {
  readonly stats: RelayStats = { toDevice: 0, toHost: 0, corrupted: 0, dropped: 0 };
  faults: Faults = {};
  /** While true the line is cut: every byte is lost in both directions. */
  cut = false;
  private readonly random: () => number;
  private readonly pipes: Pipe[] = [];
  private host: Link | null = null;
  private device: Link | null = null;
  private unsubscribe: (() => void)[] = [];

  /** `baud` paces like an 8N1 serial line (10 bits per byte); Infinity relays as fast as possible. */
  constructor(readonly baud: number, seed = 7) {
    this.random = seededRandom(seed);
    const rate = baud / 10;
    this.pipes.push(new Pipe(this, () => this.device, rate, (n) => { this.stats.toDevice += n; }));
    this.pipes.push(new Pipe(this, () => this.host, rate, (n) => { this.stats.toHost += n; }));
  }

  /** Connects (or reconnects) the two ends; `early` are bytes the host sent before the device end was there. */
  attach(host: Link, device: Link, early: Uint8Array[] = []): void {
    this.unsubscribe.forEach((u) => u());
    this.pipes.forEach((p) => p.clear());
    this.host = host;
    this.device = device;
    this.unsubscribe = [host.onData((b) => this.pipes[0].push(b)), device.onData((b) => this.pipes[1].push(b))];
    early.forEach((b) => this.pipes[0].push(b));
  }

  damage(bytes: Uint8Array): Uint8Array {
    if (this.cut) { this.stats.dropped += bytes.length; return new Uint8Array(0); }
    const { corrupt = 0, drop = 0 } = this.faults;
    if (corrupt === 0 && drop === 0) return bytes;
    const out: number[] = [];
    for (const b of bytes) {
      if (this.random() < drop) { this.stats.dropped++; continue; }
      if (this.random() < corrupt) { this.stats.corrupted++; out.push(b ^ (1 + Math.floor(this.random() * 255))); continue; }
      out.push(b);
    }
    return Uint8Array.from(out);
  }

  /** Stops relaying and closes both ends. */
  async close(): Promise<void> {
    this.pipes.forEach((p) => p.stop());
    this.unsubscribe.forEach((u) => u());
    await Promise.all([this.host?.close(), this.device?.close()]);
  }
}

/** Polls until `condition` holds, at most `timeoutMs`; rejects otherwise. */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
