// Fuzz targets for input files: idx (plain and gzip), PNG, JPEG and raw .u8, through the loaders the CLI uses.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readIdx, readLabelledImages } from "../../io/idx.js";
import { loadImages, type ImageBatch } from "../../io/images.js";
import { mutateIdxHeader, mutateJpeg, mutatePng } from "./formats.js";
import { mutateBytes, type Mutated } from "./mutate-bytes.js";
import { promise } from "./oracle.js";
import type { Rng } from "./prng.js";
import { corpusFiles, type CaseContext, type FuzzTarget, type PreparedCase } from "./target.js";

type FormatMutator = (rng: Rng, bytes: Uint8Array) => Mutated | null;

/** One mutated file from the target's corpus folder: format-aware half the time, bytes otherwise. */
function mutatedInput(rng: Rng, context: CaseContext, folder: string, format: FormatMutator | null, names?: RegExp): { name: string; bytes: Uint8Array; what: string } {
  const seeds = corpusFiles(context.corpus, folder).filter((s) => !names || names.test(s.name));
  const seed = rng.pick(seeds);
  const others = seeds.filter((s) => s !== seed).map((s) => s.bytes);
  let m = format && rng.chance(0.5) ? format(rng, seed.bytes) : null;
  m ??= mutateBytes(rng, seed.bytes, others);
  // Sometimes twice: a header change plus damage further in.
  if (rng.chance(0.2)) {
    const again = mutateBytes(rng, m.bytes);
    m = { bytes: again.bytes, what: `${m.what}; ${again.what}` };
  }
  return { name: seed.name, bytes: m.bytes, what: `${seed.name} ${m.what}` };
}

/** The batch's own promises: as many pixels and names as it says it holds. */
function checkBatch(b: ImageBatch, h: number, w: number, c: number): void {
  promise(Number.isInteger(b.count) && b.count >= 1, `batch count ${b.count}`);
  promise(b.height === h && b.width === w && b.channels === c, `batch shape ${b.height}×${b.width}×${b.channels}, asked ${h}×${w}×${c}`);
  promise(b.pixels.length === b.count * h * w * c, `batch of ${b.count} images holds ${b.pixels.length} bytes, not ${b.count * h * w * c}`);
  promise(b.names.length === b.count, `batch of ${b.count} images has ${b.names.length} names`);
}

/** loadImages at the model shapes the CLI would ask for. */
function imageCase(rng: Rng, context: CaseContext, folder: string, extension: string, format: FormatMutator | null): PreparedCase {
  const m = mutatedInput(rng, context, folder, format);
  const path = join(context.scratch, `input${extension}`);
  writeFileSync(path, m.bytes);
  const shape = rng.pick<[number, number, number]>([[28, 28, 1], [8, 8, 3]]);
  return {
    what: `${m.what} → loadImages ${shape.join("×")}`,
    async run() {
      checkBatch(loadImages(path, ...shape), ...shape);
    },
  };
}

export const pngTarget: FuzzTarget = {
  name: "png", about: "PNG files (chunk-aware, CRCs kept valid) → loadImages", timeoutMs: 20_000,
  prepare: (rng, context) => imageCase(rng, context, "png", ".png", mutatePng),
};

export const jpegTarget: FuzzTarget = {
  name: "jpeg", about: "JPEG files (frame header aware) → loadImages", timeoutMs: 20_000,
  prepare: (rng, context) => imageCase(rng, context, "jpeg", ".jpg", mutateJpeg),
};

export const u8Target: FuzzTarget = {
  name: "u8", about: "raw .u8 image files → loadImages", timeoutMs: 20_000,
  prepare: (rng, context) => imageCase(rng, context, "u8", ".u8", null),
};

export const idxTarget: FuzzTarget = {
  name: "idx", about: "idx image and label files, plain and gzip → loadImages, readIdx (partial read), readLabelledImages", timeoutMs: 20_000,
  prepare(rng, context) {
    const m = mutatedInput(rng, context, "idx", mutateIdxHeader);
    const gz = m.name.endsWith(".gz") ? ".gz" : "";
    const mutated = join(context.scratch, `mutated.idx${gz}`);
    writeFileSync(mutated, m.bytes);
    const plain = corpusFiles(context.corpus, "idx");
    const images = plain.find((f) => f.name === "images.idx")!, labels = plain.find((f) => f.name === "labels.idx")!;
    const loader = rng.pick(["loadImages", "readIdx", "readLabelledImages"]);
    const items = rng.pick([1, 4, 1000]);
    return {
      what: `${m.what} → ${loader}${loader === "readIdx" ? ` first ${items}` : ""}`,
      async run() {
        if (loader === "loadImages") return checkBatch(loadImages(mutated, 28, 28, 1), 28, 28, 1);
        if (loader === "readIdx") {
          const idx = readIdx(mutated, items);
          const count = idx.shape.reduce((a, b) => a * b, 1);
          return promise(idx.data.length === count, `readIdx shape [${idx.shape.join(", ")}] with ${idx.data.length} values`);
        }
        const labelled = m.name.startsWith("labels") ? readLabelledImages(images.path, mutated) : readLabelledImages(mutated, labels.path);
        const size = labelled.count * labelled.height * labelled.width * labelled.channels;
        promise(labelled.pixels.length === size && labelled.labels.length === labelled.count, `readLabelledImages: ${labelled.count} images, ${labelled.pixels.length} pixel bytes, ${labelled.labels.length} labels`);
      },
    };
  },
};
