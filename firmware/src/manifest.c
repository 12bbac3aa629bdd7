/* Reads a blob without running it: wasm sections, memory limits, and the kiln.manifest JSON, every number bounded. */
#include "manifest.h"
#include "messages.h"
#include "sha256.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- wasm sections ---- */

static bool leb_u32(const uint8_t *b, uint32_t end, uint32_t *at, uint32_t *out) {
  uint32_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (*at >= end) return false;
    uint8_t byte = b[(*at)++];
    if (shift == 28 && (byte & 0x70)) return false; /* more than 32 bits */
    v |= (uint32_t)(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

const char *wasm_read_layout(const uint8_t *b, uint32_t len, wasm_layout *out) {
  static const uint8_t MAGIC[8] = { 0, 'a', 's', 'm', 1, 0, 0, 0 };
  memset(out, 0, sizeof *out);
  if (len < 8 || memcmp(b, MAGIC, 8) != 0) return "not a WebAssembly module (no \\0asm version 1 header)";
  uint32_t at = 8;
  while (at < len) {
    uint32_t start = at, size;
    uint8_t id = b[at++];
    if (!leb_u32(b, len, &at, &size) || size > len - at) return "a section runs past the end of the module";
    uint32_t end = at + size;
    out->manifest_last = false;
    if (id == 0) {
      uint32_t name_len;
      if (!leb_u32(b, end, &at, &name_len) || name_len > end - at) return "a custom section's name runs past the section";
      if (name_len == 13 && memcmp(b + at, "kiln.manifest", 13) == 0) {
        out->manifests++;
        out->section_start = start;
        out->content_start = at + name_len;
        out->content_end = end;
        out->manifest_last = true;
      }
    } else if (id == 2) {
      if (!leb_u32(b, end, &at, &out->imports)) return "the import section is truncated";
    } else if (id == 5) {
      uint32_t count, flags, min;
      if (!leb_u32(b, end, &at, &count)) return "the memory section is truncated";
      out->memories += count;
      if (count >= 1) {
        if (!leb_u32(b, end, &at, &flags) || !leb_u32(b, end, &at, &min)) return "the memory section is truncated";
        if (flags > 1) return "the blob's memory is shared or 64-bit; Kiln blobs have one plain memory";
        out->has_max = flags == 1;
        if (out->has_max && !leb_u32(b, end, &at, &out->max_pages)) return "the memory section is truncated";
      }
    }
    at = end;
  }
  return NULL;
}

/* ---- JSON ---- */

typedef struct {
  const char *s;
  size_t n;
  size_t at;
} json;

static void ws(json *j) {
  while (j->at < j->n && (j->s[j->at] == ' ' || j->s[j->at] == '\t' || j->s[j->at] == '\n' || j->s[j->at] == '\r')) j->at++;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool hex4(const char *s, size_t n, size_t at, uint32_t *v) {
  if (at + 4 > n) return false;
  *v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(s[at + i]);
    if (h < 0) return false;
    *v = *v << 4 | (uint32_t)h;
  }
  return true;
}

/* Appends a code point as UTF-8 if the whole character fits (so a cut never splits one). */
static void put_utf8(char *out, size_t cap, size_t *o, bool *full, uint32_t cp) {
  uint8_t b[4];
  size_t k;
  if (cp < 0x80) { b[0] = (uint8_t)cp; k = 1; }
  else if (cp < 0x800) { b[0] = (uint8_t)(0xc0 | cp >> 6); b[1] = (uint8_t)(0x80 | (cp & 0x3f)); k = 2; }
  else if (cp < 0x10000) { b[0] = (uint8_t)(0xe0 | cp >> 12); b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f)); b[2] = (uint8_t)(0x80 | (cp & 0x3f)); k = 3; }
  else { b[0] = (uint8_t)(0xf0 | cp >> 18); b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f)); b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f)); b[3] = (uint8_t)(0x80 | (cp & 0x3f)); k = 4; }
  if (*full || cap == 0 || *o + k > cap - 1) { *full = true; return; }
  memcpy(out + *o, b, k);
  *o += k;
}

