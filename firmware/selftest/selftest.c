/* Self-test firmware: proves WAMR runs a Kiln blob on the board; prints output bytes and cycles over the UART. */
#include "board.h"
#include "kiln_runtime.h"
#include "kiln_runtime_init.h"
#include <stdio.h>
#include <string.h>

#define RX_TEST_BYTES 4000u

extern const uint8_t selftest_blob[], selftest_blob_end[];

static void say(const char *s) { board_uart_write((const uint8_t *)s, strlen(s)); }

static void sayf(const char *fmt, unsigned long a, unsigned long b)
{
    char line[160];
    snprintf(line, sizeof line, fmt, a, b);
    say(line);
}

/* Loads bytes that must be refused, and prints the reason. */
static void expect_refusal(const char *what, const uint8_t *bytes, uint32_t len, uint32_t limit)
{
    char err[160];
    kiln_instance *k = kiln_runtime_load(bytes, len, limit, err, sizeof err);
    say(what);
    if (k) {
        say(": LOADED (wrong)\n");
        kiln_runtime_unload(k);
    } else {
        say(": refused: ");
        say(err);
        say("\n");
    }
}

int main(void)
{
    char err[160];
    board_init();
    say("\nkiln selftest on ");
    say(board_name());
    say("\n");
    if (kiln_runtime_init() != 0) {
        say("FAIL: WAMR init\n");
        for (;;) {}
    }
    /* The 64-bit cycle count must never go backwards across SysTick wraps (every 2^24 cycles). */
    uint64_t prev = board_cycles(), start = prev;
    uint32_t backwards = 0, reads = 0;
    while (prev - start < 3u * (1u << 24)) {
        uint64_t now = board_cycles();
        if (now < prev) backwards++;
        prev = now;
        reads++;
    }
    sayf("cycles: %lu reads across 3 wraps, %lu backwards\n", reads, backwards);

    uint32_t len = (uint32_t)(selftest_blob_end - selftest_blob);
    sayf("blob %lu bytes, slot %lu bytes\n", len, board_slot_size());
    if (len > board_slot_size()) {
        say("FAIL: blob larger than a slot\n");
        for (;;) {}
    }
    uint8_t *slot = board_slot(0);
    memcpy(slot, selftest_blob, len);

    uint32_t mlen = 0;
    const uint8_t *manifest = kiln_runtime_manifest(slot, len, &mlen);
    sayf("manifest %lu bytes at offset %lu\n", mlen, manifest ? (unsigned long)(manifest - slot) : 0);

    uint32_t free0 = kiln_runtime_pool_free();
    uint64_t t0 = board_cycles();
    kiln_instance *k = kiln_runtime_load(slot, len, board_memory_limit(), err, sizeof err);
    uint64_t t1 = board_cycles();
    if (!k) {
        say("FAIL: load: ");
        say(err);
        say("\n");
        for (;;) {}
    }
    sayf("loaded in %lu cycles; pool %lu bytes", (unsigned long)(t1 - t0), kiln_runtime_pool_bytes());
    sayf(", instance uses %lu bytes\n", free0 - kiln_runtime_pool_free(), 0);
    if (memcmp(slot, selftest_blob, len) != 0) say("FAIL: loading modified the slot's bytes\n");

    int32_t layers = kiln_runtime_layer_count(k);
    uint8_t *in = kiln_runtime_region(k, 0, KILN_SELFTEST_INPUT_BYTES);
    uint8_t *out = kiln_runtime_region(k, 1, KILN_SELFTEST_OUTPUT_BYTES);
    if (!in || !out || layers < 0) {
        say("FAIL: regions\n");
        for (;;) {}
    }
    if (kiln_runtime_region(k, 1, 0x7fffffffu) != NULL) say("FAIL: an oversized region was accepted\n");
    /* The fixed input: the same pattern run.mjs writes on the host. */
    for (uint32_t i = 0; i < KILN_SELFTEST_INPUT_BYTES; i++) in[i] = (uint8_t)(i * 7u + 3u);

    t0 = board_cycles();
    int rc = kiln_runtime_run(k, err, sizeof err);
    t1 = board_cycles();
    if (rc != 0) {
        say("FAIL: run: ");
        say(err);
        say("\n");
        for (;;) {}
    }
    sayf("run: %lu cycles (%lu us at the stated clock)\n", (unsigned long)(t1 - t0),
         (unsigned long)((t1 - t0) / (board_clock_hz() / 1000000u)));
    say("out:");
    for (uint32_t i = 0; i < KILN_SELFTEST_OUTPUT_BYTES; i++) sayf(" %02lx", out[i], 0);
    say("\n");

    /* Layer by layer, as PROFILE does: the same output, and each layer's cycles. */
    for (uint32_t i = 0; i < KILN_SELFTEST_INPUT_BYTES; i++) in[i] = (uint8_t)(i * 7u + 3u);
    uint64_t total = 0;
    for (int32_t i = 0; i < layers; i++) {
        t0 = board_cycles();
        rc = kiln_runtime_run_layer(k, i, err, sizeof err);
        t1 = board_cycles();
        if (rc != 0) {
            say("FAIL: run_layer: ");
            say(err);
            say("\n");
            break;
        }
        total += t1 - t0;
        sayf("layer %lu: %lu cycles\n", (unsigned long)i, (unsigned long)(t1 - t0));
    }
    sayf("layers total: %lu cycles\n", (unsigned long)total, 0);
    say("out-by-layer:");
    for (uint32_t i = 0; i < KILN_SELFTEST_OUTPUT_BYTES; i++) sayf(" %02lx", out[i], 0);
    say("\n");
    rc = kiln_runtime_run_layer(k, 1000, err, sizeof err);
    say(rc == 0 ? "run_layer(1000): no trap\n" : "run_layer(1000): ");
    if (rc != 0) { say(err); say("\n"); }

    /* The run limit stops a long call at its next branch, and the instance still runs correctly afterwards. */
    /* The limit is checked in the SysTick interrupt, once per 2^24 cycles (0.67 s at 25 MHz): a 10 ms limit stops any
       run longer than 0.68 s (LeNet-5's scalar blob takes 0.9 s). */
    kiln_runtime_set_run_limit_ms(10);
    t0 = board_cycles();
    rc = kiln_runtime_run(k, err, sizeof err);
    t1 = board_cycles();
    kiln_runtime_set_run_limit_ms(0);
    sayf("run limit 10 ms: %s after %lu ms: ", (unsigned long)(rc == 0 ? "finished" : "stopped"),
         (unsigned long)((t1 - t0) / (board_clock_hz() / 1000u)));
    say(rc == 0 ? "(no error)\n" : err);
    say("\n");
    for (uint32_t i = 0; i < KILN_SELFTEST_INPUT_BYTES; i++) in[i] = (uint8_t)(i * 7u + 3u);
    rc = kiln_runtime_run(k, err, sizeof err);
    say(rc == 0 ? "out-after-stop:" : "FAIL: run after stop\n");
    for (uint32_t i = 0; rc == 0 && i < KILN_SELFTEST_OUTPUT_BYTES; i++) sayf(" %02lx", out[i], 0);
    say("\n");

    /* Refusals: a blob above the memory limit, a truncated blob, garbage, and a second instance alongside. */
    expect_refusal("memory limit 64 KiB", slot, len, 65536);
    expect_refusal("truncated", slot, len / 2, board_memory_limit());
    static const uint8_t junk[16] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0, 0, 0, 0x63, 0xff, 0xff};
    expect_refusal("bad section", junk, sizeof junk, board_memory_limit());
    kiln_instance *k2 = kiln_runtime_load(slot, len, board_memory_limit(), err, sizeof err);
    say(k2 ? "second instance: loaded\n" : "second instance: FAILED\n");
    kiln_runtime_unload(k2);

    /* The UART's receive ring while the CPU is busy in a blob: the host sends RX_TEST_BYTES bytes once it sees
       "RX READY"; they must all arrive, in order, though nothing reads the UART during the run. */
    say("RX READY\n");
    for (uint32_t i = 0; i < KILN_SELFTEST_INPUT_BYTES; i++) in[i] = (uint8_t)(i * 7u + 3u);
    (void)kiln_runtime_run(k, err, sizeof err);
    uint32_t got = 0, bad = 0, waiting = 0;
    /* What the RX interrupt stored during the run (without it, at most the UART's one-byte register holds data). */
    for (int b; (b = board_uart_read()) >= 0; got++, waiting++)
        if ((uint8_t)b != (uint8_t)(got * 13u + 5u)) bad++;
    uint32_t idle_since = board_millis();
    while (got < RX_TEST_BYTES && board_millis() - idle_since < 2000u) {
        int b = board_uart_read();
        if (b < 0) continue;
        if ((uint8_t)b != (uint8_t)(got * 13u + 5u)) bad++;
        got++;
        idle_since = board_millis();
    }
    sayf("rx: %lu bytes, %lu out of place", got, bad);
    sayf(" (%lu already buffered when the run ended)\n", waiting, 0);

    kiln_runtime_unload(k);
    say(memcmp(slot, selftest_blob, len) == 0 ? "slot bytes unchanged after load, runs and unload\n"
                                              : "FAIL: the slot's bytes changed\n");
    uint32_t free1 = kiln_runtime_pool_free();
    for (int i = 0; i < 20; i++) {
        k = kiln_runtime_load(slot, len, board_memory_limit(), err, sizeof err);
        if (!k) {
            say("FAIL: reload\n");
            break;
        }
        kiln_runtime_unload(k);
    }
    sayf("pool free after unload: %lu of %lu", free1, kiln_runtime_pool_bytes());
    sayf(", after 20 more loads: %lu\n", kiln_runtime_pool_free(), 0);
    say("SELFTEST END\n");
    for (;;) __asm__ volatile("wfi");
}
