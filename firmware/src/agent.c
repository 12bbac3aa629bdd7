/* The agent: frames in, one request at a time, replies out (cached, paged), every host-supplied number bounded. */
#include "agent.h"
#include "board.h"
#include "frame.h"
#include "kiln_runtime.h"
#include "manifest.h"
#include "messages.h"
#include "store.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_ENTRIES 8
#define WIRE_MAX FRAME_WIRE_MAX(DEVICE_MAX_FRAME)
/* The replies of the last 8 requests, encoded, in a pool that always holds at least the last two whatever their
   size (small replies, the usual case, all 8). */
#define CACHE_POOL (2 * WIRE_MAX)
#define NAK_INTERVAL_MS 10u
/* PROFILE: samples of every layer and the whole run, then (re-using the same RAM) the JSON result. */
#define PROFILE_SCRATCH 16384u
#define BODY_MAX (DEVICE_MAX_FRAME - FRAME_OVERHEAD)

typedef struct {
  bool valid;
  uint16_t seq;
  uint32_t crc;
  uint32_t at, len;
} cache_entry;

typedef struct {
  bool valid;
  uint16_t seq;
  const uint8_t *data;
  uint32_t len;
} long_reply;

static struct {
  frame_decoder rx;
  uint8_t tx[DEVICE_MAX_FRAME];
  uint8_t pool[CACHE_POOL];
  uint32_t pool_next;
  cache_entry cache[CACHE_ENTRIES];
  unsigned cache_head;
  long_reply long_;
  bool authorized;
  uint32_t send_limit;
  bool naked;
  uint32_t last_nak;
  model_store store;
  union {
    uint32_t samples[PROFILE_SCRATCH / 4];
    char json[PROFILE_SCRATCH];
  } scratch;
} A;

/* ---------- replies ---------- */

static void cache_clear(void) {
  memset(A.cache, 0, sizeof A.cache);
  A.pool_next = 0;
}

/* Encodes the reply whose body sits in A.tx, sends it and keeps it for retransmissions of the same request. */
static void send_cached(uint16_t seq, uint32_t crc, uint8_t type, size_t body_len) {
  uint32_t need = (uint32_t)FRAME_WIRE_MAX(FRAME_OVERHEAD + body_len);
  uint32_t at = A.pool_next + need <= CACHE_POOL ? A.pool_next : 0;
  for (unsigned i = 0; i < CACHE_ENTRIES; i++) {
    cache_entry *e = &A.cache[i];
    if (e->valid && e->at < at + need && at < e->at + e->len) e->valid = false;
  }
  uint32_t len = (uint32_t)frame_encode(A.tx, type, seq, body_len, A.pool + at);
  A.pool_next = at + len;
  cache_entry *e = &A.cache[A.cache_head];
  A.cache_head = (A.cache_head + 1) % CACHE_ENTRIES;
  *e = (cache_entry){ true, seq, crc, at, len };
  board_uart_write(A.pool + at, len);
}

static void send_nak_bad_frame(void) {
  uint8_t frame_buf[FRAME_OVERHEAD + 5], wire[FRAME_WIRE_MAX(FRAME_OVERHEAD + 5)];
  frame_buf[FRAME_HEADER] = NAK_BAD_FRAME;
  put_u32le(frame_buf + FRAME_HEADER + 1, 0);
  size_t n = frame_encode(frame_buf, MSG_NAK, 0, 5, wire);
  board_uart_write(wire, n);
}

static uint8_t error_reply(body_writer *w, uint8_t code, uint32_t detail, const char *message) {
  w_init(w, A.tx + FRAME_HEADER, BODY_MAX);
  w_u8(w, code);
  w_u32(w, detail);
  w_str(w, message, strlen(message), STR_MAX_ERROR);
  return MSG_ERROR;
}

static uint8_t store_error(body_writer *w, const store_result *r) { return error_reply(w, r->code, r->detail, r->message); }

/* A call into the blob failed: the runtime's run-limit stop is TIMEOUT, anything else (a trap) INTERNAL. Either way
   the instance is discarded (its memory may be half-written) and the next request gets a fresh one; the model stays
   committed. */
static uint8_t run_failed(body_writer *w, const char *err) {
  store_drop_instance(&A.store);
  if (strncmp(err, "stopped:", 8) == 0) return error_reply(w, ERR_TIMEOUT, KILN_RUN_LIMIT_MS, err);
  return error_reply(w, ERR_INTERNAL, 0, err);
}

