/* ag_fetch.h: the agent's HTTP client (libcurl): a small file into memory with a conditional
 * request, and a blob into a file with resume.
 *
 * Every transfer has a connect timeout and a stall limit (less than 1 byte/s for the stall
 * time aborts it), so a backend that dies or hangs mid-transfer costs one poll, never a stuck
 * agent. Errors name the URL. */
#ifndef AG_FETCH_H
#define AG_FETCH_H

#include <stdint.h>

#include "codec/codec_buf.h"
#include "mlship.h"

#define AG_ETAG_CAP 128

typedef struct ag_fetch_opts {
    long connect_s; /* connect timeout */
    long stall_s;   /* abort when under 1 byte/s this long */
    const char *bearer; /* ag_fetch_mem sends "Authorization: Bearer <it>"; NULL: none */
} ag_fetch_opts;

/* GET `url` into `out` (at most `cap` bytes; more is an error). `etag` (may be "" or NULL)
 * is sent as If-None-Match; *status receives the HTTP status (304: `out` untouched) and
 * `etag_out` (may be NULL) the response's ETag ("" if none). MS_ERR_RUNTIME for a transfer
 * failure or a status other than 200/304. */
ms_status ag_fetch_mem(const ag_fetch_opts *o, const char *url, const char *etag, size_t cap, mc_buf *out,
                       long *status, char etag_out[AG_ETAG_CAP], ms_error *err);

/* The result of a blob download. */
typedef struct ag_download {
    int64_t resumed_from; /* bytes already in the file that the server agreed to continue */
    int64_t received;     /* bytes received in this call */
    int too_big;          /* the server sent more than `size` bytes: the content is wrong */
    int disk_full;        /* a write failed with ENOSPC (the partial file was removed) */
} ag_download;

/* Download `url` into `path` until it holds `size` bytes, continuing a partial file with an
 * HTTP Range request (a server that answers 200 instead restarts it). MS_OK when the file
 * has exactly `size` bytes; otherwise an error, with the partial file kept for the next try
 * (except after too_big or disk_full, which remove it). */
ms_status ag_fetch_file(const ag_fetch_opts *o, const char *url, const char *path, int64_t size, ag_download *d,
                        ms_error *err);

#endif
