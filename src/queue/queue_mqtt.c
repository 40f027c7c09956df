/* queue_mqtt.c: the MQTT backend (mqtt:// URLs). Not yet written: every build answers
 * with the stub below until it is. */
#include "queue/queue_int.h"

#ifndef MS_WITH_MQTT
#define MS_WITH_MQTT 1
#endif

static ms_status mq_open_stub(const bs_url *u, const qu_cfg *cfg, qu_queue **out, ms_error *err)
{
#if MS_WITH_MQTT
    return bs_fail(err, MS_ERR_UNSUPPORTED, "the MQTT queue backend is not written yet");
#else
    return qu_not_built(err, "MQTT", "WITH_MQTT", "libmosquitto-dev");
#endif
}
static void mq_close_stub(qu_queue *q) {}
const qu_backend_ops qu_mqtt_ops = {.version = QU_OPS_VERSION, .name = "mqtt",
                                     .open = mq_open_stub, .close = mq_close_stub};
