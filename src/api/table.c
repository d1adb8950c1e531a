/*
 * Per-process resource tables: ids that start at 0, grow by one and are never
 * reused, kept in an open-addressing hash map (linear probing, backward-shift
 * deletion) so that a process dropping what it creates keeps a small table.
 */
#include <stdlib.h>

#include "api_internal.h"

void api_table_init(api_table *table, void (*destroy)(void *pointer))
{
    *table = (api_table){.destroy = destroy};
}

void api_table_clear(api_table *table)
{
    if (table->destroy != NULL)
        for (size_t i = 0; i < table->capacity; i++)
            if (table->keys[i] != 0) table->destroy(table->values[i].pointer);
    free(table->keys);
    free(table->values);
    table->keys = NULL;
    table->values = NULL;
    table->count = table->capacity = 0;
}

static size_t slot_of(uint64_t key, size_t capacity)
{
    uint64_t hash = key * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(hash >> 32) & (capacity - 1);
}

static void insert_raw(uint64_t *keys, api_value *values, size_t capacity, uint64_t key,
                       api_value value)
{
    size_t slot = slot_of(key, capacity);
    while (keys[slot] != 0)
        slot = (slot + 1) & (capacity - 1);
    keys[slot] = key;
    values[slot] = value;
}

static bool grow(api_table *table)
{
    size_t capacity = table->capacity ? table->capacity * 2 : 8;
    uint64_t *keys = calloc(capacity, sizeof *keys);
    api_value *values = calloc(capacity, sizeof *values);
    if (keys == NULL || values == NULL) {
        free(keys);
        free(values);
        return false;
    }
    for (size_t i = 0; i < table->capacity; i++)
        if (table->keys[i] != 0)
            insert_raw(keys, values, capacity, table->keys[i], table->values[i]);
    free(table->keys);
    free(table->values);
    table->keys = keys;
    table->values = values;
    table->capacity = capacity;
    return true;
}

bool api_table_add(api_table *table, api_value value, uint64_t *id)
{
    if (table->next_id == UINT64_MAX - 1) return false;
    if ((table->count + 1) * 4 > table->capacity * 3 && !grow(table)) return false;
    uint64_t new_id = table->next_id++;
    insert_raw(table->keys, table->values, table->capacity, new_id + 1, value);
    table->count++;
    *id = new_id;
    return true;
}

static size_t find(const api_table *table, uint64_t id)
{
    if (table->capacity == 0 || id >= UINT64_MAX - 1) return SIZE_MAX;
    uint64_t key = id + 1;
    size_t slot = slot_of(key, table->capacity);
    while (table->keys[slot] != 0) {
        if (table->keys[slot] == key) return slot;
        slot = (slot + 1) & (table->capacity - 1);
    }
    return SIZE_MAX;
}

bool api_table_get(const api_table *table, uint64_t id, api_value *value)
{
    size_t slot = find(table, id);
    if (slot == SIZE_MAX) return false;
    if (value) *value = table->values[slot];
    return true;
}

bool api_table_set(api_table *table, uint64_t id, api_value value)
{
    size_t slot = find(table, id);
    if (slot == SIZE_MAX) return false;
    table->values[slot] = value;
    return true;
}

bool api_table_take(api_table *table, uint64_t id, api_value *value)
{
    size_t slot = find(table, id);
    if (slot == SIZE_MAX) return false;
    if (value) *value = table->values[slot];
    size_t mask = table->capacity - 1;
    size_t hole = slot;
    size_t next = (hole + 1) & mask;
    while (table->keys[next] != 0) {
        size_t home = slot_of(table->keys[next], table->capacity);
        /* Move the entry back into the hole unless its home lies in (hole, next]. */
        bool stays = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
        if (!stays) {
            table->keys[hole] = table->keys[next];
            table->values[hole] = table->values[next];
            hole = next;
        }
        next = (next + 1) & mask;
    }
    table->keys[hole] = 0;
    table->count--;
    return true;
}
