/* BERT WordPiece tokenizer (see tok_wordpiece.h).
 *
 * The vocab lives in one byte pool indexed by an open-addressing hash table (FNV-1a 32,
 * Fibonacci slot index, linear probing, load <= 1/2). Encoding streams over the text one
 * code point at a time: each is cleaned, normalized and classified, and words are collected
 * in a scratch buffer of max_input_chars_per_word chars, so memory does not depend on the
 * text. WordPiece hashes the candidate pieces incrementally (one pass per start position,
 * at most the longest vocab token long) and probes them longest first, so a word costs
 * O(chars x longest token). Encoding stops reading once max_len ids are written.
 *
 * Known differences from Hugging Face (tokenizers' BertNormalizer + BertPreTokenizer +
 * WordPiece, and transformers' BertTokenizer):
 * - Unicode data is Python's unicodedata of the generating machine (14.0.0 at writing):
 *   code points assigned later count as unassigned (Cn) and are dropped by clean_text;
 *   the Rust crate's own (older or newer) tables may disagree on such code points.
 * - Lowercasing is per code point (as tokenizers does), so a final capital sigma becomes
 *   σ, where the slow Python BertTokenizer (str.lower()) writes ς.
 * - Accent stripping decomposes each code point on its own and drops Mn; the canonical
 *   reordering of NFD between remaining non-Mn combining marks (some Mc) is not done.
 * - Special/added tokens written in the text ("[SEP]", "[MASK]") are not matched as such:
 *   they are tokenized like any text ("[", "sep", "]"). tokenizer.json's added_tokens,
 *   truncation and padding-strategy sections are ignored (the caller passes max_len).
 * - vocab.txt lines end at "\n" (a "\r" before it is dropped); Python's universal newlines
 *   would also end a line at a lone "\r".
 * - Invalid UTF-8 (which HF cannot receive) is dropped byte by byte. */
#include "serve/tok_wordpiece.h"
#include "serve/tok_unicode_tables.h"
#include "core/alloc.h"
#include "core/file.h"
#include "core/buf.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { DEFAULT_MAX_CHARS = 100 };

#define FNV_BASIS 2166136261u
#define FNV_PRIME 16777619u

struct gd__wp_slot {
    uint32_t hash;
    uint32_t off; /* into pool */
    uint32_t len;
    int32_t id; /* -1: empty slot */
};

struct gd_wordpiece {
    char *pool;
    size_t pool_len, pool_cap;
    struct gd__wp_slot *slots;
    size_t mask;
    unsigned bits;
    size_t vocab_size;  /* largest id (vocab or special) + 1 */
    size_t max_tok_len; /* longest token, bytes */
    int64_t cls, sep, unk, pad;
    char prefix[GD_WORDPIECE_MAX_PREFIX_BYTES + 1];
    size_t prefix_len;
    uint32_t prefix_hash; /* FNV state after the prefix bytes */
    size_t max_chars;     /* max_input_chars_per_word */
    int clean_text, chinese, lowercase, strip;
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- Unicode classification ------------------------------------------------------- */

static int in_ranges(const struct gd__uc_range *r, size_t n, uint32_t c)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < r[mid].lo)
            hi = mid;
        else if (c > r[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

#define IN_TABLE(tab, c) in_ranges(tab, sizeof tab / sizeof tab[0], c)

/* Looks c up in a generated map; writes its image (1..n code points) to out, returns n. */
static size_t map_cp(const struct gd__uc_map *m, size_t n, const uint32_t *pool, uint32_t c,
                     uint32_t *out, size_t cap)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < m[mid].cp) {
            hi = mid;
        } else if (c > m[mid].cp) {
            lo = mid + 1;
        } else {
            uint32_t to = m[mid].to;
            if (to < 0x110000u) {
                out[0] = to;
                return 1;
            }
            size_t len = GD__UC_SEQ_LEN(to), off = GD__UC_SEQ_OFF(to);
            if (len > cap)
                len = cap;
            for (size_t i = 0; i < len; i++)
                out[i] = pool[off + i];
            return len;
        }
    }
    out[0] = c;
    return 1;
}

