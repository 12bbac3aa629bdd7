// The package as another project gets it: `npm pack`, installed offline into a new project; every import the README's
// "Using a blob from code" shows, verbatim, type-checks (tsc) and runs (plain ESM), and the installed code agrees with this tree.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Model } from "../runtime/model.js";
import { loadImages } from "../io/images.js";
import { compileFile, DEFAULT_COMPILE_OPTIONS } from "../compiler/compile.js";
import { calibrationImages } from "../bin/calibration.js";
import { copyFromPackage, installConsumer, pack, ROOT, run, type Consumer, type Packed } from "./package-consumer.js";

const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const ENTRIES = ["kiln", "kiln/node", "kiln/compiler", "kiln/devices"];
const SAMPLES = "models/mnist-cnn/samples";

/** The ```ts blocks of the README section "Using a blob from code" (up to the next ## heading). */
function readmeBlocks(): string[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf("\n## Using a blob from code");
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```ts\n([^]*?)```/g)].map((m) => m[1]);
}

const importedEntry = (line: string): string | undefined => /from "(kiln[^"]*)"/.exec(line)?.[1];

let work: string, packed: Packed, consumer: Consumer;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "kiln-package-"));
  packed = pack(work);
  consumer = installConsumer(join(work, "consumer"), packed.tarball);
  console.log(`package test: ${consumer.how}`);
  // The README's files: a blob compiled by the installed `kiln` command, a test digit, the MNIST CNN it compiles.
  const compiled = run(join(consumer.dir, "node_modules", ".bin", "kiln"), ["compile", "node_modules/kiln/models/mnist-cnn/model.json", "-o", "mnist.wasm"], consumer.dir);
  if (compiled.status !== 0) throw new Error(`kiln compile from the installed package failed:\n${compiled.stdout}${compiled.stderr}`);
  copyFromPackage(consumer.dir, `${SAMPLES}/digit-7-test0.png`, "digit.png");
  copyFromPackage(consumer.dir, "models/mnist-cnn/model.json", "model.json");
  copyFromPackage(consumer.dir, "models/mnist-cnn/group1-shard1of1.bin", "group1-shard1of1.bin");
}, 600_000);

afterAll(() => { if (work) rmSync(work, { recursive: true, force: true }); });

