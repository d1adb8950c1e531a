/*
 * Peer tables: a process's links (peer -> tag) and monitors, keyed by the
 * peer's process id. Open addressing with linear probing, so that a
 * supervisor with 100,000 links still adds and removes one in O(1).
 */
#include "core_internal.h"

#include <stdlib.h>

static uint32_t home_of(const core_peers *table, uint64_t id)
{
    return (uint32_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (table->capacity - 1);
}

/* The slot holding id, or the empty slot where it would go. */
static core_peer *find_slot(core_peers *table, uint64_t id)
{
    for (uint32_t at = home_of(table, id);; at = (at + 1) & (table->capacity - 1)) {
        core_peer *slot = &table->slots[at];
        if (slot->process == NULL || slot->process->id == id) return slot;
    }
}

static core_peers *table_new(uint32_t capacity)
{
    core_peers *table = calloc(1, sizeof *table + capacity * sizeof table->slots[0]);
    if (table != NULL) table->capacity = capacity;
    return table;
}

static bool ensure_room(core_peers **table)
{
    core_peers *old = *table;
    if (old != NULL && (old->count + 1) * 4 <= old->capacity * 3) return true;
    uint32_t capacity = old ? old->capacity * 2 : 4;
    if (capacity == 0) return false;
    core_peers *bigger = table_new(capacity);
    if (bigger == NULL) return false;
    for (uint32_t i = 0; old != NULL && i < old->capacity; i++) {
        if (old->slots[i].process == NULL) continue;
        *find_slot(bigger, old->slots[i].process->id) = old->slots[i];
        bigger->count++;
    }
    free(old);
    *table = bigger;
    return true;
}

bool core_peers_put(core_peers **table, lun_process *peer, int64_t tag, lun_process **replaced)
{
    *replaced = NULL;
    if (!ensure_room(table)) return false;
    core_peer *slot = find_slot(*table, peer->id);
    if (slot->process != NULL)
        *replaced = slot->process;
    else
        (*table)->count++;
    slot->process = peer;
    slot->tag = tag;
    return true;
}

lun_process *core_peers_remove(core_peers *table, uint64_t id)
{
    if (table == NULL) return NULL;
    core_peer *slot = find_slot(table, id);
    lun_process *removed = slot->process;
    if (removed == NULL) return NULL;
    /* Backward-shift deletion keeps every probe chain unbroken. */
    uint32_t mask = table->capacity - 1;
    uint32_t hole = (uint32_t)(slot - table->slots);
    for (uint32_t at = (hole + 1) & mask; table->slots[at].process != NULL; at = (at + 1) & mask) {
        uint32_t home = home_of(table, table->slots[at].process->id);
        if (((at - home) & mask) >= ((at - hole) & mask)) {
            table->slots[hole] = table->slots[at];
            hole = at;
        }
    }
    table->slots[hole].process = NULL;
    table->count--;
    return removed;
}

uint32_t core_peers_count(const core_peers *table)
{
    return table ? table->count : 0;
}
