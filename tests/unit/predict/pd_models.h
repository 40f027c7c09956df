/* pd_models.h: the tiny hand-built models the predict unit tests run (onnx_build.h), with
 * values a reader can compute by hand. */
#ifndef PD_MODELS_H
#define PD_MODELS_H

#include <stdio.h>
#include <unistd.h>

#include "mlship.h"
#include "onnx_build.h"

/* A loaded model references its bytes in place, so the tests load from a file (mapped; the
 * name is unlinked at once) and free the bytes they built. NULL, said why, on failure. */
static inline ms_model *pdm_load(pbuf mb)
{
    char path[] = "/tmp/pd_models_XXXXXX";
    int fd = mkstemp(path);
    ms_model *m = NULL;
    ms_error err;
    if (fd >= 0 && write(fd, mb.p, mb.n) == (ssize_t)mb.n && ms_model_load_file(path, &m, &err) != MS_OK)
        printf("pdm_load: %s\n", err.msg);
    if (fd >= 0) close(fd), unlink(path);
    free(mb.p);
    return m;
}

/* y = 2x + 1 elementwise, x and y float[rows, width]; rows symbolic unless fixed_rows > 0. */
static inline ms_model *pdm_affine(int64_t width, int64_t fixed_rows)
{
    pbuf g = {0};
    const char *mi[] = {"x", "two"}, *mo[] = {"t"}, *ai[] = {"t", "one"}, *ao[] = {"y"};
    ob_node(&g, "Mul", "mul", mi, 2, mo, 1, NULL);
    ob_node(&g, "Add", "add", ai, 2, ao, 1, NULL);
    pb_str(&g, 2, "affine");
    int64_t one_dim[1] = {1};
    float two = 2.0f, one = 1.0f;
    ob_tensor_f32(&g, 5, "two", 1, one_dim, &two);
    ob_tensor_f32(&g, 5, "one", 1, one_dim, &one);
    int64_t xd[2] = {fixed_rows > 0 ? fixed_rows : -1, width};
    ob_value(&g, 11, "x", 1, 2, xd);
    ob_value(&g, 12, "y", 1, 2, xd);
    return pdm_load(ob_model(&g, 13));
}

/* y = Transpose(x): x float[rows, 3] -> y float[3, rows]; not row-wise (y's first dimension
 * is 3 whatever the rows), so a batcher must not split it by rows. */
static inline ms_model *pdm_transpose(void)
{
    pbuf g = {0};
    const char *ti[] = {"x"}, *to[] = {"y"};
    ob_node(&g, "Transpose", "tr", ti, 1, to, 1, NULL);
    pb_str(&g, 2, "transpose");
    int64_t xd[2] = {-1, 3}, yd[2] = {3, -1};
    ob_value(&g, 11, "x", 1, 2, xd);
    ob_value(&g, 12, "y", 1, 2, yd);
    return pdm_load(ob_model(&g, 13));
}

/* y = Reshape(x, [1, 2]) with x float[rows, 2]: runs on 1 row, fails on more (4 elements do
 * not fit [1, 2]), so it warms for any shape but not for a padded bucket of 2 rows. */
static inline ms_model *pdm_reshape_one_row(void)
{
    pbuf g = {0};
    const char *ri[] = {"x", "shape"}, *ro[] = {"y"};
    ob_node(&g, "Reshape", "rs", ri, 2, ro, 1, NULL);
    pb_str(&g, 2, "reshape");
    pbuf t = {0}; /* TensorProto int64 [2] = {1, 2} */
    pb_int(&t, 1, 2);
    pb_int(&t, 2, 7);
    pb_int(&t, 7, 1);
    pb_int(&t, 7, 2);
    pb_str(&t, 8, "shape");
    pb_msg(&g, 5, &t);
    int64_t xd[2] = {-1, 2}, yd[2] = {1, 2};
    ob_value(&g, 11, "x", 1, 2, xd);
    ob_value(&g, 12, "y", 1, 2, yd);
    return pdm_load(ob_model(&g, 13));
}

/* y = MatMul(x, W) with x float[rows, 2] and W float[3, 1]: the inner dimensions disagree, so
 * every run fails (whether load already refuses it is the runtime's business). */
static inline pbuf pdm_bad_matmul_bytes(void)
{
    pbuf g = {0};
    const char *mi[] = {"x", "w"}, *mo[] = {"y"};
    ob_node(&g, "MatMul", "mm", mi, 2, mo, 1, NULL);
    pb_str(&g, 2, "badmatmul");
    int64_t wd[2] = {3, 1};
    float w[3] = {1, 2, 3};
    ob_tensor_f32(&g, 5, "w", 2, wd, w);
    int64_t xd[2] = {-1, 2}, yd[2] = {-1, 1};
    ob_value(&g, 11, "x", 1, 2, xd);
    ob_value(&g, 12, "y", 1, 2, yd);
    return ob_model(&g, 13);
}

#endif
