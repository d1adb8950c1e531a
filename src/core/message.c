/*
 * Messages: data (optional tag, byte buffer with a read position, resource
 * slots), LinkDied(tag) and ProcessDied(id). A small data message keeps its
 * bytes in the same allocation as its header.
 */
#include "core_internal.h"

#include <stdlib.h>
#include <string.h>

/* Inline room is capped so that a large capacity hint does not pin a big
 * block for the whole life of the message when it is never filled. */
enum { INLINE_LIMIT = 256 };

static lun_message *message_new(lun_message_kind kind, size_t inline_capacity)
{
    /* Small messages come from the block cache; larger ones from malloc.
     * Every field is set: zeroing the inline bytes would be wasted. */
    bool cached = inline_capacity <= CORE_MESSAGE_SMALL_INLINE;
    lun_message *message =
        cached ? core_cache_alloc(CORE_CACHE_MESSAGE) : malloc(sizeof *message + inline_capacity);
    if (message == NULL) return NULL;
    if (cached) inline_capacity = CORE_MESSAGE_SMALL_INLINE;
    atomic_init(&message->node.next, NULL);
    message->node.kind = LUN_SIGNAL_MESSAGE;
    message->mailbox_previous = message->mailbox_next = NULL;
    message->kind = (uint8_t)kind;
    message->data_inline = kind == LUN_MESSAGE_DATA;
    message->cached = cached;
    message->tag = 0;
    message->process_id = 0;
    message->data = kind == LUN_MESSAGE_DATA ? message->inline_bytes : NULL;
    message->size = 0;
    message->capacity = kind == LUN_MESSAGE_DATA ? (uint32_t)inline_capacity : 0;
    message->position = 0;
    message->resources = NULL;
    message->resource_count = 0;
    message->resource_capacity = 0;
    return message;
}

lun_message *lun_message_new_data(int64_t tag, size_t capacity)
{
    lun_message *message =
        message_new(LUN_MESSAGE_DATA, capacity <= INLINE_LIMIT ? capacity : INLINE_LIMIT);
    if (message != NULL) message->tag = tag;
    return message;
}

lun_message *lun_message_new_link_died(int64_t tag)
{
    lun_message *message = message_new(LUN_MESSAGE_LINK_DIED, 0);
    if (message != NULL) message->tag = tag;
    return message;
}

lun_message *lun_message_new_process_died(uint64_t process_id)
{
    lun_message *message = message_new(LUN_MESSAGE_PROCESS_DIED, 0);
    if (message != NULL) message->process_id = process_id;
    return message;
}

void lun_message_free(lun_message *message)
{
    if (message == NULL) return;
    for (size_t i = 0; i < message->resource_count; i++) {
        core_resource_slot *slot = &message->resources[i];
        if (slot->resource != NULL && slot->type != NULL && slot->type->destroy != NULL)
            slot->type->destroy(slot->resource);
    }
    free(message->resources);
    if (!message->data_inline) free(message->data);
    if (message->cached)
        core_cache_free(CORE_CACHE_MESSAGE, message);
    else
        free(message);
}

lun_message_kind lun_message_get_kind(const lun_message *message)
{
    return message ? (lun_message_kind)message->kind : LUN_MESSAGE_DATA;
}

int64_t lun_message_tag(const lun_message *message)
{
    return message ? message->tag : 0;
}

uint64_t lun_message_process_id(const lun_message *message)
{
    return message && message->kind == LUN_MESSAGE_PROCESS_DIED ? message->process_id : 0;
}

const uint8_t *lun_message_data(const lun_message *message)
{
    return message && message->kind == LUN_MESSAGE_DATA ? message->data : NULL;
}

size_t lun_message_size(const lun_message *message)
{
    return message ? message->size : 0;
}

size_t lun_message_position(const lun_message *message)
{
    return message ? message->position : 0;
}