bool json_string(const char *s, size_t n, size_t *at_io, char *out, size_t cap, size_t *out_len) {
  size_t at = *at_io, o = 0;
  bool full = false;
  size_t chars = 0;
  if (at >= n || s[at] != '"') return false;
  at++;
  /* The raw text is valid UTF-8 (checked once for the whole manifest); copy its characters byte by byte. */
  while (at < n && s[at] != '"') {
    unsigned char c = (unsigned char)s[at];
    if (c < 0x20) return false;
    if (++chars > MANIFEST_MAX_STRING * 2) return false; /* bounded whatever the caller keeps */
    if (c != '\\') {
      size_t k = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
      if (at + k > n) return false;
      if (!full && out && o + k <= cap - 1) { memcpy(out + o, s + at, k); o += k; } else full = true;
      at += k;
      continue;
    }
    if (at + 1 >= n) return false;
    char e = s[at + 1];
    uint32_t cp;
    at += 2;
    switch (e) {
      case '"': cp = '"'; break;
      case '\\': cp = '\\'; break;
      case '/': cp = '/'; break;
      case 'b': cp = 8; break;
      case 'f': cp = 12; break;
      case 'n': cp = 10; break;
      case 'r': cp = 13; break;
      case 't': cp = 9; break;
      case 'u': {
        if (!hex4(s, n, at, &cp)) return false;
        at += 4;
        if (cp >= 0xd800 && cp < 0xdc00) {
          uint32_t lo;
          if (at + 6 <= n && s[at] == '\\' && s[at + 1] == 'u' && hex4(s, n, at + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            at += 6;
          } else {
            cp = 0xfffd; /* a lone surrogate decodes to U+FFFD, as TextEncoder would send it */
          }
        } else if (cp >= 0xdc00 && cp < 0xe000) {
          cp = 0xfffd;
        }
        break;
      }
      default: return false;
    }
    if (out) put_utf8(out, cap, &o, &full, cp);
  }
  if (at >= n) return false;
  if (out && cap > 0) out[o] = 0;
  if (out_len) *out_len = o;
  *at_io = at + 1;
  return true;
}

static bool number_token(json *j, double *v) {
  size_t start = j->at, i = j->at;
  const char *s = j->s;
  if (i < j->n && s[i] == '-') i++;
  if (i >= j->n) return false;
  if (s[i] == '0') i++;
  else if (s[i] >= '1' && s[i] <= '9') while (i < j->n && s[i] >= '0' && s[i] <= '9') i++;
  else return false;
  if (i < j->n && s[i] == '.') {
    i++;
    if (i >= j->n || s[i] < '0' || s[i] > '9') return false;
    while (i < j->n && s[i] >= '0' && s[i] <= '9') i++;
  }
  if (i < j->n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < j->n && (s[i] == '+' || s[i] == '-')) i++;
    if (i >= j->n || s[i] < '0' || s[i] > '9') return false;
    while (i < j->n && s[i] >= '0' && s[i] <= '9') i++;
  }
  j->at = i;
  if (v) {
    /* strtod rounds correctly (as JSON.parse does), so pixel scales map pixels bit for bit like the host. */
    char buf[48];
    size_t len = i - start;
    if (len >= sizeof buf) {
      *v = NAN; /* absurdly long numbers are not what a compiler writes: refused by every bound below */
      return true;
    }
    memcpy(buf, s + start, len);
    buf[len] = 0;
    *v = strtod(buf, NULL);
  }
  return true;
}

static bool skip_value(json *j, int depth) {
  ws(j);
  if (j->at >= j->n || depth > MANIFEST_MAX_DEPTH) return false;
  char c = j->s[j->at];
  if (c == '"') return json_string(j->s, j->n, &j->at, NULL, 0, NULL);
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    j->at++;
    ws(j);
    if (j->at < j->n && j->s[j->at] == close) { j->at++; return true; }
    for (;;) {
      if (c == '{') {
        ws(j);
        if (!json_string(j->s, j->n, &j->at, NULL, 0, NULL)) return false;
        ws(j);
        if (j->at >= j->n || j->s[j->at] != ':') return false;
        j->at++;
      }
      if (!skip_value(j, depth + 1)) return false;
      ws(j);
      if (j->at >= j->n) return false;
      if (j->s[j->at] == ',') { j->at++; continue; }
      if (j->s[j->at] == close) { j->at++; return true; }
      return false;
    }
  }
  static const char *const WORDS[3] = { "true", "false", "null" };
  for (int w = 0; w < 3; w++) {
    size_t k = strlen(WORDS[w]);
    if (j->n - j->at >= k && memcmp(j->s + j->at, WORDS[w], k) == 0) { j->at += k; return true; }
  }
  return number_token(j, NULL);
}

