/* The frame codec: version, type, seq, body and CRC-32, COBS-encoded between 0x00 delimiters (docs/protocol.md). */
#ifndef KILN_FRAME_H
#define KILN_FRAME_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cobs.h"

#define PROTOCOL_VERSION 1
#define FRAME_HEADER 4
#define FRAME_CRC 4
#define FRAME_OVERHEAD (FRAME_HEADER + FRAME_CRC)
/* Both sides send at most this much until HELLO has negotiated a frame size. */
#define DEFAULT_MAX_FRAME 256
#define LIMIT_MAX_FRAME 65536
/* This device's largest frame (received and sent): 4 KB bodies keep the RAM small and the upload near line rate. */
#ifndef DEVICE_MAX_FRAME
#define DEVICE_MAX_FRAME (4096 + FRAME_OVERHEAD)
#endif
/* Bytes of a frame on the wire: 0x00, COBS(frame), 0x00, 0x00. */
#define FRAME_WIRE_MAX(frame) (COBS_MAX_ENCODED(frame) + 3)

typedef struct {
  uint8_t version;
  uint8_t type;
  uint16_t seq;
  const uint8_t *body;
  size_t body_len;
  /* Identifies a retransmission of the same request together with seq. */
  uint32_t crc;
} frame;

typedef enum { FRAME_NONE = 0, FRAME_OK = 1, FRAME_BAD = -1 } frame_event;

/* Splits the byte stream at 0x00 and decodes frames in place (COBS decoding never overtakes reading). */
typedef struct {
  uint8_t buf[COBS_MAX_ENCODED(DEVICE_MAX_FRAME)];
  size_t len;
  bool overflow;
  uint32_t frames, bad;
} frame_decoder;

void frame_decoder_reset(frame_decoder *d);
/* Feeds one byte; FRAME_OK fills *out (its body points into the decoder until the next push), FRAME_BAD reports
   a COBS error, a frame shorter than 8 bytes, longer than DEVICE_MAX_FRAME, or a CRC mismatch. */
frame_event frame_decoder_push(frame_decoder *d, uint8_t byte, frame *out);

/* Finishes a frame whose body already sits at frame_buf + FRAME_HEADER: writes header and CRC, then the wire bytes
   into wire (room for FRAME_WIRE_MAX(FRAME_OVERHEAD + body_len)). Returns the wire length. */
size_t frame_encode(uint8_t *frame_buf, uint8_t type, uint16_t seq, size_t body_len, uint8_t *wire);

#endif
