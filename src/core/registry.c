/*
 * The registry: names -> (node id, process id), as lunatic's registry host
 * functions use it. A hash table for lookups plus an insertion-ordered list
 * so that a process's names are listed in the order they were registered.
 */
#include "core_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_name(const char *name)
{
    uint64_t hash = 0xcbf29ce484222325ull;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        hash = (hash ^ *c) * 0x100000001b3ull;
    return hash;
}

lun_status core_registry_init(lun_registry *registry, lun_error *error)
{
    memset(registry, 0, sizeof *registry);
    if (pthread_rwlock_init(&registry->lock, NULL) != 0)
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "registry lock");
    return LUN_OK;
}

void core_registry_destroy(lun_registry *registry)
{
    core_registry_entry *entry = registry->first;
    while (entry != NULL) {
        core_registry_entry *next = entry->order_next;
        free(entry->name);
        free(entry);
        entry = next;
    }
    free(registry->buckets);
    pthread_rwlock_destroy(&registry->lock);
}

lun_registry *lun_runtime_registry(lun_runtime *runtime)
{
    return runtime ? &runtime->registry : NULL;
}

static core_registry_entry **find_link(lun_registry *registry, const char *name)
{
    if (registry->bucket_count == 0) return NULL;
    core_registry_entry **link = &registry->buckets[hash_name(name) & (registry->bucket_count - 1)];
    while (*link != NULL && strcmp((*link)->name, name) != 0)
        link = &(*link)->bucket_next;
    return link;
}

static lun_status grow(lun_registry *registry)
{
    size_t count = registry->bucket_count ? registry->bucket_count * 2 : 16;
    core_registry_entry **buckets = calloc(count, sizeof *buckets);
    if (buckets == NULL) return LUN_ERR_NO_MEMORY;
    for (core_registry_entry *entry = registry->first; entry; entry = entry->order_next) {
        size_t at = hash_name(entry->name) & (count - 1);
        entry->bucket_next = buckets[at];
        buckets[at] = entry;
    }
    free(registry->buckets);
    registry->buckets = buckets;
    registry->bucket_count = count;
    return LUN_OK;
}

/* With the write lock held. */
static lun_status insert(lun_registry *registry, const char *name, uint64_t node_id,
                         uint64_t process_id, lun_error *error)
{
    core_registry_entry **link = find_link(registry, name);
    if (link != NULL && *link != NULL) {
        (*link)->node_id = node_id;
        (*link)->process_id = process_id;
        return LUN_OK;
    }
    if (registry->count + 1 > registry->bucket_count && grow(registry) != LUN_OK)
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "registry");
    core_registry_entry *entry = calloc(1, sizeof *entry);
    char *copy = strdup(name);
    if (entry == NULL || copy == NULL) {
        free(entry);
        free(copy);
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "registry entry");
    }
    entry->name = copy;
    entry->node_id = node_id;
    entry->process_id = process_id;
    size_t at = hash_name(name) & (registry->bucket_count - 1);
    entry->bucket_next = registry->buckets[at];
    registry->buckets[at] = entry;
    entry->order_previous = registry->last;
    if (registry->last)
        registry->last->order_next = entry;
    else
        registry->first = entry;
    registry->last = entry;
    registry->count++;
    return LUN_OK;
}

lun_status lun_registry_put(lun_registry *registry, const char *name, uint64_t node_id,
                            uint64_t process_id, lun_error *error)
{
    if (registry == NULL || name == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null registry or name");
    pthread_rwlock_wrlock(&registry->lock);
    lun_status status = insert(registry, name, node_id, process_id, error);
    pthread_rwlock_unlock(&registry->lock);
    return status;
}

lun_status lun_registry_get(lun_registry *registry, const char *name, uint64_t *node_id,
                            uint64_t *process_id)
{
    if (registry == NULL || name == NULL) return LUN_ERR_INVALID_ARGUMENT;
    lun_status status = LUN_ERR_NOT_FOUND;
    pthread_rwlock_rdlock(&registry->lock);
    core_registry_entry **link = find_link(registry, name);
    if (link != NULL && *link != NULL) {
        if (node_id) *node_id = (*link)->node_id;
        if (process_id) *process_id = (*link)->process_id;
        status = LUN_OK;
    }
    pthread_rwlock_unlock(&registry->lock);
    return status;
}

lun_status lun_registry_remove(lun_registry *registry, const char *name)
{
    if (registry == NULL || name == NULL) return LUN_ERR_INVALID_ARGUMENT;
    lun_status status = LUN_ERR_NOT_FOUND;
    pthread_rwlock_wrlock(&registry->lock);
    core_registry_entry **link = find_link(registry, name);
    if (link != NULL && *link != NULL) {
        core_registry_entry *entry = *link;
        *link = entry->bucket_next;
        if (entry->order_previous)
            entry->order_previous->order_next = entry->order_next;
        else
            registry->first = entry->order_next;
        if (entry->order_next)
            entry->order_next->order_previous = entry->order_previous;
        else
            registry->last = entry->order_previous;
        registry->count--;
        free(entry->name);
        free(entry);
        status = LUN_OK;
    }
    pthread_rwlock_unlock(&registry->lock);
    return status;
}

lun_status lun_registry_get_or_put(lun_registry *registry, const char *name,
                                   lun_status (*make)(void *context, uint64_t *node_id,
                                                      uint64_t *process_id),
                                   void *context, uint64_t *node_id, uint64_t *process_id,
                                   bool *found, lun_error *error)
{
    if (registry == NULL || name == NULL || make == NULL || node_id == NULL || process_id == NULL ||
        found == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null argument");
    *found = false;
    lun_status status = LUN_OK;
    pthread_rwlock_wrlock(&registry->lock);
    core_registry_entry **link = find_link(registry, name);
    if (link != NULL && *link != NULL) {
        *node_id = (*link)->node_id;
        *process_id = (*link)->process_id;
        *found = true;
    } else {
        status = make(context, node_id, process_id);
        if (status == LUN_OK)
            status = insert(registry, name, *node_id, *process_id, error);
        else
            lun_error_set(error, status, "could not make the entry for '%s'", name);
    }
    pthread_rwlock_unlock(&registry->lock);
    return status;
}

/* lunatic shows the part of a name after its third '/' (or the last part). */
static const char *display_name(const char *name)
{
    const char *part = name;
    for (int slashes = 0; slashes < 3; slashes++) {
        const char *slash = strchr(part, '/');
        if (slash == NULL) break;
        part = slash + 1;
    }
    return part;
}

size_t core_registry_describe(lun_registry *registry, uint64_t process_id, char *buffer,
                              size_t size)
{
    size_t names = 0, used = 0;
    buffer[0] = '\0';
    pthread_rwlock_rdlock(&registry->lock);
    for (core_registry_entry *entry = registry->first; entry; entry = entry->order_next) {
        if (entry->process_id != process_id) continue;
        int written = snprintf(buffer + used, size - used, "%s'%s'", names ? " / " : "",
                               display_name(entry->name));
        names++;
        if (written < 0 || (size_t)written >= size - used) {
            used = size - 1;
            break;
        }
        used += (size_t)written;
    }
    pthread_rwlock_unlock(&registry->lock);
    return names;
}
