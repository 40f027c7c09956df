/* ms_arity.h: input/output count ranges of ONNX operators, per version (ms_arity.c is
 * generated from ONNX's schemas by scripts/gen_arity.py). */
#ifndef MS_ARITY_H
#define MS_ARITY_H

typedef struct ms_arity {
    const char *domain, *op_type;
    int since;
    int min_in, max_in, min_out, max_out;
} ms_arity;

extern const ms_arity ms_arity_table[];
extern const int ms_arity_count;

#endif
