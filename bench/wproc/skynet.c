/*
 * wproc.skynet_ms: a tree of 1,000,000 leaf Wasm processes, fan-out 10;
 * every leaf sends its number to its parent, every inner node the sum of
 * its children's; the root's sum must be 0 + 1 + ... + 999,999.
 *
 * A node is spawned on the exported entry skynet_node(parent, first,
 * count) through the raw process::spawn with three i64 parameters, so that
 * its range arrives as spawn arguments and not as an extra message.
 */
#include "wproc_common.h"

static bool spawn_node(uint64_t parent, int64_t first, int64_t count);

/* The leaves first .. first + count - 1 below one node. */
__attribute__((export_name("skynet_node"))) void skynet_node(int64_t parent, int64_t first,
                                                             int64_t count)
{
    int64_t sum = first;
    if (count > 1) {
        int64_t children = count < 10 ? count : 10;
        for (int64_t i = 0; i < children; i++) {
            int64_t low = first + count * i / children;
            int64_t high = first + count * (i + 1) / children;
            if (!spawn_node(lun_self(), low, high - low)) return; /* the root times out */
        }
        sum = 0;
        for (int64_t i = 0; i < children; i++) {
            int64_t value;
            lun_received message;
            if (lun_receive(NULL, 0, LUN_FOREVER, &value, sizeof value, &message) != LUN_DATA)
                return;
            sum += value;
        }
    }
    lun_send(parent, 0, &sum, sizeof sum);
}

/* One record of lunatic's spawn parameters: type 0x7E (i64), 16-byte LE. */
static void put_i64(uint8_t *record, int64_t value)
{
    memset(record, 0, 17);
    record[0] = 0x7E;
    memcpy(record + 1, &value, sizeof value); /* wasm32 is little-endian */
}

static bool spawn_node(uint64_t parent, int64_t first, int64_t count)
{
    static const char entry[] = "skynet_node";
    uint8_t params[3 * 17];
    put_i64(params, (int64_t)parent);
    put_i64(params + 17, first);
    put_i64(params + 34, count);
    uint64_t id;
    if (lun_sys_spawn(0, LUN_INHERIT, LUN_INHERIT, entry, sizeof entry - 1, params, sizeof params,
                      &id) != 0) {
        lun_sys_error_drop((int64_t)id);
        fprintf(stderr, "error: skynet: spawn failed\n");
        fflush(stderr);
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    uint64_t divisor;
    if (!wproc_parse_divisor(argc, argv, 1, &divisor)) return 2;
    int64_t leaves = (int64_t)wproc_scaled(1000000, divisor, 1);
    uint64_t start = wproc_now_ns();
    if (!spawn_node(lun_self(), 0, leaves)) return 1;
    int64_t sum;
    lun_received message;
    if (lun_receive(NULL, 0, 120000, &sum, sizeof sum, &message) != LUN_DATA)
        return wproc_fail("skynet: no answer within 120 s");
    uint64_t elapsed = wproc_now_ns() - start;
    int64_t expected = leaves * (leaves - 1) / 2;
    if (sum != expected)
        return wproc_fail("skynet: sum %lld, expected %lld", (long long)sum, (long long)expected);
    wproc_report("skynet_ms", (double)elapsed / 1e6, "ms");
    return 0;
}