/* Finds `key` among the members of the object at `obj` (already validated); the last one wins, as in JSON.parse.
   Returns the offset of its value, or 0 when absent (0 is never a value's offset inside an object). */
static size_t member(const char *s, size_t n, size_t obj, const char *key) {
  json j = { s, n, obj };
  ws(&j);
  if (j.at >= n || s[j.at] != '{') return 0;
  j.at++;
  size_t found = 0, klen = strlen(key);
  ws(&j);
  if (j.at < n && s[j.at] == '}') return 0;
  for (;;) {
    ws(&j);
    size_t kstart = j.at;
    if (!json_string(s, n, &j.at, NULL, 0, NULL)) return 0;
    bool match = j.at - kstart == klen + 2 && memcmp(s + kstart + 1, key, klen) == 0;
    ws(&j);
    if (j.at >= n || s[j.at] != ':') return 0;
    j.at++;
    ws(&j);
    if (match) found = j.at;
    if (!skip_value(&j, 1)) return 0;
    ws(&j);
    if (j.at < n && s[j.at] == ',') { j.at++; continue; }
    return found;
  }
}

static bool is_string_eq(const char *s, size_t n, size_t at, const char *want) {
  char buf[16];
  size_t len;
  if (!at || !json_string(s, n, &at, buf, sizeof buf, &len)) return false;
  return len == strlen(want) && memcmp(buf, want, len) == 0;
}

static bool bounded_string(const char *s, size_t n, size_t at, char *out, size_t cap) {
  if (!at || at >= n || s[at] != '"') return false;
  size_t len;
  return json_string(s, n, &at, out, cap, &len);
}

static bool number_at(const char *s, size_t n, size_t at, double *v) {
  if (!at) return false;
  json j = { s, n, at };
  return number_token(&j, v) && isfinite(*v);
}

/* A whole number ≥ 0 up to 2^53 (Number.isSafeInteger). */
static bool count_at(const char *s, size_t n, size_t at, double *v) {
  return number_at(s, n, at, v) && *v >= 0 && *v <= 9007199254740991.0 && floor(*v) == *v;
}

/* A shape: 1…8 positive whole dimensions, at most 16 Mi elements. */
static bool shape_at(const char *s, size_t n, size_t at, uint32_t *elements) {
  if (!at || s[at] != '[') return false;
  json j = { s, n, at + 1 };
  double total = 1;
  int rank = 0;
  for (;;) {
    ws(&j);
    double d;
    if (!number_token(&j, &d) || !isfinite(d) || d < 1 || floor(d) != d || d > MANIFEST_MAX_ELEMENTS) return false;
    total *= d;
    if (total > MANIFEST_MAX_ELEMENTS || ++rank > MANIFEST_MAX_RANK) return false;
    ws(&j);
    if (j.at < n && s[j.at] == ',') { j.at++; continue; }
    if (j.at < n && s[j.at] == ']') break;
    return false;
  }
  *elements = (uint32_t)total;
  return true;
}

static const char *tensor(const char *s, size_t n, size_t at, bool int8, tensor_info *t, const char *which) {
  if (!at || s[at] != '{') return which[0] == 'i' ? "input must be an object" : "output must be an object";
  size_t dt = member(s, n, at, "dtype");
  /* An int8 blob whose last layer is kept in float (--keep-float) has a float32 output; its input is always int8. */
  if (int8 && which[0] == 'o' && is_string_eq(s, n, dt, "float32")) int8 = false;
  else if (!is_string_eq(s, n, dt, int8 ? "int8" : "float32")) return which[0] == 'i' ? "input.dtype does not match quantize" : "output.dtype does not match quantize";
  t->dtype = int8 ? DTYPE_INT8 : DTYPE_FLOAT32;
  char name[8];
  size_t nm = member(s, n, at, "name");
  if (!nm || s[nm] != '"' || !json_string(s, n, &nm, name, sizeof name, NULL)) return "a tensor's name must be a string";
  if (!shape_at(s, n, member(s, n, at, "shape"), &t->elements)) return which[0] == 'i' ? "input.shape must be 1…8 positive dimensions, at most 16 Mi elements" : "output.shape must be 1…8 positive dimensions, at most 16 Mi elements";
  t->scale = 1;
  t->zero_point = 0;
  if (int8) {
    double zp;
    if (!number_at(s, n, member(s, n, at, "scale"), &t->scale) || !(t->scale > 0)) return "an int8 tensor's scale must be a positive finite number";
    if (!number_at(s, n, member(s, n, at, "zeroPoint"), &zp) || floor(zp) != zp || zp < -128 || zp > 127) return "an int8 tensor's zeroPoint must be a whole number in -128…127";
    t->zero_point = (int32_t)zp;
  }
  return NULL;
}

