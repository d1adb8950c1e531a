/*
 * The mailbox and the calls a process makes on itself to wait: receive
 * (selective by tags, or skipping the search), sleep, cancel. Only the
 * worker running the process touches these structures.
 *
 * A wait is registered by the first call that cannot complete; while the
 * process waits, each message appended by the signal handler is checked
 * against it, and the first match is remembered (it stays in the mailbox
 * until the retried call takes it, so a cancelled wait loses nothing).
 */
#include "core_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tag counts: open addressing, linear probing, backward-shift delete ---- */

typedef struct core_tag_slot {
    int64_t tag;
    uint32_t count; /* 0: empty slot */
} core_tag_slot;

typedef struct core_tag_counts {
    uint32_t capacity; /* power of two */
    uint32_t used;
    core_tag_slot slots[];
} core_tag_counts;

static uint32_t tag_home(const core_tag_counts *table, int64_t tag)
{
    return (uint32_t)(((uint64_t)tag * 0x9E3779B97F4A7C15ull) >> 32) & (table->capacity - 1);
}

static core_tag_slot *tag_find(core_tag_counts *table, int64_t tag)
{
    for (uint32_t at = tag_home(table, tag);; at = (at + 1) & (table->capacity - 1)) {
        core_tag_slot *slot = &table->slots[at];
        if (slot->count == 0 || slot->tag == tag) return slot;
    }
}

static core_tag_counts *tag_table_new(uint32_t capacity)
{
    core_tag_counts *table = calloc(1, sizeof *table + capacity * sizeof table->slots[0]);
    if (table != NULL) table->capacity = capacity;
    return table;
}

static void tag_counts_disable(lun_process *process)
{
    free(process->tag_counts);
    process->tag_counts = NULL;
    process->tag_counts_off = true;
}

static void tag_count_add(lun_process *process, int64_t tag)
{
    if (process->tag_counts_off) return;
    core_tag_counts *table = process->tag_counts;
    if (table == NULL || (table->used + 1) * 4 > table->capacity * 3) {
        uint32_t capacity = table ? table->capacity * 2 : 8;
        core_tag_counts *bigger = capacity ? tag_table_new(capacity) : NULL;
        if (bigger == NULL) {
            tag_counts_disable(process);
            return;
        }
        for (uint32_t i = 0; table && i < table->capacity; i++) {
            if (table->slots[i].count == 0) continue;
            *tag_find(bigger, table->slots[i].tag) = table->slots[i];
            bigger->used++;
        }
        free(table);
        process->tag_counts = table = bigger;
    }
    core_tag_slot *slot = tag_find(table, tag);
    if (slot->count == 0) {
        slot->tag = tag;
        table->used++;
    }
    slot->count++;
}

static void tag_count_remove(lun_process *process, int64_t tag)
{
    core_tag_counts *table = process->tag_counts;
    if (table == NULL) return;
    core_tag_slot *slot = tag_find(table, tag);
    if (slot->count == 0 || --slot->count > 0) return;
    /* Backward-shift deletion keeps every probe chain unbroken. */
    uint32_t mask = table->capacity - 1;
    uint32_t hole = (uint32_t)(slot - table->slots);
    for (uint32_t at = (hole + 1) & mask; table->slots[at].count != 0; at = (at + 1) & mask) {
        uint32_t home = tag_home(table, table->slots[at].tag);
        /* Move the entry into the hole if its home is not between hole and at. */
        if (((at - home) & mask) >= ((at - hole) & mask)) {
            table->slots[hole] = table->slots[at];
            hole = at;
        }
    }
    table->slots[hole].count = 0;
    table->used--;
}

/* False only when no queued message can carry any of the tags. */
static bool tags_maybe_queued(const lun_process *process, const int64_t *tags, size_t tag_count)
{
    if (tag_count == 0 || process->tag_counts_off) return process->mailbox_count > 0;
    core_tag_counts *table = process->tag_counts;
    if (table == NULL) return false; /* never had a tagged message */
    for (size_t i = 0; i < tag_count; i++)
        if (tags[i] != 0 && tag_find(table, tags[i])->count > 0) return true;
    return false;
}

