/* Body encoding and decoding helpers, little-endian whatever the CPU, bounded by the body's own length. */
#include "messages.h"
#include <string.h>

uint32_t get_u32le(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
uint16_t get_u16le(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
void put_u32le(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }
void put_u16le(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

void w_init(body_writer *w, uint8_t *buf, size_t cap) {
  w->buf = buf;
  w->cap = cap;
  w->len = 0;
  w->over = false;
}

void w_bytes(body_writer *w, const uint8_t *b, size_t n) {
  if (!w->over && n <= w->cap - w->len) {
    if (n > 0) memmove(w->buf + w->len, b, n);
  } else {
    w->over = true;
  }
  w->len += n;
}

void w_u8(body_writer *w, uint32_t v) { uint8_t b = (uint8_t)v; w_bytes(w, &b, 1); }
void w_u16(body_writer *w, uint32_t v) { uint8_t b[2]; put_u16le(b, v); w_bytes(w, b, 2); }
void w_u32(body_writer *w, uint32_t v) { uint8_t b[4]; put_u32le(b, v); w_bytes(w, b, 4); }

void w_f64(body_writer *w, double v) {
  uint64_t bits;
  memcpy(&bits, &v, 8);
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(bits >> (8 * i));
  w_bytes(w, b, 8);
}

void w_str(body_writer *w, const char *s, size_t n, size_t max) {
  size_t m = utf8_cut((const uint8_t *)s, n, max);
  w_u16(w, (uint32_t)m);
  w_bytes(w, (const uint8_t *)s, m);
}

void r_init(body_reader *r, const uint8_t *p, size_t len) {
  r->p = p;
  r->len = len;
  r->at = 0;
  r->bad = false;
}

const uint8_t *r_bytes(body_reader *r, size_t n) {
  if (r->bad || n > r->len - r->at) {
    r->bad = true;
    return NULL;
  }
  const uint8_t *at = r->p + r->at;
  r->at += n;
  return at;
}

uint32_t r_u8(body_reader *r) { const uint8_t *p = r_bytes(r, 1); return p ? p[0] : 0; }
uint32_t r_u16(body_reader *r) { const uint8_t *p = r_bytes(r, 2); return p ? get_u16le(p) : 0; }
uint32_t r_u32(body_reader *r) { const uint8_t *p = r_bytes(r, 4); return p ? get_u32le(p) : 0; }

const uint8_t *r_str(body_reader *r, size_t *n) {
  size_t len = r_u16(r);
  const uint8_t *p = r_bytes(r, len);
  if (p && !utf8_valid(p, len)) {
    r->bad = true;
    p = NULL;
  }
  *n = p ? len : 0;
  return p;
}

/* Well-formed UTF-8 as the WHATWG decoder defines it: no overlongs, no surrogates, nothing above U+10FFFF. */
bool utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t more;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) more = 1;
    else if (c >= 0xe0 && c <= 0xef) { more = 2; if (c == 0xe0) lo = 0xa0; if (c == 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { more = 3; if (c == 0xf0) lo = 0x90; if (c == 0xf4) hi = 0x8f; }
    else return false;
    if (more > n - i - 1) return false;
    if (s[i + 1] < lo || s[i + 1] > hi) return false;
    for (size_t k = 2; k <= more; k++) if ((s[i + k] & 0xc0) != 0x80) return false;
    i += more + 1;
  }
  return true;
}

size_t utf8_cut(const uint8_t *s, size_t n, size_t max) {
  if (n <= max) return n;
  size_t cut = max;
  while (cut > 0 && (s[cut] & 0xc0) == 0x80) cut--;
  return cut;
}
