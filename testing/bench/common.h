/* What bench.c and steps.c share: a fatal-error macro and the clock. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PAGE 4096
/* PROG names the program in messages; each file defines it first. */
#define die(...) do { fprintf(stderr, PROG ": " __VA_ARGS__); fprintf(stderr, " (errno %d)\n", errno); exit(2); } while (0)

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif
