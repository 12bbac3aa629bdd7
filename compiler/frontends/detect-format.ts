// Tells a model file's format from its first bytes (not its name), and for formats Kiln does not read, how to convert.
import { closeSync, existsSync, openSync, readSync, statSync, type Stats } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileText, fileTextList, KilnError } from "../errors.js";
import { zipEntryNames } from "./zip-names.js";

/** The formats Kiln compiles: an ONNX protobuf, or a TF.js model.json (layers or graph model, told apart by its loader). */
export type ModelFormat = "onnx" | "tfjs-json";

/** Bytes read to decide: HDF5's signature may sit at 0, 512, 1024 or 2048 (after a user block). */
const HEAD_BYTES = 2056;

const PYTORCH_EXPORT = `torch.onnx.export(model, torch.zeros(1, C, H, W), "model.onnx", opset_version=13, input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}) (on PyTorch 2.5 or newer add dynamo=False), then kiln compile model.onnx (README: From PyTorch)`;

/** One-line recipes from a format Kiln does not read to one it does; `name` is the file as the user gave it. */
export const RECIPES = {
  pytorch: (name: string) => `a PyTorch checkpoint (torch.save); Kiln reads ONNX: in Python, model = MyNet(); model.load_state_dict(torch.load("${name}")); model.eval() (or model = torch.load("${name}") if it holds the whole model), then ${PYTORCH_EXPORT}`,
  torchscript: (name: string) => `a TorchScript module (torch.jit.save); Kiln reads ONNX: in Python, model = torch.jit.load("${name}"); model.eval(); then ${PYTORCH_EXPORT}`,
  kerasH5: (name: string) => `a Keras HDF5 model (.h5); convert it with tensorflowjs_converter --input_format keras "${name}" out/ and run kiln compile out/model.json (README: From Keras)`,
  keras3: (name: string) => `a Keras 3 model (.keras zip); convert it with tensorflowjs_converter --input_format keras_keras "${name}" out/ and run kiln compile out/model.json (README: From Keras)`,
  tflite: (name: string) => `a TensorFlow Lite model (TFL3); Kiln reads ONNX and TF.js: convert the model it was made from (Keras: tensorflowjs_converter; PyTorch: torch.onnx.export), or this file with python -m tf2onnx.convert --tflite "${name}" --output model.onnx --opset 13, then kiln compile model.onnx`,
  savedModel: (folder: string) => `a TensorFlow SavedModel; convert it with tensorflowjs_converter --input_format tf_saved_model --output_format tfjs_graph_model "${folder}" out/ and run kiln compile out/model.json (README: From Keras)`,
};

const startsWith = (head: Uint8Array, bytes: readonly number[], at = 0): boolean => bytes.every((b, i) => head[at + i] === b);
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

const HDF5 = [0x89, ...ascii("HDF\r\n"), 0x1a, 0x0a];
const ZIP = ascii("PK\x03\x04"), EMPTY_ZIP = ascii("PK\x05\x06");
const WASM = [0x00, ...ascii("asm")];

function readHead(path: string, size: number): Uint8Array {
  const head = new Uint8Array(Math.min(size, HEAD_BYTES));
  const fd = openSync(path, "r");
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  return head;
}

