/*
 * Time and waiting: clock_res_get, clock_time_get, poll_oneoff, sched_yield.
 *
 * poll_oneoff never blocks a worker thread when the embedder gave a
 * wait_until hook: it reports what is ready, or asks the hook for a wake-up
 * and suspends; the engine then retries the whole call (see wasi.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

/* The host clock behind a WASI clock id. The CPU-time clocks are refused
 * with EBADF, as wasmtime (lunatic's engine) does: the host's process and
 * thread clocks would measure the whole runtime or whatever worker thread
 * happens to run the process. */
static uint16_t host_clock(uint32_t id, clockid_t *clock)
{
    switch (id) {
    case WASI_CLOCK_REALTIME: *clock = CLOCK_REALTIME; return WASI_ESUCCESS;
    case WASI_CLOCK_MONOTONIC: *clock = CLOCK_MONOTONIC; return WASI_ESUCCESS;
    case WASI_CLOCK_PROCESS_CPUTIME:
    case WASI_CLOCK_THREAD_CPUTIME: return WASI_EBADF;
    default: return WASI_EINVAL;
    }
}

static int clock_res_get(wasi_call *call)
{
    uint32_t result_ptr = wasi_arg_u32(call, 1);
    clockid_t clock;
    uint16_t status = host_clock(wasi_arg_u32(call, 0), &clock);
    if (status != WASI_ESUCCESS) return status;
    if (!wasi_memory_ok(call, result_ptr, 8)) return WASI_EFAULT;
    struct timespec ts;
    if (clock_getres(clock, &ts) != 0) return wasi_errno_from_host(errno);
    wasi_store_u64(wasi_memory_at(call, result_ptr),
                   (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    return WASI_ESUCCESS;
}

static int clock_time_get(wasi_call *call)
{
    uint32_t result_ptr = wasi_arg_u32(call, 2);
    clockid_t clock;
    uint16_t status = host_clock(wasi_arg_u32(call, 0), &clock);
    if (status != WASI_ESUCCESS) return status;
    if (!wasi_memory_ok(call, result_ptr, 8)) return WASI_EFAULT;
    wasi_store_u64(wasi_memory_at(call, result_ptr), now_ns(clock));
    return WASI_ESUCCESS;
}

/* ---- poll_oneoff --------------------------------------------------------- */

typedef struct poll_state {
    wasi_call *call;
    uint32_t out;
    uint32_t events;
    uint64_t now;  /* CLOCK_MONOTONIC */
    uint64_t wake; /* earliest pending clock deadline */
    struct pollfd *pollfds;
    uint32_t *pollfd_subscription;
    uint32_t pollfd_count;
} poll_state;

static void put_event(poll_state *state, uint64_t userdata, uint16_t error, uint8_t type,
                      uint64_t nbytes, uint16_t flags)
{
    uint8_t *event = wasi_memory_at(state->call, state->out + state->events * WASI_EVENT_SIZE);
    memset(event, 0, WASI_EVENT_SIZE);
    wasi_store_u64(event, userdata);
    wasi_store_u16(event + 8, error);
    event[10] = type;
    wasi_store_u64(event + 16, nbytes);
    wasi_store_u16(event + 24, flags);
    state->events++;
}

/* The CLOCK_MONOTONIC deadline of a clock subscription. */
static uint16_t clock_deadline(const lun_wasi_ctx *ctx, const uint8_t *sub, uint64_t now,
                               uint64_t *deadline)
{
    uint32_t id = wasi_load_u32(sub + 16);
    uint64_t timeout = wasi_load_u64(sub + 24);
    bool absolute = (wasi_load_u16(sub + 40) & WASI_SUBCLOCK_ABSTIME) != 0;
    if (id == WASI_CLOCK_MONOTONIC) {
        *deadline = absolute ? timeout : add_saturating(ctx->poll_start_ns, timeout);
        return WASI_ESUCCESS;
    }
    if (id == WASI_CLOCK_REALTIME) {
        if (!absolute) {
            *deadline = add_saturating(ctx->poll_start_ns, timeout);
        } else {
            uint64_t real = now_ns(CLOCK_REALTIME);
            *deadline = timeout <= real ? now : add_saturating(now, timeout - real);
        }
        return WASI_ESUCCESS;
    }
    return id <= WASI_CLOCK_THREAD_CPUTIME ? WASI_EBADF : WASI_EINVAL;
}

static uint64_t readable_bytes(int fd, uint8_t filetype)
{
    if (filetype == WASI_FILETYPE_REGULAR_FILE) {
        struct stat st;
        off_t position = lseek(fd, 0, SEEK_CUR);
        if (fstat(fd, &st) != 0 || position < 0 || st.st_size <= position) return 0;
        return (uint64_t)(st.st_size - position);
    }
    int available = 0;
    if (ioctl(fd, FIONREAD, &available) != 0 || available < 0) return 0;
    return (uint64_t)available;
}

static void scan_subscription(poll_state *state, uint32_t index, const uint8_t *sub)
{
    uint64_t userdata = wasi_load_u64(sub);
    uint8_t type = sub[8];
    if (type == WASI_EVENT_CLOCK) {
        uint64_t deadline;
        uint16_t status = clock_deadline(state->call->ctx, sub, state->now, &deadline);
        if (status != WASI_ESUCCESS)
            put_event(state, userdata, status, type, 0, 0);
        else if (deadline <= state->now)
            put_event(state, userdata, 0, type, 0, 0);
        else if (deadline < state->wake)
            state->wake = deadline;
        return;
    }
    if (type != WASI_EVENT_FD_READ && type != WASI_EVENT_FD_WRITE) {
        put_event(state, userdata, WASI_EINVAL, type, 0, 0);
        return;
    }
    wasi_fd_entry *entry = wasi_fd_get(state->call->ctx, wasi_load_u32(sub + 16));
    if (entry == NULL) {
        put_event(state, userdata, WASI_EBADF, type, 0, 0);
    } else if (entry->filetype == WASI_FILETYPE_REGULAR_FILE) {
        uint64_t nbytes =
            type == WASI_EVENT_FD_READ ? readable_bytes(entry->handle->fd, entry->filetype) : 0;
        put_event(state, userdata, 0, type, nbytes, 0);
    } else {
        struct pollfd *pollfd = &state->pollfds[state->pollfd_count];
        pollfd->fd = entry->handle->fd;
        pollfd->events = type == WASI_EVENT_FD_READ ? POLLIN : POLLOUT;
        pollfd->revents = 0;
        state->pollfd_subscription[state->pollfd_count++] = index;
    }
}

static void collect_fd_events(poll_state *state, uint32_t in, int timeout_ms)
{
    if (state->pollfd_count == 0) return;
    int ready = poll(state->pollfds, state->pollfd_count, timeout_ms);
    if (ready <= 0) return;
    for (uint32_t i = 0; i < state->pollfd_count; i++) {
        short revents = state->pollfds[i].revents;
        if (revents == 0) continue;
        const uint8_t *sub = wasi_memory_at(state->call, in + state->pollfd_subscription[i] *
                                                                  WASI_SUBSCRIPTION_SIZE);
        uint8_t type = sub[8];
        uint16_t error = (revents & POLLNVAL) ? WASI_EBADF : 0;
        uint16_t flags = (revents & POLLHUP) ? WASI_EVENTRW_HANGUP : 0;
        uint64_t nbytes = type == WASI_EVENT_FD_READ && error == 0
                              ? readable_bytes(state->pollfds[i].fd, WASI_FILETYPE_UNKNOWN)
                              : 0;
        put_event(state, wasi_load_u64(sub), error, type, nbytes, flags);
    }
}

static void sleep_until(uint64_t deadline)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000u),
                          .tv_nsec = (long)(deadline % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static int timeout_ms(uint64_t wake, uint64_t now)
{
    if (wake == UINT64_MAX) return -1;
    uint64_t ms = (wake - now + 999999) / 1000000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/* One look at every subscription; *done when events were written. Without a
 * wait hook this blocks until something may be ready. */
static int poll_attempt(poll_state *state, uint32_t in, uint32_t count, bool *done)
{
    wasi_call *call = state->call;
    state->events = 0;
    state->pollfd_count = 0;
    state->now = now_ns(CLOCK_MONOTONIC);
    state->wake = UINT64_MAX;
    for (uint32_t i = 0; i < count; i++)
        scan_subscription(state, i, wasi_memory_at(call, in + i * WASI_SUBSCRIPTION_SIZE));
    collect_fd_events(state, in, 0);
    *done = state->events > 0;
    if (*done) return WASI_ESUCCESS;

    const lun_wasi_hooks *hooks = &call->host->hooks;
    if (hooks->wait_until == NULL) {
        if (state->pollfd_count > 0)
            collect_fd_events(state, in, timeout_ms(state->wake, state->now));
        else
            sleep_until(state->wake);
        return WASI_ESUCCESS; /* look again */
    }
    uint64_t wake = state->wake;
    if (state->pollfd_count > 0) {
        uint64_t poll_again = add_saturating(state->now, LUN_WASI_FD_POLL_INTERVAL_NS);
        if (poll_again < wake) wake = poll_again;
    }
    if (hooks->wait_until(hooks->hook_data, call->ctx, call->host_call->instance, wake))
        return WASI_ESUCCESS; /* the time has come: look again */
    return WASI_RESULT_SUSPEND;
}

static int poll_oneoff(wasi_call *call)
{
    uint32_t in = wasi_arg_u32(call, 0), out = wasi_arg_u32(call, 1);
    uint32_t count = wasi_arg_u32(call, 2), nevents_ptr = wasi_arg_u32(call, 3);
    if (count == 0) return WASI_EINVAL;
    if (!wasi_memory_ok(call, in, (uint64_t)count * WASI_SUBSCRIPTION_SIZE) ||
        !wasi_memory_ok(call, out, (uint64_t)count * WASI_EVENT_SIZE) ||
        !wasi_memory_ok(call, nevents_ptr, 4))
        return WASI_EFAULT;
    lun_wasi_ctx *ctx = call->ctx;
    if (!ctx->poll_pending) ctx->poll_start_ns = now_ns(CLOCK_MONOTONIC);

    /* count is bounded by the guest's memory (48 bytes per subscription). */
    poll_state state = {.call = call, .out = out};
    state.pollfds = malloc(count * sizeof *state.pollfds);
    state.pollfd_subscription = malloc(count * sizeof *state.pollfd_subscription);
    int result = WASI_ENOMEM;
    bool done = false;
    while (state.pollfds != NULL && state.pollfd_subscription != NULL) {
        result = poll_attempt(&state, in, count, &done);
        if (result != WASI_ESUCCESS || done) break;
    }
    free(state.pollfds);
    free(state.pollfd_subscription);
    ctx->poll_pending = result == WASI_RESULT_SUSPEND;
    if (done) wasi_store_u32(wasi_memory_at(call, nevents_ptr), state.events);
    return result;
}

static int sched_yield_(wasi_call *call)
{
    const lun_wasi_hooks *hooks = &call->host->hooks;
    lun_wasi_ctx *ctx = call->ctx;
    if (ctx->yield_pending || hooks->yield == NULL) {
        ctx->yield_pending = false;
        return WASI_ESUCCESS;
    }
    if (!hooks->yield(hooks->hook_data, ctx, call->host_call->instance)) return WASI_ESUCCESS;
    ctx->yield_pending = true;
    return WASI_RESULT_SUSPEND;
}

const wasi_function_def wasi_clock_functions[] = {
    {"clock_res_get", "i32 i32", "i32", clock_res_get},
    {"clock_time_get", "i32 i64 i32", "i32", clock_time_get},
    {"poll_oneoff", "i32 i32 i32 i32", "i32", poll_oneoff},
    {"sched_yield", "", "i32", sched_yield_},
    {NULL, NULL, NULL, NULL},
};
