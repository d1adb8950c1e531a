/*
 * wproc.concurrent_max and wproc.idle_bytes_per_process: the first process
 * spawns 1,000,000 Wasm processes that each report ready and then block in
 * receive, all alive at once; concurrent_max is how many were alive (the
 * full count unless a spawn failed or the memory cap was reached),
 * idle_bytes_per_process the growth of the lunatic OS process's VmRSS
 * divided by that count.
 *
 * Usage: idle_memory.wasm [DIVISOR [MAX_RSS_MIB]], run with
 * `lunatic run --dir /proc/self` for the VmRSS. MAX_RSS_MIB (default: no
 * cap) stops the spawning when the runtime's resident memory passes it, so
 * that a runtime that needs too much per process does not take a shared
 * machine's memory. The ready messages are drained after every batch of
 * spawns, so that the first process's mailbox never holds more than a
 * batch and stays out of the measure. Progress lines "# alive N" let run.sh
 * report the largest count reached when the runtime dies on the way.
 */
#include "wproc_common.h"

enum { BATCH = 1000, CHECK_EVERY = 10000, PROGRESS_EVERY = 100000 };

static void idle(int64_t parent)
{
    int64_t ready = 1;
    lun_send((uint64_t)parent, 0, &ready, sizeof ready);
    int64_t value;
    lun_received message;
    lun_receive(NULL, 0, LUN_FOREVER, &value, sizeof value, &message);
}

/* Receives ready messages until `target` arrived in all (timeout_ms for
 * each) or none is waiting (timeout 0); returns the new total. */
static uint64_t collect(uint64_t ready, uint64_t target, int64_t timeout_ms)
{
    while (ready < target) {
        int64_t value;
        lun_received message;
        if (lun_receive(NULL, 0, timeout_ms, &value, sizeof value, &message) != LUN_DATA) break;
        ready++;
    }
    return ready;
}

/* Spawns up to `count` idle processes; stops early on a failed spawn or
 * when VmRSS passes max_rss (0: no cap). Returns how many were spawned. */
static uint64_t spawn_idle(uint64_t count, uint64_t max_rss, uint64_t *ready)
{
    int64_t self = (int64_t)lun_self();
    uint64_t spawned = 0;
    while (spawned < count) {
        if (lun_spawn(idle, self) == 0) {
            wproc_fail("idle_memory: spawn %llu failed", (unsigned long long)spawned);
            break;
        }
        spawned++;
        if (spawned % BATCH == 0) *ready = collect(*ready, spawned, 0);
        if (spawned % PROGRESS_EVERY == 0) {
            printf("# alive %llu\n", (unsigned long long)spawned);
            fflush(stdout);
        }
        if (max_rss != 0 && spawned % CHECK_EVERY == 0 && wproc_rss_bytes() > max_rss) {
            wproc_fail("idle_memory: resident memory passed the cap of %llu MiB after %llu "
                       "processes",
                       (unsigned long long)(max_rss >> 20), (unsigned long long)spawned);
            break;
        }
    }
    return spawned;
}

int main(int argc, char **argv)
{
    uint64_t divisor, max_rss_mib = 0;
    if (!wproc_parse_divisor(argc, argv, 2, &divisor)) return 2;
    if (!wproc_parse_argument(argc, argv, 2, &max_rss_mib))
        return wproc_fail("idle_memory: MAX_RSS_MIB must be a positive number");
    uint64_t count = wproc_scaled(1000000, divisor, 1);
    uint64_t before = wproc_rss_bytes();
    if (before == 0)
        return wproc_fail("idle_memory: cannot read /proc/self/status (run with --dir /proc/self)");
    uint64_t ready = 0;
    uint64_t spawned = spawn_idle(count, max_rss_mib << 20, &ready);
    ready = collect(ready, spawned, 30000);
    uint64_t after = wproc_rss_bytes();
    wproc_report("concurrent_max", (double)ready, "count");
    if (ready > 0)
        wproc_report("idle_bytes_per_process", (double)(after - before) / (double)ready, "bytes");
    if (ready < count)
        return wproc_fail("idle_memory: %llu of %llu processes alive", (unsigned long long)ready,
                          (unsigned long long)count);
    return 0;
}
