/* BERT WordPiece tokenizer for the local embedding endpoint (/v1/embeddings): turns UTF-8
 * text into the input ids of a BERT-family sentence-embedding model (all-MiniLM-L6-v2 and
 * the like), matching Hugging Face's BertNormalizer + BertPreTokenizer + WordPiece:
 *   1. clean text: drop U+0000, U+FFFD and every C* code point except \t \n \r (so also
 *      unassigned ones); map whitespace to ' '
 *   2. put spaces around CJK ideographs
 *   3. strip accents (NFD, drop Mn) and lowercase, when on
 *   4. split on whitespace, then split every punctuation char (ASCII punctuation, P*) off
 *   5. greedy longest-match-first WordPiece per word, "##" continuation prefix; a word of
 *      more than max_input_chars_per_word chars, or that cannot be matched, becomes [UNK].
 * The Unicode tables come from scripts/gen_unicode_tables.py (see tok_unicode_tables.h).
 * Known differences from Hugging Face are listed at the top of tok_wordpiece.c.
 *
 * A loaded tokenizer is immutable: gd_wordpiece_encode() and the lookups may be called from
 * any number of threads at once on the same handle. The caller owns the handle and frees it
 * with gd_wordpiece_free(). */
#ifndef GD_SERVE_TOK_WORDPIECE_H
#define GD_SERVE_TOK_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

/* Limits of what the loaders accept (GD_ELIMIT beyond them). */
#define GD_WORDPIECE_MAX_FILE_BYTES (64u << 20) /* vocab.txt / tokenizer.json size */
#define GD_WORDPIECE_MAX_TOKENS 1000000u        /* vocab entries */
#define GD_WORDPIECE_MAX_TOKEN_BYTES 256u       /* one vocab token */
#define GD_WORDPIECE_MAX_WORD_CHARS 65536u      /* max_input_chars_per_word */
#define GD_WORDPIECE_MAX_PREFIX_BYTES 32u       /* continuing_subword_prefix */

struct gd_wordpiece;

struct gd_wordpiece_opts {
    int lowercase;                   /* lowercase the text (uncased models) */
    int strip_accents;               /* -1: same as lowercase (BERT's default) */
    size_t max_input_chars_per_word; /* 0: 100 */
};

/* Loads a vocab.txt: one token per line ("\n" or "\r\n"), id = line number (0-based); a
 * token listed twice keeps its last id. "[CLS]", "[SEP]", "[UNK]" and "[PAD]" must exist.
 * o may be NULL (lowercase, strip accents, 100 chars per word). Clean text and CJK spacing
 * are always on. On success *out is a new handle owned by the caller. On failure *out is
 * NULL and, when err is not NULL, err holds a NUL-terminated message naming the line or the
 * missing token. Errors: GD_EINVAL (bad argument, missing special token), GD_ELIMIT (file
 * > 64 MiB, > 1,000,000 tokens, token > 256 bytes), GD_ENOENT/GD_EIO (reading), GD_ENOMEM. */
int gd_wordpiece_load_vocab(const char *path, const struct gd_wordpiece_opts *o,
                            struct gd_wordpiece **out, char *err, size_t errlen);
/* The same from the len bytes at data (not NUL-terminated; the caller keeps data). */
int gd_wordpiece_load_vocab_memory(const char *data, size_t len, const struct gd_wordpiece_opts *o,
                                   struct gd_wordpiece **out, char *err, size_t errlen);

/* Loads a Hugging Face tokenizer.json whose model.type is "WordPiece": model.vocab (token ->
 * id), unk_token, continuing_subword_prefix and max_input_chars_per_word; the normalizer
 * (BertNormalizer: lowercase, strip_accents (null: follow lowercase), clean_text,
 * handle_chinese_chars; null: none); the pre_tokenizer (BertPreTokenizer, or null); the
 * [CLS]/[SEP] ids of post_processor (BertProcessing or TemplateProcessing; else the vocab's
 * "[CLS]"/"[SEP]") and the pad id of padding (else the vocab's "[PAD]", else 0).
 * Ownership and err as for gd_wordpiece_load_vocab(). Errors: GD_ENOTSUP (another model,
 * normalizer or pre-tokenizer type; the message names it), GD_EPARSE (not JSON),
 * GD_EINVAL (missing or ill-typed field), GD_ELIMIT, GD_ENOENT/GD_EIO, GD_ENOMEM. */
int gd_wordpiece_load_tokenizer_json(const char *path, struct gd_wordpiece **out, char *err,
                                     size_t errlen);
/* The same from the len bytes at data. */
int gd_wordpiece_load_tokenizer_json_memory(const char *data, size_t len, struct gd_wordpiece **out,
                                            char *err, size_t errlen);

/* Frees t and everything it owns; NULL is a no-op. */
void gd_wordpiece_free(struct gd_wordpiece *t);

/* Encodes the len bytes of UTF-8 text (not NUL-terminated; invalid bytes are dropped like
 * control chars) as [CLS] wordpieces(text) [SEP] into ids, keeping only the first
 * max_len - 2 wordpieces, so that *n_out <= max_len and ids[*n_out - 1] is [SEP]. Time is
 * linear in len (it stops reading once max_len is reached), scratch memory is bounded by
 * max_input_chars_per_word. Thread-safe on a shared tokenizer. Errors: GD_EINVAL (NULL
 * argument, max_len < 2), GD_ENOMEM (scratch allocation); then *n_out is 0. */
int gd_wordpiece_encode(const struct gd_wordpiece *t, const char *text, size_t len, int64_t *ids,
                        size_t max_len, size_t *n_out);

/* Id of a vocab token (NUL-terminated, looked up as is, no normalization), -1 if absent. */
int64_t gd_wordpiece_id(const struct gd_wordpiece *t, const char *token);
/* Special ids, as resolved by the loader. */
int64_t gd_wordpiece_pad_id(const struct gd_wordpiece *t);
int64_t gd_wordpiece_cls_id(const struct gd_wordpiece *t);
int64_t gd_wordpiece_sep_id(const struct gd_wordpiece *t);
int64_t gd_wordpiece_unk_id(const struct gd_wordpiece *t);
/* Largest id + 1 (the size of the model's embedding table that the vocab implies). */
size_t gd_wordpiece_vocab_size(const struct gd_wordpiece *t);

#endif