#define MAP_TABLE(tab, c, out, cap) map_cp(tab, sizeof tab / sizeof tab[0], tab##_pool, c, out, cap)

/* Rust's char::is_whitespace (the White_Space property). With clean_text the C* ones among
 * them are dropped before, so what splits is then Zs, \t \n \r, U+2028 and U+2029, as in
 * both HF implementations. */
static int is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

static int is_punct(uint32_t c)
{
    if (c < 0x80)
        return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
               (c >= 123 && c <= 126);
    return IN_TABLE(gd__uc_punct, c);
}

static int is_other(uint32_t c) /* C* except \t \n \r */
{
    if (c < 0x80)
        return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F;
    return IN_TABLE(gd__uc_other, c);
}

/* BERT's _is_chinese_char ranges (CJK Unified Ideographs and extensions, compatibility). */
static int is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* NFD of c without its Mn marks; 0 code points when c is itself Mn. */
static size_t strip_cp(uint32_t c, uint32_t *out, size_t cap)
{
    if (c < 0xC0) {
        out[0] = c;
        return 1;
    }
    if (c >= 0xAC00 && c <= 0xD7A3) { /* Hangul syllable: algorithmic decomposition */
        uint32_t s = c - 0xAC00, tpart = s % 28;
        out[0] = 0x1100 + s / 588;
        out[1] = 0x1161 + (s % 588) / 28;
        if (tpart == 0)
            return 2;
        out[2] = 0x11A7 + tpart;
        return 3;
    }
    if (IN_TABLE(gd__uc_mn, c))
        return 0;
    return MAP_TABLE(gd__uc_strip, c, out, cap);
}

static size_t lower_cp(uint32_t c, uint32_t *out, size_t cap)
{
    if (c < 0x80) {
        out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        return 1;
    }
    return MAP_TABLE(gd__uc_lower, c, out, cap);
}

/* Decodes one code point of s[0..n) (n >= 1); returns bytes used, *cp = UINT32_MAX when the
 * first byte does not start a valid (shortest-form, non-surrogate) sequence. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned b = s[0];
    size_t need;
    uint32_t c, min;
    *cp = UINT32_MAX;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
        need = 1, c = b & 0x1F, min = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2, c = b & 0x0F, min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3, c = b & 0x07, min = 0x10000;
    } else {
        return 1;
    }
    if (n <= need)
        return 1;
    for (size_t i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 1;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 1;
    *cp = c;
    return need + 1;
}

static size_t utf8_put(char *o, uint32_t c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* ---- vocab hash table --------------------------------------------------------------- */

static uint32_t fnv(uint32_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * FNV_PRIME;
    return h;
}

static size_t slot_of(const struct gd_wordpiece *t, uint32_t h)
{
    return (size_t)((uint32_t)(h * 2654435761u) >> (32 - t->bits));
}

/* A tokenizer with room for n tokens of pool_bytes bytes in all, and default settings. */
static struct gd_wordpiece *wp_new(size_t n, size_t pool_bytes)
{
    struct gd_wordpiece *t = gd_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->bits = 4;
    while (((size_t)1 << t->bits) < 2 * n)
        t->bits++;
    t->mask = ((size_t)1 << t->bits) - 1;
    t->slots = gd_calloc(t->mask + 1, sizeof *t->slots);
    t->pool = gd_malloc(pool_bytes ? pool_bytes : 1);
    if (!t->slots || !t->pool) {
        gd_wordpiece_free(t);
        return NULL;
    }
    for (size_t i = 0; i <= t->mask; i++)
        t->slots[i].id = -1;
    t->pool_cap = pool_bytes;
    memcpy(t->prefix, "##", 3);
    t->prefix_len = 2;
    t->cls = t->sep = t->unk = t->pad = -1;
    t->max_chars = DEFAULT_MAX_CHARS;
    t->clean_text = t->chinese = t->lowercase = t->strip = 1;
    return t;
}

