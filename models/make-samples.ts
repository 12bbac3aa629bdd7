// Writes one sample PNG per digit (the first MNIST test image of each label) to models/mnist-cnn/samples/.
// Test-set images are used so the samples were never seen in training; run: node dist/models/make-samples.js
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mnistPaths, readLabelledImages } from "../io/idx.js";
import { encodeGrayPng } from "../io/images.js";

// Resolve relative to the working directory (the repo root), since this file runs from dist/models/.
const OUT_DIR = join("models", "mnist-cnn", "samples");

function main(): void {
  const paths = mnistPaths();
  const test = readLabelledImages(paths.testImages, paths.testLabels);
  if (test.channels !== 1) throw new Error(`${paths.testImages}: expected grayscale images, got ${test.channels} channels`);
  const size = test.height * test.width;
  mkdirSync(OUT_DIR, { recursive: true });
  for (let digit = 0; digit <= 9; digit++) {
    const index = test.labels.indexOf(digit);
    if (index < 0) throw new Error(`${paths.testLabels}: no test image with label ${digit}`);
    const pixels = test.pixels.subarray(index * size, (index + 1) * size);
    const file = join(OUT_DIR, `digit-${digit}-test${index}.png`);
    writeFileSync(file, encodeGrayPng(pixels, test.height, test.width));
    console.log(`wrote ${file}`);
  }
}

main();
