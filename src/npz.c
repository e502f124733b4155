/*
 * npz.c - members of NumPy .npz archives: ZIP files whose members are
 * .npy images, stored (np.savez) or deflated (np.savez_compressed).
 *
 * The ZIP layout follows PKWARE's APPNOTE.TXT (sections 4.3 and 4.5): the
 * end-of-central-directory record at the end of the file, the ZIP64 one
 * before it when present, then the central directory, one record per
 * member with its method, CRC-32, sizes and the offset of its local
 * header. NumPy opens each member with force_zip64, so the local headers
 * carry 0xFFFFFFFF sizes and a ZIP64 extra field: sizes are therefore
 * taken from the central directory (and its ZIP64 extra field), never from
 * the local header, which only tells where the data starts. Deflated
 * members are inflated by zlib as raw deflate; every member's CRC-32 is
 * checked. Each size and offset is checked against the archive's size
 * before anything is allocated, and a member that claims to inflate to
 * more than deflate can produce from its compressed size (about 1032:1) is
 * refused. Multi-disk and encrypted archives are not supported.
 */
#include "io_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <zlib.h>

#define EOCD_SIG 0x06054b50u
#define EOCD_LEN 22u
#define ZIP64_LOCATOR_SIG 0x07064b50u
#define ZIP64_LOCATOR_LEN 20u
#define ZIP64_EOCD_SIG 0x06064b50u
#define ZIP64_EOCD_LEN 56u
#define CENTRAL_SIG 0x02014b50u
#define CENTRAL_LEN 46u
#define LOCAL_SIG 0x04034b50u
#define LOCAL_LEN 30u
#define ZIP64_EXTRA_ID 0x0001u

/* The EOCD record ends the file but for a comment of at most 64 KiB. */
#define MAX_COMMENT 65535u

/* An .npz holds a handful of arrays; a central directory of more than
 * this is not one we were meant to read. */
#define MAX_CENTRAL ((uint64_t)64 << 20)

/* Deflate's best case is 258 bytes from one 2-bit-ish code: about
 * 1032:1. A member claiming more than that is lying (a zip bomb). */
#define MAX_DEFLATE_RATIO 1032u

#define INFLATE_CHUNK ((size_t)1 << 16)

typedef struct zip_entry {
    const char *name;           /* into the central directory, not NUL */
    size_t name_len;
    unsigned flags;
    unsigned method;
    uint32_t crc;
    uint64_t csize;
    uint64_t usize;
    uint64_t offset;            /* of the local header */
} zip_entry;

typedef struct zip_archive {
    FILE *file;
    uint64_t size;
    uint64_t central_offset;
    uint64_t central_size;
    uint64_t entries;
    unsigned char *central;
    const char *name;           /* for messages */
    calib_error *err;
} zip_archive;