/* Id of the token pre[0..plen) s[0..slen) whose FNV hash is h, or -1. */
static int64_t lookup(const struct gd_wordpiece *t, uint32_t h, const char *pre, size_t plen,
                      const char *s, size_t slen)
{
    for (size_t i = slot_of(t, h);; i = (i + 1) & t->mask) {
        const struct gd__wp_slot *e = &t->slots[i];
        if (e->id < 0)
            return -1;
        if (e->hash != h || e->len != plen + slen)
            continue;
        const char *p = t->pool + e->off;
        if ((plen == 0 || memcmp(p, pre, plen) == 0) &&
            (slen == 0 || memcmp(p + plen, s, slen) == 0))
            return e->id;
    }
}

/* Adds (or re-ids: the last id of a repeated token wins) a token; room was sized by wp_new. */
static void insert(struct gd_wordpiece *t, const char *s, size_t n, int32_t id)
{
    uint32_t h = fnv(FNV_BASIS, s, n);
    size_t i = slot_of(t, h);
    for (;; i = (i + 1) & t->mask) {
        struct gd__wp_slot *e = &t->slots[i];
        if (e->id < 0)
            break;
        if (e->hash == h && e->len == n && (n == 0 || memcmp(t->pool + e->off, s, n) == 0)) {
            e->id = id;
            goto sized;
        }
    }
    if (n > 0)
        memcpy(t->pool + t->pool_len, s, n);
    t->slots[i] =
        (struct gd__wp_slot){.hash = h, .off = (uint32_t)t->pool_len, .len = (uint32_t)n, .id = id};
    t->pool_len += n;
    if (n > t->max_tok_len)
        t->max_tok_len = n;
sized:
    if ((size_t)id + 1 > t->vocab_size)
        t->vocab_size = (size_t)id + 1;
}

static int64_t find(const struct gd_wordpiece *t, const char *s)
{
    size_t n = strlen(s);
    return lookup(t, fnv(FNV_BASIS, s, n), NULL, 0, s, n);
}

static int set_prefix(struct gd_wordpiece *t, const char *p, char *err, size_t errlen)
{
    size_t n = strlen(p);
    if (n > GD_WORDPIECE_MAX_PREFIX_BYTES)
        return fail(err, errlen, GD_ELIMIT, "continuing_subword_prefix is %zu bytes (max %u)", n,
                    GD_WORDPIECE_MAX_PREFIX_BYTES);
    memcpy(t->prefix, p, n + 1);
    t->prefix_len = n;
    return 0;
}

/* Resolves a special token by name when the loader did not set it; error names it. */
static int need_special(struct gd_wordpiece *t, int64_t *id, const char *name, char *err,
                        size_t errlen)
{
    if (*id < 0)
        *id = find(t, name);
    if (*id < 0)
        return fail(err, errlen, GD_EINVAL, "vocab has no \"%s\" token", name);
    return 0;
}

static int finish(struct gd_wordpiece *t, char *err, size_t errlen)
{
    int rc;
    if ((rc = need_special(t, &t->cls, "[CLS]", err, errlen)) != 0 ||
        (rc = need_special(t, &t->sep, "[SEP]", err, errlen)) != 0 ||
        (rc = need_special(t, &t->unk, "[UNK]", err, errlen)) != 0 ||
        (rc = need_special(t, &t->pad, "[PAD]", err, errlen)) != 0)
        return rc;
    int64_t sp[] = {t->cls, t->sep, t->unk, t->pad}; /* tokenizer.json may set them apart */
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++)
        if ((size_t)sp[i] + 1 > t->vocab_size)
            t->vocab_size = (size_t)sp[i] + 1;
    t->prefix_hash = fnv(FNV_BASIS, t->prefix, t->prefix_len);
    return 0;
}

/* ---- loaders ----------------------------------------------------------------------- */

/* The whole file at path (gd_file_read with the error naming the path). */
static int read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
    char why[200];
    int rc = gd_file_read(path, GD_WORDPIECE_MAX_FILE_BYTES, data, len, why, sizeof why);
    return rc ? fail(err, errlen, rc, "%s: %s", path, why) : 0;
}

