/* mps2-an386 board: CMSDK UART0 with an interrupt-fed RX ring, SysTick extended to 64-bit cycles, model slots, sbrk. */
#include "board.h"
#include <errno.h>

#ifndef KILN_SLOT_BYTES
#error "KILN_SLOT_BYTES comes from board.cmake"
#endif
#ifndef KILN_MEMORY_LIMIT
#error "KILN_MEMORY_LIMIT comes from board.cmake"
#endif

#define REG(addr) (*(volatile uint32_t *)(addr))

/* CMSDK APB UART0 */
#define UART0_BASE 0x40004000u
#define UART_DATA REG(UART0_BASE + 0x00)
#define UART_STATE REG(UART0_BASE + 0x04)
#define UART_CTRL REG(UART0_BASE + 0x08)
#define UART_INTSTATUS REG(UART0_BASE + 0x0C) /* read: pending; write 1: clear */
#define UART_BAUDDIV REG(UART0_BASE + 0x10)
#define UART_STATE_TX_FULL (1u << 0)
#define UART_STATE_RX_FULL (1u << 1)
#define UART_STATE_RX_OVERRUN (1u << 3)
#define UART_CTRL_TX_EN (1u << 0)
#define UART_CTRL_RX_EN (1u << 1)
#define UART_CTRL_RX_INT_EN (1u << 3)
#define UART_INT_RX (1u << 1)
#define UART0_RX_IRQ 0 /* AN385/AN386: UART0 RX is external IRQ 0, TX is 1 */

/* SysTick and NVIC */
#define SYST_CSR REG(0xE000E010)
#define SYST_RVR REG(0xE000E014)
#define SYST_CVR REG(0xE000E018)
#define NVIC_ISER0 REG(0xE000E100)
#define SCB_ICSR REG(0xE000ED04)
#define SCB_ICSR_PENDSTSET (1u << 26)

#define CLOCK_HZ 25000000u /* MPS2 FPGA images run the CPU at 25 MHz; QEMU's SysTick counts at this rate */
#define BAUD 115200u

/* The receive ring: QEMU's (and the real CMSDK) UART holds one received byte, so the RX interrupt empties it into
   this ring at once, even while the CPU is deep in a blob's run. A power of two so indices wrap with a mask. */
#define RX_RING_BYTES 8192u
static volatile uint8_t rx_ring[RX_RING_BYTES];
static volatile uint32_t rx_head; /* written only by the ISR */
static volatile uint32_t rx_tail; /* written only by board_uart_read */
static volatile uint32_t rx_dropped; /* bytes lost because the ring was full (the protocol's CRC and resend recover) */

static volatile uint32_t systick_wraps;

__attribute__((section(".slots"), aligned(16))) static uint8_t slots[2][KILN_SLOT_BYTES];

void UART0_RX_Handler(void)
{
    /* Drain whatever is waiting; clear the interrupt before reading so a byte arriving meanwhile re-raises it. */
    UART_INTSTATUS = UART_INT_RX;
    while (UART_STATE & UART_STATE_RX_FULL) {
        uint8_t b = (uint8_t)UART_DATA;
        uint32_t head = rx_head;
        if (head - rx_tail < RX_RING_BYTES) {
            rx_ring[head & (RX_RING_BYTES - 1)] = b;
            rx_head = head + 1;
        } else {
            rx_dropped++;
        }
    }
    if (UART_STATE & UART_STATE_RX_OVERRUN) UART_STATE = UART_STATE_RX_OVERRUN; /* write 1 clears */
}

/* A fault: say where on the UART (the host's COBS framing discards the text as noise) and stop. Debug aid only. */
void HardFault_Handler(void)
{
    uint32_t *frame;
    __asm__ volatile("tst lr, #4\n ite eq\n mrseq %0, msp\n mrsne %0, psp" : "=r"(frame));
    static const char hex[] = "0123456789abcdef";
    char msg[] = "\nkiln: hard fault at pc=00000000\n";
    uint32_t pc = frame[6];
    for (int i = 0; i < 8; i++) msg[sizeof msg - 3 - i] = hex[(pc >> (4 * i)) & 0xf];
    board_uart_write((const uint8_t *)msg, sizeof msg - 1);
    for (;;) {}
}

/* Called from the timer interrupt every 2^24 cycles (0.67 s): the runtime's run limit overrides it. */
__attribute__((weak)) void board_tick_hook(void) {}

void SysTick_Handler(void)
{
    systick_wraps++;
    board_tick_hook();
}

void board_init(void)
{
    UART_CTRL = 0;
    UART_BAUDDIV = CLOCK_HZ / BAUD; /* 217; QEMU ignores the rate but wants a divisor >= 16 */
    UART_INTSTATUS = 0xF;
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN | UART_CTRL_RX_INT_EN;
    NVIC_ISER0 = 1u << UART0_RX_IRQ;

    /* 24-bit down counter from the CPU clock, wrapping every 0.67 s; its interrupt counts wraps. */
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = (1u << 2) | (1u << 1) | (1u << 0); /* CPU clock, interrupt, enable */
    __asm__ volatile("cpsie i" ::: "memory");
}

int board_uart_read(void)
{
    uint32_t tail = rx_tail;
    if (tail == rx_head) return -1;
    int b = rx_ring[tail & (RX_RING_BYTES - 1)];
    rx_tail = tail + 1;
    return b;
}

void board_uart_write(const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (UART_STATE & UART_STATE_TX_FULL) {}
        UART_DATA = bytes[i];
    }
}

uint64_t board_cycles(void)
{
    /* The wrap count and the counter are read apart, so a wrap can fall between them, and the SysTick interrupt that
       counts it may still be pending (QEMU takes interrupts only between translation blocks, and a caller may have
       interrupts masked). A pending SysTick means one uncounted wrap: it belongs to this reading if the counter
       was read after it, i.e. is still near the top of its count (the interrupt is never pending for half a period). */
    uint32_t hi, lo, pending;
    do {
        hi = systick_wraps;
        lo = SYST_CVR & 0x00FFFFFFu;
        pending = SCB_ICSR & SCB_ICSR_PENDSTSET;
    } while (hi != systick_wraps);
    if (pending && lo >= 0x00800000u) hi++;
    return ((uint64_t)hi << 24) | (0x00FFFFFFu - lo);
}

uint32_t board_clock_hz(void) { return CLOCK_HZ; }

uint32_t board_millis(void) { return (uint32_t)(board_cycles() / (CLOCK_HZ / 1000u)); }

const char *board_name(void) { return "mps2-an386 (Cortex-M4, QEMU)"; }

uint8_t *board_slot(int index)
{
    if (index < 0 || index > 1) return NULL;
    return slots[index];
}

uint32_t board_slot_size(void) { return KILN_SLOT_BYTES; }

uint32_t board_memory_limit(void) { return KILN_MEMORY_LIMIT; }

/* newlib's heap: bounded by the linker script so a runaway malloc fails instead of growing into the stack. */
void *_sbrk(ptrdiff_t incr)
{
    extern uint8_t __heap_start__, __heap_end__;
    static uint8_t *brk = &__heap_start__;
    if (incr < 0 ? (ptrdiff_t)(brk - &__heap_start__) < -incr : (ptrdiff_t)(&__heap_end__ - brk) < incr) {
        errno = ENOMEM;
        return (void *)-1;
    }
    uint8_t *old = brk;
    brk += incr;
    return old;
}
