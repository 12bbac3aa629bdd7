// The drawing canvas: white ink on black under pointer strokes, read back as a grey image after every change.
import { greyFromRgba, type GreyImage } from "./digit.js";

/** Ink width as a share of the pad's side: a digit drawn at full height gets MNIST's ~2.5 px strokes after scaling. */
const INK_WIDTH = 0.075;

export class DrawPad {
  private readonly context: CanvasRenderingContext2D;
  private last: { x: number; y: number } | undefined;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly onChange: () => void) {
    const context = canvas.getContext("2d", { willReadFrequently: true });
    if (!context) throw new Error("this browser gives no 2D canvas");
    this.context = context;
    this.fill();
    canvas.addEventListener("pointerdown", (e) => {
      canvas.setPointerCapture(e.pointerId);
      this.last = this.at(e);
      this.stroke(this.last);
      e.preventDefault();
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!this.last) return;
      this.stroke(this.at(e));
    });
    const end = (): void => { this.last = undefined; };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
  }

  clear(): void {
    this.fill();
    this.onChange();
  }

  private fill(): void {
    this.context.fillStyle = "#000";
    this.context.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  grey(): GreyImage {
    const { width, height } = this.canvas;
    return greyFromRgba(this.context.getImageData(0, 0, width, height).data, width, height);
  }

  /** Pointer position in canvas pixels (the canvas may be shown at another size). */
  private at(e: PointerEvent): { x: number; y: number } {
    const r = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * this.canvas.width) / r.width, y: ((e.clientY - r.top) * this.canvas.height) / r.height };
  }

  private stroke(to: { x: number; y: number }): void {
    const c = this.context, from = this.last ?? to;
    c.strokeStyle = "#fff";
    c.lineWidth = INK_WIDTH * this.canvas.width;
    c.lineCap = "round";
    c.lineJoin = "round";
    c.beginPath();
    c.moveTo(from.x, from.y);
    c.lineTo(to.x, to.y);
    c.stroke();
    this.last = to;
    this.onChange();
  }
}

/** Shows a prepared input (grey, `size`×`size`) on a small canvas. */
export function showPrepared(canvas: HTMLCanvasElement, grey: Uint8Array, size: number): void {
  canvas.width = size;
  canvas.height = size;
  const context = canvas.getContext("2d");
  if (!context) return;
  const image = context.createImageData(size, size);
  for (let i = 0; i < grey.length; i++) image.data.set([grey[i], grey[i], grey[i], 255], i * 4);
  context.putImageData(image, 0, 0);
}
