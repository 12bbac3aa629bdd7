/* Cortex-M4 startup for mps2-an386: the vector table, and a reset handler that lays out RAM and calls main(). */
#include <stdint.h>

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__, __stack_top__;
extern int main(void);

void Reset_Handler(void);
void Default_Handler(void);
/* Handlers board.c overrides; unused ones fall through to Default_Handler. */
void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void HardFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UART0_RX_Handler(void) __attribute__((weak, alias("Default_Handler")));

typedef void (*vector_t)(void);

/* 16 system exceptions, then the external IRQs up to UART0 RX (IRQ 0 on AN385/AN386) and a few spare entries. */
__attribute__((section(".isr_vector"), used))
const vector_t vector_table[16 + 32] = {
    (vector_t)(uintptr_t)&__stack_top__,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0, 0, 0, 0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    [16 + 0] = UART0_RX_Handler,
    [16 + 1] = Default_Handler, /* UART0 TX: TX is polled, never enabled */
    [16 + 2 ... 16 + 31] = Default_Handler,
};

void Reset_Handler(void)
{
    /* .data lives in flash and is copied to RAM; .bss is zeroed. The model slots and the WAMR pool are NOLOAD
       sections that need neither: the store and WAMR initialise what they use. */
    uint32_t *src = &__data_load__;
    for (uint32_t *dst = &__data_start__; dst < &__data_end__;) *dst++ = *src++;
    for (uint32_t *dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
    main();
    for (;;) __asm__ volatile("wfi");
}

/* An unexpected fault or interrupt: stop here (a debugger shows where); the host sees the board go silent. */
void Default_Handler(void)
{
    for (;;) __asm__ volatile("nop");
}
