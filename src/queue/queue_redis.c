/* queue_redis.c: placeholder while the Redis backend is written. */
#include "queue/queue_int.h"
static ms_status rq_open_stub(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
    return qu_not_built(err, "Redis", "WITH_REDIS", "libhiredis-dev");
}
static void rq_close_stub(qu_queue *q) {}
const qu_backend_ops qu_redis_ops = {.version = QU_OPS_VERSION, .name = "redis",
                                     .open = rq_open_stub, .close = rq_close_stub};