static bool counted(const lun_message *message)
{
    return message->tag != 0 && message->kind != LUN_MESSAGE_PROCESS_DIED;
}

void core_mailbox_append(lun_process *process, lun_message *message)
{
    message->mailbox_next = NULL;
    message->mailbox_previous = process->mailbox_tail;
    if (process->mailbox_tail != NULL)
        process->mailbox_tail->mailbox_next = message;
    else
        process->mailbox_head = message;
    process->mailbox_tail = message;
    process->mailbox_count++;
    if (counted(message)) tag_count_add(process, message->tag);
    core_metric_add(CORE_MESSAGES_OUTSTANDING, 1);
    core_wait *wait = &process->wait;
    if (wait->kind == CORE_WAIT_RECEIVE && wait->match == NULL &&
        core_wait_matches(wait, message)) {
        wait->match = message;
        process->runnable = true;
    }
}

void core_mailbox_remove(lun_process *process, lun_message *message)
{
    if (message == process->scan_mark) process->scan_mark = message->mailbox_previous;
    if (message->mailbox_previous != NULL)
        message->mailbox_previous->mailbox_next = message->mailbox_next;
    else
        process->mailbox_head = message->mailbox_next;
    if (message->mailbox_next != NULL)
        message->mailbox_next->mailbox_previous = message->mailbox_previous;
    else
        process->mailbox_tail = message->mailbox_previous;
    message->mailbox_next = message->mailbox_previous = NULL;
    process->mailbox_count--;
    if (counted(message)) tag_count_remove(process, message->tag);
    core_metric_add(CORE_MESSAGES_OUTSTANDING, -1);
}

void core_mailbox_clear(lun_process *process)
{
    lun_message *message = process->mailbox_head;
    int64_t count = 0;
    while (message != NULL) {
        lun_message *next = message->mailbox_next;
        lun_message_free(message);
        message = next;
        count++;
    }
    process->mailbox_head = process->mailbox_tail = NULL;
    process->scan_mark = NULL;
    process->mailbox_count = 0;
    free(process->tag_counts);
    process->tag_counts = NULL;
    if (count) core_metric_add(CORE_MESSAGES_OUTSTANDING, -count);
}

static bool tags_match(const int64_t *tags, size_t tag_count, const lun_message *message)
{
    if (tag_count == 0) return true;
    if (message->tag == 0 || message->kind == LUN_MESSAGE_PROCESS_DIED) return false;
    for (size_t i = 0; i < tag_count; i++)
        if (tags[i] == message->tag) return true;
    return false;
}

bool core_wait_matches(const core_wait *wait, const lun_message *message)
{
    return tags_match(wait->tags, wait->tag_count, message);
}

void core_wait_clear(lun_process *process)
{
    core_wait *wait = &process->wait;
    if (wait->timer != NULL) {
        core_timer_disarm_wait(process->runtime, wait->timer);
        wait->timer = NULL;
    }
    if (wait->tags != &wait->tag_inline) free(wait->tags);
    wait->tags = NULL;
    wait->tag_count = 0;
    wait->match = NULL;
    wait->timed_out = false;
    wait->kind = CORE_WAIT_NONE;
}