static unsigned get16(const unsigned char *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static calib_status zip_fail(const zip_archive *z, calib_status status,
                             const char *what)
{
    return calib_fail(z->err, status, z->name, -1, -1, -1, "%s", what);
}

/* n bytes at offset `at`; the caller checked at + n <= z->size. */
static calib_status read_at(zip_archive *z, uint64_t at, void *buf,
                            size_t n)
{
    if (at > (uint64_t)INT64_MAX ||
        fseeko(z->file, (off_t)at, SEEK_SET) != 0 ||
        fread(buf, 1, n, z->file) != n)
        return calib_fail(z->err, CALIB_E_IO, z->name, -1, -1, -1,
                          "cannot read the archive: %s",
                          errno != 0 ? strerror(errno) : "short read");
    return CALIB_OK;
}

/* Reads the ZIP64 end record located by the locator before `eocd`. */
static calib_status read_zip64_end(zip_archive *z, uint64_t eocd)
{
    unsigned char loc[ZIP64_LOCATOR_LEN], rec[ZIP64_EOCD_LEN];
    uint64_t at;
    calib_status st;

    if (eocd < ZIP64_LOCATOR_LEN)
        return zip_fail(z, CALIB_E_FORMAT, "ZIP64 locator missing");
    st = read_at(z, eocd - ZIP64_LOCATOR_LEN, loc, sizeof loc);
    if (st != CALIB_OK)
        return st;
    if (get32(loc) != ZIP64_LOCATOR_SIG)
        return zip_fail(z, CALIB_E_FORMAT,
                        "ZIP64 sizes without a ZIP64 locator");
    at = get64(loc + 8);
    if (at > eocd - ZIP64_LOCATOR_LEN ||
        eocd - ZIP64_LOCATOR_LEN - at < ZIP64_EOCD_LEN)
        return zip_fail(z, CALIB_E_FORMAT,
                        "ZIP64 end record offset is outside the archive");
    st = read_at(z, at, rec, sizeof rec);
    if (st != CALIB_OK)
        return st;
    if (get32(rec) != ZIP64_EOCD_SIG)
        return zip_fail(z, CALIB_E_FORMAT, "bad ZIP64 end record");
    if (get32(rec + 16) != 0 || get32(rec + 20) != 0)
        return zip_fail(z, CALIB_E_UNSUPPORTED,
                        "multi-disk archives are not supported");
    z->entries = get64(rec + 32);
    z->central_size = get64(rec + 40);
    z->central_offset = get64(rec + 48);
    if (z->central_offset > at || at - z->central_offset < z->central_size)
        return zip_fail(z, CALIB_E_FORMAT,
                        "central directory is outside the archive");
    return CALIB_OK;
}

/* Finds the end records and reads the central directory into memory. */
static calib_status read_central(zip_archive *z)
{
    unsigned char *tail;
    size_t tail_len, i;
    uint64_t eocd;
    const unsigned char *e = NULL;
    calib_status st;
    int zip64;

    if (z->size < EOCD_LEN)
        return zip_fail(z, CALIB_E_FORMAT,
                        "not a ZIP archive (too short for an end record)");
    tail_len = (size_t)(z->size < EOCD_LEN + MAX_COMMENT
                            ? z->size : EOCD_LEN + MAX_COMMENT);
    tail = calib_malloc(tail_len);
    if (tail == NULL)
        return zip_fail(z, CALIB_E_NOMEM, "out of memory");
    st = read_at(z, z->size - tail_len, tail, tail_len);
    if (st != CALIB_OK) {
        calib_free(tail);
        return st;
    }
    /* the last signature whose comment length reaches the end exactly */
    for (i = tail_len - EOCD_LEN + 1; i-- > 0;)
        if (get32(tail + i) == EOCD_SIG &&
            i + EOCD_LEN + get16(tail + i + 20) == tail_len) {
            e = tail + i;
            break;
        }
    if (e == NULL) {
        calib_free(tail);
        return zip_fail(z, CALIB_E_FORMAT,
                        "not a ZIP archive (no end-of-central-directory "
                        "record)");
    }
    eocd = z->size - tail_len + i;
    if (get16(e + 4) != 0 || get16(e + 6) != 0) {
        calib_free(tail);
        return zip_fail(z, CALIB_E_UNSUPPORTED,
                        "multi-disk archives are not supported");
    }
    z->entries = get16(e + 10);
    z->central_size = get32(e + 12);
    z->central_offset = get32(e + 16);
    zip64 = z->entries == 0xFFFFu || z->central_size == 0xFFFFFFFFu ||
            z->central_offset == 0xFFFFFFFFu;
    if (!zip64 && eocd >= ZIP64_LOCATOR_LEN) {
        unsigned char sig[4];
        st = read_at(z, eocd - ZIP64_LOCATOR_LEN, sig, 4);
        zip64 = st == CALIB_OK && get32(sig) == ZIP64_LOCATOR_SIG;
    }
    calib_free(tail);

    if (zip64) {
        st = read_zip64_end(z, eocd);
        if (st != CALIB_OK)
            return st;
    } else if (z->central_offset > eocd ||
               eocd - z->central_offset < z->central_size) {
        return zip_fail(z, CALIB_E_FORMAT,
                        "central directory is outside the archive");
    }
    if (z->central_size > MAX_CENTRAL)
        return zip_fail(z, CALIB_E_TOO_LARGE,
                        "central directory is beyond the 64 MiB limit");
    if (z->entries == 0)
        return zip_fail(z, CALIB_E_FORMAT, "the archive has no members");

    z->central = calib_malloc((size_t)z->central_size);
    if (z->central == NULL)
        return zip_fail(z, CALIB_E_NOMEM, "out of memory");
    return read_at(z, z->central_offset, z->central,
                   (size_t)z->central_size);
}

/* Takes the 64-bit values of a ZIP64 extra field for the fields that
 * hold 0xFFFFFFFF, in the order APPNOTE 4.5.3 gives. */
static int apply_zip64_extra(const unsigned char *x, size_t len,
                             zip_entry *m)
{
    while (len >= 4) {
        unsigned id = get16(x), n = get16(x + 2);
        if (n > len - 4)
            return -1;
        if (id == ZIP64_EXTRA_ID) {
            const unsigned char *v = x + 4;
            size_t left = n;
            if (m->usize == 0xFFFFFFFFu) {
                if (left < 8)
                    return -1;
                m->usize = get64(v);
                v += 8;
                left -= 8;
            }
            if (m->csize == 0xFFFFFFFFu) {
                if (left < 8)
                    return -1;
                m->csize = get64(v);
                v += 8;
                left -= 8;
            }
            if (m->offset == 0xFFFFFFFFu) {
                if (left < 8)
                    return -1;
                m->offset = get64(v);
            }
            return 0;
        }
        x += 4 + n;
        len -= 4 + n;
    }
    return 0;
}

/* Fills m with the central directory record at byte *pos and moves *pos
 * past it; -1 when the record is malformed or runs past the directory. */
static int next_entry(const zip_archive *z, size_t *pos, zip_entry *m)
{
    const unsigned char *c = z->central + *pos;
    size_t left = (size_t)z->central_size - *pos;
    size_t name_len, extra_len, comment_len;

    if (left < CENTRAL_LEN || get32(c) != CENTRAL_SIG)
        return -1;
    name_len = get16(c + 28);
    extra_len = get16(c + 30);
    comment_len = get16(c + 32);
    if (name_len + extra_len + comment_len > left - CENTRAL_LEN)
        return -1;
    m->flags = get16(c + 8);
    m->method = get16(c + 10);
    m->crc = get32(c + 16);
    m->csize = get32(c + 20);
    m->usize = get32(c + 24);
    m->offset = get32(c + 42);
    m->name = (const char *)(c + CENTRAL_LEN);
    m->name_len = name_len;
    if (apply_zip64_extra(c + CENTRAL_LEN + name_len, extra_len, m) != 0)
        return -1;
    *pos += CENTRAL_LEN + name_len + extra_len + comment_len;
    return 0;
}

/* name == key, or name == key ".npy". */
static int name_matches(const zip_entry *m, const char *key)
{
    size_t k = strlen(key);

    if (m->name_len == k && memcmp(m->name, key, k) == 0)
        return 1;
    return m->name_len == k + 4 && memcmp(m->name, key, k) == 0 &&
           memcmp(m->name + k, ".npy", 4) == 0;
}

/* Appends the members' names (without ".npy") to buf, comma-separated,
 * ending in "..." when they do not fit. */
static void list_members(const zip_archive *z, char *buf, size_t cap)
{
    size_t pos = 0, used = 0;
    zip_entry m;

    buf[0] = '\0';
    for (uint64_t i = 0; i < z->entries && next_entry(z, &pos, &m) == 0;
         i++) {
        size_t n = m.name_len;
        if (n >= 4 && memcmp(m.name + n - 4, ".npy", 4) == 0)
            n -= 4;
        if (used + n + 8 >= cap) {
            snprintf(buf + used, cap - used, "%s...", i ? ", " : "");
            return;
        }
        used += (size_t)snprintf(buf + used, cap - used, "%s%.*s",
                                 i ? ", " : "", (int)n, m.name);
    }
}

static calib_status find_member(zip_archive *z, const char *key,
                                zip_entry *out)
{
    size_t pos = 0;
    uint64_t found = 0;
    zip_entry m;
    char names[200];

    for (uint64_t i = 0; i < z->entries; i++) {
        if (next_entry(z, &pos, &m) != 0)
            return zip_fail(z, CALIB_E_FORMAT,
                            "malformed central directory record");
        if (key == NULL || name_matches(&m, key)) {
            if (found == 0)
                *out = m;
            found++;
        }
    }
    if (key == NULL && found == 1)
        return CALIB_OK;
    if (key != NULL && found >= 1)
        return CALIB_OK;  /* duplicates: the first, as NumPy does not */

    list_members(z, names, sizeof names);
    if (key == NULL)
        return calib_fail(z->err, CALIB_E_ARGUMENT, z->name, -1, -1, -1,
                          "the archive holds %llu arrays; choose one as "
                          "FILE.npz:KEY with KEY one of: %s",
                          (unsigned long long)found, names);
    calib_fail(z->err, CALIB_E_ARGUMENT, z->name, -1, -1, -1,
               "no array '%s' in the archive; it holds: %s", key, names);
    calib_error_set_field(z->err, key);
    return CALIB_E_ARGUMENT;
}

/* zlib's own state and window go through the calib allocator too, so
 * that an allocation failure inside inflate can be injected and is
 * reported as CALIB_E_NOMEM. */
static voidpf zlib_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return calib_calloc(items, size);
}

