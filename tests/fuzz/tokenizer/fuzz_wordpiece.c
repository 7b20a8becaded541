/* libFuzzer driver for the WordPiece tokenizer. The first byte picks what the rest is:
 *   0..2  text, encoded with an in-memory vocab (uncased, cased, 3 chars per word); the
 *         second byte sets max_len. Checked: [CLS] first, [SEP] last, ids in range, the
 *         same result twice, and truncation is a prefix of the untruncated encoding
 *   3     a vocab.txt, then (after a NUL byte) text to encode with it
 *   4     a tokenizer.json, then (after a NUL byte) text to encode with it */
#include "serve/tok_wordpiece.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char VOCAB[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nhello\nworld\n,\n.\n!\n"
                            "un\n##aff\n##able\n##s\n##ing\na\n##a\nb\n##b\nab\n##ab\n"
                            "\xC3\xA9\n##\xC3\xA9\ncafe\n\xE4\xB8\xAD\n\xE5\x9B\xBD\n"
                            "\xD0\xB8\n\xCF\x83\n\xE1\x84\x92\n##\xE1\x85\xA1\n##\xE1\x86\xAB\n"
                            "#\n##\n###\n";

enum { MAX_IDS = 4096 };

static struct gd_wordpiece *fixed(int which)
{
    static struct gd_wordpiece *t[3];
    static const struct gd_wordpiece_opts o[3] = {
        {.lowercase = 1, .strip_accents = -1},
        {.lowercase = 0, .strip_accents = -1},
        {.lowercase = 1, .strip_accents = 0, .max_input_chars_per_word = 3},
    };
    if (!t[which] &&
        gd_wordpiece_load_vocab_memory(VOCAB, sizeof VOCAB - 1, &o[which], &t[which], NULL, 0) != 0)
        abort();
    return t[which];
}

static void check_encode(const struct gd_wordpiece *t, const char *s, size_t n, size_t max_len)
{
    static int64_t a[MAX_IDS], b[MAX_IDS], full[MAX_IDS];
    size_t na, nb, nf;
    if (gd_wordpiece_encode(t, s, n, a, max_len, &na) != 0)
        abort();
    if (gd_wordpiece_encode(t, s, n, b, max_len, &nb) != 0 || nb != na ||
        memcmp(a, b, na * sizeof a[0]) != 0)
        abort();
    if (na < 2 || na > max_len || a[0] != gd_wordpiece_cls_id(t) ||
        a[na - 1] != gd_wordpiece_sep_id(t))
        abort();
    for (size_t i = 0; i < na; i++)
        if (a[i] < 0 || (size_t)a[i] >= gd_wordpiece_vocab_size(t))
            abort();
    if (gd_wordpiece_encode(t, s, n, full, MAX_IDS, &nf) != 0 || nf < na)
        abort();
    if (nf < MAX_IDS && na < max_len && nf != na) /* not truncated: same length */
        abort();
    if (memcmp(a, full, (na - 1) * sizeof a[0]) != 0)
        abort();
}

static void with_loaded(const uint8_t *data, size_t size, int json)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t vlen = nul ? (size_t)(nul - data) : size;
    struct gd_wordpiece *t = NULL;
    char err[128];
    int rc =
        json
            ? gd_wordpiece_load_tokenizer_json_memory((const char *)data, vlen, &t, err, sizeof err)
            : gd_wordpiece_load_vocab_memory((const char *)data, vlen, NULL, &t, err, sizeof err);
    if (rc != 0) {
        if (t || memchr(err, 0, sizeof err) == NULL)
            abort();
        return;
    }
    if (nul)
        check_encode(t, (const char *)nul + 1, size - vlen - 1, 64);
    gd_wordpiece_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 5;
    data++, size--;
    if (mode < 3) {
        size_t max_len = 2;
        if (size > 0) {
            max_len += data[0] % 64;
            data++, size--;
        }
        check_encode(fixed(mode), (const char *)data, size, max_len);
    } else {
        with_loaded(data, size, mode == 4);
    }
    return 0;
}
