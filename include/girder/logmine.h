/* girder logmine: online log template mining (Drain-family), header-format parsing and
 * masking. Embeddable: the gateway can mine its own logs, `girder logs parse` prints the
 * result as JSON lines, and the log archive (compress/grep/schema) stores template ids plus
 * parameter values on top of it.
 *
 * Pipeline for one log line:
 *   1. gd_logfmt_match() splits the line into header fields (Date, Time, Level, ...) and the
 *      Content field, returning exact byte spans (lossless: every byte of the line is either
 *      inside a field span or in the literal text between spans).
 *   2. gd_logmine_add() tokenizes the content (whitespace separates tokens; punctuation such as
 *      '=' ':' ',' brackets and quotes are tokens of their own; masked regions are single
 *      variable tokens), finds or creates the template (cluster) in a fixed-depth parse tree
 *      (token count, then leading tokens, then similarity >= sim), and reports for every token
 *      its byte span in the content and whether it is a variable (<*>) in the template.
 *
 * How templates change while lines arrive (READ THIS if you store templates + parameters):
 *   - A template only ever generalises: a constant token may turn into <*> when a later line
 *     with a different value at that position joins the cluster. A <*> never turns back into a
 *     constant and the token count of a template never changes.
 *   - gd_logmine_add() reports is_var relative to the template *after* this line joined it.
 *     Earlier lines of the same template may have been reported with fewer variables.
 *   - To get parameters consistent with the final templates, do two passes: add every line
 *     (pass 1), then call gd_logmine_extract(m, id, content) for each line with the id that
 *     pass 1 returned (pass 2). extract never learns; its tokens are aligned with the final
 *     template, so "constant tokens == template text, variable tokens == params" holds.
 *   - Template ids are dense (1..gd_logmine_count()), assigned in creation order, stable for
 *     the miner's lifetime and across gd_logmine_save()/gd_logmine_load() (see also word
 *     families below: an id can become an alias of an older one).
 *
 * Word families (the one exception to "ids never change meaning"): lines that differ from a
 * template only in plain words (letters) start sibling templates; when a family reaches
 * opts.word_limit members, those positions are values after all (user names, hosts): the
 * family merges into its oldest template, which generalises, and the other ids become aliases
 * of it. gd_logmine_resolve() maps any id to the template that absorbed it (itself when not
 * merged); extract and template() accept alias ids and use the absorbing template. A
 * consumer that stores ids from pass 1 resolves them after the pass.
 *
 * Determinism: the same options and the same sequence of lines give the same ids, templates
 * and matches on every run and platform (no randomised hashing, no pointer-order effects).
 *
 * Threading: a gd_logmine and a gd_logfmt are not thread-safe (both keep scratch space);
 * use one per thread or lock.
 * Errors: functions return 0 (or a documented non-negative value) on success and a negative
 * GD_E* code (include/girder/error.h) on failure; messages go to an optional err buffer.
 * Memory: everything is allocated through girder's allocator; all growth is capped. */
#ifndef GIRDER_LOGMINE_H
#define GIRDER_LOGMINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A byte range inside a line or content. off == GD_LOGMINE_ABSENT marks a field of an
 * optional format group that did not take part in the match (len is then 0). */
struct gd_logmine_span {
    uint32_t off;
    uint32_t len;
};
#define GD_LOGMINE_ABSENT UINT32_MAX
/* Lines (and contents) longer than this are never matched by a format; the miner truncates
 * tokenisation at this length (the remainder becomes one variable token). */
#define GD_LOGMINE_MAX_LINE (1u << 30)

/* ---- header format -------------------------------------------------------------------- */

/* A compiled header format in the loghub/logparser notation:
 *   "<Date> <Time> <Pid> <Level> <Component>: <Content>"
 * <Name> is a field (matches lazily, like the regex .*?); a run of spaces matches one or more
 * whitespace characters; other text is literal, with backslash escapes ("\[", "\]", "\(").
 * "(...)?" makes a part optional ("<Component>(\[<PID>\])?: <Content>"). Formats that use
 * other regex syntax are compiled with PCRE2 (same semantics as the Python reference:
 * ^field-regex$). The whole line must match. */
