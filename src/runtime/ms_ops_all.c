/* ms_ops_all.c: the default kernel table: every family of the runtime. Its own object file
 * (see ms_op.h) so a microcontroller program can replace it with a table of only the families
 * its model uses. */
#include "ms_op.h"

#define MS_FAMILY(name) ms_ops_##name,
const ms_kernel *const ms_kernel_families[] = {MS_KERNEL_FAMILIES(MS_FAMILY) NULL};