/* Writes a decimal number into buf; returns its length. */
static size_t fmt_u64(char *buf, uint64_t v) {
  char tmp[24];
  size_t n = 0;
  do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  return n;
}

static void append(char *buf, size_t cap, size_t *n, const char *s) {
  while (*s && *n + 1 < cap) buf[(*n)++] = *s++;
}

/* "a X b Y c" messages without printf's code size; cut to the buffer (MSG_BUF bytes). */
#define MSG_BUF 128
static const char *msg2(char *buf, const char *a, uint64_t x, const char *b, uint64_t y, const char *c) {
  size_t n = 0;
  char num[24];
  append(buf, MSG_BUF, &n, a);
  num[fmt_u64(num, x)] = 0;
  append(buf, MSG_BUF, &n, num);
  append(buf, MSG_BUF, &n, b);
  if (c) {
    num[fmt_u64(num, y)] = 0;
    append(buf, MSG_BUF, &n, num);
    append(buf, MSG_BUF, &n, c);
  }
  buf[n] = 0;
  return buf;
}

static double us_since(uint64_t c0) {
  return (double)(board_cycles() - c0) * 1e6 / (double)board_clock_hz();
}

/* ---------- the model's input and output ---------- */

static uint32_t dtype_size(uint8_t dtype) { return dtype == DTYPE_FLOAT32 ? 4u : 1u; }

/* Math.round: the nearest integer, halves toward +∞. */
static double js_round(double v) {
  double r = floor(v);
  return v - r >= 0.5 ? r + 1 : r;
}

