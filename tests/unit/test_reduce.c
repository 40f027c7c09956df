/* test_reduce.c: ops_reduce.c behaviour the ONNX node tests do not reach: refusals (invalid
 * attributes and inputs, unsupported dtypes), integer paths, stability and tie rules. Kernels
 * are called directly through the registry with a hand-built node. */
#include "ms_op.h"
#include "kcall.h"
#include "mstest.h"

#include <stdlib.h>

/* one kernel invocation (kcall.h); every node here is in the default (ai.onnx) domain */
#define call_init(k, op, opset, n_in, n_out) call_init_domain(k, "", op, opset, n_in, n_out)

static void attr_int(call *k, const char *name, int64_t v)
{
    ms_attr *a = &k->attrs[k->node.n_attr++];
    a->name = name;
    a->type = MS_ATTR_INT;
    a->i = v;
}

static void attr_ints(call *k, const char *name, const int64_t *v, int n)
{
    ms_attr *a = &k->attrs[k->node.n_attr++];
    a->name = name;
    a->type = MS_ATTR_INTS;
    a->ints = v;
    a->n = n;
}

static void attr_str(call *k, const char *name, const char *s)
{
    ms_attr *a = &k->attrs[k->node.n_attr++];
    a->name = name;
    a->type = MS_ATTR_STRING;
    a->s = s;
    a->s_len = strlen(s);
}

/* infer, allocate outputs and scratch, run. Returns the first failing status. */
static ms_status call_run(call *k)
{
    const ms_kernel *kern = ms_kernel_find("", k->node.op_type, k->c.opset);
    if (!kern) return MS_ERR_UNSUPPORTED;
    ms_status st = kern->infer(&k->c);
    if (st) return st;
    for (int i = 0; i < k->c.n_out; i++)
        k->out[i].data = calloc(1, (size_t)ms_tensor_numel(&k->out[i]) *
                                       ms_dtype_size(k->out[i].dtype) + 8);
    k->c.scratch = malloc(k->c.scratch_size + 8);
    st = kern->run(&k->c);
    return st;
}

static void call_free(call *k)
{
    for (int i = 0; i < k->c.n_out; i++) free(k->out[i].data);
    free(k->c.scratch);
}

static ms_tensor tensor(ms_dtype dt, int ndim, const int64_t *shape, void *data)
{
    ms_tensor t = {dt, ndim, {0}, data};
    memcpy(t.shape, shape, sizeof(int64_t) * (size_t)ndim);
    return t;
}

TEST(reduce_sum_non_adjacent_axes)
{
    /* x[2][2][2] = 1..8; summing axes 0 and 2 leaves axis 1:
     * j=0: 1+2+5+6 = 14, j=1: 3+4+7+8 = 22 */
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t shape[3] = {2, 2, 2}, axes[2] = {0, 2};
    ms_tensor tx = tensor(MS_DTYPE_FLOAT, 3, shape, x);
    call k;
    call_init(&k, "ReduceSum", 11, 1, 1);
    k.in[0] = &tx;
    attr_ints(&k, "axes", axes, 2);
    attr_int(&k, "keepdims", 0);
    CHECK(call_run(&k) == MS_OK);
    CHECK(k.out[0].ndim == 1 && k.out[0].shape[0] == 2);
    CHECK_NEAR(((float *)k.out[0].data)[0], 14, 0);
    CHECK_NEAR(((float *)k.out[0].data)[1], 22, 0);
    call_free(&k);
}

TEST(reduce_repeated_axis_is_invalid)
{
    float x[4] = {0};
    int64_t shape[2] = {2, 2}, axes[2] = {1, -1};
    ms_tensor tx = tensor(MS_DTYPE_FLOAT, 2, shape, x);
    call k;
    call_init(&k, "ReduceMax", 13, 1, 1);
    k.in[0] = &tx;
    attr_ints(&k, "axes", axes, 2);
    CHECK(call_run(&k) == MS_ERR_INVALID);
    CHECK(strstr(k.err.msg, "repeated") != NULL);
    call_free(&k);
}

TEST(reduce_axis_out_of_range_is_invalid)
{
    float x[4] = {0};
    int64_t shape[2] = {2, 2}, axes[1] = {2}, ashape[1] = {1};
    ms_tensor tx = tensor(MS_DTYPE_FLOAT, 2, shape, x);
    ms_tensor ta = tensor(MS_DTYPE_INT64, 1, ashape, axes);
    call k;
    call_init(&k, "ReduceSum", 13, 2, 1);
    k.in[0] = &tx;
    k.in[1] = &ta;
    CHECK(call_run(&k) == MS_ERR_INVALID);
    call_free(&k);
}

