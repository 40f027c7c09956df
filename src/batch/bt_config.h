/* bt_config.h: the feature columns a model's config.json names, so that `mlship batch` binds
 * CSV columns by the same names `mlship serve` reads from the feature store.
 *
 * Where: --config FILE, else config.json next to the model file (DIR/model.onnx ->
 * DIR/config.json), else for the repository layout <name>/<version>/model.* the model's
 * <name>/config.json (what `mlship serve --models` reads). Only "features": {"columns": [..]}
 * is read here; serve checks the rest of the file. */
#ifndef BT_CONFIG_H
#define BT_CONFIG_H

#include <stddef.h>

#include "mlship.h"

/* The config.json that belongs to `model_path` into dst (cap bytes), or "" when none exists. */
void bt_config_find(const char *model_path, char *dst, size_t cap);

/* features.columns of config.json `path` as "a,b,c" (malloc'd, free it) in *columns, or NULL
 * when the file names no columns. MS_ERR_INVALID for a file that cannot be read or parsed, or
 * columns that are not non-empty strings without commas. */
ms_status bt_config_columns(const char *path, char **columns, ms_error *err);

#endif
