/* The device end of the Kiln protocol (docs/protocol.md) over the board's UART: one session, the serial rules. */
#ifndef KILN_AGENT_H
#define KILN_AGENT_H
#include <stddef.h>
#include <stdint.h>

/* Longest one call into the blob may take (ms), stated in HELLO_OK: the same backstop main.c gives the runtime
   (KILN_RUNTIME_STOP_MS; an emulated M4 runs the MNIST CNN in ~10 s). PROFILE stops timing at half of it. */
#ifndef KILN_RUN_LIMIT_MS
#define KILN_RUN_LIMIT_MS 60000u
#endif
/* The runtime HELLO_OK names. */
#ifndef KILN_RUNTIME_NAME
#define KILN_RUNTIME_NAME "WAMR 1.1.2 fast-interp"
#endif

/* Serves the host forever: reads bytes with board_uart_read, answers with board_uart_write. board_init() is the
   caller's (main.c). Build with -DKILN_TOKEN="\"secret\"" to require a HELLO with that token first. */
void kiln_agent_main(void);

/* One step of the loop, for hosts that drive the agent themselves (tests): feeds one received byte. */
void kiln_agent_init(void);
void kiln_agent_byte(uint8_t byte);

#endif
