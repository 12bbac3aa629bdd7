/* Message types, NAK/ERROR codes, and the little-endian body reader and writer (docs/protocol.md, "Messages"). */
#ifndef KILN_MESSAGES_H
#define KILN_MESSAGES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
  MSG_HELLO = 0x01, MSG_INFO = 0x02, MSG_LOAD_BEGIN = 0x03, MSG_LOAD_CHUNK = 0x04, MSG_LOAD_COMMIT = 0x05, MSG_RUN = 0x06,
  MSG_PROFILE = 0x07, MSG_EVAL = 0x08, MSG_RESET = 0x09, MSG_MORE = 0x0a,
  MSG_HELLO_OK = 0x81, MSG_INFO_OK = 0x82, MSG_LOAD_READY = 0x83, MSG_LOAD_ACK = 0x84, MSG_LOAD_DONE = 0x85, MSG_RUN_OK = 0x86,
  MSG_PROFILE_OK = 0x87, MSG_EVAL_OK = 0x88, MSG_RESET_OK = 0x89, MSG_MORE_OK = 0x8a, MSG_NAK = 0xfe, MSG_ERROR = 0xff,
};

enum { NAK_BAD_FRAME = 1, NAK_OUT_OF_ORDER = 2 };

enum {
  ERR_BAD_VERSION = 1, ERR_UNAUTHORIZED = 2, ERR_BAD_REQUEST = 3, ERR_NO_MODEL = 4, ERR_NO_UPLOAD = 5, ERR_TOO_LARGE = 6,
  ERR_INCOMPLETE = 7, ERR_HASH_MISMATCH = 8, ERR_INVALID_BLOB = 9, ERR_BAD_MANIFEST = 10, ERR_OUT_OF_MEMORY = 11,
  ERR_BAD_INPUT = 12, ERR_STORAGE = 13, ERR_NO_RESULT = 14, ERR_INTERNAL = 15, ERR_TIMEOUT = 16, ERR_BUSY = 17,
};

enum { INFO_MANIFEST = 0, INFO_BLOB = 1 };

/* Strings in replies are cut (at a character boundary) to what messages.ts allows. */
#define STR_MAX_DEVICE 48
#define STR_MAX_RUNTIME 64
#define STR_MAX_MODEL 48
#define STR_MAX_NAME 64
#define STR_MAX_ERROR 200

/* Writes a body into a fixed buffer. Past the buffer nothing is written but `len` keeps counting, so the caller
   learns the size the answer would need (ERROR TOO_LARGE states it). */
typedef struct {
  uint8_t *buf;
  size_t cap;
  size_t len;
  bool over;
} body_writer;

void w_init(body_writer *w, uint8_t *buf, size_t cap);
void w_u8(body_writer *w, uint32_t v);
void w_u16(body_writer *w, uint32_t v);
void w_u32(body_writer *w, uint32_t v);
void w_f64(body_writer *w, double v);
void w_bytes(body_writer *w, const uint8_t *b, size_t n);
/* A u16-length string of at most `max` bytes; a cut never splits a UTF-8 character (Writer.str in bytes.ts). */
void w_str(body_writer *w, const char *s, size_t n, size_t max);
static inline bool w_overflow(const body_writer *w) { return w->over; }

/* Reads a request body; any read past the end sets `bad` and yields zeros, so a handler checks once at the end. */
typedef struct {
  const uint8_t *p;
  size_t len;
  size_t at;
  bool bad;
} body_reader;

void r_init(body_reader *r, const uint8_t *p, size_t len);
uint32_t r_u8(body_reader *r);
uint32_t r_u16(body_reader *r);
uint32_t r_u32(body_reader *r);
/* n bytes in place, or NULL (and bad) when fewer remain. */
const uint8_t *r_bytes(body_reader *r, size_t n);
/* A u16-length string in place; bad when it runs past the body or is not valid UTF-8 (TextDecoder fatal). */
const uint8_t *r_str(body_reader *r, size_t *n);
static inline size_t r_remaining(const body_reader *r) { return r->len - r->at; }
/* True when the whole body was read without error: a body must be exactly what its message defines. */
static inline bool r_done(const body_reader *r) { return !r->bad && r->at == r->len; }

bool utf8_valid(const uint8_t *s, size_t n);
/* The longest prefix of at most max bytes that does not end inside a character. */
size_t utf8_cut(const uint8_t *s, size_t n, size_t max);

uint32_t get_u32le(const uint8_t *p);
uint16_t get_u16le(const uint8_t *p);
void put_u32le(uint8_t *p, uint32_t v);
void put_u16le(uint8_t *p, uint32_t v);

#endif
