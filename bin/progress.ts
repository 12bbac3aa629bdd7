// A progress bar on stderr for long work, drawn only on a terminal and never with --quiet or --json.
import { bar } from "./table.js";

export interface Progress {
  update(done: number): void;
  done(): void;
}

const SILENT: Progress = { update: () => {}, done: () => {} };

export function progressBar(label: string, total: number, enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!enabled || !stream.isTTY || total <= 0) return SILENT;
  let last = -1;
  const started = performance.now();
  const draw = (done: number): void => {
    const share = Math.min(1, done / total);
    const percent = Math.floor(share * 100);
    if (percent === last) return;
    last = percent;
    const seconds = (performance.now() - started) / 1000;
    stream.write(`\r${label} ${bar(share, 24).padEnd(24)} ${String(percent).padStart(3)}%  ${done}/${total}  ${seconds.toFixed(1)} s`);
  };
  return {
    update: draw,
    done() { draw(total); stream.write("\n"); },
  };
}