/* Checks one layer object and fills what the profile needs. */
static bool layer_at(const char *s, size_t n, size_t at, layer_info *l) {
  if (!at || s[at] != '{') return false;
  size_t name = member(s, n, at, "name"), op = member(s, n, at, "op"), fused = member(s, n, at, "fused");
  size_t shape = member(s, n, at, "outputShape");
  uint32_t elements;
  if (!name || s[name] != '"' || !op || s[op] != '"' || !fused || s[fused] != '[' || !shape_at(s, n, shape, &elements)) return false;
  size_t end = name;
  if (!json_string(s, n, &end, NULL, 0, NULL)) return false;
  l->name = s + name;
  l->name_len = end - name;
  if (l->name_len > MANIFEST_MAX_STRING + 2) return false;
  json j = { s, n, fused };
  if (!skip_value(&j, 1)) return false;
  l->fused = s + fused;
  l->fused_len = j.at - fused;
  /* fused: at most 16 strings */
  json f = { s, n, fused + 1 };
  int count = 0;
  ws(&f);
  if (f.at < n && s[f.at] != ']') {
    for (;;) {
      ws(&f);
      if (f.at >= n || s[f.at] != '"' || !json_string(s, n, &f.at, NULL, 0, NULL) || ++count > MANIFEST_MAX_FUSED) return false;
      ws(&f);
      if (f.at < n && s[f.at] == ',') { f.at++; continue; }
      break;
    }
  }
  json sh = { s, n, shape };
  if (!skip_value(&sh, 1)) return false;
  l->shape = s + shape;
  l->shape_len = sh.at - shape;
  return count_at(s, n, member(s, n, at, "macs"), &l->macs) && count_at(s, n, member(s, n, at, "weightBytes"), &l->weight_bytes);
}

