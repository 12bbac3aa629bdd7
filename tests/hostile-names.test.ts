// Strings from a model file in error messages: whatever a name, op, class, path or dtype holds, the message stays
// one line without control characters, still shows the string (escaped), and a huge string is shortened.
import { afterAll, describe, expect, it } from "vitest";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileText, quoteName } from "../compiler/errors.js";
import { GRAPH_NAMES, graphNode, layerConfig, renameLayer, tinyGraphModel, type ModelFiles } from "./hostile-models.js";
import { freshDir, loadError, mutated, root } from "./hostile-checks.js";

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Newline, ESC with a colour sequence, a bidi override, a C1 control (NEL), DEL, CR, tab and NUL. */
const HOSTILE = "a\nb\u001b[31mc\u202ed\u0085e\u007ff\rg\th\u0000i";
/** HOSTILE as a message must show it, written out by hand: each control character as a \uXXXX escape. */
const SHOWN = String.raw`a\u000ab\u001b[31mc\u202ed\u0085e\u007ff\u000dg\u0009h\u0000i`;
/** Any character a message must not carry raw. */
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function expectShown(message: string, shown = SHOWN): void {
  expect(message).not.toMatch(RAW_CONTROL);
  expect(message).toContain(shown);
}

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
const graph = (mutate: (f: ModelFiles) => void, names = GRAPH_NAMES): string => mutated(mutate, () => tinyGraphModel(names));

describe("fileText and quoteName", () => {
  it("escape every control character and keep the rest", () => {
    expect(fileText(HOSTILE)).toBe(SHOWN);
    expect(quoteName("conv/kernel:0 ü 😀")).toBe("'conv/kernel:0 ü 😀'");
    expect(fileText("\u2067x\u2069\u200f\u061c")).toBe(String.raw`\u2067x\u2069\u200f\u061c`);
  });

  it("cut a long string to 80 characters ending in …, never inside an escape or a surrogate pair", () => {
    expect(fileText("x".repeat(80))).toBe("x".repeat(80));
    expect(fileText("x".repeat(81))).toBe(`${"x".repeat(79)}…`);
    expect(fileText("\n".repeat(100))).toBe(`${String.raw`\u000a`.repeat(13)}…`);
    expect(fileText("😀".repeat(100))).toBe(`${"😀".repeat(39)}…`);
    expect(fileText("x".repeat(300), 240)).toBe(`${"x".repeat(239)}…`);
  });
});

describe("LayersModel strings reach messages escaped", () => {
  it("a layer name", () => {
    const message = mutated((f) => {
      renameLayer(f, "flat", HOSTILE);
      f.json.modelTopology.config.layers[2].class_name = "UpSampling2D";
    });
    expectShown(message, `layer '${SHOWN}' has class UpSampling2D`);
  });

  it("a layer class", () => {
    expectShown(mutated((f) => { f.json.modelTopology.config.layers[2].class_name = HOSTILE; }), `has class ${SHOWN}, which Kiln does not support`);
  });

  it("an activation", () => {
    expectShown(mutated((f) => { layerConfig(f, "conv").activation = HOSTILE; }), `uses activation '${SHOWN}'`);
  });

  it("a padding (a value described from the file)", () => {
    expectShown(mutated((f) => { layerConfig(f, "conv").padding = HOSTILE; }), `padding "${SHOWN}"`);
  });

  it("a weight dtype and a weight name", () => {
    const message = mutated((f) => { Object.assign(f.json.weightsManifest[0].weights[1], { name: HOSTILE, dtype: HOSTILE }); });
    expectShown(message, `weight "${SHOWN}" has dtype "${SHOWN}"`);
  });

  it("a shard path", () => {
    expectShown(mutated((f) => { f.json.weightsManifest[0].paths = [HOSTILE]; }));
  });

  it("a shard path with a newline, as the fuzzer wrote it", () => {
    const message = mutated((f) => { f.json.weightsManifest[0].paths = ["a\nb.bin"]; });
    expect(message).toContain(String.raw`a\u000ab.bin`);
  });

  it("a list of many shards: a few are named, the rest counted", () => {
    const message = mutated((f) => {
      const paths = Array.from({ length: 1000 }, (_, i) => `s${i}.bin`);
      f.json.weightsManifest[0].paths = paths;
      for (const p of paths) f.shards.set(p, new Uint8Array(1));
    });
    expect(message).toMatch(/s0\.bin, s1\.bin, s2\.bin, s3\.bin and 996 more/);
    expect(message.length).toBeLessThan(600);
  });
});