static void zlib_free(voidpf opaque, voidpf ptr)
{
    (void)opaque;
    calib_free(ptr);
}

static calib_status inflate_member(zip_archive *z, const zip_entry *m,
                                   unsigned char *out, size_t usize)
{
    unsigned char *in;
    z_stream zs;
    uint64_t left = m->csize;
    int rc = Z_OK;
    calib_status st = CALIB_OK;

    in = calib_malloc(INFLATE_CHUNK);
    if (in == NULL)
        return zip_fail(z, CALIB_E_NOMEM, "out of memory");
    memset(&zs, 0, sizeof zs);
    zs.zalloc = zlib_alloc;
    zs.zfree = zlib_free;
    zs.opaque = Z_NULL;
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
        calib_free(in);
        return zip_fail(z, CALIB_E_NOMEM, "cannot start zlib");
    }
    zs.next_out = out;
    while (rc != Z_STREAM_END) {
        size_t want;
        if (zs.avail_in == 0) {
            if (left == 0) {
                st = zip_fail(z, CALIB_E_FORMAT,
                              "deflated data ends early (archive "
                              "damaged)");
                break;
            }
            want = left < INFLATE_CHUNK ? (size_t)left : INFLATE_CHUNK;
            if (fread(in, 1, want, z->file) != want) {
                st = zip_fail(z, CALIB_E_IO, "cannot read the archive");
                break;
            }
            left -= want;
            zs.next_in = in;
            zs.avail_in = (uInt)want;
        }
        /* avail_out is 32 bits: feed the output in slices */
        {
            size_t done = (size_t)(zs.next_out - out);
            size_t room = usize - done;
            zs.avail_out = room > 0x40000000u ? 0x40000000u : (uInt)room;
        }
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END)
            break;
        if (rc == Z_MEM_ERROR) {
            st = zip_fail(z, CALIB_E_NOMEM, "out of memory inflating");
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            st = calib_fail(z->err, CALIB_E_FORMAT, z->name, -1, -1, -1,
                            "corrupt deflate data: %s",
                            zs.msg != NULL ? zs.msg : "zlib error");
            break;
        }
        if ((size_t)(zs.next_out - out) == usize && zs.avail_in > 0) {
            st = zip_fail(z, CALIB_E_FORMAT,
                          "inflates to more than its declared size");
            break;
        }
        if (rc == Z_BUF_ERROR && zs.avail_in > 0) {
            st = zip_fail(z, CALIB_E_FORMAT,
                          "inflates to more than its declared size");
            break;
        }
    }
    if (st == CALIB_OK && (size_t)(zs.next_out - out) != usize)
        st = calib_fail(z->err, CALIB_E_FORMAT, z->name, -1, -1, -1,
                        "inflates to %zu bytes, the directory says %zu",
                        (size_t)(zs.next_out - out), usize);
    inflateEnd(&zs);
    calib_free(in);
    return st;
}