static int apply_opts(struct gd_wordpiece *t, const struct gd_wordpiece_opts *o, char *err,
                      size_t errlen)
{
    if (!o)
        return 0;
    t->lowercase = o->lowercase != 0;
    t->strip = o->strip_accents < 0 ? t->lowercase : o->strip_accents != 0;
    t->max_chars = o->max_input_chars_per_word ? o->max_input_chars_per_word : DEFAULT_MAX_CHARS;
    if (t->max_chars > GD_WORDPIECE_MAX_WORD_CHARS)
        return fail(err, errlen, GD_ELIMIT, "max_input_chars_per_word %zu is over %u", t->max_chars,
                    GD_WORDPIECE_MAX_WORD_CHARS);
    return 0;
}

int gd_wordpiece_load_vocab_memory(const char *data, size_t len, const struct gd_wordpiece_opts *o,
                                   struct gd_wordpiece **out, char *err, size_t errlen)
{
    int rc;
    struct gd_wordpiece *t = NULL;
    if (!out || (!data && len > 0))
        return fail(err, errlen, GD_EINVAL, "invalid argument");
    *out = NULL;
    if (len > GD_WORDPIECE_MAX_FILE_BYTES)
        return fail(err, errlen, GD_ELIMIT, "vocab is larger than %u MiB",
                    GD_WORDPIECE_MAX_FILE_BYTES >> 20);
    size_t lines = 0;
    for (const char *p = data, *end = data + len; p < end; lines++) {
        const char *q = memchr(p, '\n', (size_t)(end - p));
        p = q ? q + 1 : end;
    }
    if (lines > GD_WORDPIECE_MAX_TOKENS)
        return fail(err, errlen, GD_ELIMIT, "vocab line %u: more than %u tokens",
                    GD_WORDPIECE_MAX_TOKENS + 1, GD_WORDPIECE_MAX_TOKENS);
    if (!(t = wp_new(lines, len)))
        return fail(err, errlen, GD_ENOMEM, "out of memory");
    size_t line = 0;
    for (const char *p = data, *end = data + len; p < end; line++) {
        const char *q = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((q ? q : end) - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n > GD_WORDPIECE_MAX_TOKEN_BYTES) {
            rc = fail(err, errlen, GD_ELIMIT, "vocab line %zu: token is %zu bytes (max %u)",
                      line + 1, n, GD_WORDPIECE_MAX_TOKEN_BYTES);
            goto fail;
        }
        insert(t, p, n, (int32_t)line);
        p = q ? q + 1 : end;
    }
    if ((rc = apply_opts(t, o, err, errlen)) != 0 || (rc = finish(t, err, errlen)) != 0)
        goto fail;
    *out = t;
    return 0;
fail:
    gd_wordpiece_free(t);
    return rc;
}

int gd_wordpiece_load_vocab(const char *path, const struct gd_wordpiece_opts *o,
                            struct gd_wordpiece **out, char *err, size_t errlen)
{
    char *data;
    size_t len;
    if (!path || !out)
        return fail(err, errlen, GD_EINVAL, "invalid argument");
    *out = NULL;
    int rc = read_file(path, &data, &len, err, errlen);
    if (rc != 0)
        return rc;
    rc = gd_wordpiece_load_vocab_memory(data, len, o, out, err, errlen);
    gd_free(data);
    return rc;
}

/* tokenizer.json ----------------------------------------------------------------------- */

/* A field that must be absent, null or of the wanted kind: 1 present, 0 absent, <0 error. */
static int opt_field(const cJSON *obj, const char *key, cJSON_bool (*is)(const cJSON *),
                     const char *what, const cJSON **v, char *err, size_t errlen)
{
    *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!*v || cJSON_IsNull(*v))
        return 0;
    if (!is(*v))
        return fail(err, errlen, GD_EINVAL, "tokenizer.json: %s must be %s", key, what);
    return 1;
}

static int opt_bool(const cJSON *obj, const char *key, int *dst, char *err, size_t errlen)
{
    const cJSON *v;
    int r = opt_field(obj, key, cJSON_IsBool, "a boolean", &v, err, errlen);
    if (r > 0)
        *dst = cJSON_IsTrue(v) ? 1 : 0;
    return r < 0 ? r : 0;
}