describe("GraphModel strings reach messages escaped", () => {
  it("an op", () => {
    expectShown(graph((f) => { graphNode(f, GRAPH_NAMES.relu).op = HOSTILE; }), `has op ${SHOWN}, which Kiln does not support`);
  });

  it("the op the fuzzer wrote (CR, tab, NUL)", () => {
    const message = graph((f) => { graphNode(f, GRAPH_NAMES.relu).op = "a\rb\tc\u0000d"; });
    expect(message).toContain(String.raw`a\u000db\u0009c\u0000d`);
  });

  it("a node name", () => {
    const message = graph((f) => { graphNode(f, HOSTILE).op = "Erf"; }, { ...GRAPH_NAMES, relu: HOSTILE });
    expectShown(message, `node '${SHOWN}' has op Erf`);
  });

  it("an input that names no node", () => {
    expectShown(graph((f) => { graphNode(f, GRAPH_NAMES.relu).input = [GRAPH_NAMES.conv, HOSTILE]; }), `reads '${SHOWN}', which is not in the graph`);
  });

  it("a data_format string attr", () => {
    expectShown(graph((f) => { graphNode(f, GRAPH_NAMES.conv).attr.data_format = { s: b64(HOSTILE) }; }), `data_format ${SHOWN} is not supported`);
  });

  it("a dtype", () => {
    expectShown(graph((f) => { graphNode(f, GRAPH_NAMES.input).attr.dtype = { type: HOSTILE }; }), `input of type ${SHOWN} is not supported`);
  });

  it("a shard path", () => {
    expectShown(graph((f) => { f.json.weightsManifest[0].paths = [HOSTILE]; }));
  });
});

describe("a very long name is shortened", () => {
  it("a 100,000-character layer name shows its first 79 characters and …", () => {
    const long = "n".repeat(100_000);
    const message = mutated((f) => {
      renameLayer(f, "flat", long);
      f.json.modelTopology.config.layers[2].class_name = "UpSampling2D";
    });
    expect(message).toContain(`layer '${"n".repeat(79)}…' has class UpSampling2D`);
    expect(message.length).toBeLessThan(1000);
  });

  it("a name of 10,000 newlines shows whole escapes only", () => {
    const message = graph((f) => { graphNode(f, GRAPH_NAMES.relu).op = "\n".repeat(10_000); });
    expect(message).toMatch(/has op (\\u000a){13}…, which/);
    expect(message.length).toBeLessThan(1000);
  });
});

describe("a model.json that is not JSON", () => {
  const notJson = (text: string): string => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "model.json");
    writeFileSync(path, text);
    return loadError(path);
  };

  it("says where it broke, by line and column", () => {
    const message = notJson('{\n  "format": "layers-model",\n  "modelTopology": {,}\n}');
    expect(message).toContain("not valid JSON");
    expect(message).toContain("line 3, column 21");
  });

  it("never echoes the file's raw bytes", () => {
    // V8's own message quotes the file around the error: …"ializer": ÿ␀␛[2J‮⏎␍ "…
    const message = notJson(`{"modelTopology": {"initializer": \u00ff\u0000\u001b[2J\u202e\n\r 5}}`);
    expect(message).toContain("not valid JSON");
    expect(message).not.toMatch(RAW_CONTROL);
    expect(message).not.toContain("ializer");
    expect(message).toContain("unexpected character 'ÿ'");
  });

  it("an unexpected control character is named, escaped", () => {
    const message = notJson(`{"a": \u001b[31m}`);
    expect(message).not.toMatch(RAW_CONTROL);
    expect(message).toContain(String.raw`\u001b`);
  });

  it("an empty file", () => {
    expect(notJson("")).toContain("not valid JSON");
  });
});