static lun_status check_self(const lun_process *self, lun_error *error)
{
    if (self == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null process");
    if (self != core_current_process)
        return lun_error_set(error, LUN_ERR_STATE, "process %llu: call made outside its own step",
                             (unsigned long long)self->id);
    return LUN_OK;
}

static lun_status register_wait(lun_process *self, core_wait_kind kind, const int64_t *tags,
                                size_t tag_count, int64_t timeout_ms, lun_error *error)
{
    core_wait *wait = &self->wait;
    if (tag_count <= 1) {
        wait->tags = &wait->tag_inline;
        if (tag_count == 1) wait->tag_inline = tags[0];
    } else {
        if (tag_count > UINT32_MAX || tag_count > SIZE_MAX / sizeof *tags)
            return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "too many tags");
        wait->tags = malloc(tag_count * sizeof *tags);
        if (wait->tags == NULL) return lun_error_set(error, LUN_ERR_NO_MEMORY, "tag set");
        memcpy(wait->tags, tags, tag_count * sizeof *tags);
    }
    wait->tag_count = (uint32_t)tag_count;
    wait->kind = (uint8_t)kind;
    if (timeout_ms > 0) {
        wait->timer = core_timer_arm_wait(self->runtime, self, (uint64_t)timeout_ms);
        if (wait->timer == NULL) {
            core_wait_clear(self);
            return lun_error_set(error, LUN_ERR_NO_MEMORY, "timer");
        }
    }
    return error ? lun_error_set(error, LUN_ERR_WOULD_BLOCK, "waiting") : LUN_ERR_WOULD_BLOCK;
}

/* True when the registered wait is a receive of this very tag set: the
 * call is the retry of the one that registered it. Any other call starts
 * afresh (the old wait is dropped; its message, if any, stays queued). */
static bool waits_for(const lun_process *self, const int64_t *tags, size_t tag_count)
{
    const core_wait *wait = &self->wait;
    return wait->kind == CORE_WAIT_RECEIVE && wait->tag_count == tag_count &&
           (tag_count == 0 || memcmp(wait->tags, tags, tag_count * sizeof *tags) == 0);
}

/* Completes a receive wait registered earlier, if it is over. */
static lun_status retry_receive(lun_process *self, lun_message **out, lun_error *error)
{
    core_wait *wait = &self->wait;
    if (wait->match != NULL) {
        lun_message *message = wait->match;
        core_wait_clear(self);
        core_mailbox_remove(self, message);
        *out = message;
        return LUN_OK;
    }
    if (wait->timed_out) {
        core_wait_clear(self);
        return lun_error_set(error, LUN_ERR_TIMEOUT, "receive timed out");
    }
    return lun_error_set(error, LUN_ERR_WOULD_BLOCK, "waiting");
}

/* How many queued messages carry `tag`, or -1 when not counted. */
static int64_t tag_queued(const lun_process *process, int64_t tag)
{
    if (process->tag_counts_off || tag == 0) return -1;
    if (process->tag_counts == NULL) return 0;
    return tag_find(process->tag_counts, tag)->count;
}

/* The one queued message with `tag` (the tag count says there is exactly
 * one, after `from` inclusive). A fresh reply tag is typically found near
 * the tail behind a long backlog, an old one near the head: walking from
 * both ends costs twice the distance to the nearer end. */
static lun_message *find_only(lun_process *process, lun_message *from, int64_t tag)
{
    lun_message *front = from, *back = process->mailbox_tail;
    while (front != NULL && back != NULL) {
        if (tags_match(&tag, 1, front)) return front;
        if (tags_match(&tag, 1, back)) return back;
        if (front == back || front->mailbox_next == back) break;
        front = front->mailbox_next;
        back = back->mailbox_previous;
    }
    return NULL;
}

