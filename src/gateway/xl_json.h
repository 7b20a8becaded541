/* JSON helpers shared by the provider translators (xl_anthropic*.c, xl_gemini*.c): building
 * a cJSON request while remembering allocation failures, recording why a client request
 * cannot be translated, and writing / reading small JSON values.
 *
 * Pure functions; a struct gd_xl_ctx belongs to one translation (one thread). */
#ifndef GD_GATEWAY_XL_JSON_H
#define GD_GATEWAY_XL_JSON_H

#include "core/buf.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Why a request cannot be translated: an OpenAI-format 400 (message names param). */
struct gd_xl_err {
    int status; /* 0: no error recorded */
    char message[320];
    char param[96];
};

/* One translation: where refusals go, and whether an allocation failed on the way (checked
 * once at the end, so builders need not check every call). */
struct gd_xl_ctx {
    struct gd_xl_err *err; /* borrowed */
    int oom;
};

/* Records a 400 naming param (NULL: none) with a printf-style message; returns GD_EINVAL. */
int gd_xl_fail(struct gd_xl_ctx *c, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds v to obj under key / to arr; on failure (v NULL or no memory) frees v, sets c->oom
 * and returns NULL, else returns v (now owned by the container). */
cJSON *gd_xl_add(struct gd_xl_ctx *c, cJSON *obj, const char *key, cJSON *v);
cJSON *gd_xl_push(struct gd_xl_ctx *c, cJSON *arr, cJSON *v);

/* {"type":"text","text":text}, or NULL (c->oom set) without memory. */
cJSON *gd_xl_text(struct gd_xl_ctx *c, const char *text);

/* The finished request j printed unformatted into out; j is freed. A translation that
 * failed (rc != 0) or ran out of memory (c->oom) writes nothing. Returns rc, GD_ENOMEM or
 * 0. */
int gd_xl_finish(struct gd_xl_ctx *c, int rc, cJSON *j, struct gd_buf *out);

/* Request parameters the translators map the same way; `provider` names the deployments'
 * type in refusals ("Bedrock"). Absent or null values add nothing.
 *   gd_xl_number: v, a number in [lo, hi] (an integer when integral), as out[key];
 *   gd_xl_stop:   OpenAI's stop (a string or an array of at most max strings; empty ones
 *                 refused when no_empty) as the array out[key];
 * 0 or GD_EINVAL (the refusal names param / "stop"). */
int gd_xl_number(struct gd_xl_ctx *c, const cJSON *v, const char *param, double lo, double hi,
                 int integral, const char *provider, cJSON *out, const char *key);
int gd_xl_stop(struct gd_xl_ctx *c, const cJSON *s, int max, int no_empty, const char *provider,
               cJSON *out, const char *key);
/* A value that asks for nothing (so a parameter a provider lacks may be dropped): null,
 * false, 0 (1 for n), an empty object or array, {"type":"text"} for response_format. */
int gd_xl_is_default(const char *key, const cJSON *v);
/* k is one of the NULL-terminated l. */
int gd_xl_in_list(const char *const *l, const char *k);

/* A translation's whole frame: body[0..len) parsed (not JSON: a 400), fn(c, in, model, req)
 * building the new request object, which gd_xl_finish prints to out. */
typedef int (*gd_xl_translate_fn)(struct gd_xl_ctx *c, const cJSON *in, const char *model,
                                  cJSON *req);
int gd_xl_translate(const char *body, size_t len, const char *model, gd_xl_translate_fn fn,
                    struct gd_buf *out, struct gd_xl_err *err);
/* "stream": true and stream_options.include_usage, so that a stream ends with its usage. */
void gd_xl_stream_with_usage(struct gd_xl_ctx *c, cJSON *req);

/* The JSON string literal of the NUL-terminated s. 0 or GD_ENOMEM. */
int gd_xl_put_str(struct gd_buf *b, const char *s);

/* o[k] as a count: a number in [0, 9e15), else -1. */
int64_t gd_xl_count(const cJSON *o, const char *k);

struct gd_gw_usage;

/* A provider's JSON answer body[0..len) parsed and written by put (OpenAI's completion,
 * usage into *u) to out; out keeps nothing of a failed put. 0, GD_EPARSE (not JSON) or
 * put's error. */
int gd_xl_answer(const char *body, size_t len, int64_t created, struct gd_buf *out,
                 struct gd_gw_usage *u,
                 int (*put)(const cJSON *, int64_t, struct gd_buf *, struct gd_gw_usage *));

/* Copies v's string (or "" when v is not a string) into dst[0..cap), truncated. */
void gd_xl_copy_str(char *dst, size_t cap, const cJSON *v);

/* Length of the strictly valid UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, at most U+10FFFF; what gd_json_put_str accepts), 0 when there is none. */
size_t gd_xl_utf8_len(const unsigned char *p, size_t n);
/* For the stream translators' fast paths: the index of the closing quote of the JSON
 * string whose opening quote is d[i-1], or 0 when it holds anything but printable ASCII,
 * valid UTF-8 and two-character escapes (a \u escape, a control byte, bad UTF-8: the
 * general path decides). Copied as it is, such a string decodes to the text
 * gd_json_put_str would write. */
size_t gd_xl_plain_string_end(const char *d, size_t n, size_t i);
/* A stream's usage from its counts (-1: not seen): total at least prompt + completion.
 * Returns 1 when the prompt count was seen. */
int gd_xl_stream_usage(int64_t prompt, int64_t completion, int64_t total, struct gd_gw_usage *u);

#endif
