/* The blob's layout (sections, memory, the kiln.manifest section) and a bounded reader for the manifest's JSON. */
#ifndef KILN_MANIFEST_H
#define KILN_MANIFEST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Far above LeNet-5 and the MNIST CNN; bounds the profile's RAM. */
#define MANIFEST_MAX_LAYERS 64
#define MANIFEST_MAX_ELEMENTS (1u << 24)
#define MANIFEST_MAX_RANK 8
#define MANIFEST_MAX_STRING 1024
#define MANIFEST_MAX_FUSED 16
#define MANIFEST_MAX_DEPTH 32

enum { DTYPE_INT8 = 0, DTYPE_FLOAT32 = 1 };

/* What the sections of a wasm module say, read without executing anything. */
typedef struct {
  uint32_t imports;
  uint32_t memories;
  bool has_max;
  uint32_t max_pages;
  uint32_t manifests;
  /* The kiln.manifest section: where its header starts, where its content starts and ends. */
  uint32_t section_start, content_start, content_end;
  bool manifest_last;
} wasm_layout;

/* Returns NULL, or a one-line reason the bytes are not a readable wasm module. */
const char *wasm_read_layout(const uint8_t *b, uint32_t len, wasm_layout *out);

typedef struct {
  uint8_t dtype;
  uint32_t elements;
  double scale;     /* int8 only */
  int32_t zero_point;
} tensor_info;

typedef struct {
  char model[65];   /* cut to 64 bytes: what LOAD_DONE carries */
  char target[8];
  char quantize[8];
  bool simd;
  tensor_info input, output;
  double pixel_scale, pixel_offset;
  uint32_t layers;
  /* Offset of the layers array in the manifest text, for reading the layer table again (PROFILE). */
  size_t layers_at;
} manifest_info;

/* Parses and checks the manifest text (JSON) like runtime/manifest-check.ts for the fields the device uses; the whole
   text must be one JSON value. Returns NULL or a one-line reason; `why` (room for why_len) holds longer reasons. */
const char *manifest_parse(const uint8_t *text, size_t n, manifest_info *out, char *why, size_t why_len);

/* Checks the content hash: SHA-256 over the module before the manifest, then the manifest with the hash emptied. */
bool manifest_content_hash_ok(const uint8_t *blob, const wasm_layout *layout);

/* One layer of the manifest's table, for the PROFILE answer: raw JSON string tokens (quotes included), checked at
   COMMIT, so they can be copied into the result as they are. */
typedef struct {
  const char *name; size_t name_len;
  /* The fused list as raw JSON tokens; the profile joins the decoded strings with '+'. */
  const char *fused; size_t fused_len;
  const char *shape; size_t shape_len;  /* the outputShape array as raw JSON text */
  double macs, weight_bytes;
} layer_info;

/* The index-th layer (0-based) of a manifest that manifest_parse accepted; false if not found. */
bool manifest_layer(const uint8_t *text, size_t n, const manifest_info *m, uint32_t index, layer_info *out);

/* Decodes a JSON string token at text[*at] (its opening quote) into out (cut at a character boundary to cap-1 bytes,
   NUL-terminated); advances *at past it. False when the token is not a valid JSON string. */
bool json_string(const char *text, size_t n, size_t *at, char *out, size_t cap, size_t *out_len);

#endif
