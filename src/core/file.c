/* Whole-file reads (see file.h). */
#include "core/file.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int gd_file_read(const char *path, size_t max, char **data, size_t *len, char *why, size_t n)
{
    int rc = GD_EIO;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = errno == ENOENT ? GD_ENOENT : GD_EIO;
        snprintf(why, n, "cannot open: %s", strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        rc = S_ISREG(st.st_mode) ? GD_ELIMIT : GD_EINVAL;
        if (rc == GD_ELIMIT)
            snprintf(why, n, "file larger than %zu bytes", max);
        else
            snprintf(why, n, "not a regular file");
        goto fail;
    }
    size_t size = (size_t)st.st_size, got = 0;
    buf = gd_malloc(size + 1);
    if (!buf) {
        rc = GD_ENOMEM;
        snprintf(why, n, "out of memory");
        goto fail;
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(why, n, "read failed: %s", r < 0 ? strerror(errno) : "file shrank");
            goto fail;
        }
        got += (size_t)r;
    }
    buf[size] = '\0';
    close(fd);
    *data = buf;
    *len = size;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    gd_free(buf);
    return rc;
}