TEST(reduce_mean_int_is_unsupported)
{
    int32_t x[2] = {1, 2};
    int64_t shape[1] = {2};
    ms_tensor tx = tensor(MS_DTYPE_INT32, 1, shape, x);
    call k;
    call_init(&k, "ReduceMean", 13, 1, 1);
    k.in[0] = &tx;
    CHECK(call_run(&k) == MS_ERR_UNSUPPORTED);
    call_free(&k);
}

TEST(reduce_int64_sum_is_exact)
{
    /* 2^60 + 1 + 2^60 is not representable in double; int64 must keep the 1 */
    int64_t x[3] = {(int64_t)1 << 60, 1, (int64_t)1 << 60}, shape[1] = {3};
    ms_tensor tx = tensor(MS_DTYPE_INT64, 1, shape, x);
    call k;
    call_init(&k, "ReduceSum", 11, 1, 1);
    k.in[0] = &tx;
    CHECK(call_run(&k) == MS_OK);
    CHECK(((int64_t *)k.out[0].data)[0] == ((int64_t)1 << 61) + 1);
    call_free(&k);
}

TEST(reduce_logsumexp_large_values)
{
    /* log(e^1000 + e^1000) = 1000 + log 2; naive exp overflows to inf */
    float x[2] = {1000, 1000};
    int64_t shape[1] = {2};
    ms_tensor tx = tensor(MS_DTYPE_FLOAT, 1, shape, x);
    call k;
    call_init(&k, "ReduceLogSumExp", 13, 1, 1);
    k.in[0] = &tx;
    CHECK(call_run(&k) == MS_OK);
    CHECK_NEAR(((float *)k.out[0].data)[0], 1000.693147, 1e-3);
    call_free(&k);
}

TEST(softmax_axis_out_of_range_is_invalid)
{
    float x[4] = {0};
    int64_t shape[2] = {2, 2};
    ms_tensor tx = tensor(MS_DTYPE_FLOAT, 2, shape, x);
    call k;
    call_init(&k, "Softmax", 13, 1, 1);
    k.in[0] = &tx;
    attr_int(&k, "axis", 2);
    CHECK(call_run(&k) == MS_ERR_INVALID);
    call_free(&k);
}

TEST(softmax_opset11_coerces_to_2d)
{
    /* shape [1, 2, 2], axis 1: one row of 4 equal values -> 0.25 each (opset 13 along axis 1
     * would give 0.5) */
    float x[4] = {3, 3, 3, 3};
    int64_t shape[3] = {1, 2, 2};
    ms_tensor tx = tensor(MS_DTYPE_FLOAT, 3, shape, x);
    call k;
    call_init(&k, "Softmax", 11, 1, 1);
    k.in[0] = &tx;
    CHECK(call_run(&k) == MS_OK);
    for (int i = 0; i < 4; i++) CHECK_NEAR(((float *)k.out[0].data)[i], 0.25, 1e-6);
    call_free(&k);
}

TEST(topk_ties_prefer_lower_index)
{
    /* values 5 at 1 and 3, 7 at 2: largest 2 are 7 (index 2) then 5 (index 1, not 3) */
    float x[4] = {1, 5, 7, 5};
    int64_t shape[1] = {4}, kv[1] = {2}, kshape[1] = {1};
    ms_tensor tx = tensor(MS_DTYPE_FLOAT, 1, shape, x);
    ms_tensor tk = tensor(MS_DTYPE_INT64, 1, kshape, kv);
    call k;
    call_init(&k, "TopK", 11, 2, 2);
    k.in[0] = &tx;
    k.in[1] = &tk;
    CHECK(call_run(&k) == MS_OK);
    const int64_t *idx = k.out[1].data;
    CHECK(idx[0] == 2 && idx[1] == 1);
    CHECK_NEAR(((float *)k.out[0].data)[1], 5, 0);
    call_free(&k);
}

TEST(topk_k_too_large_is_invalid)
{
    float x[2] = {1, 2};
    int64_t shape[1] = {2}, kv[1] = {3}, kshape[1] = {1};
    ms_tensor tx = tensor(MS_DTYPE_FLOAT, 1, shape, x);
    ms_tensor tk = tensor(MS_DTYPE_INT64, 1, kshape, kv);
    call k;
    call_init(&k, "TopK", 11, 2, 2);
    k.in[0] = &tx;
    k.in[1] = &tk;
    CHECK(call_run(&k) == MS_ERR_INVALID);
    call_free(&k);
}

