// Static memory planning: buffers with lifetimes → arena offsets (greedy by size, as in TFLite Micro).
export interface BufferRequest {
  id: string;
  size: number;
  /** First and last step (node index) at which the buffer must hold its value, inclusive. */
  firstUse: number;
  lastUse: number;
}

export interface MemoryPlan {
  offsets: Map<string, number>;
  arenaBytes: number;
  /** The largest total size of buffers live at one step: no plan can use less. */
  lowerBound: number;
}

export type Planner = (buffers: BufferRequest[], alignment: number) => MemoryPlan;

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

function overlapsInTime(a: BufferRequest, b: BufferRequest): boolean {
  return a.firstUse <= b.lastUse && b.firstUse <= a.lastUse;
}

export function lowerBound(buffers: BufferRequest[], alignment = 1): number {
  const last = Math.max(-1, ...buffers.map((b) => b.lastUse));
  let best = 0;
  for (let step = 0; step <= last; step++) {
    let live = 0;
    for (const b of buffers) if (b.firstUse <= step && step <= b.lastUse) live += align(b.size, alignment);
    best = Math.max(best, live);
  }
  return best;
}

/** Places the largest buffers first, each at the lowest offset clear of every placed buffer it coexists with. */
export const greedyBySize: Planner = (buffers, alignment) => {
  const order = [...buffers].sort((a, b) => b.size - a.size || a.firstUse - b.firstUse || a.id.localeCompare(b.id));
  const placed: { req: BufferRequest; offset: number }[] = [];
  const offsets = new Map<string, number>();
  let arena = 0;
  for (const req of order) {
    const size = align(req.size, alignment);
    const busy = placed.filter((p) => overlapsInTime(p.req, req)).sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const p of busy) {
      if (offset + size <= p.offset) break;
      offset = Math.max(offset, align(p.offset + p.req.size, alignment));
    }
    placed.push({ req, offset });
    offsets.set(req.id, offset);
    arena = Math.max(arena, offset + size);
  }
  return { offsets, arenaBytes: arena, lowerBound: lowerBound(buffers, alignment) };
};