describe("the packed tarball", () => {
  it("ships the four entries with their types, and no tests, CI, fixtures, bench or training code", () => {
    const files = new Set(packed.files);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { exports: Record<string, { types: string; default: string }> };
    for (const [entry, target] of Object.entries(pkg.exports)) {
      if (typeof target === "string") continue;
      expect(files, entry).toContain(target.types.replace(/^\.\//, ""));
      expect(files, entry).toContain(target.default.replace(/^\.\//, ""));
    }
    const shipped = (pattern: RegExp): string[] => packed.files.filter((f) => pattern.test(f));
    expect(shipped(/^(tests|dist\/tests|\.ci|scratch|firmware|models\/onnx|models\/lenet5|dist\/models|dist\/demo|dist\/kernels)\//)).toEqual([]);
    expect(shipped(/^dist\/bin\/bench(\.|\/)|^dist\/runtime\/build-kernels|\.npmrc$|vitest|tsconfig/)).toEqual([]);
    // What the installed compiler and CLI read at run time.
    expect(files).toContain("runtime/kernels/index.ts");
    expect(files).toContain("dist/runtime/model-worker.js");
    expect(files).toContain("models/mnist-cnn/model.json");
  });

  it("installs without TypeScript, TensorFlow.js or any devDependency", () => {
    const modules = readdirSync(join(consumer.dir, "node_modules"));
    expect(modules).toContain("kiln");
    for (const dev of ["typescript", "@tensorflow", "vitest", "esbuild", "onnxruntime-node"]) expect(modules, dev).not.toContain(dev);
    const version = run(join(consumer.dir, "node_modules", ".bin", "kiln"), ["--version"], consumer.dir);
    expect(version.status).toBe(0);
    expect(version.stdout).toContain(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version);
  });
});

describe("npm install --omit=dev of this repository", () => {
  it("installs offline from the lockfile without TypeScript, and prepare says why it did not build", () => {
    const dir = join(work, "omit-dev");
    mkdirSync(join(dir, "bin"), { recursive: true });
    for (const file of ["package.json", "package-lock.json", "bin/prepare.mjs"]) cpSync(join(ROOT, file), join(dir, file));
    const r = run("npm", ["ci", "--omit=dev", "--offline"], dir);
    expect(r.stderr.split("\n").filter((l) => /npm (warn|error)/.test(l) && !/install-scripts/.test(l))).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("kiln prepare: skipped the build, typescript and esbuild (devDependencies) not installed");
    const modules = readdirSync(join(dir, "node_modules"));
    for (const dep of ["assemblyscript", "onnx-proto", "serialport"]) expect(modules, dep).toContain(dep);
    for (const dev of ["typescript", "@tensorflow", "esbuild"]) expect(modules, dev).not.toContain(dev);
  });
});

describe("the README's code, verbatim, in a project that installed the tarball", () => {
  it("imports every entry point somewhere in the README", () => {
    const entries = new Set(readmeBlocks().flatMap((block) => block.split("\n").map(importedEntry)).filter(Boolean));
    expect([...entries].sort()).toEqual([...ENTRIES].sort());
  });

  it("type-checks with the project's TypeScript (strict, its .d.ts files checked too)", () => {
    readmeBlocks().forEach((block, i) => writeFileSync(join(consumer.dir, `readme-${i}.ts`), block));
    writeFileSync(join(consumer.dir, "tsconfig.json"), JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: false,
        types: ["node"], typeRoots: [join(ROOT, "node_modules", "@types")] },
      include: ["readme-*.ts"],
    }));
    const r = run(process.execPath, [TSC, "-p", "tsconfig.json"], consumer.dir);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("the core's types need nothing from Node (a browser project: DOM types, no @types/node)", () => {
    writeFileSync(join(consumer.dir, "browser.ts"), [
      'import { Model, inspectBlob, profileModel, BlobError, type Manifest, type Prediction } from "kiln";',
      'const bytes = await (await fetch("mnist.wasm")).arrayBuffer();',
      "const info: Manifest = (await inspectBlob(bytes)).info;",
      "const model = await Model.load(bytes);",
      "const p: Prediction = model.predict(new Uint8Array(model.inputSize));",
      "console.log(info.model, p.label, profileModel(model, { runs: 1 }).endToEnd.p50Us, BlobError.name);",
      "export {};",
    ].join("\n"));
    writeFileSync(join(consumer.dir, "tsconfig.browser.json"), JSON.stringify({
      compilerOptions: { target: "ES2022", module: "ES2022", moduleResolution: "Bundler", lib: ["ES2022", "DOM"], strict: true, noEmit: true, skipLibCheck: false, types: [] },
      files: ["browser.ts"],
    }));
    const r = run(process.execPath, [TSC, "-p", "tsconfig.browser.json"], consumer.dir);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("runs as plain ESM with node, each block on its own", () => {
    // The blocks are written without type annotations, so the same text is a .ts and an .mjs file.
    readmeBlocks().forEach((block, i) => {
      const file = `readme-${i}.mjs`;
      writeFileSync(join(consumer.dir, file), block);
      const r = run(process.execPath, [file], consumer.dir, 120_000);
      expect(`${file} exit ${r.status}: ${r.stderr}`).toBe(`${file} exit 0: `);
      expect(r.stdout.length, file).toBeGreaterThan(0);
    });
  }, 300_000);
});

describe("the installed code agrees with this tree", () => {
  it("the installed `kiln compile` makes the same blob as this tree's compiler, byte for byte", async () => {
    const here = await compileFile(join(ROOT, "models", "mnist-cnn", "model.json"), { ...DEFAULT_COMPILE_OPTIONS, calibration: calibrationImages() });
    expect(Buffer.from(readFileSync(join(consumer.dir, "mnist.wasm"))).equals(Buffer.from(here.wasm))).toBe(true);
  });

  it("classifies the sample digits as their MNIST labels, and equals this tree's runtime bit for bit", async () => {
    const blob = new Uint8Array(readFileSync(join(consumer.dir, "mnist.wasm")));
    const reference = await Model.load(blob);
    const samples = readdirSync(join(ROOT, SAMPLES)).filter((f) => f.endsWith(".png")).sort();
    writeFileSync(join(consumer.dir, "check.mjs"), [
      'import { Model } from "kiln";',
      'import { WorkerModel, loadImages, readBlobFile } from "kiln/node";',
      'import { DeviceTarget, deploy, parseDeviceUri, runOnDevice } from "kiln/devices";',
      'const files = JSON.parse(process.argv[2]);',
      'const bytes = readBlobFile("mnist.wasm");',
      "const model = await Model.load(bytes), worker = await WorkerModel.load(bytes);",
      'const target = await DeviceTarget.open(parseDeviceUri("local"));',
      "await deploy(target, bytes);",
      "const client = await target.connect();",
      "const out = [];",
      "for (const f of files) {",
      '  const { pixels } = loadImages("node_modules/kiln/models/mnist-cnn/samples/" + f, 28, 28, 1);',
      "  const p = model.predict(pixels), [w] = await worker.predict(pixels, 1), d = await runOnDevice(client, pixels);",
      "  out.push({ file: f, label: p.label, raw: [...model.rawOutput()], worker: [...w.scores], scores: [...p.scores], device: [...d.raw] });",
      "}",
      "await client.close(); await target.dispose(); await worker.close();",
      "console.log(JSON.stringify(out));",
    ].join("\n"));
    const r = run(process.execPath, ["check.mjs", JSON.stringify(samples)], consumer.dir, 120_000);
    expect(r.stderr).toBe("");
    const results = JSON.parse(r.stdout) as { file: string; label: string; raw: number[]; worker: number[]; scores: number[]; device: number[] }[];
    expect(results.length).toBe(samples.length);
    // The independent reference: the digit each file name carries (its MNIST test label); the int8 CNN gets 9 of these 10.
    const correct = results.filter((res) => res.label === /digit-(\d)-/.exec(res.file)?.[1]).length;
    expect(correct).toBeGreaterThanOrEqual(9);
    for (const res of results) {
      const ref = reference.predict(loadImages(join(ROOT, SAMPLES, res.file), 28, 28, 1).pixels);
      expect(res.raw, res.file).toEqual([...reference.rawOutput()]);
      expect(res.scores, res.file).toEqual([...ref.scores]);
      expect(res.worker, res.file).toEqual([...ref.scores]);
      expect(res.device, res.file).toEqual([...reference.rawOutput()]);
    }
  });
});
