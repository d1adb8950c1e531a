/*
 * Runs a program with stdout and stderr redirected to temporary files, with
 * a timeout, for the api integration tests.
 */
#define _GNU_SOURCE
#include "run_command.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *slurp(int fd)
{
    size_t size = 0, capacity = 4096;
    char *text = malloc(capacity);
    if (text == NULL) return NULL;
    lseek(fd, 0, SEEK_SET);
    for (;;) {
        if (size + 1 >= capacity) {
            char *grown = realloc(text, capacity * 2);
            if (grown == NULL) break;
            text = grown;
            capacity *= 2;
        }
        ssize_t got = read(fd, text + size, capacity - size - 1);
        if (got <= 0) break;
        size += (size_t)got;
    }
    text[size] = '\0';
    return text;
}

int run_command(const char *const *argv, const char *directory, int timeout_seconds,
                command_result *result)
{
    memset(result, 0, sizeof *result);
    char out_name[] = "/tmp/lun-api-test-out-XXXXXX";
    char err_name[] = "/tmp/lun-api-test-err-XXXXXX";
    int out_fd = mkstemp(out_name), err_fd = mkstemp(err_name);
    if (out_fd < 0 || err_fd < 0) return -1;
    unlink(out_name);
    unlink(err_name);
    pid_t child = fork();
    if (child < 0) return -1;
    if (child == 0) {
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0) dup2(null_fd, 0);
        if (directory != NULL && chdir(directory) != 0) _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int wait_status = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int outcome = 0;
    for (;;) {
        pid_t done = waitpid(child, &wait_status, WNOHANG);
        if (done == child) break;
        if (done < 0 && errno != EINTR) {
            outcome = -1;
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= timeout_seconds) {
            kill(child, SIGKILL);
            waitpid(child, &wait_status, 0);
            outcome = -1;
            break;
        }
        struct timespec pause = {0, 5 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (WIFEXITED(wait_status))
        result->status = WEXITSTATUS(wait_status);
    else if (WIFSIGNALED(wait_status))
        result->status = 128 + WTERMSIG(wait_status);
    result->output = slurp(out_fd);
    result->errors = slurp(err_fd);
    close(out_fd);
    close(err_fd);
    return outcome;
}

void command_result_free(command_result *result)
{
    free(result->output);
    free(result->errors);
    result->output = result->errors = NULL;
}
