/* logmine internals shared by the tokenizer, the miner and the state code (and unit tests).
 * Not a public API. */
#ifndef GD_LOGMINE_INTERNAL_H
#define GD_LOGMINE_INTERNAL_H

#include "girder/logmine.h"

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* A token of a content while mining: span, variable flag, space flag, hash of its bytes. */
struct lm_tok {
    uint32_t off, len;
    uint8_t var, sp;
    uint64_t h;
};

/* Hash of a token's bytes (tokens are short: a byte loop beats a call). Deterministic. */
static inline uint64_t lm_hash(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
    return (h ^ (h >> 32)) * 0x9E3779B97F4A7C15ull;
}

/* User masks: one PCRE2 program (the patterns as an alternation), JIT-compiled. */
struct lm_masks {
    pcre2_code *re;
    pcre2_match_data *md;
};

int lm_masks_init(struct lm_masks *mk, const char *const *pats, size_t n, char *err, size_t errn);
void lm_masks_free(struct lm_masks *mk);

/* Tokenizes content into toks[0..cap); returns the count (>= 0) or a GD_E*. The last token
 * absorbs the rest of the content when cap is reached. */
int lm_tokenize(const struct lm_masks *mk, int default_masks, const char *s, size_t n,
                struct lm_tok *toks, size_t cap);

/* Built-in token classes spanning tokens (units after numbers, lists, paths with spaces):
 * turns the tokens they cover into variables (token_class.c). */
void lm_token_classes(const char *s, struct lm_tok *t, size_t n);

/* Is this word (no whitespace) a variable under the built-in masks? */
int lm_builtin_var(const char *s, size_t n);

#endif
