/*
 * alloc.c - the one path every allocation of the library takes.
 *
 * An allocator can be installed for the whole process, which lets tests
 * make the n-th allocation fail and check that each public function then
 * returns CALIB_E_NOMEM, leaks nothing and leaves its outputs untouched.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *libc_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void *libc_realloc(void *ctx, void *ptr, size_t old_size,
                          size_t new_size)
{
    (void)ctx;
    (void)old_size;
    return realloc(ptr, new_size);
}

static void libc_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static calib_allocator current = {libc_malloc, libc_realloc, libc_free,
                                  NULL};

void calib_set_allocator(const calib_allocator *allocator)
{
    if (allocator == NULL) {
        current.malloc_fn = libc_malloc;
        current.realloc_fn = libc_realloc;
        current.free_fn = libc_free;
        current.ctx = NULL;
        return;
    }
    current = *allocator;
}

void *calib_malloc(size_t size)
{
    /* malloc(0) may return NULL legitimately; ask for one byte instead */
    return current.malloc_fn(current.ctx, size == 0 ? 1 : size);
}

void *calib_calloc(size_t n, size_t size)
{
    int overflow = 0;
    size_t bytes = calib_mul_size(n, size, &overflow);
    void *p;

    if (overflow)
        return NULL;
    p = calib_malloc(bytes);
    if (p != NULL)
        memset(p, 0, bytes == 0 ? 1 : bytes);
    return p;
}

void *calib_realloc(void *ptr, size_t old_size, size_t new_size)
{
    if (ptr == NULL)
        return calib_malloc(new_size);
    return current.realloc_fn(current.ctx, ptr, old_size,
                              new_size == 0 ? 1 : new_size);
}

void calib_free(void *ptr)
{
    if (ptr != NULL)
        current.free_fn(current.ctx, ptr);
}

size_t calib_mul_size(size_t n, size_t size, int *overflow)
{
    if (size != 0 && n > SIZE_MAX / size) {
        *overflow = 1;
        return 0;
    }
    return n * size;
}

unsigned calib_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    if (n > 256)
        return 256;
    return (unsigned)n;
}
