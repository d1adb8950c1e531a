/*
 * The signal queue: Dmitry Vyukov's intrusive multi-producer
 * single-consumer queue. A push is one atomic exchange plus one store, so
 * senders never block and never take a lock.
 */
#include "core_internal.h"

void core_mpsc_init(core_mpsc *queue)
{
    atomic_store_explicit(&queue->stub.next, NULL, memory_order_relaxed);
    queue->stub.kind = 0;
    atomic_store_explicit(&queue->head, &queue->stub, memory_order_relaxed);
    queue->tail = &queue->stub;
}

void core_mpsc_push(core_mpsc *queue, core_node *node)
{
    atomic_store_explicit(&node->next, NULL, memory_order_relaxed);
    core_node *previous = atomic_exchange_explicit(&queue->head, node, memory_order_acq_rel);
    atomic_store_explicit(&previous->next, node, memory_order_release);
}

core_node *core_mpsc_pop(core_mpsc *queue)
{
    core_node *tail = queue->tail;
    core_node *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &queue->stub) {
        if (next == NULL) return NULL;
        queue->tail = next;
        tail = next;
        next = atomic_load_explicit(&tail->next, memory_order_acquire);
    }
    if (next != NULL) {
        queue->tail = next;
        /* The next pop reads it: start the load (most likely a miss, the
         * node was written on another core) while this node is handled. */
        __builtin_prefetch(next);
        return tail;
    }
    core_node *head = atomic_load_explicit(&queue->head, memory_order_acquire);
    if (tail != head) return NULL; /* a producer is between its exchange and its store */
    core_mpsc_push(queue, &queue->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next != NULL) {
        queue->tail = next;
        return tail;
    }
    return NULL;
}

bool core_mpsc_is_empty(core_mpsc *queue)
{
    return queue->tail == &queue->stub &&
           atomic_load_explicit(&queue->head, memory_order_acquire) == &queue->stub;
}
