/* WordPiece tokenizer: exact ids against small in-memory vocabs, normalization (clean text,
 * CJK, lowercase, accents), truncation, and the loaders' errors. Expected ids follow what
 * Hugging Face's BertTokenizer gives for the same vocab and text. */
#include "serve/tok_wordpiece.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ids:     0      1      2      3      4      5      6  7  8   9     10      11     12 */
static const char VOCAB[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\n,\n!\nun\n##aff\n##able\n##ing\nthe\n"
    /* 13      14  15    16   17    18 19 20 21 22 23  24 */
    "##ab\nhe\n##llo\naeiou\nfoo\n##bar\n中\n国\ni\n.\n-\n##s\n"
    /* 25    26 27   28  29  30    31 */
    "cafe\n##\n##x\nx\nσ\nпривет\nи\n";

static struct gd_wordpiece *load(const struct gd_wordpiece_opts *o)
{
    struct gd_wordpiece *t = NULL;
    char err[256] = "";
    int rc = gd_wordpiece_load_vocab_memory(VOCAB, sizeof VOCAB - 1, o, &t, err, sizeof err);
    cr_assert_eq(rc, 0, "load: %d %s", rc, err);
    cr_assert_not_null(t);
    return t;
}

/* Encodes text (len bytes, or strlen when len is (size_t)-1) and compares with want[]. */
static void check_len(const struct gd_wordpiece *t, const char *text, size_t len, size_t max_len,
                      const int64_t *want, size_t nwant)
{
    int64_t ids[64];
    size_t n = 99;
    cr_assert(max_len <= 64);
    if (len == (size_t)-1)
        len = strlen(text);
    cr_assert_eq(gd_wordpiece_encode(t, text, len, ids, max_len, &n), 0);
    cr_assert_eq(n, nwant, "\"%s\": %zu ids, want %zu", text, n, nwant);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(ids[i], want[i], "\"%s\": ids[%zu] = %lld, want %lld", text, i,
                     (long long)ids[i], (long long)want[i]);
}

#define CHECK(t, text, ...)                                                                        \
    do {                                                                                           \
        const int64_t w_[] = {__VA_ARGS__};                                                        \
        check_len(t, text, (size_t)-1, 64, w_, sizeof w_ / sizeof w_[0]);                          \
    } while (0)

Test(wordpiece, special_ids_and_lookup)
{
    struct gd_wordpiece *t = load(NULL);
    cr_assert_eq(gd_wordpiece_pad_id(t), 0);
    cr_assert_eq(gd_wordpiece_unk_id(t), 1);
    cr_assert_eq(gd_wordpiece_cls_id(t), 2);
    cr_assert_eq(gd_wordpiece_sep_id(t), 3);
    cr_assert_eq(gd_wordpiece_id(t, "##able"), 10);
    cr_assert_eq(gd_wordpiece_id(t, "nope"), -1);
    cr_assert_eq(gd_wordpiece_vocab_size(t), 32);
    gd_wordpiece_free(t);
}

Test(wordpiece, basic_words_and_continuations)
{
    struct gd_wordpiece *t = load(NULL);
    CHECK(t, "", 2, 3);
    CHECK(t, "   \t\n ", 2, 3);
    CHECK(t, "hello world", 2, 4, 5, 3);
    CHECK(t, "unaffable", 2, 8, 9, 10, 3);
    CHECK(t, "unab", 2, 8, 13, 3);
    CHECK(t, "foobarbar", 2, 17, 18, 18, 3);
    /* longest match first: "hello" beats "he" + "##llo" */
    CHECK(t, "hello hehello", 2, 4, 1, 3);
    CHECK(t, "xx", 2, 28, 27, 3);
    gd_wordpiece_free(t);
}

Test(wordpiece, unknown_and_too_long_words)
{
    struct gd_wordpiece *t = load(NULL);
    /* one unmatched piece makes the whole word [UNK] */
    CHECK(t, "unaffablez hello", 2, 1, 4, 3);
    CHECK(t, "zzz", 2, 1, 3);
    gd_wordpiece_free(t);

    struct gd_wordpiece_opts o = {
        .lowercase = 1, .strip_accents = -1, .max_input_chars_per_word = 5};
    t = load(&o);
    CHECK(t, "hello", 2, 4, 3);
    CHECK(t, "foobar", 2, 1, 3); /* 6 chars > 5 */
    CHECK(t, "foobar, hello", 2, 1, 6, 4, 3);
    CHECK(t, "héllo", 2, 4, 3); /* counted after accents are stripped */
    gd_wordpiece_free(t);
}

Test(wordpiece, punctuation_is_split)
{
    struct gd_wordpiece *t = load(NULL);
    CHECK(t, "hello, world!", 2, 4, 6, 5, 7, 3);
    CHECK(t, "hello,world!!", 2, 4, 6, 5, 7, 7, 3);
    CHECK(t, "i.e.", 2, 21, 22, 1, 22, 3);
    CHECK(t, "foo-bar", 2, 17, 23, 1, 3);
    /* "$" ASCII symbol counts as punctuation; U+00BF (Po) and U+201C/D (Pi/Pf) too */
    CHECK(t, "hello$world", 2, 4, 1, 5, 3);
    CHECK(t, "\xC2\xBFhello\xE2\x80\x9Cworld\xE2\x80\x9D", 2, 1, 4, 1, 5, 1, 3);
    /* "##" alone is a punctuation run, split char by char: two "#" -> [UNK] each */
    CHECK(t, "##", 2, 1, 1, 3);
    gd_wordpiece_free(t);
}

Test(wordpiece, lowercase_and_accents)
{
    struct gd_wordpiece *t = load(NULL);
    CHECK(t, "HELLO World", 2, 4, 5, 3);
    CHECK(t, "H\xC3\xA9llo", 2, 4, 3);                                      /* Héllo */
    CHECK(t, "\xC3\x80\xC3\x89\xC3\x8E\xC3\x95\xC3\x9C", 2, 16, 3);         /* ÀÉÎÕÜ */
    CHECK(t, "cafe\xCC\x81", 2, 25, 3);                                     /* e + U+0301 */
    CHECK(t, "CAF\xC3\x89s", 2, 25, 24, 3);                                 /* CAFÉs */
    CHECK(t, "\xC4\xB0", 2, 21, 3);                                         /* İ -> i */
    CHECK(t, "\xCE\xA3", 2, 29, 3);                                         /* Σ -> σ */
    CHECK(t, "\xCF\x82", 2, 1, 3);                                          /* ς stays ς */
    CHECK(t, "\xD0\x9F\xD1\x80\xD0\x98\xD0\x92\xD0\x95\xD0\xA2", 2, 30, 3); /* ПрИВЕТ */
    CHECK(t, "\xD0\xB9", 2, 31, 3); /* й -> и (NFD drops the breve, as BERT does) */
    gd_wordpiece_free(t);

    /* cased: nothing changes */
    struct gd_wordpiece_opts cased = {.lowercase = 0, .strip_accents = -1};
    t = load(&cased);
    CHECK(t, "HELLO hello", 2, 1, 4, 3);
    CHECK(t, "H\xC3\xA9llo h\xC3\xA9llo", 2, 1, 1, 3);
    gd_wordpiece_free(t);

    /* lowercase without accent stripping */
    struct gd_wordpiece_opts keep = {.lowercase = 1, .strip_accents = 0};
    t = load(&keep);
    CHECK(t, "HELLO H\xC3\xA9llo", 2, 4, 1, 3);
    gd_wordpiece_free(t);
}

Test(wordpiece, cjk_is_spaced)
{
    struct gd_wordpiece *t = load(NULL);
    CHECK(t, "\xE4\xB8\xAD\xE5\x9B\xBD", 2, 19, 20, 3); /* 中国 */
    CHECK(t,
          "hello\xE4\xB8\xAD"
          "world",
          2, 4, 19, 5, 3);                             /* hello中world */
    CHECK(t, "\xE4\xB8\xAD\xE6\x96\x87", 2, 19, 1, 3); /* 中文: 文 unknown */
    /* Hiragana is not in BERT's CJK ranges: stays glued to its word */
    CHECK(t, "hello\xE3\x81\x82", 2, 1, 3);
    gd_wordpiece_free(t);
}

Test(wordpiece, control_and_invalid_utf8_dropped)
{
    struct gd_wordpiece *t = load(NULL);
    CHECK(t,
          "hel\x01lo\x7f wor\xE2\x80\x8B"
          "ld",
          2, 4, 5, 3);                           /* C0, DEL, U+200B (Cf) */
    CHECK(t, "hel\xEF\xBF\xBDlo", 2, 4, 3);      /* U+FFFD */
    CHECK(t, "hel\xFFlo w\xC3orld", 2, 4, 5, 3); /* stray bytes */
    CHECK(t, "he\xC0\xAFllo", 2, 4, 3);          /* overlong '/' */
    CHECK(t, "he\xED\xA0\x80llo", 2, 4, 3);      /* surrogate */
    CHECK(t, "he\xF4\x90\x80\x80llo", 2, 4, 3);  /* > U+10FFFF */
    CHECK(t, "hello\xE2", 2, 4, 3);              /* truncated at the end */
    const char nul[] = "hel\0lo";
    const int64_t want[] = {2, 4, 3};
    check_len(t, nul, sizeof nul - 1, 64, want, 3);
    gd_wordpiece_free(t);
}

Test(wordpiece, whitespace_variants)
{
    struct gd_wordpiece *t = load(NULL);
    CHECK(t, "hello\tworld", 2, 4, 5, 3);
    CHECK(t, "hello\r\nworld", 2, 4, 5, 3);
    CHECK(t, "hello\xC2\xA0world", 2, 4, 5, 3);     /* NBSP */
    CHECK(t, "hello\xE3\x80\x80world", 2, 4, 5, 3); /* U+3000 */
    CHECK(t, "hello\xE2\x80\x83world", 2, 4, 5, 3); /* U+2003 EM SPACE */
    CHECK(t, "hello\xE2\x80\xA8world", 2, 4, 5, 3); /* U+2028 */
    /* U+000B and U+0085 are Cc: dropped, not spaces */
    CHECK(t, "hel\x0Blo", 2, 4, 3);
    CHECK(t, "hel\xC2\x85lo", 2, 4, 3);
    gd_wordpiece_free(t);
}

Test(wordpiece, truncation_keeps_sep)
{
    struct gd_wordpiece *t = load(NULL);
    const char *text = "hello world unaffable";
    const int64_t w2[] = {2, 3}, w3[] = {2, 4, 3}, w5[] = {2, 4, 5, 8, 3},
                  w7[] = {2, 4, 5, 8, 9, 10, 3};
    check_len(t, text, (size_t)-1, 2, w2, 2);
    check_len(t, text, (size_t)-1, 3, w3, 3);
    check_len(t, text, (size_t)-1, 5, w5, 5); /* cut inside a word's pieces */
    check_len(t, text, (size_t)-1, 7, w7, 7);
    check_len(t, text, (size_t)-1, 64, w7, 7);
    /* a word that turns out [UNK] after its first pieces fit */
    const int64_t u4[] = {2, 4, 1, 3};
    check_len(t, "hello unaffablez world", (size_t)-1, 4, u4, 4);
    gd_wordpiece_free(t);
}

Test(wordpiece, bad_arguments)
{
    struct gd_wordpiece *t = load(NULL);
    int64_t ids[4];
    size_t n = 7;
    cr_assert_eq(gd_wordpiece_encode(t, "hello", 5, ids, 1, &n), GD_EINVAL);
    cr_assert_eq(n, 0);
    cr_assert_eq(gd_wordpiece_encode(t, "hello", 5, ids, 0, &n), GD_EINVAL);
    cr_assert_eq(gd_wordpiece_encode(NULL, "hello", 5, ids, 4, &n), GD_EINVAL);
    cr_assert_eq(gd_wordpiece_encode(t, NULL, 5, ids, 4, &n), GD_EINVAL);
    cr_assert_eq(gd_wordpiece_encode(t, NULL, 0, ids, 4, &n), 0);
    cr_assert_eq(n, 2);
    gd_wordpiece_free(NULL);
    gd_wordpiece_free(t);
}

Test(wordpiece, large_input_is_linear_and_bounded)
{
    struct gd_wordpiece *t = load(NULL);
    size_t len = 4u << 20;
    char *big = gd_malloc(len);
    cr_assert_not_null(big);
    for (size_t i = 0; i < len; i++)
        big[i] = "hello, unaffable x"[i % 18];
    int64_t ids[512];
    size_t n;
    cr_assert_eq(gd_wordpiece_encode(t, big, len, ids, 512, &n), 0);
    cr_assert_eq(n, 512);
    cr_assert_eq(ids[511], 3);
    /* one huge word: [UNK], without scratch proportional to it */
    memset(big, 'a', len);
    cr_assert_eq(gd_wordpiece_encode(t, big, len, ids, 512, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(ids[1], 1);
    gd_free(big);
    gd_wordpiece_free(t);
}

static int load_err(const char *data, size_t len, char *err, size_t errlen)
{
    struct gd_wordpiece *t = (struct gd_wordpiece *)1;
    int rc = gd_wordpiece_load_vocab_memory(data, len, NULL, &t, err, errlen);
    cr_assert_null(t);
    return rc;
}

Test(wordpiece, vocab_errors)
{
    char err[256];
    const char *no_unk = "[PAD]\n[CLS]\n[SEP]\nhello\n";
    cr_assert_eq(load_err(no_unk, strlen(no_unk), err, sizeof err), GD_EINVAL);
    cr_assert(strstr(err, "[UNK]"), "%s", err);
    const char *no_pad = "[UNK]\n[CLS]\n[SEP]\n";
    cr_assert_eq(load_err(no_pad, strlen(no_pad), err, sizeof err), GD_EINVAL);
    cr_assert(strstr(err, "[PAD]"), "%s", err);
    cr_assert_eq(load_err("", 0, err, sizeof err), GD_EINVAL);

    char big[400];
    int k = snprintf(big, sizeof big, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
    memset(big + k, 'a', 257);
    big[k + 257] = '\n';
    cr_assert_eq(load_err(big, (size_t)k + 258, err, sizeof err), GD_ELIMIT);
    cr_assert(strstr(err, "line 5"), "%s", err);
    cr_assert(strstr(err, "257"), "%s", err);
    /* 256 bytes is fine */
    struct gd_wordpiece *t = NULL;
    cr_assert_eq(gd_wordpiece_load_vocab_memory(big, (size_t)k + 256, NULL, &t, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(gd_wordpiece_id(t, "[SEP]"), 3);
    gd_wordpiece_free(t);
}

Test(wordpiece, vocab_crlf_duplicates_and_limits)
{
    const char *v = "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\nworld\r\nhello";
    struct gd_wordpiece *t = NULL;
    char err[128];
    cr_assert_eq(gd_wordpiece_load_vocab_memory(v, strlen(v), NULL, &t, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(gd_wordpiece_id(t, "world"), 5);
    cr_assert_eq(gd_wordpiece_id(t, "hello"), 6); /* the last line wins, as in HF */
    cr_assert_eq(gd_wordpiece_vocab_size(t), 7);
    gd_wordpiece_free(t);

    struct gd_wordpiece_opts o = {.lowercase = 1, .max_input_chars_per_word = 1u << 20};
    cr_assert_eq(gd_wordpiece_load_vocab_memory(v, strlen(v), &o, &t, err, sizeof err), GD_ELIMIT);

    /* > 1,000,000 lines */
    size_t n = GD_WORDPIECE_MAX_TOKENS + 1;
    char *many = gd_malloc(n);
    cr_assert_not_null(many);
    memset(many, '\n', n);
    cr_assert_eq(load_err(many, n, err, sizeof err), GD_ELIMIT);
    cr_assert(strstr(err, "1000001"), "%s", err);
    gd_free(many);
}

Test(wordpiece, vocab_file)
{
    char path[] = "/tmp/gd_wp_vocabXXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, VOCAB, sizeof VOCAB - 1), (ssize_t)(sizeof VOCAB - 1));
    close(fd);
    struct gd_wordpiece *t = NULL;
    char err[256];
    cr_assert_eq(gd_wordpiece_load_vocab(path, NULL, &t, err, sizeof err), 0, "%s", err);
    CHECK(t, "Hello, world!", 2, 4, 6, 5, 7, 3);
    gd_wordpiece_free(t);
    unlink(path);
    cr_assert_eq(gd_wordpiece_load_vocab(path, NULL, &t, err, sizeof err), GD_ENOENT);
    cr_assert(strstr(err, path), "%s", err);
}

/* ---- tokenizer.json ---- */

static const char TJ_HEAD[] =
    "{\"version\":\"1.0\",\"added_tokens\":[],"
    "\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,"
    "\"handle_chinese_chars\":true,\"strip_accents\":null,\"lowercase\":%s},"
    "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
    "\"post_processor\":{\"type\":\"TemplateProcessing\","
    "\"single\":[{\"SpecialToken\":{\"id\":\"[CLS]\",\"type_id\":0}},"
    "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"[SEP]\","
    "\"type_id\":0}}],\"pair\":[],\"special_tokens\":{"
    "\"[CLS]\":{\"id\":\"[CLS]\",\"ids\":[101],\"tokens\":[\"[CLS]\"]},"
    "\"[SEP]\":{\"id\":\"[SEP]\",\"ids\":[102],\"tokens\":[\"[SEP]\"]}}},"
    "\"padding\":null,\"decoder\":{\"type\":\"WordPiece\",\"prefix\":\"##\"},"
    "\"model\":{\"type\":\"%s\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"%s\","
    "\"max_input_chars_per_word\":100,\"vocab\":{\"[PAD]\":0,\"[UNK]\":100,\"[CLS]\":101,"
    "\"[SEP]\":102,\"hello\":7592,\"world\":2088,\"un\":4895,\"%saff\":10354,"
    "\"%sable\":3085,\"\\u00e9\":1000}}}";

static int load_json(const char *lower, const char *type, const char *prefix,
                     struct gd_wordpiece **t, char *err, size_t errlen)
{
    char js[4096];
    snprintf(js, sizeof js, TJ_HEAD, lower, type, prefix, prefix, prefix);
    char path[] = "/tmp/gd_wp_tokXXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    size_t n = strlen(js);
    cr_assert_eq(write(fd, js, n), (ssize_t)n);
    close(fd);
    int rc = gd_wordpiece_load_tokenizer_json(path, t, err, errlen);
    unlink(path);
    return rc;
}

Test(wordpiece, tokenizer_json)
{
    struct gd_wordpiece *t = NULL;
    char err[256] = "";
    cr_assert_eq(load_json("true", "WordPiece", "##", &t, err, sizeof err), 0, "%s", err);
    cr_assert_eq(gd_wordpiece_cls_id(t), 101);
    cr_assert_eq(gd_wordpiece_sep_id(t), 102);
    cr_assert_eq(gd_wordpiece_unk_id(t), 100);
    cr_assert_eq(gd_wordpiece_pad_id(t), 0);
    cr_assert_eq(gd_wordpiece_vocab_size(t), 10355);
    CHECK(t, "Hello, UNAFFABLE world!", 101, 7592, 100, 4895, 10354, 3085, 2088, 100, 102);
    CHECK(t, "\xC3\xA9", 101, 100, 102); /* é is stripped to e (unknown) */
    gd_wordpiece_free(t);

    /* cased: strip_accents null follows lowercase (off); custom prefix */
    cr_assert_eq(load_json("false", "WordPiece", "@@", &t, err, sizeof err), 0, "%s", err);
    CHECK(t, "unaffable Hello \xC3\xA9", 101, 4895, 10354, 3085, 100, 1000, 102);
    gd_wordpiece_free(t);
}

Test(wordpiece, tokenizer_json_errors)
{
    struct gd_wordpiece *t = NULL;
    char err[256] = "";
    cr_assert_eq(load_json("true", "BPE", "##", &t, err, sizeof err), GD_ENOTSUP);
    cr_assert_null(t);
    cr_assert(strstr(err, "\"BPE\""), "%s", err);

    const char *cases[][2] = {
        {"not json", "JSON"},
        {"{\"model\":{\"vocab\":{}}}", "model.type"},
        {"{\"model\":{\"type\":\"WordPiece\",\"vocab\":[]}}", "model.vocab"},
        {"{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}}}", "[UNK]"},
        {"{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":-1}}}", "vocab id"},
        {"{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"<unk>\",\"vocab\":{\"[UNK]\":0}}}",
         "<unk>"},
        {"{\"normalizer\":{\"type\":\"NFC\"},\"model\":{\"type\":\"WordPiece\",\"vocab\":{"
         "\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2}}}",
         "\"NFC\""},
        {"{\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"model\":{\"type\":\"WordPiece\","
         "\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2}}}",
         "\"Whitespace\""},
        {"{\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":1},\"model\":{\"type\":"
         "\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2}}}",
         "lowercase"},
        {"{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"[SEP]\":2}}}", "[CLS]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = 0;
        int rc = gd_wordpiece_load_tokenizer_json_memory(cases[i][0], strlen(cases[i][0]), &t, err,
                                                         sizeof err);
        cr_assert_lt(rc, 0, "case %zu", i);
        cr_assert_null(t);
        cr_assert(strstr(err, cases[i][1]), "case %zu: %s", i, err);
    }

    /* no normalizer / post_processor / padding: vocab names, pad 0, nothing normalized */
    const char *bare = "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":5,\"[CLS]\":1,"
                       "\"[SEP]\":2,\"hello\":3}}}";
    cr_assert_eq(gd_wordpiece_load_tokenizer_json_memory(bare, strlen(bare), &t, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(gd_wordpiece_pad_id(t), 0);
    CHECK(t, "hello Hello", 1, 3, 5, 2);
    gd_wordpiece_free(t);
}

Test(wordpiece, allocation_failures_are_reported)
{
    for (uint64_t k = 1; k < 8; k++) {
        struct gd_wordpiece *t = NULL;
        char err[128];
        gd_alloc_fail_after(k);
        int rc = gd_wordpiece_load_vocab_memory(VOCAB, sizeof VOCAB - 1, NULL, &t, err, sizeof err);
        gd_alloc_fail_after(0);
        if (rc == 0) {
            int64_t ids[8];
            size_t n;
            gd_alloc_fail_after(1);
            rc = gd_wordpiece_encode(t, "hello", 5, ids, 8, &n);
            gd_alloc_fail_after(0);
            cr_assert_eq(rc, GD_ENOMEM);
            gd_wordpiece_free(t);
        } else {
            cr_assert_eq(rc, GD_ENOMEM);
            cr_assert_null(t);
        }
    }
}
