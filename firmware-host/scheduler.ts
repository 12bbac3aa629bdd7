// Runs the agent's requests one at a time (the store and the model are shared), taking turns between sessions.
type Job = () => Promise<void>;

/**
 * One job at a time; owners (sessions) take turns, one job each, in the order they first queued. A session that
 * pipelines many requests therefore waits between them while every other session gets its turn.
 */
export class FairQueue {
  private waiting = new Map<object, Job[]>();
  private running = false;
  private idleWaiters: (() => void)[] = [];

  /** Jobs `owner` has waiting, not counting one that runs now. */
  pending(owner: object): number {
    return this.waiting.get(owner)?.length ?? 0;
  }

  push(owner: object, job: Job): void {
    const list = this.waiting.get(owner);
    if (list) list.push(job); else this.waiting.set(owner, [job]);
    if (!this.running) {
      this.running = true;
      // Never inside the caller's stack: a reply is not written from within the request's receive handler.
      queueMicrotask(() => void this.drain());
    }
  }

  /** Runs `work` in turn (agent-wide work such as closing) and returns its result. */
  run<T>(owner: object, work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.push(owner, () => work().then(resolve, reject)));
  }

  /** Forgets the jobs `owner` has waiting (its connection closed). */
  drop(owner: object): void {
    this.waiting.delete(owner);
  }

  /** Resolves when nothing runs or waits. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    for (let next = this.waiting.entries().next(); !next.done; next = this.waiting.entries().next()) {
      const [owner, list] = next.value;
      const job = list.shift() as Job;
      // The owner goes to the back of the line; with nothing left it leaves it.
      this.waiting.delete(owner);
      if (list.length > 0) this.waiting.set(owner, list);
      try {
        await job();
      } catch {
        // Jobs answer their own errors; one that throws must not stop the others.
      }
    }
    this.running = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((w) => w());
  }
}