/* Checks the member against the archive, reads and verifies it. */
static calib_status extract(zip_archive *z, const zip_entry *m,
                            unsigned char **data, size_t *size)
{
    unsigned char local[LOCAL_LEN];
    uint64_t start;
    unsigned char *out;
    size_t usize;
    calib_status st;

    if (m->flags & 1u)
        return zip_fail(z, CALIB_E_UNSUPPORTED,
                        "encrypted members are not supported");
    if (m->method != 0 && m->method != 8)
        return calib_fail(z->err, CALIB_E_UNSUPPORTED, z->name, -1, -1, -1,
                          "compression method %u is not supported (stored "
                          "and deflate are)", m->method);
    if (m->offset > z->central_offset ||
        z->central_offset - m->offset < LOCAL_LEN)
        return zip_fail(z, CALIB_E_FORMAT,
                        "member offset is outside the archive");
    st = read_at(z, m->offset, local, sizeof local);
    if (st != CALIB_OK)
        return st;
    if (get32(local) != LOCAL_SIG)
        return zip_fail(z, CALIB_E_FORMAT, "bad local header signature");
    start = m->offset + LOCAL_LEN + get16(local + 26) + get16(local + 28);
    if (start > z->central_offset ||
        z->central_offset - start < m->csize)
        return calib_fail(z->err, CALIB_E_FORMAT, z->name, -1, -1, -1,
                          "member claims %llu compressed bytes, more than "
                          "the archive holds",
                          (unsigned long long)m->csize);
    if (m->method == 0 && m->usize != m->csize)
        return zip_fail(z, CALIB_E_FORMAT,
                        "stored member with different sizes");
    if (m->method == 8 &&
        m->usize / MAX_DEFLATE_RATIO > m->csize)
        return calib_fail(z->err, CALIB_E_TOO_LARGE, z->name, -1, -1, -1,
                          "member claims to inflate %llu bytes to %llu, "
                          "beyond what deflate can do: refused",
                          (unsigned long long)m->csize,
                          (unsigned long long)m->usize);
    if (m->usize > SIZE_MAX || m->usize > (uint64_t)INT64_MAX)
        return zip_fail(z, CALIB_E_TOO_LARGE,
                        "member is beyond the addressable size");
    usize = (size_t)m->usize;

    out = calib_malloc(usize);
    if (out == NULL)
        return calib_fail(z->err, CALIB_E_NOMEM, z->name, -1, -1, -1,
                          "out of memory for a member of %zu bytes",
                          usize);
    if (fseeko(z->file, (off_t)start, SEEK_SET) != 0) {
        calib_free(out);
        return zip_fail(z, CALIB_E_IO, "cannot seek in the archive");
    }
    if (m->method == 0)
        st = fread(out, 1, usize, z->file) == usize
                 ? CALIB_OK
                 : zip_fail(z, CALIB_E_IO, "cannot read the archive");
    else
        st = inflate_member(z, m, out, usize);
    if (st == CALIB_OK && crc32_z(0L, out, usize) != m->crc)
        st = zip_fail(z, CALIB_E_FORMAT,
                      "CRC-32 mismatch: the member is damaged");
    if (st != CALIB_OK) {
        calib_free(out);
        return st;
    }
    *data = out;
    *size = usize;
    return CALIB_OK;
}