/** A path as a recipe shows it, inside double quotes: escaped, bounded, without quotes of its own. */
const shownName = (path: string): string => fileText(path, 160).replace(/"/g, "'");

/** The recipe for a folder (a SavedModel, or a TF.js / ONNX model's folder), as the error for passing it. */
function folderProblem(path: string): string {
  if (existsSync(join(path, "saved_model.pb"))) return `${path}: ${RECIPES.savedModel(shownName(path))}`;
  if (existsSync(join(path, "model.json"))) return `${path}: is a folder; pass the model.json inside it`;
  return `${path}: is a folder; pass a model file (an .onnx file or a TF.js model.json)`;
}

/** A protobuf (field 1 varint: ONNX's ir_version, SavedModel's schema version) or a GraphDef (field 1 message). */
function protobufKind(path: string, head: Uint8Array): "onnx" | "saved-model" | undefined {
  if (head[0] !== 0x08 || head.length < 3) return undefined;
  if (basename(path) === "saved_model.pb" || existsSync(join(dirname(path), "variables"))) return "saved-model";
  // ir_version is 1–10 today; the next byte starts another ModelProto field (wire type 0 or 2).
  return head[1] >= 1 && head[1] <= 0x7f && (head[2] & 7) !== 3 && (head[2] & 7) !== 4 ? "onnx" : undefined;
}

/** A zip: a PyTorch checkpoint (…/data.pkl), TorchScript (…/code/, constants.pkl), Keras 3 (config.json at the root)… */
function zipProblem(path: string, size: number): string {
  const names = zipEntryNames(path, size);
  const shown = shownName(path);
  const has = (test: (n: string) => boolean): boolean => names.some(test);
  if (has((n) => /(^|\/)constants\.pkl$/.test(n) || /(^|\/)code\//.test(n))) return `${path}: ${RECIPES.torchscript(shown)}`;
  if (has((n) => /(^|\/)data\.pkl$/.test(n))) return `${path}: ${RECIPES.pytorch(shown)}`;
  if (has((n) => n === "config.json") && has((n) => n.endsWith(".h5") || n === "metadata.json")) return `${path}: ${RECIPES.keras3(shown)}`;
  const model = names.find((n) => /(^|\/)model\.json$|\.onnx$/i.test(n));
  if (model !== undefined) return `${path}: a zip archive holding ${fileText(model)}; unzip it and pass that file to Kiln`;
  return `${path}: a zip archive${names.length ? ` (holding ${fileTextList(names)})` : ""}, not a model Kiln reads; Kiln reads an .onnx file or a TF.js model.json`;
}

/** What a file starting with `head` is; a KilnError (with a recipe where one exists) for anything Kiln does not compile. */
function formatOf(path: string, head: Uint8Array, size: number): ModelFormat {
  const shown = shownName(path);
  const lower = path.toLowerCase();
  let i = startsWith(head, [0xef, 0xbb, 0xbf]) ? 3 : 0; // a UTF-8 byte-order mark before JSON
  while (i < head.length && [0x20, 0x09, 0x0a, 0x0d].includes(head[i])) i++;
  if (head[i] === 0x7b) return "tfjs-json"; // "{"
  const proto = protobufKind(path, head);
  if (proto === "onnx") return "onnx";
  if (proto === "saved-model") throw new KilnError(`${path}: ${RECIPES.savedModel(shownName(dirname(path)))}`);
  if ([0, 512, 1024, 2048].some((at) => startsWith(head, HDF5, at))) throw new KilnError(`${path}: ${RECIPES.kerasH5(shown)}`);
  if (startsWith(head, ascii("TFL3"), 4)) throw new KilnError(`${path}: ${RECIPES.tflite(shown)}`);
  if (startsWith(head, ZIP) || startsWith(head, EMPTY_ZIP)) throw new KilnError(zipProblem(path, size));
  if (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) throw new KilnError(`${path}: ${RECIPES.pytorch(shown)}`); // pickle protocol 2–5
  if (startsWith(head, WASM)) throw new KilnError(`${path}: a compiled WebAssembly blob, not a model; kiln compile takes an .onnx file or a TF.js model.json (run a blob with kiln run or kiln eval)`);
  if (startsWith(head, ascii("version https://git-lfs"))) throw new KilnError(`${path}: a Git LFS pointer, not the model itself; fetch the file with git lfs pull`);
  // Unrecognised bytes: the name decides which reader explains what is wrong (an empty model.json: "not valid JSON").
  if (lower.endsWith(".json")) return "tfjs-json";
  if (lower.endsWith(".onnx")) return "onnx";
  if (size === 0) throw new KilnError(`${path}: the file is empty; pass an .onnx file or a TF.js model.json`);
  const bytes = [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new KilnError(`${path}: not a model format Kiln recognizes (it starts with bytes ${bytes}); Kiln reads an .onnx file or a TF.js model.json, and explains how to convert Keras .h5/.keras, TFLite, PyTorch checkpoints and SavedModel folders`);
}

/** The format of the model at `path`, by its bytes; every other case (missing, folder, device, foreign format) a KilnError. */
export function detectModelFormat(path: string): ModelFormat {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch {
    throw new KilnError(`${path}: file not found`);
  }
  if (stats.isDirectory()) throw new KilnError(folderProblem(path));
  // Checked before opening: a FIFO or a device would block or never end.
  if (!stats.isFile()) throw new KilnError(`${path}: not a regular file; pass an .onnx file or a model.json`);
  return formatOf(path, readHead(path, stats.size), stats.size);
}

/** True when `path` is a regular file that starts like WebAssembly (a compiled blob), false otherwise or if unreadable. */
export function isWasmFile(path: string): boolean {
  try {
    const stats = statSync(path);
    return stats.isFile() && startsWith(readHead(path, Math.min(stats.size, 4)), WASM);
  } catch {
    return false;
  }
}
