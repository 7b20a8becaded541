/* Reading small whole files (configs, vocabularies, probe requests) into memory. */
#ifndef GD_CORE_FILE_H
#define GD_CORE_FILE_H

#include <stddef.h>

/* Reads the regular file at path, at most max bytes, into a new NUL-terminated buffer
 * (*data, freed with gd_free; *len excludes the NUL). On error why says what went wrong
 * (without the path). Errors: GD_ENOENT, GD_EIO, GD_EINVAL (not a regular file),
 * GD_ELIMIT (larger than max), GD_ENOMEM. */
int gd_file_read(const char *path, size_t max, char **data, size_t *len, char *why, size_t n);

#endif
