// Walks an ONNX protobuf's structure without decoding it, so a hostile file cannot make the decoder allocate without bound.
//
// protobufjs turns every nested message into a JS object (an empty NodeProto costs 2 bytes in the file and ~200 in
// memory) and every packed number into an 8-byte array slot. This walk counts both, and the nesting depth, with no
// allocation and no recursion, before onnx-proto's decoder runs.
import { KilnError } from "../../errors.js";

/** Field occurrences in one model (each becomes at most one JS object, string or array slot when decoded). */
export const MAX_PROTO_FIELDS = 2 ** 21;
/** Numbers in packed repeated fields (float_data, int64_data, dims, ints…): weights belong in raw_data. */
export const MAX_PACKED_VALUES = 2 ** 24;
/** Messages inside messages (model → graph → node → attribute → graph …): real models stay far below. */
export const MAX_PROTO_DEPTH = 64;

/** A message type: which fields hold messages (by their type's name) and which hold packed numbers (bytes per value, 1 for varints). */
interface MessageType { sub?: Record<number, string>; packed?: Record<number, 1 | 4 | 8> }

// From onnx.proto (ONNX 1.10, the schema onnx-proto 8.0.1 decodes): every message-typed field of every message.
const TYPES: Record<string, MessageType> = {
  Model: { sub: { 7: "Graph", 8: "Leaf", 14: "Leaf", 20: "TrainingInfo", 25: "Function" } },
  Graph: { sub: { 1: "Node", 5: "Tensor", 11: "ValueInfo", 12: "ValueInfo", 13: "ValueInfo", 14: "TensorAnnotation", 15: "SparseTensor" } },
  Node: { sub: { 5: "Attribute" } },
  Attribute: { sub: { 5: "Tensor", 6: "Graph", 10: "Tensor", 11: "Graph", 14: "Type", 15: "Type", 22: "SparseTensor", 23: "SparseTensor" }, packed: { 7: 4, 8: 1 } },
  Tensor: { sub: { 3: "Leaf", 13: "Leaf" }, packed: { 1: 1, 4: 4, 5: 1, 7: 1, 10: 8, 11: 1 } },
  SparseTensor: { sub: { 1: "Tensor", 2: "Tensor" }, packed: { 3: 1 } },
  ValueInfo: { sub: { 2: "Type" } },
  Type: { sub: { 1: "TensorType", 4: "SequenceType", 5: "MapType", 8: "TensorType", 9: "SequenceType" } },
  TensorType: { sub: { 2: "Shape" } },
  SequenceType: { sub: { 1: "Type" } },
  MapType: { sub: { 2: "Type" } },
  Shape: { sub: { 1: "Leaf" } },
  TensorAnnotation: { sub: { 2: "Leaf" } },
  TrainingInfo: { sub: { 1: "Graph", 2: "Graph", 3: "Leaf", 4: "Leaf" } },
  Function: { sub: { 7: "Node", 9: "Leaf" } },
  Leaf: {}, // StringStringEntry, OperatorSetId, Segment, Dimension: scalars and strings only
};

class Damaged extends Error {}

interface Frame { type: MessageType; end: number }

/**
 * Checks that the bytes form a well-nested ONNX ModelProto within the counts above; throws a KilnError naming `path`
 * otherwise (truncated, damaged, nested too deeply, or too many fields or values).
 */
export function checkProtoStructure(path: string, bytes: Uint8Array): void {
  let pos = 0, fields = 0, packed = 0;
  const varint = (end: number): number => {
    let value = 0, scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new Damaged("a number runs past the end of its message");
      const b = bytes[pos++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new Damaged("a number is longer than 10 bytes");
  };
  const stack: Frame[] = [{ type: TYPES.Model, end: bytes.length }];
  try {
    while (stack.length > 0) {
      const frame = stack[stack.length - 1];
      if (pos === frame.end) { stack.pop(); continue; }
      const tag = varint(frame.end);
      const field = Math.floor(tag / 8), wire = tag % 8;
      if (++fields > MAX_PROTO_FIELDS) throw new KilnError(`${path}: the model has more than ${MAX_PROTO_FIELDS} protobuf fields; Kiln reads at most that many (far more than any CNN needs)`);
      if (field === 0) throw new Damaged("field number 0");
      if (wire === 0) varint(frame.end);
      else if (wire === 1 || wire === 5) {
        pos += wire === 1 ? 8 : 4;
        if (pos > frame.end) throw new Damaged("a fixed-size value runs past the end of its message");
      } else if (wire === 2) {
        const length = varint(frame.end);
        if (length > frame.end - pos) throw new Damaged(`a field of ${length} bytes runs past the end of its message`);
        const sub = frame.type.sub?.[field];
        const width = frame.type.packed?.[field];
        if (sub !== undefined) {
          if (stack.length >= MAX_PROTO_DEPTH) throw new KilnError(`${path}: not a readable ONNX model: its messages are nested too deeply (more than ${MAX_PROTO_DEPTH} levels)`);
          stack.push({ type: TYPES[sub], end: pos + length });
          continue;
        }
        if (width !== undefined) {
          packed += Math.ceil(length / width);
          if (packed > MAX_PACKED_VALUES) {
            throw new KilnError(`${path}: the model stores more than ${MAX_PACKED_VALUES} numbers in typed protobuf fields; Kiln reads larger tensors from raw_data (as torch.onnx.export and onnx.save write them)`);
          }
        }
        pos += length;
      } else {
        throw new Damaged(`wire type ${wire}, which ONNX never writes`);
      }
    }
  } catch (e) {
    if (e instanceof Damaged) throw new KilnError(`${path}: not a readable ONNX model: it is truncated or damaged (${e.message} at byte ${pos})`);
    throw e;
  }
}
