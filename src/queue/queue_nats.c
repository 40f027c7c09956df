/* queue_nats.c: the NATS JetStream backend (nats:// URLs). Not yet written: every build answers
 * with the stub below until it is. */
#include "queue/queue_int.h"

#ifndef MS_WITH_NATS
#define MS_WITH_NATS 1
#endif

static ms_status nq_open_stub(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
#if MS_WITH_NATS
    return bs_fail(err, MS_ERR_UNSUPPORTED, "the NATS JetStream queue backend is not written yet");
#else
    return qu_not_built(err, "NATS JetStream", "WITH_NATS", "libnats-dev");
#endif
}
static void nq_close_stub(qu_queue *q) {}
const qu_backend_ops qu_nats_ops = {.version = QU_OPS_VERSION, .name = "nats",
                                     .open = nq_open_stub, .close = nq_close_stub};