struct gd_logfmt;

/* Compiles fmt. On success *out is owned by the caller (free with gd_logfmt_free).
 * Errors: GD_EPARSE (bad format; message in err), GD_EINVAL (no fields, duplicate names),
 * GD_ENOMEM. err may be NULL. */
int gd_logfmt_compile(const char *fmt, struct gd_logfmt **out, char *err, size_t err_len);
void gd_logfmt_free(struct gd_logfmt *f);
/* Number of fields, and the name of field i (0-based, in format order; owned by f). */
size_t gd_logfmt_nfields(const struct gd_logfmt *f);
const char *gd_logfmt_field_name(const struct gd_logfmt *f, size_t i);
/* Index of the field named "Content", or -1 (then the caller treats the line as content). */
int gd_logfmt_content_field(const struct gd_logfmt *f);
/* Index of the severity field ("Level", "Severity", "Lvl", case-insensitive), or -1. */
int gd_logfmt_level_field(const struct gd_logfmt *f);
/* Matches line[0..len) (without its newline). Returns 1 and fills spans[0..nfields) on a
 * match, 0 when the line does not fit the format (spans undefined), or a negative GD_E*. */
int gd_logfmt_match(const struct gd_logfmt *f, const char *line, size_t len,
                    struct gd_logmine_span *spans);

/* OpenTelemetry SeverityNumber (1..24) for a level string such as "INFO", "warn", "E",
 * "FATAL", "SEVERE", "notice"; 0 when unknown. *text (may be NULL) receives the canonical
 * OTel SeverityText ("TRACE","DEBUG","INFO","WARN","ERROR","FATAL") or NULL when unknown. */
int gd_logmine_severity(const char *level, size_t len, const char **text);

/* ---- the miner ------------------------------------------------------------------------ */

typedef struct gd_logmine gd_logmine;

struct gd_logmine_opts {
    double sim;               /* similarity threshold in [0,1] (default 0.5) */
    unsigned depth;           /* parse-tree depth >= 3 (default 4): depth-3 leading tokens,
                                 as in Drain (root, length and leaf levels count) */
    int default_masks;        /* 1 (default): built-in masks (numbers, hex, IPv4/IPv6, UUID,
                                 paths, timestamps, URLs, e-mail) mark variables */
    const char *const *masks; /* user PCRE2 patterns; a match becomes one <*> token */
    size_t n_masks;
    int word_vars;        /* 0 (default): two different plain words (letters, or letters
                             and one trailing digit) at a position make different
                             templates ("ret:true"/"ret:false") until word_limit such
                             siblings exist, then they merge (see "Word families");
                             1: they may merge into <*> at once, as in classic Drain */
    unsigned word_limit;  /* siblings that make a word position variable (default 4;
                             0: never) */
    size_t max_templates; /* cap on templates (default 1,000,000): GD_ELIMIT beyond */
    size_t max_tokens;    /* tokens per line (default 512); the rest is one <*> token */
};
/* Fills defaults. */
void gd_logmine_opts_init(struct gd_logmine_opts *o);

/* Creates a miner (caller owns it; gd_logmine_free). The options are copied.
 * Errors: GD_EINVAL (bad sim/depth), GD_EPARSE (a mask does not compile; message in err),
 * GD_ENOMEM. */
int gd_logmine_new(const struct gd_logmine_opts *o, gd_logmine **out, char *err, size_t err_len);
void gd_logmine_free(gd_logmine *m);

/* One token of a line's content. */
struct gd_logmine_token {
    uint32_t off; /* byte span in the content passed in */
    uint32_t len;
    uint8_t is_var;       /* 1: <*> in the template (value is a parameter) */
    uint8_t space_before; /* 1: whitespace precedes the token in the content */
};

