/* bs_url.h: the URLs that name a store or a queue, parsed once here. A store:
 *
 *   sqlite:///abs/path.db   sqlite://relative/path.db   sqlite::memory:
 *   postgresql://... or postgres://...   (kept whole: libpq parses its own conninfo URIs)
 *   redis://[[user]:password@][host][:port][/db]   (defaults 127.0.0.1, 6379, 0; the user and
 *       password may be %-escaped; "redis://secret@host" is a password alone, as redis-cli)
 *
 * A queue (bs_url_parse_queue): the same schemes with a stream, whose default is "events":
 *
 *   sqlite:///abs/q.db[?stream=NAME]   sqlite://rel/q.db[?stream=NAME]   (no :memory:: a
 *       queue is shared by processes through its file)
 *   redis://[[user]:password@][host][:port][/STREAM][?db=N][&partitions=N]   (the path is the
 *       stream here, not the database number, which moves to the query)
 *   redis://[[user]:password@]host[:port],host[:port][,...][/STREAM][?...]   several servers:
 *       a partitioned queue (docs/partitions.md); the user info applies to every host
 *
 *   nats://[[user]:password@][host][:port][/STREAM][?k=v&...]   (port 4222)
 *   kafka://host[:port][,host[:port]...][/TOPIC][?k=v&...]       (the broker list kept whole)
 *   mqtt://[[user]:password@][host][:port]/TOPIC-FILTER[?k=v&...] (port 1883; '#' as %23; the
 *       stream is derived from the filter: '/' -> '.', '+' -> "_any", '#' -> "_all")
 *
 * The stream's characters are the queue layer's to check (base/bs_name); the parser only cuts
 * it out. An unknown query parameter is refused, so a typo is not silently ignored.
 *
 * Anything else, and a malformed URL of a known scheme, is MS_ERR_INVALID with a message that
 * quotes the URL and shows the expected form. */
#ifndef BS_URL_H
#define BS_URL_H

#include "mlship.h"

typedef enum bs_scheme {
    BS_URL_SQLITE = 1,
    BS_URL_POSTGRES,
    BS_URL_REDIS,
    BS_URL_NATS,  /* queues only */
    BS_URL_KAFKA, /* queues only */
    BS_URL_MQTT,  /* queues only */
} bs_scheme;

typedef struct bs_url {
    const char *url;       /* the whole URL as given (not copied) */
    bs_scheme scheme;
    char *path;            /* sqlite: the file path (":memory:" for sqlite::memory:) */
    char *host;            /* redis, nats, mqtt */
    int port;              /* redis (6379), nats (4222), mqtt (1883) */
    int db;                /* redis */
    char *user, *password; /* redis AUTH, or NULL */
    char *stream;          /* queue URLs only: the stream ("events" when not given) */
    char *hosts;           /* kafka: the broker list "h1:9092,h2:9092" as given */
    char *topic;           /* mqtt: the topic filter, %-decoded (may hold / + #) */
    char *query;           /* nats, kafka, mqtt: the raw text after '?', or NULL; the backend
                              checks its parameters and refuses unknown ones */
    int nhosts;            /* redis queue URLs: entries of hostv (1 for one host, the same as
                              host/port, which also hold the first of a list) */
    struct bs_host {
        char *host;
        int port;
    } *hostv;
    int partitions;        /* redis queue URLs: ?partitions=N (1 to BS_URL_PARTITIONS_MAX),
                              0 when not given */
} bs_url;

#define BS_URL_PARTITIONS_MAX 1024

/* Parse `url` into *u (zeroed first). On failure *u holds nothing to free. */
ms_status bs_url_parse(const char *url, bs_url *u, ms_error *err);
/* Parse a queue URL (sqlite or redis; see above) into *u; on failure *u holds nothing. */
ms_status bs_url_parse_queue(const char *url, bs_url *u, ms_error *err);
void bs_url_free(bs_url *u); /* frees the copies, not u; a zeroed u is fine */

#endif
