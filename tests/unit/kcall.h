/* kcall.h: one kernel called by hand, without a model or a session, for kernel unit tests: a
 * node (attributes, input and output slots) wired into an ms_kctx. A test fills k->in[], adds
 * attributes to k->attrs (k->node.n_attr counts them), then calls the kernel's infer and run
 * with &k->c. bufs[] holds whatever buffers the test allocates for outputs and scratch. */
#ifndef KCALL_H
#define KCALL_H

#include <string.h>

#include "ms_op.h"

typedef struct call {
    ms_node node;
    ms_attr attrs[16];
    int32_t ids_in[4], ids_out[2];
    const ms_tensor *in[4];
    ms_tensor out[2];
    ms_tensor *outp[2];
    ms_error err;
    ms_kctx c;
    void *bufs[3];
} call;

static void call_init_domain(call *k, const char *domain, const char *op, int opset, int n_in,
                             int n_out)
{
    memset(k, 0, sizeof *k);
    k->node.name = "t";
    k->node.op_type = op;
    k->node.domain = domain;
    k->node.n_in = n_in;
    k->node.n_out = n_out;
    k->node.in = k->ids_in;
    k->node.out = k->ids_out;
    k->node.attrs = k->attrs;
    k->node.opset = opset;
    for (int i = 0; i < n_out; i++) k->outp[i] = &k->out[i];
    k->c = (ms_kctx){.node = &k->node, .opset = opset, .n_in = n_in, .n_out = n_out,
                     .in = k->in, .out = k->outp, .err = &k->err};
}

#endif