static int ends_with_npz(const char *s, size_t len)
{
    const char *ext = ".npz";
    if (len < 4)
        return 0;
    for (size_t i = 0; i < 4; i++) {
        char c = s[len - 4 + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != ext[i])
            return 0;
    }
    return 1;
}

int calib_npz_split_spec(const char *spec, char **path, const char **key)
{
    const char *colon = strrchr(spec, ':');
    size_t len;

    if (colon != NULL && ends_with_npz(spec, (size_t)(colon - spec))) {
        len = (size_t)(colon - spec);
        *key = colon[1] != '\0' ? colon + 1 : NULL;
    } else if (ends_with_npz(spec, strlen(spec))) {
        len = strlen(spec);
        *key = NULL;
    } else {
        return 0;
    }
    *path = calib_malloc(len + 1);
    if (*path == NULL)
        return -1;
    memcpy(*path, spec, len);
    (*path)[len] = '\0';
    return 1;
}

calib_status calib_npz_read_member(const char *path, const char *key,
                                   const char *name, unsigned char **data,
                                   size_t *size, calib_error *err)
{
    zip_archive z;
    struct stat sb;
    zip_entry m;
    calib_status st;

    memset(&z, 0, sizeof z);
    memset(&m, 0, sizeof m);
    z.name = name != NULL ? name : path;
    z.err = err;
    z.file = fopen(path, "rb");
    if (z.file == NULL)
        return calib_fail(err, CALIB_E_IO, path, -1, -1, -1,
                          "cannot open: %s", strerror(errno));
    if (fstat(fileno(z.file), &sb) != 0 || !S_ISREG(sb.st_mode) ||
        sb.st_size < 0) {
        fclose(z.file);
        return calib_fail(err, CALIB_E_IO, path, -1, -1, -1,
                          "an .npz archive is read by seeking: it must "
                          "be a regular file, not a pipe");
    }
    z.size = (uint64_t)sb.st_size;

    st = read_central(&z);
    if (st == CALIB_OK)
        st = find_member(&z, key, &m);
    if (st == CALIB_OK)
        st = extract(&z, &m, data, size);
    calib_free(z.central);
    fclose(z.file);
    return st;
}