static lun_status grow(lun_message *message, size_t needed, lun_error *error)
{
    size_t capacity = message->capacity < 64 ? 64 : message->capacity;
    while (capacity < needed)
        capacity = capacity > LUN_MESSAGE_MAX_SIZE / 2 ? needed : capacity * 2;
    uint8_t *data = message->data_inline ? malloc(capacity) : realloc(message->data, capacity);
    if (data == NULL)
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "message buffer of %zu bytes", capacity);
    if (message->data_inline) memcpy(data, message->data, message->size);
    message->data = data;
    message->data_inline = false;
    message->capacity = (uint32_t)capacity;
    return LUN_OK;
}

lun_status lun_message_write(lun_message *message, const void *bytes, size_t length,
                             lun_error *error)
{
    if (message == NULL || message->kind != LUN_MESSAGE_DATA)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "write to a non-data message");
    if (length == 0) return LUN_OK;
    if (bytes == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no bytes");
    if (length > LUN_MESSAGE_MAX_SIZE || message->size > LUN_MESSAGE_MAX_SIZE - length)
        return lun_error_set(error, LUN_ERR_NO_MEMORY, "message larger than %zu bytes",
                             (size_t)LUN_MESSAGE_MAX_SIZE);
    size_t needed = message->size + length;
    if (needed > message->capacity) {
        lun_status status = grow(message, needed, error);
        if (status != LUN_OK) return status;
    }
    memcpy(message->data + message->size, bytes, length);
    message->size = (uint32_t)needed;
    return LUN_OK;
}

lun_status lun_message_read(lun_message *message, void *bytes, size_t length, size_t *read,
                            lun_error *error)
{
    if (read) *read = 0;
    if (message == NULL || message->kind != LUN_MESSAGE_DATA)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "read from a non-data message");
    if (message->position > message->size)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT,
                             "read position %zu beyond the size %zu", message->position,
                             (size_t)message->size);
    size_t available = message->size - message->position;
    size_t count = length < available ? length : available;
    if (count > 0 && bytes == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "no buffer");
    if (count > 0) memcpy(bytes, message->data + message->position, count);
    message->position += count;
    if (read) *read = count;
    return LUN_OK;
}

lun_status lun_message_seek(lun_message *message, size_t position, lun_error *error)
{
    if (message == NULL || message->kind != LUN_MESSAGE_DATA)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "seek in a non-data message");
    message->position = position;
    return LUN_OK;
}

lun_status lun_message_push_resource(lun_message *message, void *resource,
                                     const lun_resource_type *type, size_t *index, lun_error *error)
{
    if (message == NULL || message->kind != LUN_MESSAGE_DATA)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "resource in a non-data message");
    if (resource == NULL || type == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null resource or type");
    if (message->resource_count == message->resource_capacity) {
        if (message->resource_capacity > UINT32_MAX / 2)
            return lun_error_set(error, LUN_ERR_NO_MEMORY, "too many resources");
        size_t capacity = message->resource_capacity ? message->resource_capacity * 2u : 4;
        core_resource_slot *slots = realloc(message->resources, capacity * sizeof *slots);
        if (slots == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "resource slots");
        message->resources = slots;
        message->resource_capacity = (uint32_t)capacity;
    }
    size_t at = message->resource_count++;
    message->resources[at].resource = resource;
    message->resources[at].type = type;
    if (index) *index = at;
    return LUN_OK;
}

lun_status lun_message_take_resource(lun_message *message, size_t index,
                                     const lun_resource_type *expected, void **resource,
                                     lun_error *error)
{
    if (resource) *resource = NULL;
    if (message == NULL || message->kind != LUN_MESSAGE_DATA || resource == NULL)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "take from a non-data message");
    if (index >= message->resource_count)
        return lun_error_set(error, LUN_ERR_NOT_FOUND, "no resource at index %zu", index);
    core_resource_slot *slot = &message->resources[index];
    if (slot->resource == NULL)
        return lun_error_set(error, LUN_ERR_NOT_FOUND, "resource %zu already taken", index);
    if (expected != NULL && slot->type != expected)
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "resource %zu is a %s, not a %s",
                             index, slot->type->name ? slot->type->name : "?",
                             expected->name ? expected->name : "?");
    *resource = slot->resource;
    slot->resource = NULL;
    return LUN_OK;
}

size_t lun_message_resource_count(const lun_message *message)
{
    return message ? message->resource_count : 0;
}