static int8_t quantize(double v, const tensor_info *t) {
  double q = js_round(v / t->scale) + t->zero_point;
  return (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
}

static float f32_from_le(const uint8_t *p) {
  uint32_t bits = get_u32le(p);
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* Model.setInput exactly: uint8 pixels mapped with the pixel scale and offset (int8 models quantize them), or
   float32 values in model units. `in` holds elements values (pixels) or 4 × elements bytes (floats). */
static void set_input(kiln_instance *inst, const manifest_info *m, const uint8_t *in, bool floats) {
  uint32_t n = m->input.elements;
  uint8_t *dst = kiln_runtime_region(inst, 0, n * dtype_size(m->input.dtype));
  if (!dst) return; /* checked at COMMIT: never happens */
  if (m->input.dtype == DTYPE_FLOAT32) {
    for (uint32_t i = 0; i < n; i++) {
      float v;
      if (floats) v = f32_from_le(in + 4 * i);
      else {
        double x = (double)in[i] * m->pixel_scale;
        x += m->pixel_offset;
        v = (float)x;
      }
      uint32_t bits;
      memcpy(&bits, &v, 4);
      put_u32le(dst + 4 * i, bits);
    }
    return;
  }
  if (floats) {
    for (uint32_t i = 0; i < n; i++) dst[i] = (uint8_t)quantize((double)f32_from_le(in + 4 * i), &m->input);
    return;
  }
  /* A pixel has 256 values: quantize each once. */
  int8_t table[256];
  for (int p = 0; p < 256; p++) {
    double x = (double)p * m->pixel_scale;
    x += m->pixel_offset;
    table[p] = quantize(x, &m->input);
  }
  for (uint32_t i = 0; i < n; i++) dst[i] = (uint8_t)table[in[i]];
}

/* Index of the highest output, the first one on ties (Model.predict). */
static uint32_t argmax(const uint8_t *out, const manifest_info *m) {
  uint32_t best = 0;
  if (m->output.dtype == DTYPE_FLOAT32) {
    for (uint32_t i = 1; i < m->output.elements; i++) if (f32_from_le(out + 4 * i) > f32_from_le(out + 4 * best)) best = i;
  } else {
    for (uint32_t i = 1; i < m->output.elements; i++) if ((int8_t)out[i] > (int8_t)out[best]) best = i;
  }
  return best;
}

/* ---------- requests ---------- */

static uint32_t page_limit(uint32_t header) { return A.send_limit - FRAME_OVERHEAD - header; }

static uint8_t long_first_page(body_writer *w, uint8_t type, uint16_t seq, const uint8_t *data, uint32_t len) {
  A.long_ = (long_reply){ true, seq, data, len };
  uint32_t n = len < page_limit(4) ? len : page_limit(4);
  w_u32(w, len);
  w_bytes(w, data, n);
  return type;
}

static uint8_t hello_ok(body_writer *w) {
  const active_model *a = &A.store.active;
  bool has = a->slot >= 0;
  static const uint8_t ZERO[32];
  const char *device = board_name();
  w_u32(w, DEVICE_MAX_FRAME);
  w_u32(w, board_memory_limit());
  w_u32(w, board_slot_size());
  w_u8(w, has ? 2 : 0); /* bit 0 SIMD: WAMR's interpreter here has none */
  w_bytes(w, has ? a->id : ZERO, 32);
  w_u32(w, has ? a->size : 0);
  w_str(w, device, strlen(device), STR_MAX_DEVICE);
  w_str(w, KILN_RUNTIME_NAME, strlen(KILN_RUNTIME_NAME), STR_MAX_RUNTIME);
  w_str(w, has ? a->info.model : "", has ? strlen(a->info.model) : 0, STR_MAX_MODEL);
  w_u32(w, KILN_RUN_LIMIT_MS);
  return MSG_HELLO_OK;
}

#ifdef KILN_TOKEN
static bool token_matches(const uint8_t *t, size_t n) {
  static const char want[] = KILN_TOKEN;
  size_t m = sizeof want - 1;
  uint8_t diff = (uint8_t)(n != m);
  /* Constant time in the token's content: every byte of the longer one is looked at. */
  for (size_t i = 0; i < (n > m ? n : m); i++) diff |= (uint8_t)((i < n ? t[i] : 0) ^ (i < m ? (uint8_t)want[i] : 0));
  return diff == 0;
}
#endif

static uint8_t handle_hello(body_writer *w, body_reader *r, bool authorized_before) {
  uint32_t max_frame = r_u32(r);
  size_t token_len, client_len;
  const uint8_t *token = r_str(r, &token_len);
  r_str(r, &client_len);
  if (!r_done(r)) {
    if (!authorized_before) return error_reply(w, ERR_UNAUTHORIZED, 0, "malformed HELLO");
    return error_reply(w, ERR_BAD_REQUEST, 0, "HELLO: malformed body");
  }
#ifdef KILN_TOKEN
  if (!token_matches(token, token_len)) {
    A.authorized = false; /* serial: the line stays open, unauthorized */
    return error_reply(w, ERR_UNAUTHORIZED, 0, "wrong token");
  }
#else
  (void)token;
#endif
  A.authorized = true;
  cache_clear();
  A.long_.valid = false;
  uint32_t limit = max_frame < DEVICE_MAX_FRAME ? max_frame : DEVICE_MAX_FRAME;
  A.send_limit = limit < DEFAULT_MAX_FRAME ? DEFAULT_MAX_FRAME : limit;
  w_init(w, A.tx + FRAME_HEADER, BODY_MAX);
  return hello_ok(w);
}

static const manifest_info *model_or_error(body_writer *w, kiln_instance **inst, uint8_t *type) {
  store_result r;
  *inst = store_instance(&A.store, &r);
  if (!*inst) {
    *type = store_error(w, &r);
    return NULL;
  }
  return &A.store.active.info;
}

static uint8_t handle_info(body_writer *w, body_reader *r, uint16_t seq) {
  uint32_t what = r_u8(r);
  if (!r_done(r)) return error_reply(w, ERR_BAD_REQUEST, 0, "INFO: malformed body");
  const active_model *a = &A.store.active;
  if (a->slot < 0) return error_reply(w, ERR_NO_MODEL, 0, "no model committed yet (kiln deploy one)");
  char buf[MSG_BUF];
  if (what == INFO_BLOB) return long_first_page(w, MSG_INFO_OK, seq, board_slot(a->slot), a->size);
  if (what == INFO_MANIFEST) return long_first_page(w, MSG_INFO_OK, seq, a->manifest, a->manifest_len);
  return error_reply(w, ERR_BAD_REQUEST, 0, msg2(buf, "INFO ", what, ": unknown selector", 0, NULL));
}

static uint8_t handle_more(body_writer *w, body_reader *r) {
  uint32_t of = r_u16(r), offset = r_u32(r);
  char buf[MSG_BUF];
  if (!r_done(r)) return error_reply(w, ERR_BAD_REQUEST, 0, "MORE: malformed body");
  if (!A.long_.valid || A.long_.seq != of) return error_reply(w, ERR_NO_RESULT, 0, msg2(buf, "no long reply for request ", of, " (ask again)", 0, NULL));
  if (offset >= A.long_.len) return error_reply(w, ERR_BAD_REQUEST, 0, msg2(buf, "MORE at ", offset, " of ", A.long_.len, " bytes"));
  uint32_t n = A.long_.len - offset;
  if (n > page_limit(8)) n = page_limit(8);
  w_u32(w, A.long_.len);
  w_u32(w, offset);
  w_bytes(w, A.long_.data + offset, n);
  return MSG_MORE_OK;
}

static uint8_t handle_begin(body_writer *w, body_reader *r) {
  uint32_t size = r_u32(r);
  const uint8_t *sha = r_bytes(r, 32);
  uint32_t crc = r_u32(r);
  size_t name_len;
  r_str(r, &name_len);
  if (!r_done(r)) return error_reply(w, ERR_BAD_REQUEST, 0, "LOAD_BEGIN: malformed body");
  uint32_t offset;
  store_result s = store_begin(&A.store, size, sha, crc, &offset);
  if (s.code) return store_error(w, &s);
  w_u32(w, offset);
  return MSG_LOAD_READY;
}

static uint8_t handle_chunk(body_writer *w, body_reader *r) {
  uint32_t offset = r_u32(r);
  if (r->bad) return error_reply(w, ERR_BAD_REQUEST, 0, "LOAD_CHUNK: malformed body");
  size_t n = r_remaining(r);
  const uint8_t *data = r_bytes(r, n);
  uint32_t next;
  bool beyond;
  store_result s = store_write(&A.store, offset, data, (uint32_t)n, &next, &beyond);
  if (s.code) return store_error(w, &s);
  if (beyond) {
    w_u8(w, NAK_OUT_OF_ORDER);
    w_u32(w, next);
    return MSG_NAK;
  }
  w_u32(w, next);
  return MSG_LOAD_ACK;
}

static uint8_t handle_commit(body_writer *w, body_reader *r) {
  const uint8_t *sha = r_bytes(r, 32);
  if (!r_done(r)) return error_reply(w, ERR_BAD_REQUEST, 0, "LOAD_COMMIT: malformed body");
  uint64_t c0 = board_cycles();
  store_result s = store_commit(&A.store, sha);
  if (s.code) return store_error(w, &s);
  /* The pages of an earlier INFO may point into the slot the next upload overwrites. */
  A.long_.valid = false;
  const active_model *a = &A.store.active;
  w_bytes(w, a->id, 32);
  w_u32(w, a->size);
  w_str(w, a->info.model, strlen(a->info.model), STR_MAX_NAME);
  w_f64(w, us_since(c0));
  return MSG_LOAD_DONE;
}

static uint8_t handle_run(body_writer *w, body_reader *r) {
  bool floats = r_u8(r) == 1;
  if (r->bad) return error_reply(w, ERR_BAD_REQUEST, 0, "RUN: malformed body");
  kiln_instance *inst;
  uint8_t type;
  const manifest_info *m = model_or_error(w, &inst, &type);
  if (!m) return type;
  size_t n = r_remaining(r);
  uint32_t expected = m->input.elements * (floats ? 4u : 1u);
  char buf[MSG_BUF];
  if (n != expected) return error_reply(w, ERR_BAD_INPUT, expected, msg2(buf, "input of ", n, " bytes; the model takes ", expected, ""));
  uint32_t out_bytes = m->output.elements * dtype_size(m->output.dtype);
  if (FRAME_OVERHEAD + 11 + out_bytes > A.send_limit) {
    return error_reply(w, ERR_TOO_LARGE, FRAME_OVERHEAD + 11 + out_bytes, msg2(buf, "the answer needs a ", FRAME_OVERHEAD + 11 + out_bytes, "-byte frame; this session allows ", A.send_limit, " (say HELLO with a larger frame)"));
  }
  set_input(inst, m, r_bytes(r, n), floats);
  char err[120];
  uint64_t c0 = board_cycles();
  if (kiln_runtime_run(inst, err, sizeof err) != 0) return run_failed(w, err);
  double us = us_since(c0);
  const uint8_t *out = kiln_runtime_region(inst, 1, out_bytes);
  w_f64(w, us);
  w_u16(w, argmax(out, m));
  w_u8(w, m->output.dtype);
  w_bytes(w, out, out_bytes);
  return MSG_RUN_OK;
}

static uint8_t handle_eval(body_writer *w, body_reader *r) {
  bool outputs = (r_u8(r) & 1) == 1;
  uint32_t count = r_u16(r);
  if (r->bad) return error_reply(w, ERR_BAD_REQUEST, 0, "EVAL: malformed body");
  size_t rest = r_remaining(r);
  char buf[MSG_BUF];
  if (rest < count) return error_reply(w, ERR_BAD_REQUEST, 0, msg2(buf, "EVAL: ", count, " labels announced, ", rest, " bytes sent"));
  kiln_instance *inst;
  uint8_t type;
  const manifest_info *m = model_or_error(w, &inst, &type);
  if (!m) return type;
  uint32_t size = m->input.elements;
  const uint8_t *inputs = r_bytes(r, rest - count), *labels = r_bytes(r, count);
  if ((uint64_t)(rest - count) != (uint64_t)count * size) return error_reply(w, ERR_BAD_INPUT, size, msg2(buf, "EVAL: ", rest - count, " input bytes for images of ", size, " bytes"));
  uint32_t out_bytes = m->output.elements * dtype_size(m->output.dtype);
  uint64_t need = FRAME_OVERHEAD + 12 + 2ull * count + (outputs ? (uint64_t)count * out_bytes : 0);
  if (need > A.send_limit) {
    uint32_t d = need > 0xffffffffu ? 0xffffffffu : (uint32_t)need;
    return error_reply(w, ERR_TOO_LARGE, d, msg2(buf, "the answer needs a ", d, "-byte frame; this session allows ", A.send_limit, " (say HELLO with a larger frame)"));
  }
  /* Predictions and outputs go straight into the reply; the counts are patched in at the end. */
  w_u16(w, count);
  w_u16(w, 0);
  w_f64(w, 0);
  uint8_t *preds = A.tx + FRAME_HEADER + 12, *outs = preds + 2 * count;
  uint32_t correct = 0;
  double us = 0;
  char err[120];
  const uint8_t *out = kiln_runtime_region(inst, 1, out_bytes);
  for (uint32_t i = 0; i < count; i++) {
    set_input(inst, m, inputs + (size_t)i * size, false);
    uint64_t c0 = board_cycles();
    if (kiln_runtime_run(inst, err, sizeof err) != 0) return run_failed(w, err);
    us += us_since(c0);
    uint32_t index = argmax(out, m);
    put_u16le(preds + 2 * i, index);
    if (index == labels[i]) correct++;
    if (outputs) memcpy(outs + (size_t)i * out_bytes, out, out_bytes);
  }
  w->len = (size_t)(need - FRAME_OVERHEAD);
  put_u16le(A.tx + FRAME_HEADER + 2, correct);
  body_writer at;
  w_init(&at, A.tx + FRAME_HEADER + 4, 8);
  w_f64(&at, us);
  return MSG_EVAL_OK;
}

static uint8_t handle_reset(body_writer *w, body_reader *r) {
  uint32_t flags = r_u8(r);
  if (!r_done(r)) return error_reply(w, ERR_BAD_REQUEST, 0, "RESET: malformed body");
  store_result s = store_reinstantiate(&A.store);
  if (flags & 1) store_discard_pending(&A.store);
  A.long_.valid = false;
  if (s.code) return store_error(w, &s);
  return MSG_RESET_OK;
}

/* ---------- PROFILE ---------- */

typedef struct {
  char *buf;
  size_t cap, len;
} text;

/* Past the buffer nothing is written and len becomes cap + 1: the caller checks once at the end. */
static void t_raw(text *t, const char *s, size_t n) {
  if (t->len <= t->cap && n <= t->cap - t->len) {
    memcpy(t->buf + t->len, s, n);
    t->len += n;
  } else {
    t->len = t->cap + 1;
  }
}

static void t_str(text *t, const char *s) { t_raw(t, s, strlen(s)); }

static void t_u64(text *t, uint64_t v) {
  char b[24];
  t_raw(t, b, fmt_u64(b, v));
}

/* A finite number with `decimals` places (JSON has no room for inf or NaN; printf may have no floats). */
static void t_fixed(text *t, double v, int decimals) {
  if (!isfinite(v)) v = 0;
  if (v < 0) { t_raw(t, "-", 1); v = -v; }
  if (v > 1e15) v = 1e15;
  uint64_t scale = 1;
  for (int i = 0; i < decimals; i++) scale *= 10;
  uint64_t all = (uint64_t)(v * (double)scale + 0.5);
  t_u64(t, all / scale);
  if (decimals == 0) return;
  char frac[20];
  uint64_t f = all % scale;
  for (int i = decimals - 1; i >= 0; i--) { frac[i] = (char)('0' + f % 10); f /= 10; }
  t_raw(t, ".", 1);
  t_raw(t, frac, (size_t)decimals);
}

typedef struct { double p50, p90, mean, min; uint32_t p50_cycles; } timing;

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* runtime/profile.ts stats(): sorted samples, p50 at floor(0.5 n), p90 at floor(0.9 n). */
static timing column_stats(uint32_t *col, uint32_t n) {
  qsort(col, n, sizeof *col, cmp_u32);
  double per = 1e6 / (double)board_clock_hz(), sum = 0;
  for (uint32_t i = 0; i < n; i++) sum += col[i];
  uint32_t i50 = (uint32_t)floor(0.5 * n), i90 = (uint32_t)floor(0.9 * n);
  if (i50 > n - 1) i50 = n - 1;
  if (i90 > n - 1) i90 = n - 1;
  return (timing){ col[i50] * per, col[i90] * per, sum / n * per, col[0] * per, col[i50] };
}

static void t_timing(text *t, const timing *s) {
  t_str(t, "\"p50Us\":"); t_fixed(t, s->p50, 3);
  t_str(t, ",\"p90Us\":"); t_fixed(t, s->p90, 3);
  t_str(t, ",\"meanUs\":"); t_fixed(t, s->mean, 3);
  t_str(t, ",\"minUs\":"); t_fixed(t, s->min, 3);
}

static uint32_t elapsed32(uint64_t c0) {
  uint64_t d = board_cycles() - c0;
  return d > 0xffffffffu ? 0xffffffffu : (uint32_t)d;
}

static uint8_t handle_profile(body_writer *w, body_reader *r, uint16_t seq) {
  uint32_t runs = r_u32(r), warmup = r_u32(r);
  if (!r_done(r)) return error_reply(w, ERR_BAD_REQUEST, 0, "PROFILE: malformed body");
  kiln_instance *inst;
  uint8_t type;
  const manifest_info *m = model_or_error(w, &inst, &type);
  if (!m) return type;
  if (runs < 1 || runs > 100000 || warmup > 100000) return error_reply(w, ERR_BAD_REQUEST, 0, "PROFILE: runs must be 1…100000, warmup ≤ 100000");
  const active_model *a = &A.store.active;
  uint32_t layers = m->layers, cols = layers + 1;
  /* Rows of (whole run, layer 0 … layer n-1) cycles, plus one free row-sized column for sorting: the timed runs are
     capped by what fits (the result says how many were made). */
  uint32_t cap = (uint32_t)(sizeof A.scratch.samples / sizeof(uint32_t)) / (cols + 1);
  uint32_t *samples = A.scratch.samples, *col = samples + (size_t)cap * cols;
  /* A fixed pseudo-random input (runtime/profile.ts sampleInput), mapped like a RUN's pixels; made in the scratch
     RAM before the samples need it. */
  {
    uint32_t n = m->input.elements, s = 12345;
    uint8_t *input = (uint8_t *)A.scratch.json;
    if (n > sizeof A.scratch.json) return error_reply(w, ERR_BAD_INPUT, n, "PROFILE: the model's input is larger than this device's 16 KB buffer");
    for (uint32_t i = 0; i < n; i++) { s = s * 1103515245u + 12345u; input[i] = (uint8_t)(s >> 24); }
    set_input(inst, m, input, false);
  }
  char err[120];
  uint32_t deadline = board_millis() + KILN_RUN_LIMIT_MS / 2, timed = 0, warmed = 0;
  for (uint32_t i = 0; i < warmup + runs && timed < cap; i++) {
    if ((int32_t)(board_millis() - deadline) > 0) {
      if (timed > 0) break;
      if (i < warmup) i = warmup; /* out of time while warming up: one timed run still gives a profile */
    }
    bool timing_run = i >= warmup;
    uint32_t *row = samples + (size_t)timed * cols;
    uint64_t c0 = board_cycles();
    if (kiln_runtime_run(inst, err, sizeof err) != 0) return run_failed(w, err);
    if (timing_run) row[0] = elapsed32(c0);
    for (uint32_t k = 0; k < layers; k++) {
      c0 = board_cycles();
      if (kiln_runtime_run_layer(inst, (int32_t)k, err, sizeof err) != 0) return run_failed(w, err);
      if (timing_run) row[k + 1] = elapsed32(c0);
    }
    if (timing_run) timed++;
    else warmed++;
  }
  static timing stats[MANIFEST_MAX_LAYERS + 1];
  for (uint32_t k = 0; k < cols; k++) {
    for (uint32_t i = 0; i < timed; i++) col[i] = samples[(size_t)i * cols + k];
    stats[k] = column_stats(col, timed);
  }
  double sum = 0;
  for (uint32_t k = 1; k < cols; k++) sum += stats[k].p50;
  /* The samples are done with: the JSON result takes their place and stays there for MORE. */
  text t = { A.scratch.json, sizeof A.scratch.json, 0 };
  t_str(&t, "{\"model\":");
  /* the model name was decoded at COMMIT: escaped again here */
  t_str(&t, "\"");
  for (const char *c = m->model; *c; c++) {
    char e[8];
    unsigned char u = (unsigned char)*c;
    if (u == '"' || u == '\\') { e[0] = '\\'; e[1] = (char)u; t_raw(&t, e, 2); }
    else if (u < 0x20) { static const char H[] = "0123456789abcdef"; memcpy(e, "\\u00", 4); e[4] = H[u >> 4]; e[5] = H[u & 15]; t_raw(&t, e, 6); }
    else t_raw(&t, (const char *)&u, 1);
  }
  t_str(&t, "\",\"target\":\""); t_str(&t, m->target);
  t_str(&t, "\",\"quantize\":\""); t_str(&t, m->quantize);
  t_str(&t, "\",\"runs\":"); t_u64(&t, timed);
  t_str(&t, ",\"warmup\":"); t_u64(&t, warmed);
  t_str(&t, ",\"clockHz\":"); t_u64(&t, board_clock_hz());
  t_str(&t, ",\"layers\":[");
  for (uint32_t k = 0; k < layers; k++) {
    layer_info l;
    if (!manifest_layer(a->manifest, a->manifest_len, m, k, &l)) return error_reply(w, ERR_INTERNAL, 0, "PROFILE: the layer table cannot be read again");
    const timing *s = &stats[k + 1];
    if (k) t_raw(&t, ",", 1);
    t_str(&t, "{\"index\":"); t_u64(&t, k);
    t_str(&t, ",\"name\":"); t_raw(&t, l.name, l.name_len);
    /* ops: the fused names joined by '+', built from their raw (valid, escaped) JSON text */
    t_str(&t, ",\"ops\":\"");
    bool first = true;
    for (size_t i = 0; i < l.fused_len; i++) {
      if (l.fused[i] != '"') continue;
      size_t j = i + 1;
      while (l.fused[j] != '"') j += l.fused[j] == '\\' ? 2 : 1;
      if (!first) t_raw(&t, "+", 1);
      t_raw(&t, l.fused + i + 1, j - i - 1);
      first = false;
      i = j;
    }
    t_str(&t, "\",\"outputShape\":"); t_raw(&t, l.shape, l.shape_len);
    t_str(&t, ",\"macs\":"); t_u64(&t, (uint64_t)l.macs);
    t_str(&t, ",\"weightBytes\":"); t_u64(&t, (uint64_t)l.weight_bytes);
    t_str(&t, ","); t_timing(&t, s);
    t_str(&t, ",\"cycles\":"); t_u64(&t, s->p50_cycles);
    t_str(&t, ",\"share\":"); t_fixed(&t, sum > 0 ? s->p50 / sum : 0, 6);
    t_str(&t, ",\"gmacPerSecond\":"); t_fixed(&t, s->p50 > 0 ? l.macs / s->p50 / 1000 : 0, 6);
    t_str(&t, "}");
  }
  t_str(&t, "],\"layerSumP50Us\":"); t_fixed(&t, sum, 3);
  t_str(&t, ",\"endToEnd\":{"); t_timing(&t, &stats[0]);
  t_str(&t, "},\"endToEndCycles\":"); t_u64(&t, stats[0].p50_cycles);
  t_str(&t, ",\"gap\":"); t_fixed(&t, stats[0].p50 > 0 ? (sum - stats[0].p50) / stats[0].p50 : 0, 6);
  t_str(&t, "}");
  if (t.len > t.cap) return error_reply(w, ERR_INTERNAL, 0, "PROFILE: the result is larger than this device's 16 KB buffer");
  return long_first_page(w, MSG_PROFILE_OK, seq, (const uint8_t *)A.scratch.json, (uint32_t)t.len);
}

/* ---------- the loop ---------- */

static uint8_t handle(const frame *f, body_writer *w) {
  body_reader r;
  r_init(&r, f->body, f->body_len);
  switch (f->type) {
    case MSG_HELLO: return handle_hello(w, &r, true);
    case MSG_INFO: return handle_info(w, &r, f->seq);
    case MSG_MORE: return handle_more(w, &r);
    case MSG_LOAD_BEGIN: return handle_begin(w, &r);
    case MSG_LOAD_CHUNK: return handle_chunk(w, &r);
    case MSG_LOAD_COMMIT: return handle_commit(w, &r);
    case MSG_RUN: return handle_run(w, &r);
    case MSG_PROFILE: return handle_profile(w, &r, f->seq);
    case MSG_EVAL: return handle_eval(w, &r);
    case MSG_RESET: return handle_reset(w, &r);
    default: {
      char buf[MSG_BUF];
      return error_reply(w, ERR_BAD_REQUEST, 0, msg2(buf, "unknown request type ", f->type, "", 0, NULL));
    }
  }
}

static void on_frame(const frame *f) {
  for (unsigned i = 0; i < CACHE_ENTRIES; i++) {
    const cache_entry *e = &A.cache[i];
    if (e->valid && e->seq == f->seq && e->crc == f->crc) {
      /* A retransmission: the answer it already got, without executing the request again. */
      board_uart_write(A.pool + e->at, e->len);
      return;
    }
  }
  body_writer w;
  w_init(&w, A.tx + FRAME_HEADER, BODY_MAX);
  uint8_t type;
  char buf[MSG_BUF];
  if (f->version != PROTOCOL_VERSION) {
    type = error_reply(&w, ERR_BAD_VERSION, PROTOCOL_VERSION, msg2(buf, "protocol version ", f->version, " is not supported; this device speaks ", PROTOCOL_VERSION, ""));
  } else if (!A.authorized) {
    /* Before a good HELLO only the type is looked at; nothing else is decoded. */
    if (f->type == MSG_HELLO) {
      body_reader r;
      r_init(&r, f->body, f->body_len);
      type = handle_hello(&w, &r, false);
    } else {
      type = error_reply(&w, ERR_UNAUTHORIZED, 0, "say HELLO with the device's token first");
    }
  } else {
    type = handle(f, &w);
  }
  if (w_overflow(&w) || w.len + FRAME_OVERHEAD > A.send_limit) {
    uint32_t need = (uint32_t)(w.len + FRAME_OVERHEAD);
    type = error_reply(&w, ERR_TOO_LARGE, need, msg2(buf, "the answer needs a ", need, "-byte frame; this session allows ", A.send_limit, " (say HELLO with a larger frame)"));
  }
  send_cached(f->seq, f->crc, type, w.len);
}

void kiln_agent_init(void) {
  memset(&A, 0, sizeof A);
  frame_decoder_reset(&A.rx);
  store_init(&A.store);
  A.send_limit = DEFAULT_MAX_FRAME;
#ifdef KILN_TOKEN
  A.authorized = false;
#else
  /* A serial line without a token needs no HELLO (agent.ts: not requireHello, no token). */
  A.authorized = true;
#endif
}

void kiln_agent_byte(uint8_t byte) {
  frame f;
  frame_event e = frame_decoder_push(&A.rx, byte, &f);
  if (e == FRAME_OK) {
    on_frame(&f);
  } else if (e == FRAME_BAD) {
    uint32_t now = board_millis();
    if (!A.naked || now - A.last_nak >= NAK_INTERVAL_MS) {
      A.naked = true;
      A.last_nak = now;
      send_nak_bad_frame();
    }
  }
}

void kiln_agent_main(void) {
  kiln_agent_init();
  for (;;) {
    int b = board_uart_read();
    if (b >= 0) kiln_agent_byte((uint8_t)b);
  }
}
