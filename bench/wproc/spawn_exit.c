/*
 * wproc.spawn_exit_per_s: the first process spawns 1,000,000 Wasm processes
 * that return at once; the clock stops when all of them are gone (each pid
 * polled with process::exists, sleeping a millisecond while one still
 * lives, as the Erlang twin polls the process count).
 */
#include "wproc_common.h"

static void return_at_once(int64_t unused)
{
    (void)unused;
}

/* Waits until none of pids[0..count) exists; false after 60 s. */
static bool wait_all_gone(const uint64_t *pids, uint64_t count)
{
    uint64_t deadline = wproc_now_ns() + 60000000000u;
    for (uint64_t i = 0; i < count; i++) {
        while (lun_exists(pids[i])) {
            if (wproc_now_ns() > deadline) return false;
            lun_sleep_ms(1);
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    uint64_t divisor;
    if (!wproc_parse_divisor(argc, argv, 1, &divisor)) return 2;
    uint64_t count = wproc_scaled(1000000, divisor, 1);
    uint64_t *pids = malloc(count * sizeof *pids);
    if (pids == NULL)
        return wproc_fail("spawn_exit: no memory for %llu pids", (unsigned long long)count);
    uint64_t start = wproc_now_ns();
    for (uint64_t i = 0; i < count; i++) {
        pids[i] = lun_spawn(return_at_once, 0);
        if (pids[i] == 0) return wproc_fail("spawn_exit: spawn %llu failed", (unsigned long long)i);
    }
    if (!wait_all_gone(pids, count))
        return wproc_fail("spawn_exit: processes still alive after 60 s");
    uint64_t elapsed = wproc_now_ns() - start;
    free(pids);
    wproc_report("spawn_exit_per_s", (double)count * 1e9 / (double)elapsed, "per_s");
    return 0;
}
