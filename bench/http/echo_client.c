/*
 * Throughput client for bench/http: pushes `megabytes` MB through a TCP
 * echo server on 127.0.0.1:port over one connection (one thread writes,
 * the main thread reads and checks the bytes) and prints
 * "BENCH tcp.echo_mb_s <MB/s> MB_per_s".
 *
 *   echo_client PORT MEGABYTES
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CHUNK = 256 * 1024 };

typedef struct job {
    int fd;
    uint64_t total;
} job;

static unsigned char pattern(uint64_t offset)
{
    return (unsigned char)(offset * 31 + (offset >> 12));
}

static void *writer(void *argument)
{
    job *j = argument;
    static unsigned char buffer[CHUNK];
    uint64_t sent = 0;
    while (sent < j->total) {
        size_t n = j->total - sent < CHUNK ? (size_t)(j->total - sent) : CHUNK;
        for (size_t i = 0; i < n; i++)
            buffer[i] = pattern(sent + i);
        size_t done = 0;
        while (done < n) {
            ssize_t w = send(j->fd, buffer + done, n - done, MSG_NOSIGNAL);
            if (w <= 0) {
                perror("send");
                exit(1);
            }
            done += (size_t)w;
        }
        sent += n;
    }
    shutdown(j->fd, SHUT_WR);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: echo_client PORT MEGABYTES\n");
        return 2;
    }
    job j = {.total = (uint64_t)atoll(argv[2]) * 1000000};
    j.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)atoi(argv[1]))};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(j.fd, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("connect");
        return 1;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pthread_t thread;
    pthread_create(&thread, NULL, writer, &j);
    static unsigned char buffer[CHUNK];
    uint64_t received = 0;
    while (received < j.total) {
        ssize_t n = recv(j.fd, buffer, CHUNK, 0);
        if (n <= 0) {
            fprintf(stderr, "echo ended after %llu of %llu bytes\n", (unsigned long long)received,
                    (unsigned long long)j.total);
            return 1;
        }
        for (ssize_t i = 0; i < n; i++)
            if (buffer[i] != pattern(received + (uint64_t)i)) {
                fprintf(stderr, "wrong byte at %llu\n", (unsigned long long)(received + i));
                return 1;
            }
        received += (uint64_t)n;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    pthread_join(thread, NULL);
    close(j.fd);
    double seconds = (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    printf("BENCH tcp.echo_mb_s %.1f MB_per_s\n", (double)j.total / 1e6 / seconds);
    return 0;
}