TEST(cumsum_axis_must_be_one_value)
{
    float x[2] = {1, 2};
    int64_t shape[1] = {2}, av[2] = {0, 0}, ashape[1] = {2};
    ms_tensor tx = tensor(MS_DTYPE_FLOAT, 1, shape, x);
    ms_tensor ta = tensor(MS_DTYPE_INT64, 1, ashape, av);
    call k;
    call_init(&k, "CumSum", 14, 2, 1);
    k.in[0] = &tx;
    k.in[1] = &ta;
    CHECK(call_run(&k) == MS_ERR_INVALID);
    call_free(&k);
}

TEST(argmax_select_last_index)
{
    int32_t x[4] = {4, 9, 2, 9};
    int64_t shape[1] = {4};
    ms_tensor tx = tensor(MS_DTYPE_INT32, 1, shape, x);
    call k;
    call_init(&k, "ArgMax", 13, 1, 1);
    k.in[0] = &tx;
    attr_int(&k, "select_last_index", 1);
    CHECK(call_run(&k) == MS_OK);
    CHECK(((int64_t *)k.out[0].data)[0] == 3);
    call_free(&k);
}

TEST(einsum_bad_equations_are_invalid)
{
    static const char *const bad[] = {"ij,jk->ik", "i.j->ij", "ij->ii", "ij->k", "i->i"};
    float x[4] = {0};
    int64_t shape[2] = {2, 2};
    ms_tensor tx = tensor(MS_DTYPE_FLOAT, 2, shape, x);
    for (int i = 0; i < 5; i++) {
        call k;
        call_init(&k, "Einsum", 12, 1, 1);
        k.in[0] = &tx;
        attr_str(&k, "equation", bad[i]);
        CHECK_MSG(call_run(&k) == MS_ERR_INVALID, "equation %s", bad[i]);
        call_free(&k);
    }
}

TEST(einsum_trace)
{
    /* "ii" on [[1,2],[3,4]] is the trace 1 + 4 */
    double x[4] = {1, 2, 3, 4};
    int64_t shape[2] = {2, 2};
    ms_tensor tx = tensor(MS_DTYPE_DOUBLE, 2, shape, x);
    call k;
    call_init(&k, "Einsum", 12, 1, 1);
    k.in[0] = &tx;
    attr_str(&k, "equation", "ii");
    CHECK(call_run(&k) == MS_OK);
    CHECK(k.out[0].ndim == 0);
    CHECK_NEAR(((double *)k.out[0].data)[0], 5, 0);
    call_free(&k);
}

TEST(nll_target_out_of_range_is_invalid)
{
    float x[4] = {0};
    int64_t shape[2] = {2, 2}, t[2] = {0, 2}, tshape[1] = {2};
    ms_tensor tx = tensor(MS_DTYPE_FLOAT, 2, shape, x);
    ms_tensor tt = tensor(MS_DTYPE_INT64, 1, tshape, t);
    call k;
    call_init(&k, "NegativeLogLikelihoodLoss", 13, 2, 1);
    k.in[0] = &tx;
    k.in[1] = &tt;
    CHECK(call_run(&k) == MS_ERR_INVALID);
    call_free(&k);
}

TEST(nll_bad_reduction_is_invalid)
{
    float x[4] = {0};
    int64_t shape[2] = {2, 2}, t[2] = {0, 1}, tshape[1] = {2};
    ms_tensor tx = tensor(MS_DTYPE_FLOAT, 2, shape, x);
    ms_tensor tt = tensor(MS_DTYPE_INT64, 1, tshape, t);
    call k;
    call_init(&k, "NegativeLogLikelihoodLoss", 13, 2, 1);
    k.in[0] = &tx;
    k.in[1] = &tt;
    attr_str(&k, "reduction", "max");
    CHECK(call_run(&k) == MS_ERR_INVALID);
    call_free(&k);
}

int main(void)
{
    RUN(reduce_sum_non_adjacent_axes);
    RUN(reduce_repeated_axis_is_invalid);
    RUN(reduce_axis_out_of_range_is_invalid);
    RUN(reduce_mean_int_is_unsupported);
    RUN(reduce_int64_sum_is_exact);
    RUN(reduce_logsumexp_large_values);
    RUN(softmax_axis_out_of_range_is_invalid);
    RUN(softmax_opset11_coerces_to_2d);
    RUN(topk_ties_prefer_lower_index);
    RUN(topk_k_too_large_is_invalid);
    RUN(cumsum_axis_must_be_one_value);
    RUN(argmax_select_last_index);
    RUN(einsum_bad_equations_are_invalid);
    RUN(einsum_trace);
    RUN(nll_target_out_of_range_is_invalid);
    RUN(nll_bad_reduction_is_invalid);
    return mstest_summary();
}