lun_status lun_process_receive(lun_process *self, const int64_t *tags, size_t tag_count,
                               int64_t timeout_ms, lun_message **out, lun_error *error)
{
    lun_status status = check_self(self, error);
    if (status != LUN_OK) return status;
    if (out == NULL || (tags == NULL && tag_count > 0))
        return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null output or tag set");
    *out = NULL;
    if (waits_for(self, tags, tag_count)) return retry_receive(self, out, error);
    if (self->wait.kind != CORE_WAIT_NONE) core_wait_clear(self);
    bool marked = tag_count == 1 && self->scan_mark != NULL && self->scan_tag == tags[0];
    lun_message *message = marked ? self->scan_mark->mailbox_next : self->mailbox_head;
    if (!tags_maybe_queued(self, tags, tag_count)) message = NULL;
    if (message != NULL && tag_count == 1 && tag_queued(self, tags[0]) == 1) {
        lun_message *only = find_only(self, message, tags[0]);
        if (only != NULL) {
            core_mailbox_remove(self, only);
            /* No queued message carries the tag any more. */
            self->scan_tag = tags[0];
            self->scan_mark = self->mailbox_tail;
            *out = only;
            return LUN_OK;
        }
    }
    for (; message; message = message->mailbox_next) {
        if (tags_match(tags, tag_count, message)) {
            if (tag_count == 1) {
                self->scan_tag = tags[0];
                self->scan_mark = message->mailbox_previous;
            }
            core_mailbox_remove(self, message);
            *out = message;
            return LUN_OK;
        }
    }
    if (tag_count == 1) {
        self->scan_tag = tags[0];
        self->scan_mark = self->mailbox_tail;
    }
    if (timeout_ms == 0) return lun_error_set(error, LUN_ERR_TIMEOUT, "no message");
    return register_wait(self, CORE_WAIT_RECEIVE, tags, tag_count, timeout_ms, error);
}

lun_status lun_process_receive_skip_search(lun_process *self, int64_t tag, int64_t timeout_ms,
                                           lun_message **out, lun_error *error)
{
    lun_status status = check_self(self, error);
    if (status != LUN_OK) return status;
    if (out == NULL) return lun_error_set(error, LUN_ERR_INVALID_ARGUMENT, "null output");
    *out = NULL;
    if (waits_for(self, &tag, 1)) return retry_receive(self, out, error);
    if (self->wait.kind != CORE_WAIT_NONE) core_wait_clear(self);
    if (timeout_ms == 0) return lun_error_set(error, LUN_ERR_TIMEOUT, "no message");
    return register_wait(self, CORE_WAIT_RECEIVE, &tag, 1, timeout_ms, error);
}

lun_status lun_process_sleep(lun_process *self, uint64_t milliseconds, lun_error *error)
{
    lun_status status = check_self(self, error);
    if (status != LUN_OK) return status;
    if (self->wait.kind == CORE_WAIT_SLEEP) {
        if (!self->wait.timed_out) return lun_error_set(error, LUN_ERR_WOULD_BLOCK, "sleeping");
        core_wait_clear(self);
        return LUN_OK;
    }
    if (self->wait.kind != CORE_WAIT_NONE) core_wait_clear(self);
    if (milliseconds == 0) return LUN_OK;
    if (milliseconds > INT64_MAX) milliseconds = INT64_MAX;
    return register_wait(self, CORE_WAIT_SLEEP, NULL, 0, (int64_t)milliseconds, error);
}

bool lun_process_is_waiting(const lun_process *self)
{
    return self != NULL && self == core_current_process && self->wait.kind != CORE_WAIT_NONE;
}

void lun_process_cancel_wait(lun_process *self)
{
    if (check_self(self, NULL) == LUN_OK && self->wait.kind != CORE_WAIT_NONE)
        core_wait_clear(self);
}

size_t lun_process_mailbox_size(const lun_process *self)
{
    if (check_self(self, NULL) != LUN_OK) return 0;
    return self->mailbox_count;
}

static void set_failure(lun_process *self, lun_result_kind kind, const char *format, va_list args)
{
    if (check_self(self, NULL) != LUN_OK) return;
    char buffer[512];
    vsnprintf(buffer, sizeof buffer, format ? format : "process failed", args);
    char *copy = strdup(buffer);
    if (self->message_owned) free((char *)self->result_message);
    self->result_message = copy ? copy : "process failed";
    self->message_owned = copy != NULL;
    self->fail_kind = (uint8_t)kind;
}

void lun_process_fail(lun_process *self, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    set_failure(self, LUN_RESULT_FAILED, format, args);
    va_end(args);
}

void lun_process_fail_spawn(lun_process *self, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    set_failure(self, LUN_RESULT_SPAWN_ERROR, format, args);
    va_end(args);
}
