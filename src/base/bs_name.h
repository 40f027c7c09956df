/* bs_name.h: the two naming rules of the house, checked once here for every layer.
 *
 * Identifiers (tables, key and feature columns; later queue and stream names) go into SQL
 * double-quoted and into Redis keys, so they are restricted to what every backend takes
 * unquoted: a letter or '_', then letters, digits and '_', at most BS_IDENT_MAX (63, the
 * PostgreSQL limit) characters.
 * Names (models, versions, run ids) are file names and URL path segments too: 1 to
 * BS_NAME_MAX - 1 characters from [A-Za-z0-9._:-]. */
#ifndef BS_NAME_H
#define BS_NAME_H

#include "mlship.h"

#define BS_IDENT_MAX 63
#define BS_NAME_MAX 128 /* a name and its NUL fit in char[BS_NAME_MAX] */

/* 1 when `name` is a valid identifier (NULL is not). */
int bs_ident_ok(const char *name);
/* MS_OK, or MS_ERR_INVALID with "invalid <what> name '<name>': expected ..." */
ms_status bs_check_ident(const char *what, const char *name, ms_error *err);
/* MS_OK, or MS_ERR_INVALID with "invalid <what> '<name>': expected 1 to 127 characters ..." */
ms_status bs_check_name(const char *what, const char *name, ms_error *err);

#endif
