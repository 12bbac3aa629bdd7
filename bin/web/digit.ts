// Prepares a hand-drawn digit as MNIST prepared its digits: bounding box scaled into 20×20, centred by mass in 28×28.

/** A grey image, one byte per pixel, row by row (0 = background, 255 = ink). */
export interface GreyImage {
  pixels: Uint8Array;
  width: number;
  height: number;
}

interface Box { left: number; top: number; width: number; height: number }

/** The smallest rectangle holding every pixel above `threshold`, or undefined for an empty image. */
export function inkBox(image: GreyImage, threshold = 0): Box | undefined {
  const { pixels, width, height } = image;
  let left = width, top = height, right = -1, bottom = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (pixels[y * width + x] <= threshold) continue;
      if (x < left) left = x;
      if (x > right) right = x;
      if (y < top) top = y;
      if (y > bottom) bottom = y;
    }
  }
  return right < 0 ? undefined : { left, top, width: right - left + 1, height: bottom - top + 1 };
}

/**
 * Area-averaging resize of one axis: each output cell is the mean of the source cells it covers, fractional
 * cells weighted by their covered part. Anti-aliases like MNIST's normalisation did, with no canvas smoothing
 * (whose filter differs between browsers).
 */
function resizeAxis(src: Float64Array, lines: number, from: number, to: number, stride: number, step: number): Float64Array {
  const out = new Float64Array(lines * to);
  const ratio = from / to;
  for (let line = 0; line < lines; line++) {
    for (let o = 0; o < to; o++) {
      const start = o * ratio, end = start + ratio;
      let sum = 0;
      for (let s = Math.floor(start); s < end && s < from; s++) {
        const cover = Math.min(end, s + 1) - Math.max(start, s);
        sum += src[line * stride + s * step] * cover;
      }
      out[line * to + o] = sum / ratio;
    }
  }
  return out;
}

/** The box's pixels resized to `width`×`height` by area averaging. */
function resizeBox(image: GreyImage, box: Box, width: number, height: number): Float64Array {
  const crop = new Float64Array(box.width * box.height);
  for (let y = 0; y < box.height; y++) {
    for (let x = 0; x < box.width; x++) crop[y * box.width + x] = image.pixels[(box.top + y) * image.width + box.left + x];
  }
  const rows = resizeAxis(crop, box.height, box.width, width, box.width, 1); // box.height rows × width
  const columns = resizeAxis(rows, width, box.height, height, 1, width); // width columns × height, column-major
  const out = new Float64Array(width * height);
  for (let x = 0; x < width; x++) for (let y = 0; y < height; y++) out[y * width + x] = columns[x * height + y];
  return out;
}

/**
 * MNIST's preparation of a drawn digit: the ink's bounding box scaled (aspect kept) so its longer side is `box`
 * pixels, then placed in a `size`×`size` field so that its centre of mass lies at the field's centre.
 * An empty drawing gives an empty field.
 */
export function prepareDigit(image: GreyImage, size = 28, box = 20): Uint8Array {
  const out = new Uint8Array(size * size);
  const ink = inkBox(image);
  if (!ink) return out;
  const scale = box / Math.max(ink.width, ink.height);
  const width = Math.max(1, Math.round(ink.width * scale)), height = Math.max(1, Math.round(ink.height * scale));
  const small = resizeBox(image, ink, width, height);
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = small[y * width + x];
      mass += v; mx += v * (x + 0.5); my += v * (y + 0.5);
    }
  }
  // Pixel centres sit at +0.5: a mass centred at size/2 is the field's centre.
  const dx = Math.round(size / 2 - mx / mass), dy = Math.round(size / 2 - my / mass);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const tx = x + dx, ty = y + dy;
      if (tx >= 0 && tx < size && ty >= 0 && ty < size) out[ty * size + tx] = Math.round(small[y * width + x]);
    }
  }
  return out;
}

/** One grey channel from RGBA canvas pixels (the page draws white ink on black, so red is the ink). */
export function greyFromRgba(rgba: Uint8ClampedArray, width: number, height: number): GreyImage {
  const pixels = new Uint8Array(width * height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rgba[i * 4];
  return { pixels, width, height };
}

/** A prepared grey digit laid out for a model input of `channels` channels (grey repeated, HWC order). */
export function toChannels(grey: Uint8Array, channels: number): Uint8Array {
  if (channels === 1) return grey;
  const out = new Uint8Array(grey.length * channels);
  for (let i = 0; i < grey.length; i++) out.fill(grey[i], i * channels, (i + 1) * channels);
  return out;
}
