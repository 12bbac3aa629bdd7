// Data-movement kernels (AssemblyScript): padding, cropping and channel concatenation.
import { requant } from "./common";

/** Float zero padding of H and W. */
export function pad_f32(x: usize, y: usize, H: i32, W: i32, C: i32, PT: i32, PL: i32, PB: i32, PR: i32): void {
  const WP = W + PL + PR;
  memory.fill(y, 0, <usize>((H + PT + PB) * WP * C) << 2);
  const row = <usize>(W * C) << 2;
  for (let iy = 0; iy < H; iy++) memory.copy(y + (<usize>(((iy + PT) * WP + PL) * C) << 2), x + <usize>iy * row, row);
}

/** Copies an OH×OW window at (T, L) out of rows of W pixels of `pixelBytes` bytes (any element type). */
export function crop_copy(x: usize, y: usize, W: i32, pixelBytes: i32, T: i32, L: i32, OH: i32, OW: i32): void {
  const rowOut = <usize>(OW * pixelBytes);
  for (let oy = 0; oy < OH; oy++) memory.copy(y + <usize>oy * rowOut, x + <usize>(((oy + T) * W + L) * pixelBytes), rowOut);
}

/** Writes C channels per pixel of x into channels [offset, offset + C) of y (COut channels per pixel). */
export function concat_f32(x: usize, y: usize, pixels: i32, C: i32, COut: i32, offset: i32): void {
  for (let p = 0; p < pixels; p++) memory.copy(y + (<usize>(p * COut + offset) << 2), x + (<usize>(p * C) << 2), <usize>C << 2);
}

export function concat_i8(x: usize, y: usize, pixels: i32, C: i32, COut: i32, offset: i32, zpIn: i32, m: f32, zpOut: i32): void {
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < C; c++) {
      store<i8>(y + <usize>(p * COut + offset + c), <i8>requant(<i32>load<i8>(x + <usize>(p * C + c)) - zpIn, m, zpOut, -128, 127));
    }
  }
}
