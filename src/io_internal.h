/*
 * io_internal.h - what the .npy, .npz and CSV readers share; not public.
 */
#ifndef CALIB_IO_INTERNAL_H
#define CALIB_IO_INTERNAL_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* Parses a whole .npy image held in memory (a file or an .npz member)
 * into a matrix; `name` is what error messages call it. */
calib_status calib_npy_matrix_from_memory(const unsigned char *buf,
                                          size_t len, const char *name,
                                          calib_matrix *out,
                                          calib_error *err);

/* The same for labels (any integer width or bool, to int64). */
calib_status calib_npy_labels_from_memory(const unsigned char *buf,
                                          size_t len, const char *name,
                                          int64_t **labels, size_t *n,
                                          calib_error *err);

/*
 * Splits "PATH.npz:KEY": returns 1 and fills path (a copy, released with
 * calib_free) and *key (pointing into spec, or NULL for a bare PATH.npz)
 * when spec names an .npz archive; 0 when spec is a plain path; -1 when
 * out of memory.
 */
int calib_npz_split_spec(const char *spec, char **path, const char **key);

/*
 * Reads one member of a ZIP archive (stored or deflated, CRC checked)
 * into memory. `key` may omit ".npy"; NULL picks the only member.
 * *data is released with calib_free.
 */
calib_status calib_npz_read_member(const char *path, const char *key,
                                   const char *name, unsigned char **data,
                                   size_t *size, calib_error *err);

#endif /* CALIB_IO_INTERNAL_H */
