/*
 * robust_files.h - writers of small, deliberately odd input files for the
 * robustness tests (test_hostile.c, test_alloc_fail.c): .npy files with
 * any header text, and ZIP archives (.npz) whose members are stored or
 * deflated and whose headers may claim sizes they do not hold.
 *
 * The ZIP layout follows PKWARE's APPNOTE.TXT (local file header,
 * central directory header, end of central directory record, and the
 * ZIP64 extended information extra field 0x0001). These writers bypass
 * the library on purpose: a test of the readers must not depend on the
 * library's own writers.
 */
#ifndef CALIB_ROBUST_FILES_H
#define CALIB_ROBUST_FILES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Writes "\x93NUMPY", version, header length, `header` padded with spaces
 * to a multiple of 64 and a newline, then `size` data bytes. Returns 0. */
static inline int rf_write_npy(const char *path, int major,
                               const char *header, const void *data,
                               size_t size)
{
    FILE *f = fopen(path, "wb");
    size_t len_bytes = major == 1 ? 2 : 4;
    size_t prefix = 8 + len_bytes;
    size_t hlen = strlen(header) + 1;
    size_t padded = (prefix + hlen + 63) / 64 * 64 - prefix;
    unsigned char pre[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', 0, 0, 0, 0, 0, 0};
    int ok;

    if (f == NULL)
        return -1;
    pre[6] = (unsigned char)major;
    for (size_t i = 0; i < len_bytes; i++)
        pre[8 + i] = (unsigned char)(padded >> (8 * i));
    ok = fwrite(pre, 1, prefix, f) == prefix &&
         fputs(header, f) >= 0;
    for (size_t i = hlen; ok && i < padded; i++)
        ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    ok = ok && (size == 0 || fwrite(data, 1, size, f) == size);
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* A .npy image of a little-endian float64 matrix, in memory. */
static inline unsigned char *rf_npy_f64(const double *v, size_t rows,
                                        size_t cols, size_t *size)
{
    char header[128];
    size_t hlen, total;
    unsigned char *buf;

    if (cols == 0)
        snprintf(header, sizeof header,
                 "{'descr': '<f8', 'fortran_order': False, "
                 "'shape': (%zu,), }", rows);
    else
        snprintf(header, sizeof header,
                 "{'descr': '<f8', 'fortran_order': False, "
                 "'shape': (%zu, %zu), }", rows, cols);
    hlen = (10 + strlen(header) + 1 + 63) / 64 * 64 - 10;
    if (cols == 0)
        cols = 1;
    total = 10 + hlen + rows * cols * 8;
    buf = malloc(total);
    if (buf == NULL)
        return NULL;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)hlen;
    buf[9] = (unsigned char)(hlen >> 8);
    memset(buf + 10, ' ', hlen);
    memcpy(buf + 10, header, strlen(header));
    buf[10 + hlen - 1] = '\n';
    for (size_t i = 0; i < rows * cols; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        for (int b = 0; b < 8; b++)
            buf[10 + hlen + i * 8 + (size_t)b] = (unsigned char)(u >> (8 * b));
    }
    *size = total;
    return buf;
}

/* One member of an archive written by rf_write_zip. The claim_* fields,
 * when not zero, replace the true sizes in both headers (through a ZIP64
 * extra field when above 32 bits) so that an archive can lie. */
typedef struct rf_member {
    const char *name;
    const unsigned char *data;
    size_t size;
    int deflate;
    uint64_t claim_compressed;
    uint64_t claim_uncompressed;
} rf_member;

static inline void rf_put16(FILE *f, unsigned v)
{
    fputc((int)(v & 0xff), f);
    fputc((int)((v >> 8) & 0xff), f);
}

static inline void rf_put32(FILE *f, uint64_t v)
{
    for (int i = 0; i < 4; i++)
        fputc((int)((v >> (8 * i)) & 0xff), f);
}

static inline void rf_put64(FILE *f, uint64_t v)
{
    rf_put32(f, v & 0xffffffffu);
    rf_put32(f, v >> 32);
}

/* Raw deflate (no zlib header), as ZIP method 8 wants. */
static inline unsigned char *rf_deflate(const unsigned char *in,
                                        size_t n, size_t *out_n)
{
    z_stream z;
    uLong cap = compressBound((uLong)n) + 64;
    unsigned char *out = malloc(cap);

    if (out == NULL)
        return NULL;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(out);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&z);
        free(out);
        return NULL;
    }
    *out_n = (size_t)z.total_out;
    deflateEnd(&z);
    return out;
}

