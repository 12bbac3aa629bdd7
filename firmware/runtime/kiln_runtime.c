/* kiln_runtime.h on WAMR's fast interpreter: checks a blob's bytes, loads it without modifying them, runs its exports. */
#include "kiln_runtime.h"
#include "kiln_runtime_init.h"
#include "wasm_export.h"
#include "wasm_exec_env.h" /* suspend_flags: how the run limit stops the interpreter */
#include "board.h"
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#ifndef KILN_WAMR_POOL_BYTES
#error "KILN_WAMR_POOL_BYTES comes from the board's board.cmake"
#endif

#define WASM_PAGE 65536u
/* Interpreter operand stack and frames per instance; Kiln blobs call at most a few functions deep. */
#define EXEC_STACK_BYTES (32u * 1024u)

/* WAMR allocates everything (modules, compiled code, linear memories) from this pool; the linker keeps it out of
   the zeroed .bss so boot does not clear megabytes. */
__attribute__((section(".wamr_pool"), aligned(16))) static uint8_t wamr_pool[KILN_WAMR_POOL_BYTES];
static bool wamr_ready;

/* The run limit: set while a call into a blob is under way, read by the timer interrupt. */
static uint32_t run_limit_ms;
static WASMExecEnv *volatile running_env;
static volatile uint64_t run_deadline;
static volatile bool run_stopped;

struct kiln_instance {
    wasm_module_t module;
    wasm_module_inst_t inst;
    wasm_exec_env_t env;
    wasm_function_inst_t run, run_layer, layer_count, input_ptr, output_ptr;
};

