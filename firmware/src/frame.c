/* Frame decoding from a byte stream and frame encoding for replies, as firmware-host/frame.ts does it. */
#include "frame.h"
#include "crc32.h"
#include "messages.h"

void frame_decoder_reset(frame_decoder *d) {
  d->len = 0;
  d->overflow = false;
}

static frame_event finish(frame_decoder *d, frame *out) {
  size_t length = d->len;
  bool overflow = d->overflow;
  frame_decoder_reset(d);
  if (overflow) return FRAME_BAD;
  if (length == 0) return FRAME_NONE; /* zeros in a row: the delimiters around a frame, or line noise */
  long n = cobs_decode(d->buf, length, d->buf);
  if (n < 0 || (size_t)n > DEVICE_MAX_FRAME || (size_t)n < FRAME_OVERHEAD) return FRAME_BAD;
  size_t end = (size_t)n - FRAME_CRC;
  uint32_t crc = get_u32le(d->buf + end);
  if (crc32_update(0, d->buf, end) != crc) return FRAME_BAD;
  out->version = d->buf[0];
  out->type = d->buf[1];
  out->seq = get_u16le(d->buf + 2);
  out->body = d->buf + FRAME_HEADER;
  out->body_len = end - FRAME_HEADER;
  out->crc = crc;
  return FRAME_OK;
}

frame_event frame_decoder_push(frame_decoder *d, uint8_t byte, frame *out) {
  if (byte != 0) {
    if (d->len < sizeof d->buf) d->buf[d->len++] = byte;
    else d->overflow = true; /* discard up to the next delimiter */
    return FRAME_NONE;
  }
  frame_event e = finish(d, out);
  if (e == FRAME_OK) d->frames++;
  if (e == FRAME_BAD) d->bad++;
  return e;
}

size_t frame_encode(uint8_t *frame_buf, uint8_t type, uint16_t seq, size_t body_len, uint8_t *wire) {
  frame_buf[0] = PROTOCOL_VERSION;
  frame_buf[1] = type;
  put_u16le(frame_buf + 2, seq);
  size_t end = FRAME_HEADER + body_len;
  put_u32le(frame_buf + end, crc32_update(0, frame_buf, end));
  wire[0] = 0;
  size_t n = cobs_encode(frame_buf, end + FRAME_CRC, wire + 1);
  wire[1 + n] = 0;
  wire[2 + n] = 0;
  return n + 3;
}