/* The fixed part of a local or central header after the signature and
 * versions: flags, method, time, date, crc, sizes, name length, extra
 * length. Sizes above 32 bits become 0xffffffff (ZIP64). */
static inline void rf_sizes(FILE *f, unsigned method, uint32_t crc,
                            uint64_t csize, uint64_t usize, size_t name_len,
                            int zip64)
{
    rf_put16(f, 0);
    rf_put16(f, method);
    rf_put16(f, 0);
    rf_put16(f, 0x21);
    rf_put32(f, crc);
    rf_put32(f, zip64 ? 0xffffffffu : csize);
    rf_put32(f, zip64 ? 0xffffffffu : usize);
    rf_put16(f, (unsigned)name_len);
    rf_put16(f, zip64 ? 20u : 0u);
}

/* Writes an archive of n members; returns 0 on success. */
static inline int rf_write_zip(const char *path, const rf_member *m,
                               size_t n)
{
    FILE *f = fopen(path, "wb");
    uint64_t *offset = calloc(n + 1, sizeof *offset);
    unsigned char **packed = calloc(n + 1, sizeof *packed);
    size_t *packed_n = calloc(n + 1, sizeof *packed_n);
    uint32_t *crc = calloc(n + 1, sizeof *crc);
    long cd_start, cd_end;
    int ok = f != NULL && offset && packed && packed_n && crc;

    for (size_t i = 0; ok && i < n; i++) {
        uint64_t cs, us;
        int z64;
        crc[i] = (uint32_t)crc32(0L, m[i].data, (uInt)m[i].size);
        if (m[i].deflate) {
            packed[i] = rf_deflate(m[i].data, m[i].size, &packed_n[i]);
            ok = packed[i] != NULL;
            if (!ok)
                break;
        } else {
            packed_n[i] = m[i].size;
        }
        cs = m[i].claim_compressed ? m[i].claim_compressed : packed_n[i];
        us = m[i].claim_uncompressed ? m[i].claim_uncompressed : m[i].size;
        z64 = cs > 0xfffffffeu || us > 0xfffffffeu;
        offset[i] = (uint64_t)ftell(f);
        rf_put32(f, 0x04034b50);
        rf_put16(f, z64 ? 45 : 20);
        rf_sizes(f, m[i].deflate ? 8 : 0, crc[i], cs, us, strlen(m[i].name),
                 z64);
        fputs(m[i].name, f);
        if (z64) {
            rf_put16(f, 1);
            rf_put16(f, 16);
            rf_put64(f, us);
            rf_put64(f, cs);
        }
        fwrite(m[i].deflate ? packed[i] : m[i].data, 1, packed_n[i], f);
    }
    cd_start = ok ? ftell(f) : 0;
    for (size_t i = 0; ok && i < n; i++) {
        uint64_t cs = m[i].claim_compressed ? m[i].claim_compressed
                                            : packed_n[i];
        uint64_t us = m[i].claim_uncompressed ? m[i].claim_uncompressed
                                              : m[i].size;
        int z64 = cs > 0xfffffffeu || us > 0xfffffffeu;
        rf_put32(f, 0x02014b50);
        rf_put16(f, z64 ? 45 : 20);
        rf_put16(f, z64 ? 45 : 20);
        rf_sizes(f, m[i].deflate ? 8 : 0, crc[i], cs, us, strlen(m[i].name),
                 z64);
        rf_put16(f, 0);          /* comment length */
        rf_put16(f, 0);          /* disk */
        rf_put16(f, 0);          /* internal attributes */
        rf_put32(f, 0);          /* external attributes */
        rf_put32(f, offset[i]);
        fputs(m[i].name, f);
        if (z64) {
            rf_put16(f, 1);
            rf_put16(f, 16);
            rf_put64(f, us);
            rf_put64(f, cs);
        }
    }
    cd_end = ok ? ftell(f) : 0;
    if (ok) {
        rf_put32(f, 0x06054b50);
        rf_put16(f, 0);
        rf_put16(f, 0);
        rf_put16(f, (unsigned)n);
        rf_put16(f, (unsigned)n);
        rf_put32(f, (uint64_t)(cd_end - cd_start));
        rf_put32(f, (uint64_t)cd_start);
        rf_put16(f, 0);
    }
    for (size_t i = 0; packed != NULL && i < n; i++)
        free(packed[i]);
    free(offset);
    free(packed);
    free(packed_n);
    free(crc);
    if (f != NULL && fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

/* Writes text to path; returns 0 on success. */
static inline int rf_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (f == NULL)
        return -1;
    ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

#endif /* CALIB_ROBUST_FILES_H */
