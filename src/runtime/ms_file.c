/* ms_file.c: load a model from a file by mapping it, so weights are paged in on demand and
 * never copied. The only file I/O in the runtime; a microcontroller build leaves this file out
 * and calls ms_model_load on a buffer in flash. */
#include "ms_model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void unmap(void *base, size_t len)
{
    if (base && len) munmap(base, len);
}

ms_status ms_model_load_file(const char *path, ms_model **out, ms_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        int e = errno;
        snprintf(err->msg, sizeof err->msg, "cannot open model '%s': %s", path, strerror(e));
        return e == ENOENT || e == EACCES || e == ENOTDIR ? MS_ERR_INVALID : MS_ERR_RUNTIME;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err->msg, sizeof err->msg, "model '%s' is not a regular file", path);
        close(fd);
        return MS_ERR_INVALID;
    }
    size_t len = (size_t)st.st_size;
    void *base = NULL;
    if (len) {
        base = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (base == MAP_FAILED) {
            snprintf(err->msg, sizeof err->msg, "cannot map model '%s': %s", path, strerror(errno));
            close(fd);
            return MS_ERR_RUNTIME;
        }
    }
    close(fd);
    ms_status s = ms_model_load(base, len, out, err);
    if (s) {
        unmap(base, len);
        char msg[sizeof err->msg];
        memcpy(msg, err->msg, sizeof msg);
        int n = snprintf(err->msg, sizeof err->msg, "%.200s: ", path);
        snprintf(err->msg + n, sizeof err->msg - (size_t)n, "%.*s", (int)(sizeof msg) - 210, msg);
        return s;
    }
    (*out)->unmap = unmap;
    (*out)->map_base = base;
    (*out)->map_len = len;
    return MS_OK;
}
