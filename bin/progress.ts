// A progress bar on stderr for long work, drawn only on a terminal and never with --quiet or --json.
import { bar } from "./table.js";

export interface Progress {
  update(done: number): void;
  done(): void;
}

const SILENT: Progress = { update: () => {}, done: () => {} };

/** Redraws at least this often while work goes on, so the rate stays current when a percent takes long. */
const REDRAW_MS = 250;

/** "12.3 images/s", or "0.41 s/image" when one item takes more than a second (a rate would read as 0.0). */
export function rateText(done: number, seconds: number, unit: string): string {
  if (done <= 0 || seconds <= 0) return "";
  const perSecond = done / seconds;
  if (perSecond >= 1) return `${perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1)} ${unit}/s`;
  return `${(seconds / done).toFixed(2)} s/${unit.replace(/s$/, "")}`;
}

/**
 * `label [bar] percent  done/total  seconds`, and with `unit` (e.g. "images") the rate so far, e.g. "48.2 images/s".
 */
export function progressBar(label: string, total: number, enabled: boolean, stream: NodeJS.WriteStream = process.stderr, unit?: string): Progress {
  if (!enabled || !stream.isTTY || total <= 0) return SILENT;
  let lastPercent = -1, lastDraw = 0;
  const started = performance.now();
  const draw = (done: number, force = false): void => {
    const share = Math.min(1, done / total);
    const percent = Math.floor(share * 100);
    const now = performance.now();
    if (!force && percent === lastPercent && now - lastDraw < REDRAW_MS) return;
    lastPercent = percent;
    lastDraw = now;
    const seconds = (now - started) / 1000;
    const rate = unit ? rateText(done, seconds, unit) : "";
    stream.write(`\r${label} ${bar(share, 24).padEnd(24)} ${String(percent).padStart(3)}%  ${done}/${total}  ${seconds.toFixed(1)} s${rate ? `  ${rate}` : ""}`);
  };
  return {
    update: (done) => draw(done),
    done() { draw(total, true); stream.write("\n"); },
  };
}