/* An integer in [0, max], or error. */
static int json_uint(const cJSON *v, double max, int64_t *dst, const char *what, char *err,
                     size_t errlen)
{
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!(d >= 0 && d <= max && d == (double)(int64_t)d))
        return fail(err, errlen, GD_EINVAL, "tokenizer.json: %s is not an integer in [0, %.0f]",
                    what, max);
    *dst = (int64_t)d;
    return 0;
}

/* The type string of a section; *type is NULL when the section is absent or null. */
static int section_type(const cJSON *root, const char *key, const cJSON **sec, const char **type,
                        char *err, size_t errlen)
{
    int r = opt_field(root, key, cJSON_IsObject, "an object", sec, err, errlen);
    *type = NULL;
    if (r <= 0)
        return r;
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(*sec, "type");
    if (!cJSON_IsString(ty))
        return fail(err, errlen, GD_EINVAL, "tokenizer.json: %s.type must be a string", key);
    *type = ty->valuestring;
    return 0;
}

static int json_vocab(const cJSON *model, struct gd_wordpiece **out, char *err, size_t errlen)
{
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsObject(vocab))
        return fail(err, errlen, GD_EINVAL, "tokenizer.json: model.vocab must be an object");
    size_t n = 0, bytes = 0;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        size_t len = strlen(e->string);
        if (++n > GD_WORDPIECE_MAX_TOKENS)
            return fail(err, errlen, GD_ELIMIT, "tokenizer.json: vocab has more than %u tokens",
                        GD_WORDPIECE_MAX_TOKENS);
        if (len > GD_WORDPIECE_MAX_TOKEN_BYTES)
            return fail(err, errlen, GD_ELIMIT,
                        "tokenizer.json: vocab token %zu (\"%.32s...\") is %zu bytes (max %u)", n,
                        e->string, len, GD_WORDPIECE_MAX_TOKEN_BYTES);
        bytes += len;
    }
    struct gd_wordpiece *t = wp_new(n, bytes);
    if (!t)
        return fail(err, errlen, GD_ENOMEM, "out of memory");
    for (const cJSON *e = vocab->child; e; e = e->next) {
        int64_t id = 0;
        int rc = json_uint(e, INT32_MAX - 1, &id, "a vocab id", err, errlen);
        if (rc != 0) {
            gd_wordpiece_free(t);
            return rc;
        }
        insert(t, e->string, strlen(e->string), (int32_t)id);
    }
    *out = t;
    return 0;
}

/* model.* other than the vocab. */
static int json_model_opts(struct gd_wordpiece *t, const cJSON *model, char *err, size_t errlen)
{
    const cJSON *v;
    int r = opt_field(model, "unk_token", cJSON_IsString, "a string", &v, err, errlen);
    if (r < 0)
        return r;
    const char *unk = r > 0 ? v->valuestring : "[UNK]";
    if ((t->unk = find(t, unk)) < 0)
        return fail(err, errlen, GD_EINVAL, "tokenizer.json: unk_token \"%s\" is not in the vocab",
                    unk);
    r = opt_field(model, "continuing_subword_prefix", cJSON_IsString, "a string", &v, err, errlen);
    if (r < 0 || (r > 0 && (r = set_prefix(t, v->valuestring, err, errlen)) != 0))
        return r;
    r = opt_field(model, "max_input_chars_per_word", cJSON_IsNumber, "a number", &v, err, errlen);
    if (r > 0) {
        int64_t m = 0;
        if ((r = json_uint(v, GD_WORDPIECE_MAX_WORD_CHARS, &m, "max_input_chars_per_word", err,
                           errlen)) != 0)
            return r;
        t->max_chars = (size_t)m;
    }
    return r < 0 ? r : 0;
}