const char *manifest_parse(const uint8_t *text, size_t n, manifest_info *m, char *why, size_t why_len) {
  const char *s = (const char *)text;
  memset(m, 0, sizeof *m);
  if (!utf8_valid(text, n)) return "kiln.manifest is not valid UTF-8";
  json j = { s, n, 0 };
  if (!skip_value(&j, 0)) return "kiln.manifest is not valid JSON (or nested too deeply)";
  ws(&j);
  if (j.at != n) return "kiln.manifest has bytes after its JSON value";
  size_t root = 0;
  while (root < n && s[root] != '{') {
    if (s[root] != ' ' && s[root] != '\t' && s[root] != '\n' && s[root] != '\r') return "kiln.manifest is not a JSON object";
    root++;
  }
  double version;
  if (!is_string_eq(s, n, member(s, n, root, "format"), "kiln.manifest") || !number_at(s, n, member(s, n, root, "version"), &version) || version != 2) {
    return "unsupported manifest (this runtime reads kiln.manifest version 2)";
  }
  if (!bounded_string(s, n, member(s, n, root, "model"), m->model, sizeof m->model)) return "model must be a string";
  if (!bounded_string(s, n, member(s, n, root, "quantize"), m->quantize, sizeof m->quantize) || (strcmp(m->quantize, "none") && strcmp(m->quantize, "int8"))) return "quantize must be \"none\" or \"int8\"";
  if (!bounded_string(s, n, member(s, n, root, "target"), m->target, sizeof m->target) || (strcmp(m->target, "simd") && strcmp(m->target, "scalar"))) return "target must be \"simd\" or \"scalar\"";
  size_t simd = member(s, n, root, "simd");
  bool simd_true = simd && n - simd >= 4 && memcmp(s + simd, "true", 4) == 0, simd_false = simd && n - simd >= 5 && memcmp(s + simd, "false", 5) == 0;
  if (!simd_true && !simd_false) return "simd must be true or false";
  m->simd = simd_true;
  if (m->simd != (strcmp(m->target, "simd") == 0)) return "simd does not match the target";
  bool int8 = strcmp(m->quantize, "int8") == 0;
  size_t in = member(s, n, root, "input");
  const char *e = tensor(s, n, in, int8, &m->input, "input");
  if (e) return e;
  if (!number_at(s, n, member(s, n, in, "pixelScale"), &m->pixel_scale) || !number_at(s, n, member(s, n, in, "pixelOffset"), &m->pixel_offset)) {
    return "input.pixelScale and input.pixelOffset must be finite numbers";
  }
  e = tensor(s, n, member(s, n, root, "output"), int8, &m->output, "output");
  if (e) return e;
  size_t hash = member(s, n, root, "contentHash");
  if (!hash || s[hash] != '"') return "contentHash must be a string";
  size_t layers = member(s, n, root, "layers");
  if (!layers || s[layers] != '[') return "layers must be a list";
  m->layers_at = layers;
  json l = { s, n, layers + 1 };
  ws(&l);
  if (l.at < n && s[l.at] != ']') {
    for (;;) {
      ws(&l);
      layer_info info;
      if (m->layers >= MANIFEST_MAX_LAYERS) return "the manifest lists more layers than this device profiles (64)";
      if (!layer_at(s, n, l.at, &info)) {
        if (why && why_len) {
          /* the index is the one useful detail: "layers[12] is malformed" */
          const char *head = "a layer is malformed: layers[";
          size_t k = strlen(head);
          if (k + 12 < why_len) {
            memcpy(why, head, k);
            uint32_t v = m->layers, d = 1;
            while (v / d >= 10) d *= 10;
            for (; d; d /= 10) why[k++] = (char)('0' + (v / d) % 10);
            why[k++] = ']';
            why[k] = 0;
            return why;
          }
        }
        return "a layer is malformed";
      }
      m->layers++;
      if (!skip_value(&l, 1)) return "layers is malformed";
      ws(&l);
      if (l.at < n && s[l.at] == ',') { l.at++; continue; }
      break;
    }
  }
  return NULL;
}

bool manifest_layer(const uint8_t *text, size_t n, const manifest_info *m, uint32_t index, layer_info *out) {
  const char *s = (const char *)text;
  if (index >= m->layers || m->layers_at >= n) return false;
  json l = { s, n, m->layers_at + 1 };
  for (uint32_t i = 0; i < index; i++) {
    if (!skip_value(&l, 1)) return false;
    ws(&l);
    if (l.at >= n || s[l.at] != ',') return false;
    l.at++;
  }
  ws(&l);
  return layer_at(s, n, l.at, out);
}

bool manifest_content_hash_ok(const uint8_t *blob, const wasm_layout *layout) {
  static const char PREFIX[] = "{\"contentHash\":\"sha256:";
  const size_t P = sizeof PREFIX - 1, KEEP = 16; /* {"contentHash":" stays, sha256:<64 hex> is emptied */
  const uint8_t *text = blob + layout->content_start;
  size_t n = layout->content_end - layout->content_start;
  if (n < P + 65 || memcmp(text, PREFIX, P) != 0 || text[P + 64] != '"') return false;
  uint8_t want[32];
  for (int i = 0; i < 32; i++) {
    int hi = hexval((char)text[P + 2 * i]), lo = hexval((char)text[P + 2 * i + 1]);
    if (hi < 0 || lo < 0 || (text[P + 2 * i] >= 'A' && text[P + 2 * i] <= 'F') || (text[P + 2 * i + 1] >= 'A' && text[P + 2 * i + 1] <= 'F')) return false;
    want[i] = (uint8_t)(hi << 4 | lo);
  }
  sha256_ctx c;
  uint8_t got[32];
  sha256_init(&c);
  sha256_update(&c, blob, layout->section_start);
  sha256_update(&c, text, KEEP);
  sha256_update(&c, text + P + 64, n - P - 64);
  sha256_final(&c, got);
  return memcmp(got, want, 32) == 0;
}
