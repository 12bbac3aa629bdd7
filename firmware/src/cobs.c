/* COBS encoder and decoder, byte for byte the same as firmware-host/cobs.ts. */
#include "cobs.h"

size_t cobs_encode(const uint8_t *in, size_t n, uint8_t *out) {
  size_t code_at = 0, o = 1;
  uint8_t code = 1;
  for (size_t i = 0; i < n; i++) {
    uint8_t byte = in[i];
    if (byte == 0) {
      out[code_at] = code;
      code_at = o++;
      code = 1;
      continue;
    }
    out[o++] = byte;
    if (++code == 0xff) {
      /* A full block: the next block starts only if more data follows (canonical COBS). */
      out[code_at] = code;
      if (i + 1 == n) return o;
      code_at = o++;
      code = 1;
    }
  }
  out[code_at] = code;
  return o;
}

long cobs_decode(const uint8_t *in, size_t n, uint8_t *out) {
  size_t i = 0, o = 0;
  while (i < n) {
    uint8_t code = in[i++];
    if (code == 0) return -1;
    size_t end = i + code - 1;
    if (end > n) return -1;
    for (; i < end; i++) {
      if (in[i] == 0) return -1;
      out[o++] = in[i];
    }
    if (code < 0xff && i < n) out[o++] = 0;
  }
  return (long)o;
}