static int json_normalizer(struct gd_wordpiece *t, const cJSON *root, char *err, size_t errlen)
{
    const cJSON *n;
    const char *type;
    int rc = section_type(root, "normalizer", &n, &type, err, errlen);
    if (rc != 0)
        return rc;
    if (!type) { /* no normalizer: text is only split */
        t->clean_text = t->chinese = t->lowercase = t->strip = 0;
        return 0;
    }
    if (strcmp(type, "BertNormalizer") != 0)
        return fail(err, errlen, GD_ENOTSUP,
                    "tokenizer.json: normalizer type \"%s\" is not supported (want "
                    "BertNormalizer)",
                    type);
    int strip = -1;
    if ((rc = opt_bool(n, "clean_text", &t->clean_text, err, errlen)) != 0 ||
        (rc = opt_bool(n, "handle_chinese_chars", &t->chinese, err, errlen)) != 0 ||
        (rc = opt_bool(n, "lowercase", &t->lowercase, err, errlen)) != 0 ||
        (rc = opt_bool(n, "strip_accents", &strip, err, errlen)) != 0)
        return rc;
    t->strip = strip < 0 ? t->lowercase : strip;
    return 0;
}

/* The id of a [name, id] pair of BertProcessing. */
static int pair_id(const cJSON *pp, const char *key, int64_t *id, char *err, size_t errlen)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(pp, key);
    if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != 2)
        return fail(err, errlen, GD_EINVAL, "tokenizer.json: post_processor.%s must be [token, id]",
                    key);
    return json_uint(cJSON_GetArrayItem(p, 1), INT32_MAX - 1, id, key, err, errlen);
}

/* The single id of special token item (a {"SpecialToken": {"id": name}} template piece). */
static int template_id(const cJSON *pp, const cJSON *item, int64_t *id, char *err, size_t errlen)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(item, "SpecialToken");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(st, "id");
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(pp, "special_tokens");
    const cJSON *tok =
        cJSON_IsString(name) ? cJSON_GetObjectItemCaseSensitive(sp, name->valuestring) : NULL;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(tok, "ids");
    if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) != 1)
        return fail(err, errlen, GD_ENOTSUP,
                    "tokenizer.json: post_processor template is not [CLS] $A [SEP] with one id "
                    "per special token");
    return json_uint(cJSON_GetArrayItem(ids, 0), INT32_MAX - 1, id, "special token id", err,
                     errlen);
}

static int json_post_processor(struct gd_wordpiece *t, const cJSON *root, char *err, size_t errlen)
{
    const cJSON *pp;
    const char *type;
    int rc = section_type(root, "post_processor", &pp, &type, err, errlen);
    if (rc != 0 || !type)
        return rc; /* none: the vocab's [CLS] and [SEP] */
    if (strcmp(type, "BertProcessing") == 0)
        return (rc = pair_id(pp, "cls", &t->cls, err, errlen)) != 0
                   ? rc
                   : pair_id(pp, "sep", &t->sep, err, errlen);
    if (strcmp(type, "TemplateProcessing") != 0)
        return fail(err, errlen, GD_ENOTSUP,
                    "tokenizer.json: post_processor type \"%s\" is not supported", type);
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
    if (!cJSON_IsArray(single) || cJSON_GetArraySize(single) != 3 ||
        !cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(single, 1), "Sequence"))
        return fail(err, errlen, GD_ENOTSUP,
                    "tokenizer.json: post_processor template is not [CLS] $A [SEP]");
    if ((rc = template_id(pp, cJSON_GetArrayItem(single, 0), &t->cls, err, errlen)) != 0)
        return rc;
    return template_id(pp, cJSON_GetArrayItem(single, 2), &t->sep, err, errlen);
}

static int json_sections(struct gd_wordpiece *t, const cJSON *root, char *err, size_t errlen)
{
    const cJSON *sec;
    const char *type;
    int rc = section_type(root, "pre_tokenizer", &sec, &type, err, errlen);
    if (rc != 0)
        return rc;
    if (type && strcmp(type, "BertPreTokenizer") != 0)
        return fail(err, errlen, GD_ENOTSUP,
                    "tokenizer.json: pre_tokenizer type \"%s\" is not supported (want "
                    "BertPreTokenizer)",
                    type);
    if ((rc = json_normalizer(t, root, err, errlen)) != 0 ||
        (rc = json_post_processor(t, root, err, errlen)) != 0)
        return rc;
    const cJSON *pad;
    rc = opt_field(root, "padding", cJSON_IsObject, "an object", &pad, err, errlen);
    if (rc < 0)
        return rc;
    const cJSON *pid = rc > 0 ? cJSON_GetObjectItemCaseSensitive(pad, "pad_id") : NULL;
    if (pid && (rc = json_uint(pid, INT32_MAX - 1, &t->pad, "padding.pad_id", err, errlen)) != 0)
        return rc;
    if (t->pad < 0 && (t->pad = find(t, "[PAD]")) < 0)
        t->pad = 0;
    return 0;
}

