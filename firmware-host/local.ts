// The in-process transport: a pair of linked byte streams, for tests and `--device local`.
import { BaseLink, type Link } from "./link.js";

class LocalLink extends BaseLink {
  peer: LocalLink | null = null;
  private pending: Uint8Array[] = [];
  private scheduled = false;

  constructor(readonly description: string) {
    super();
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    this.countOut(bytes);
    const peer = this.peer;
    if (!peer || peer.closed) return;
    // Delivered asynchronously, in order, like a real stream: a reply is never handled inside the request's write.
    peer.pending.push(bytes.slice());
    peer.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const chunks = this.pending;
      this.pending = [];
      for (const c of chunks) this.emitData(c);
    });
  }

  async close(): Promise<void> {
    const peer = this.peer;
    this.peer = null;
    this.pending = [];
    this.emitClose();
    if (peer && !peer.closed) {
      peer.peer = null;
      peer.emitClose(new Error("the other end closed the link"));
    }
  }
}

/** Two ends of one in-process link: bytes written to one arrive at the other. */
export function localPair(name = "local"): [Link, Link] {
  const a = new LocalLink(`${name} (host end)`), b = new LocalLink(`${name} (device end)`);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