static void set_err(char *err, size_t err_len, const char *fmt, const char *detail, unsigned long a, unsigned long b)
{
    if (!err || err_len == 0) return;
    snprintf(err, err_len, fmt, detail ? detail : "", a, b);
    /* One line: WAMR's messages could contain a newline. */
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

int kiln_runtime_init(void)
{
    if (wamr_ready) return 0;
    RuntimeInitArgs args;
    memset(&args, 0, sizeof args);
    args.mem_alloc_type = Alloc_With_Pool;
    args.mem_alloc_option.pool.heap_buf = wamr_pool;
    args.mem_alloc_option.pool.heap_size = sizeof wamr_pool;
    if (!wasm_runtime_full_init(&args)) return -1;
    wamr_ready = true;
    return 0;
}

uint32_t kiln_runtime_pool_bytes(void) { return (uint32_t)sizeof wamr_pool; }

uint32_t kiln_runtime_pool_free(void)
{
    mem_alloc_info_t info;
    if (!wamr_ready || !wasm_runtime_get_mem_alloc_info(&info)) return 0;
    return info.total_free_size;
}

/* Reads an unsigned LEB128 of at most 32 bits from [*p, end); false if truncated or too long. */
static bool read_u32(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
    uint32_t value = 0;
    for (unsigned shift = 0; shift < 35; shift += 7) {
        if (*p >= end) return false;
        uint8_t byte = *(*p)++;
        if (shift == 28 && (byte & 0x70)) return false; /* bits beyond 32 */
        value |= (uint32_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return true;
        }
    }
    return false;
}

/* The order non-custom sections must come in (the DataCount section, id 12, sits between Element and Code). */
static int section_rank(uint8_t id)
{
    static const uint8_t order[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11};
    for (int i = 0; i < (int)sizeof order; i++)
        if (order[i] == id) return i;
    return -1;
}

typedef struct {
    const uint8_t *body;
    uint32_t size;
    uint8_t id;
} section_ref;

/* Walks the sections of a module, bounds-checked; calls visit for each. Returns NULL or a reason. */
static const char *walk_sections(const uint8_t *blob, uint32_t len,
                                 bool (*visit)(const section_ref *s, void *ctx), void *ctx)
{
    static const uint8_t header[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    if (!blob || len < 8 || memcmp(blob, header, 4) != 0) return "not a WebAssembly module (bad magic)";
    if (memcmp(blob + 4, header + 4, 4) != 0) return "unsupported WebAssembly binary version";
    const uint8_t *p = blob + 8, *end = blob + len;
    int last_rank = -1;
    while (p < end) {
        section_ref s;
        s.id = *p++;
        if (!read_u32(&p, end, &s.size) || s.size > (uint32_t)(end - p)) return "truncated section";
        s.body = p;
        p += s.size;
        if (s.id != 0) {
            int rank = section_rank(s.id);
            if (rank < 0) return "unknown section id";
            if (rank <= last_rank) return "sections out of order or repeated";
            last_rank = rank;
        }
        if (visit && !visit(&s, ctx)) break;
    }
    return NULL;
}

typedef struct {
    const uint8_t *data;
    uint32_t len;
    int count;
} manifest_search;

static bool find_manifest(const section_ref *s, void *ctx)
{
    manifest_search *m = ctx;
    if (s->id != 0) return true;
    const uint8_t *p = s->body, *end = s->body + s->size;
    uint32_t name_len;
    if (!read_u32(&p, end, &name_len) || name_len > (uint32_t)(end - p)) return true;
    if (name_len == 13 && memcmp(p, "kiln.manifest", 13) == 0) {
        m->data = p + name_len;
        m->len = (uint32_t)(end - (p + name_len));
        m->count++;
    }
    return true;
}

const uint8_t *kiln_runtime_manifest(const uint8_t *blob, uint32_t len, uint32_t *manifest_len)
{
    manifest_search m = {NULL, 0, 0};
    if (manifest_len) *manifest_len = 0;
    if (walk_sections(blob, len, find_manifest, &m) != NULL || m.count != 1) return NULL;
    if (manifest_len) *manifest_len = m.len;
    return m.data;
}

typedef struct {
    wasm_section_t *head, *tail;
    uint32_t imports;
    uint32_t memories;
    uint32_t initial_pages;
    bool oom;
    bool bad_memory;
} load_plan;

/* Builds WAMR's section list and reads the import count and the memory's initial size on the way. */
static bool plan_section(const section_ref *s, void *ctx)
{
    load_plan *plan = ctx;
    if (s->id == 2) {
        const uint8_t *p = s->body;
        if (!read_u32(&p, s->body + s->size, &plan->imports)) plan->imports = 1;
    } else if (s->id == 5) {
        const uint8_t *p = s->body, *end = s->body + s->size;
        uint32_t flags;
        if (!read_u32(&p, end, &plan->memories) || (plan->memories > 0 && (!read_u32(&p, end, &flags) ||
            !read_u32(&p, end, &plan->initial_pages)))) {
            plan->bad_memory = true;
        }
    }
    if (s->id == 0) return true; /* WAMR needs no custom section, and the name section would only cost memory */
    wasm_section_t *node = wasm_runtime_malloc(sizeof *node);
    if (!node) {
        plan->oom = true;
        return false;
    }
    node->next = NULL;
    node->section_type = s->id;
    node->section_body = (uint8_t *)s->body; /* read only: WAMR copies names when loading from sections */
    node->section_body_size = s->size;
    if (plan->tail) plan->tail->next = node; else plan->head = node;
    plan->tail = node;
    return true;
}

static void free_plan(load_plan *plan)
{
    for (wasm_section_t *n = plan->head, *next; n; n = next) {
        next = n->next;
        wasm_runtime_free(n);
    }
    plan->head = plan->tail = NULL;
}

static bool has_simd_manifest(const uint8_t *blob, uint32_t len)
{
    uint32_t mlen;
    const uint8_t *m = kiln_runtime_manifest(blob, len, &mlen);
    static const char needle[] = "\"simd\":true";
    if (!m || mlen < sizeof needle - 1) return false;
    for (uint32_t i = 0; i + sizeof needle - 1 <= mlen; i++)
        if (memcmp(m + i, needle, sizeof needle - 1) == 0) return true;
    return false;
}

/* Finds an export with exactly the given numbers of parameters and results (WAMR writes results into argv, so
   a result the caller did not expect would overrun it). */
static wasm_function_inst_t export_fn(wasm_module_inst_t inst, const char *name, uint32_t params, uint32_t results)
{
    wasm_function_inst_t f = wasm_runtime_lookup_function(inst, name, NULL);
    if (!f) return NULL;
    if (wasm_func_get_param_count(f, inst) != params || wasm_func_get_result_count(f, inst) != results) return NULL;
    return f;
}

kiln_instance *kiln_runtime_load(const uint8_t *blob, uint32_t len, uint32_t memory_limit, char *err, size_t err_len)
{
    char werr[128];
    if (kiln_runtime_init() != 0) {
        set_err(err, err_len, "%sWAMR failed to initialise", NULL, 0, 0);
        return NULL;
    }
    load_plan plan;
    memset(&plan, 0, sizeof plan);
    const char *why = walk_sections(blob, len, plan_section, &plan);
    if (why || plan.oom || plan.bad_memory) {
        free_plan(&plan);
        set_err(err, err_len, "%s", why ? why : plan.oom ? "out of runtime memory" : "malformed memory section", 0, 0);
        return NULL;
    }
    if (plan.imports != 0) {
        free_plan(&plan);
        set_err(err, err_len, "%sthe blob imports %lu items; a Kiln blob imports nothing", NULL, plan.imports, 0);
        return NULL;
    }
    if (plan.memories != 1) {
        free_plan(&plan);
        set_err(err, err_len, "%sthe blob has %lu memories; a Kiln blob has one", NULL, plan.memories, 0);
        return NULL;
    }
    if ((uint64_t)plan.initial_pages * WASM_PAGE > memory_limit) {
        free_plan(&plan);
        set_err(err, err_len, "%sthe blob needs %lu bytes of memory; this board allows %lu",
                NULL, (unsigned long)((uint64_t)plan.initial_pages * WASM_PAGE), memory_limit);
        return NULL;
    }

    kiln_instance *k = wasm_runtime_malloc(sizeof *k);
    if (!k) {
        free_plan(&plan);
        set_err(err, err_len, "%sout of runtime memory", NULL, 0, 0);
        return NULL;
    }
    memset(k, 0, sizeof *k);
    werr[0] = 0;
    k->module = wasm_runtime_load_from_sections(plan.head, false, werr, sizeof werr);
    free_plan(&plan);
    if (!k->module) {
        if (has_simd_manifest(blob, len))
            set_err(err, err_len, "%sSIMD blobs are not supported by this board's interpreter: compile with --target scalar", NULL, 0, 0);
        else
            set_err(err, err_len, "WAMR could not load the blob: %s", werr, 0, 0);
        goto fail;
    }
    werr[0] = 0;
    /* No app heap: Kiln blobs manage their own arena inside linear memory. */
    k->inst = wasm_runtime_instantiate(k->module, EXEC_STACK_BYTES, 0, werr, sizeof werr);
    if (!k->inst) {
        set_err(err, err_len, "WAMR could not instantiate the blob: %s", werr, 0, 0);
        goto fail;
    }
    uint32_t mem_start = 0, mem_end = 0;
    if (!wasm_runtime_get_app_addr_range(k->inst, 0, &mem_start, &mem_end) || mem_end > memory_limit) {
        set_err(err, err_len, "%sthe blob's memory (%lu bytes) is above this board's limit of %lu bytes",
                NULL, mem_end, memory_limit);
        goto fail;
    }
    k->run = export_fn(k->inst, "run", 0, 0);
    k->run_layer = export_fn(k->inst, "run_layer", 1, 0);
    k->layer_count = export_fn(k->inst, "layer_count", 0, 1);
    k->input_ptr = export_fn(k->inst, "input_ptr", 0, 1);
    k->output_ptr = export_fn(k->inst, "output_ptr", 0, 1);
    if (!k->run || !k->run_layer || !k->layer_count || !k->input_ptr || !k->output_ptr) {
        set_err(err, err_len, "%sthe blob lacks an export of the Kiln ABI: run(), run_layer(i32), layer_count() i32, "
                "input_ptr() i32, output_ptr() i32", NULL, 0, 0);
        goto fail;
    }
    k->env = wasm_runtime_create_exec_env(k->inst, EXEC_STACK_BYTES);
    if (!k->env) {
        set_err(err, err_len, "%sout of runtime memory for the execution stack", NULL, 0, 0);
        goto fail;
    }
    return k;
fail:
    kiln_runtime_unload(k);
    return NULL;
}

void kiln_runtime_unload(kiln_instance *k)
{
    if (!k) return;
    if (k->env) wasm_runtime_destroy_exec_env(k->env);
    if (k->inst) wasm_runtime_deinstantiate(k->inst);
    if (k->module) wasm_runtime_unload(k->module);
    wasm_runtime_free(k);
}

void kiln_runtime_set_run_limit_ms(uint32_t ms) { run_limit_ms = ms; }

void board_tick_hook(void)
{
#if WASM_ENABLE_THREAD_MGR != 0
    WASMExecEnv *env = running_env;
    if (env && board_cycles() >= run_deadline) {
        /* WAMR's fast interpreter (built with the thread manager) returns at its next branch or call when bit 0 is
           set, unwinding every wasm frame of this call; the instance stays usable. */
        env->suspend_flags.flags |= 0x01;
        run_stopped = true;
    }
#endif
}

/* Calls f with argv (in: arguments, out: the i32 result); on a trap copies WAMR's exception into err. */
static int call(kiln_instance *k, wasm_function_inst_t f, uint32_t argc, uint32_t argv[1], char *err, size_t err_len)
{
    if (!k || !f) {
        set_err(err, err_len, "%sno model instance", NULL, 0, 0);
        return -1;
    }
    WASMExecEnv *env = (WASMExecEnv *)k->env;
#if WASM_ENABLE_THREAD_MGR != 0
    env->suspend_flags.flags = 0;
#endif
    run_stopped = false;
    if (run_limit_ms) {
        run_deadline = board_cycles() + (uint64_t)run_limit_ms * (board_clock_hz() / 1000u);
        running_env = env;
    }
    bool ok = wasm_runtime_call_wasm(k->env, f, argc, argv);
    running_env = NULL;
    if (run_stopped) {
#if WASM_ENABLE_THREAD_MGR != 0
        env->suspend_flags.flags = 0;
#endif
        wasm_runtime_clear_exception(k->inst);
        set_err(err, err_len, "%sstopped: the call ran longer than the run limit of %lu ms", NULL, run_limit_ms, 0);
        return -1;
    }
    if (ok) return 0;
    const char *e = wasm_runtime_get_exception(k->inst);
    set_err(err, err_len, "trap: %s", e ? e : "unknown", 0, 0);
    wasm_runtime_clear_exception(k->inst);
    return -1;
}

int kiln_runtime_run(kiln_instance *k, char *err, size_t err_len)
{
    uint32_t argv[1] = {0};
    return call(k, k ? k->run : NULL, 0, argv, err, err_len);
}

int kiln_runtime_run_layer(kiln_instance *k, int32_t layer, char *err, size_t err_len)
{
    uint32_t argv[1] = {(uint32_t)layer};
    return call(k, k ? k->run_layer : NULL, 1, argv, err, err_len);
}

int32_t kiln_runtime_layer_count(kiln_instance *k)
{
    uint32_t argv[1] = {0};
    if (call(k, k ? k->layer_count : NULL, 0, argv, NULL, 0) != 0) return -1;
    return (int32_t)argv[0];
}

uint8_t *kiln_runtime_region(kiln_instance *k, int output, uint32_t bytes)
{
    uint32_t argv[1] = {0};
    if (!k || call(k, output ? k->output_ptr : k->input_ptr, 0, argv, NULL, 0) != 0) return NULL;
    /* WAMR checks offset + bytes against the current memory size (without overflow). */
    if (!wasm_runtime_validate_app_addr(k->inst, argv[0], bytes)) {
        wasm_runtime_clear_exception(k->inst); /* validate sets "out of bounds memory access" */
        return NULL;
    }
    return wasm_runtime_addr_app_to_native(k->inst, argv[0]);
}
