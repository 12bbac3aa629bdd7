/* The ~30 functions WAMR needs from an OS, for a bare board: memory from the pool, no locks, time from SysTick. */
#include "platform_api_vmcore.h"
#include "platform_api_extension.h"
#include "board.h"

int bh_platform_init(void) { return 0; }
void bh_platform_destroy(void) {}

/* WAMR is initialised with Alloc_With_Pool and never calls these; they fail rather than silently use newlib's heap. */
void *os_malloc(unsigned size) { (void)size; return NULL; }
void *os_realloc(void *ptr, unsigned size) { (void)ptr; (void)size; return NULL; }
void os_free(void *ptr) { (void)ptr; }

/* The UART carries the protocol, so WAMR's log lines go to a small ring that a debugger can read. */
#define DEBUG_LOG_BYTES 1024u
char kiln_wamr_log[DEBUG_LOG_BYTES];
static unsigned log_pos;

int os_vprintf(const char *format, va_list ap)
{
    char line[128];
    int n = vsnprintf(line, sizeof line, format, ap);
    if (n < 0) return n;
    unsigned len = (unsigned)n < sizeof line ? (unsigned)n : sizeof line - 1;
    for (unsigned i = 0; i < len; i++) kiln_wamr_log[log_pos++ % DEBUG_LOG_BYTES] = line[i];
    return n;
}

int os_printf(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = os_vprintf(format, ap);
    va_end(ap);
    return n;
}

uint64 os_time_get_boot_microsecond(void)
{
    return board_cycles() / (board_clock_hz() / 1000000u);
}

korp_tid os_self_thread(void) { return 1; }

/* WAMR checks its native stack use against this (it keeps BH_APPLET_PRESERVED_STACK_SIZE spare). */
uint8 *os_thread_get_stack_boundary(void)
{
    extern uint8 __stack_bottom__;
    return &__stack_bottom__;
}

int os_mutex_init(korp_mutex *mutex) { *mutex = 0; return BHT_OK; }
int os_recursive_mutex_init(korp_mutex *mutex) { *mutex = 0; return BHT_OK; }
int os_mutex_destroy(korp_mutex *mutex) { (void)mutex; return BHT_OK; }
int os_mutex_lock(korp_mutex *mutex) { (void)mutex; return BHT_OK; }
int os_mutex_unlock(korp_mutex *mutex) { (void)mutex; return BHT_OK; }

int os_cond_init(korp_cond *cond) { *cond = 0; return BHT_OK; }
int os_cond_destroy(korp_cond *cond) { (void)cond; return BHT_OK; }
/* Nothing else could ever signal: waiting would hang the board, so report an error. */
int os_cond_wait(korp_cond *cond, korp_mutex *mutex) { (void)cond; (void)mutex; return BHT_ERROR; }
int os_cond_reltimedwait(korp_cond *cond, korp_mutex *mutex, uint64 useconds)
{
    (void)cond; (void)mutex; (void)useconds;
    return BHT_ERROR;
}
int os_cond_signal(korp_cond *cond) { (void)cond; return BHT_OK; }
int os_cond_broadcast(korp_cond *cond) { (void)cond; return BHT_OK; }

/* WAMR's thread manager is built only for its per-branch suspend check (the run limit); no thread is ever made. */
int os_thread_create_with_prio(korp_tid *tid, thread_start_routine_t start, void *arg, unsigned int stack_size,
                               int prio)
{
    (void)tid; (void)start; (void)arg; (void)stack_size; (void)prio;
    return BHT_ERROR;
}
int os_thread_create(korp_tid *tid, thread_start_routine_t start, void *arg, unsigned int stack_size)
{
    return os_thread_create_with_prio(tid, start, arg, stack_size, BH_THREAD_DEFAULT_PRIORITY);
}
int os_thread_join(korp_tid thread, void **retval)
{
    (void)thread;
    if (retval) *retval = NULL;
    return BHT_ERROR;
}
int os_thread_detach(korp_tid thread) { (void)thread; return BHT_ERROR; }
void os_thread_exit(void *retval) { (void)retval; }
int os_thread_env_init(void) { return BHT_OK; }
void os_thread_env_destroy(void) {}
bool os_thread_env_inited(void) { return true; }

int os_usleep(uint32 usec)
{
    uint64 end = board_cycles() + (uint64)usec * (board_clock_hz() / 1000000u);
    while (board_cycles() < end) {}
    return 0;
}

/* Linear memories and code come from the pool too; there is no MMU, so protection is a no-op. */
void *os_mmap(void *hint, size_t size, int prot, int flags)
{
    (void)hint; (void)prot; (void)flags;
    if ((uint64)size >= UINT32_MAX) return NULL;
    return BH_MALLOC((uint32)size);
}

void os_munmap(void *addr, size_t size)
{
    (void)size;
    if (addr) BH_FREE(addr);
}

int os_mprotect(void *addr, size_t size, int prot)
{
    (void)addr; (void)size; (void)prot;
    return 0;
}

void os_dcache_flush(void) {}

int os_dumps_proc_mem_info(char *out, unsigned int size)
{
    (void)out; (void)size;
    return -1;
}
