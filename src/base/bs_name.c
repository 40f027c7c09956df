/* bs_name.c: identifier and name rules (see bs_name.h). Plain ASCII tests, not <ctype.h>: the
 * rules must not move with the locale. */
#include "base/bs_name.h"

#include "base/bs_error.h"

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

int bs_ident_ok(const char *name)
{
    if (!name || !(is_alpha(name[0]) || name[0] == '_')) return 0;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++)
        if (!(is_alpha(*p) || is_digit(*p) || *p == '_')) return 0;
    return n <= BS_IDENT_MAX;
}

ms_status bs_check_ident(const char *what, const char *name, ms_error *err)
{
    if (bs_ident_ok(name)) return MS_OK;
    return bs_fail(err, MS_ERR_INVALID,
                   "invalid %s name '%.100s': expected letters, digits and '_', not starting "
                   "with a digit, at most %d characters",
                   what, name ? name : "(null)", BS_IDENT_MAX);
}

ms_status bs_check_name(const char *what, const char *name, ms_error *err)
{
    size_t n = 0;
    int ok = name && *name;
    for (const char *p = name; ok && *p; p++, n++)
        if (!(is_alpha(*p) || is_digit(*p) || *p == '.' || *p == '_' || *p == '-' || *p == ':'))
            ok = 0;
    if (ok && n < BS_NAME_MAX) return MS_OK;
    return bs_fail(err, MS_ERR_INVALID,
                   "invalid %s '%.100s': expected 1 to %d characters from [A-Za-z0-9._:-]", what,
                   name ? name : "(null)", BS_NAME_MAX - 1);
}
