/* queue_kafka.c: the Kafka backend (kafka:// URLs). Not yet written: every build answers
 * with the stub below until it is. */
#include "queue/queue_int.h"

#ifndef MS_WITH_KAFKA
#define MS_WITH_KAFKA 1
#endif

static ms_status kq_open_stub(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
#if MS_WITH_KAFKA
    return bs_fail(err, MS_ERR_UNSUPPORTED, "the Kafka queue backend is not written yet");
#else
    return qu_not_built(err, "Kafka", "WITH_KAFKA", "librdkafka-dev");
#endif
}
static void kq_close_stub(qu_queue *q) {}
const qu_backend_ops qu_kafka_ops = {.version = QU_OPS_VERSION, .name = "kafka",
                                     .open = kq_open_stub, .close = kq_close_stub};