struct gd_logmine_match {
    uint32_t template_id; /* 1-based, stable */
    uint8_t created;      /* this line created the template */
    uint8_t updated;      /* this line turned constants of the template into <*> */
    uint32_t n_tokens;
    const struct gd_logmine_token *tokens; /* owned by the miner; valid until its next call */
    /* Ids that became aliases of template_id during this call (a word family merged): lines
     * a consumer saw earlier with one of these ids now belong to template_id (remap them).
     * The survivor is always the family's oldest template. Ids created and merged within this
     * same call are not listed (no line ever carried them). Owned by the miner, valid until
     * its next call; n_merged is 0 on most lines. */
    uint32_t n_merged;
    const uint32_t *merged;
};

/* Mines one content (no newline). Fills *out. Errors: GD_ELIMIT (template cap reached and
 * the line fits no existing template), GD_ENOMEM. On error the miner is unchanged. */
int gd_logmine_add(gd_logmine *m, const char *content, size_t len, struct gd_logmine_match *out);

/* Read-only lookup: the template the content would join, without learning. Returns 0 and fills
 * *out (created/updated = 0), or GD_ENOENT when no template fits. */
int gd_logmine_lookup(gd_logmine *m, const char *content, size_t len, struct gd_logmine_match *out);

/* Tokenizes content and aligns it with the current (final) template `id`. Never learns.
 * Use it in a second pass with the id gd_logmine_add returned for the same content.
 * Errors: GD_ENOENT (no such id), GD_EINVAL (content does not fit that template). */
int gd_logmine_extract(gd_logmine *m, uint32_t id, const char *content, size_t len,
                       struct gd_logmine_match *out);

/* Number of templates; ids are 1..count (merged ones included). */
uint32_t gd_logmine_count(const gd_logmine *m);
/* The id that template `id` resolves to: itself, or the template it was merged into
 * (word families); 0 for an unknown id. */
uint32_t gd_logmine_resolve(const gd_logmine *m, uint32_t id);

/* One token of a template. */
struct gd_logmine_ttoken {
    const char *text; /* constant bytes (not NUL-terminated), or "<*>" when is_var */
    uint32_t len;
    uint8_t is_var;
    uint8_t space_before; /* as in the line that created the template */
};
struct gd_logmine_template {
    uint32_t id;
    uint32_t merged_into; /* 0, or the id this one was merged into (then tokens/text are
                             that template's) */
    uint64_t count;       /* lines that were given this id */
    uint32_t n_tokens;
    const struct gd_logmine_ttoken *tokens; /* owned by the miner; valid until it changes */
    const char *text; /* rendered template, NUL-terminated: tokens joined (a space where
                         space_before), variables as "<*>"; owned by the miner */
    size_t text_len;
};
/* Fills *out for id. Errors: GD_ENOENT. Pointers stay valid until the next add/load/free. */
int gd_logmine_template(gd_logmine *m, uint32_t id, struct gd_logmine_template *out);

/* State: templates with ids, tokens and counts, plus the options that affect mining (sim,
 * depth, masks, default_masks, word_vars, word_limit: load checks they match and fails with
 * GD_EINVAL otherwise).
 * save writes atomically (temp file + rename). load must be called on a fresh miner (no
 * templates yet; GD_ESTATE otherwise). Errors: GD_EIO, GD_EPARSE (corrupt file), GD_ENOMEM. */
int gd_logmine_save(const gd_logmine *m, const char *path);
int gd_logmine_load(gd_logmine *m, const char *path);
/* The same as bytes in memory: *out allocated with girder's allocator (free with
 * gd_logmine_free_mem). load_mem parses len bytes (untrusted input: bounds-checked). */
int gd_logmine_save_mem(const gd_logmine *m, char **out, size_t *len);
int gd_logmine_load_mem(gd_logmine *m, const char *data, size_t len);
void gd_logmine_free_mem(void *p);

#ifdef __cplusplus
}
#endif
#endif
