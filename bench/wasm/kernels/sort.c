/*
 * Compute kernel: in-place quicksort (median of three, insertion sort for
 * short ranges, explicit stack) of n pseudo-random 32-bit keys, n at most
 * 4 Mi: data-dependent branches, loads and stores.
 */
#include "kernel.h"

enum { SORT_MAX = 1 << 22, SORT_SMALL = 16, SORT_STACK = 64 };

static uint32_t keys[SORT_MAX];

static void swap(uint32_t *a, uint32_t *b)
{
    uint32_t t = *a;
    *a = *b;
    *b = t;
}

static void insertion_sort(uint32_t *a, uint32_t count)
{
    for (uint32_t i = 1; i < count; i++) {
        uint32_t key = a[i];
        uint32_t j = i;
        while (j > 0 && a[j - 1] > key) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = key;
    }
}

/* Partitions a[0..count) (count > SORT_SMALL) around a median-of-three pivot
 * and returns the size of the left part, which is never 0 nor count. */
static uint32_t partition(uint32_t *a, uint32_t count)
{
    uint32_t mid = count / 2, last = count - 1;
    if (a[mid] < a[0]) swap(&a[mid], &a[0]);
    if (a[last] < a[0]) swap(&a[last], &a[0]);
    if (a[last] < a[mid]) swap(&a[last], &a[mid]);
    uint32_t pivot = a[mid];
    uint32_t i = 0, j = last;
    for (;;) {
        while (a[i] < pivot)
            i++;
        while (a[j] > pivot)
            j--;
        if (i >= j) return j + 1;
        swap(&a[i], &a[j]);
        i++;
        j--;
    }
}

static void quicksort(uint32_t *a, uint32_t count)
{
    uint32_t *stack_base[SORT_STACK];
    uint32_t stack_count[SORT_STACK];
    uint32_t depth = 0;
    for (;;) {
        while (count > SORT_SMALL) {
            uint32_t left = partition(a, count);
            /* Push the larger part and loop on the smaller one, so that
             * the stack never holds more than log2(n) entries. */
            if (left < count - left) {
                stack_base[depth] = a + left;
                stack_count[depth] = count - left;
                count = left;
            } else {
                stack_base[depth] = a;
                stack_count[depth] = left;
                a += left;
                count -= left;
            }
            depth++;
        }
        insertion_sort(a, count);
        if (depth == 0) return;
        depth--;
        a = stack_base[depth];
        count = stack_count[depth];
    }
}

uint64_t KERNEL_RUN(uint32_t n)
{
    if (n > SORT_MAX) n = SORT_MAX;
    uint64_t state = 88172645463325252ull;
    for (uint32_t i = 0; i < n; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        keys[i] = (uint32_t)(state >> 32);
    }
    quicksort(keys, n);
    uint64_t checksum = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0 && keys[i - 1] > keys[i])
            return 0; /* not sorted: a result no correct run gives */
        checksum = checksum * 1099511628211ull + keys[i];
    }
    return checksum;
}
