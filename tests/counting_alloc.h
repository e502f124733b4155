/*
 * counting_alloc.h - an allocator for tests, installed with
 * calib_set_allocator: it counts allocations and frees, tracks the live
 * and the peak number of bytes, and can make the n-th allocation (malloc
 * or realloc) fail.
 *
 * Each block carries a 16-byte prefix holding its size, so that frees
 * can be subtracted from the live bytes; 16 keeps the user's pointer
 * aligned for any type. A mutex makes it safe for the library's worker
 * threads; which thread meets the failing call is then up to scheduling,
 * which is fine: every call must cope with any allocation failing.
 */
#ifndef CALIB_COUNTING_ALLOC_H
#define CALIB_COUNTING_ALLOC_H

#include "calib.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CA_PREFIX 16

typedef struct counting_alloc {
    uint64_t calls;        /* malloc and realloc calls, failed ones too */
    uint64_t fail_at;      /* 1-based call that fails; 0: none */
    uint64_t failed;       /* how many calls were made to fail */
    int64_t live;          /* blocks allocated and not freed */
    size_t live_bytes;
    size_t peak_bytes;
    size_t largest;        /* largest single request */
    size_t limit_bytes;    /* refuse to go past this many live bytes; 0: no */
} counting_alloc;

static counting_alloc ca;
static pthread_mutex_t ca_lock = PTHREAD_MUTEX_INITIALIZER;

static void ca_reset(uint64_t fail_at)
{
    memset(&ca, 0, sizeof ca);
    ca.fail_at = fail_at;
}

static int ca_should_fail(size_t size)
{
    ca.calls++;
    if (size > ca.largest)
        ca.largest = size;
    if (ca.fail_at != 0 && ca.calls == ca.fail_at) {
        ca.failed++;
        return 1;
    }
    if (ca.limit_bytes != 0 && (size > ca.limit_bytes ||
                                ca.live_bytes > ca.limit_bytes - size))
        return 1;
    return 0;
}

static void ca_grow(size_t add)
{
    ca.live_bytes += add;
    if (ca.live_bytes > ca.peak_bytes)
        ca.peak_bytes = ca.live_bytes;
}

static void *ca_malloc_locked(void *ctx, size_t size)
{
    unsigned char *p;
    (void)ctx;
    if (ca_should_fail(size) || size > SIZE_MAX - CA_PREFIX)
        return NULL;
    p = malloc(size + CA_PREFIX);
    if (p == NULL)
        return NULL;
    memcpy(p, &size, sizeof size);
    ca.live++;
    ca_grow(size);
    return p + CA_PREFIX;
}

static void *ca_realloc_locked(void *ctx, void *ptr, size_t old_size,
                               size_t new_size)
{
    unsigned char *base, *p;
    size_t had;
    (void)ctx;
    (void)old_size;
    if (ptr == NULL)
        return ca_malloc_locked(ctx, new_size);
    if (ca_should_fail(new_size) || new_size > SIZE_MAX - CA_PREFIX)
        return NULL;
    base = (unsigned char *)ptr - CA_PREFIX;
    memcpy(&had, base, sizeof had);
    p = realloc(base, new_size + CA_PREFIX);
    if (p == NULL)
        return NULL;
    memcpy(p, &new_size, sizeof new_size);
    ca.live_bytes -= had;
    ca_grow(new_size);
    return p + CA_PREFIX;
}

static void ca_free_locked(void *ctx, void *ptr)
{
    unsigned char *base;
    size_t had;
    (void)ctx;
    if (ptr == NULL)
        return;
    base = (unsigned char *)ptr - CA_PREFIX;
    memcpy(&had, base, sizeof had);
    ca.live--;
    ca.live_bytes -= had;
    free(base);
}

static void *ca_malloc(void *ctx, size_t size)
{
    void *p;
    pthread_mutex_lock(&ca_lock);
    p = ca_malloc_locked(ctx, size);
    pthread_mutex_unlock(&ca_lock);
    return p;
}

static void *ca_realloc(void *ctx, void *ptr, size_t old_size,
                        size_t new_size)
{
    void *p;
    pthread_mutex_lock(&ca_lock);
    p = ca_realloc_locked(ctx, ptr, old_size, new_size);
    pthread_mutex_unlock(&ca_lock);
    return p;
}

static void ca_free(void *ctx, void *ptr)
{
    pthread_mutex_lock(&ca_lock);
    ca_free_locked(ctx, ptr);
    pthread_mutex_unlock(&ca_lock);
}

static void ca_install(void)
{
    static const calib_allocator a = {ca_malloc, ca_realloc, ca_free, NULL};
    calib_set_allocator(&a);
}

#endif /* CALIB_COUNTING_ALLOC_H */