int gd_wordpiece_load_tokenizer_json_memory(const char *data, size_t len, struct gd_wordpiece **out,
                                            char *err, size_t errlen)
{
    struct gd_wordpiece *t = NULL;
    int rc;
    if (!out || !data)
        return fail(err, errlen, GD_EINVAL, "invalid argument");
    *out = NULL;
    if (len > GD_WORDPIECE_MAX_FILE_BYTES)
        return fail(err, errlen, GD_ELIMIT, "tokenizer.json is larger than %u MiB",
                    GD_WORDPIECE_MAX_FILE_BYTES >> 20);
    cJSON *root = cJSON_ParseWithLength(data, len);
    if (!cJSON_IsObject(root)) {
        rc = fail(err, errlen, GD_EPARSE, "tokenizer.json is not a JSON object");
        goto fail;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (!cJSON_IsObject(model) || !cJSON_IsString(type)) {
        rc = fail(err, errlen, GD_EINVAL, "tokenizer.json: model.type is missing");
        goto fail;
    }
    if (strcmp(type->valuestring, "WordPiece") != 0) {
        rc = fail(err, errlen, GD_ENOTSUP,
                  "tokenizer.json: model type \"%s\" is not supported (want WordPiece)",
                  type->valuestring);
        goto fail;
    }
    if ((rc = json_vocab(model, &t, err, errlen)) != 0 ||
        (rc = json_model_opts(t, model, err, errlen)) != 0 ||
        (rc = json_sections(t, root, err, errlen)) != 0 || (rc = finish(t, err, errlen)) != 0)
        goto fail;
    cJSON_Delete(root);
    *out = t;
    return 0;
fail:
    cJSON_Delete(root);
    gd_wordpiece_free(t);
    return rc;
}

int gd_wordpiece_load_tokenizer_json(const char *path, struct gd_wordpiece **out, char *err,
                                     size_t errlen)
{
    char *data;
    size_t len;
    if (!path || !out)
        return fail(err, errlen, GD_EINVAL, "invalid argument");
    *out = NULL;
    int rc = read_file(path, &data, &len, err, errlen);
    if (rc != 0)
        return rc;
    rc = gd_wordpiece_load_tokenizer_json_memory(data, len, out, err, errlen);
    gd_free(data);
    return rc;
}

void gd_wordpiece_free(struct gd_wordpiece *t)
{
    if (!t)
        return;
    gd_free(t->slots);
    gd_free(t->pool);
    gd_free(t);
}

/* ---- encoding ---------------------------------------------------------------------- */

struct enc {
    const struct gd_wordpiece *t;
    int64_t *ids;
    size_t n, limit; /* ids written; ids[limit] is kept for [SEP] */
    char *w;         /* the current word, UTF-8, at most max_chars chars */
    uint32_t *coff;  /* coff[i]: byte offset of char i; coff[nch] = its length */
    size_t nch;
    int too_long;
};

static void emit(struct enc *e, int64_t id)
{
    if (e->n < e->limit)
        e->ids[e->n++] = id;
}

/* Greedy longest-match-first WordPiece of the current word; [UNK] if a piece is missing.
 * Pieces past the limit are matched but not written (a later miss still means [UNK]). */
static void wordpiece(struct enc *e)
{
    const struct gd_wordpiece *t = e->t;
    uint32_t hs[GD_WORDPIECE_MAX_TOKEN_BYTES + 1];
    size_t before = e->n;
    for (size_t s = 0; s < e->nch;) {
        size_t plen = s ? t->prefix_len : 0, k = 0;
        uint32_t h = s ? t->prefix_hash : FNV_BASIS;
        const char *base = e->w + e->coff[s];
        for (size_t c = s; c < e->nch && plen + (e->coff[c + 1] - e->coff[s]) <= t->max_tok_len;
             c++) {
            h = fnv(h, e->w + e->coff[c], e->coff[c + 1] - e->coff[c]);
            hs[k++] = h;
        }
        int64_t id = -1;
        for (; k > 0; k--)
            if ((id = lookup(t, hs[k - 1], t->prefix, plen, base, e->coff[s + k] - e->coff[s])) >=
                0)
                break;
        if (id < 0) {
            e->n = before;
            emit(e, t->unk);
            return;
        }
        emit(e, id);
        s += k;
    }
}

static void word_end(struct enc *e)
{
    if (e->too_long)
        emit(e, e->t->unk);
    else if (e->nch > 0)
        wordpiece(e);
    e->nch = 0;
    e->too_long = 0;
}

static void word_add(struct enc *e, uint32_t c)
{
    if (e->too_long)
        return;
    if (e->nch >= e->t->max_chars) {
        e->too_long = 1;
        return;
    }
    e->coff[e->nch + 1] = e->coff[e->nch] + (uint32_t)utf8_put(e->w + e->coff[e->nch], c);
    e->nch++;
}

/* The pre-tokenizer on a normalized code point. */
static void pretok(struct enc *e, uint32_t c)
{
    if (is_space(c)) {
        word_end(e);
    } else if (is_punct(c)) {
        word_end(e);
        word_add(e, c);
        word_end(e);
    } else {
        word_add(e, c);
    }
}

/* The normalizer on one input code point. */
static void feed(struct enc *e, uint32_t c)
{
    const struct gd_wordpiece *t = e->t;
    uint32_t a[8], b[8];
    size_t na = 1;
    if (t->clean_text && (c == 0 || c == 0xFFFD || is_other(c)))
        return;
    int cjk = t->chinese && is_cjk(c);
    if (cjk)
        word_end(e);
    a[0] = c;
    if (t->strip)
        na = strip_cp(c, a, sizeof a / sizeof a[0]);
    for (size_t i = 0; i < na; i++) {
        size_t nb = 1;
        b[0] = a[i];
        if (t->lowercase)
            nb = lower_cp(a[i], b, sizeof b / sizeof b[0]);
        for (size_t j = 0; j < nb; j++)
            pretok(e, b[j]);
    }
    if (cjk)
        word_end(e);
}

int gd_wordpiece_encode(const struct gd_wordpiece *t, const char *text, size_t len, int64_t *ids,
                        size_t max_len, size_t *n_out)
{
    if (n_out)
        *n_out = 0;
    if (!t || !ids || !n_out || (!text && len > 0) || max_len < 2)
        return GD_EINVAL;
    struct enc e = {.t = t, .ids = ids, .n = 0, .limit = max_len - 1};
    e.w = gd_malloc(t->max_chars * 4 + 1);
    e.coff = gd_malloc((t->max_chars + 1) * sizeof *e.coff);
    if (!e.w || !e.coff) {
        gd_free(e.w);
        gd_free(e.coff);
        return GD_ENOMEM;
    }
    e.coff[0] = 0;
    emit(&e, t->cls);
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len && e.n < e.limit;) {
        uint32_t c;
        i += utf8_next(s + i, len - i, &c);
        if (c != UINT32_MAX)
            feed(&e, c);
    }
    if (e.n < e.limit)
        word_end(&e);
    ids[e.n++] = t->sep;
    *n_out = e.n;
    gd_free(e.w);
    gd_free(e.coff);
    return 0;
}

int64_t gd_wordpiece_id(const struct gd_wordpiece *t, const char *token)
{
    return t && token ? find(t, token) : -1;
}

int64_t gd_wordpiece_pad_id(const struct gd_wordpiece *t)
{
    return t ? t->pad : -1;
}

int64_t gd_wordpiece_cls_id(const struct gd_wordpiece *t)
{
    return t ? t->cls : -1;
}

int64_t gd_wordpiece_sep_id(const struct gd_wordpiece *t)
{
    return t ? t->sep : -1;
}

int64_t gd_wordpiece_unk_id(const struct gd_wordpiece *t)
{
    return t ? t->unk : -1;
}

size_t gd_wordpiece_vocab_size(const struct gd_wordpiece *t)
{
    return t ? t->vocab_size : 0;
}
