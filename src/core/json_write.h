/* Minimal JSON writing helpers over gd_buf (escaping per RFC 8259; bytes that are
 * not valid UTF-8 are written as \ufffd so the output is always valid JSON). */
#ifndef GD_CORE_JSON_WRITE_H
#define GD_CORE_JSON_WRITE_H

#include "core/buf.h"
#include <stdint.h>

/* Appends "s" (quoted and escaped). */
int gd_json_put_str(struct gd_buf *b, const char *s, size_t n);
/* 1 when s[0..n) is valid UTF-8 (so gd_json_put_str writes it unchanged), else 0. */
int gd_utf8_valid(const char *s, size_t n);
/* Appends ,"key": when not first (first is cleared), or "key": otherwise. */
int gd_json_put_key(struct gd_buf *b, const char *key, int *first);
int gd_json_put_i64(struct gd_buf *b, int64_t v);
int gd_json_put_u64(struct gd_buf *b, uint64_t v);
/* Finite doubles with up to 17 significant digits; NaN/Inf become null. */
int gd_json_put_f64(struct gd_buf *b, double v);

#endif
