/* Unit tests of logmine: header formats, tokenizer and masks, the miner (tree, similarity,
 * generalisation, extract), state save/load, severity mapping. */
#include "girder/error.h"
#include "girder/logmine.h"
#include "logmine/internal.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int span_is(const char *line, struct gd_logmine_span sp, const char *want)
{
    return sp.off != GD_LOGMINE_ABSENT && sp.len == strlen(want) &&
           memcmp(line + sp.off, want, sp.len) == 0;
}

Test(format, fields_and_spans)
{
    struct gd_logfmt *f;
    cr_assert_eq(
        gd_logfmt_compile("<Date> <Time> <Pid> <Level> <Component>: <Content>", &f, NULL, 0), 0);
    cr_assert_eq(gd_logfmt_nfields(f), 6);
    cr_assert_eq(gd_logfmt_content_field(f), 5);
    cr_assert_eq(gd_logfmt_level_field(f), 3);
    cr_assert_str_eq(gd_logfmt_field_name(f, 4), "Component");
    const char *l = "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for x";
    struct gd_logmine_span sp[6];
    cr_assert_eq(gd_logfmt_match(f, l, strlen(l), sp), 1);
    cr_assert(span_is(l, sp[0], "081109"));
    cr_assert(span_is(l, sp[3], "INFO"));
    cr_assert(span_is(l, sp[4], "dfs.DataNode$PacketResponder"));
    cr_assert(span_is(l, sp[5], "PacketResponder 1 for x"));
    const char *bad = "just some words";
    cr_assert_eq(gd_logfmt_match(f, bad, strlen(bad), sp), 0);
    gd_logfmt_free(f);
}

Test(format, whitespace_runs_and_lazy_fields)
{
    struct gd_logfmt *f;
    cr_assert_eq(gd_logfmt_compile("<Date> <Time>, <Level>   <Component>  <Content>", &f, NULL, 0),
                 0);
    const char *l = "2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1";
    struct gd_logmine_span sp[5];
    cr_assert_eq(gd_logfmt_match(f, l, strlen(l), sp), 1);
    cr_assert(span_is(l, sp[2], "Info"));
    cr_assert(span_is(l, sp[3], "CBS"));
    cr_assert(span_is(l, sp[4], "Loaded Servicing Stack v6.1"));
    gd_logfmt_free(f);
}

Test(format, optional_group)
{
    struct gd_logfmt *f;
    cr_assert_eq(gd_logfmt_compile("<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: "
                                   "<Content>",
                                   &f, NULL, 0),
                 0);
    struct gd_logmine_span sp[7];
    const char *a = "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown";
    cr_assert_eq(gd_logfmt_match(f, a, strlen(a), sp), 1);
    cr_assert(span_is(a, sp[4], "sshd(pam_unix)"));
    cr_assert(span_is(a, sp[5], "19939"));
    cr_assert(span_is(a, sp[6], "check pass; user unknown"));
    const char *b = "Jun 14 15:16:01 combo kernel: Linux version 2.6.5";
    cr_assert_eq(gd_logfmt_match(f, b, strlen(b), sp), 1);
    cr_assert(span_is(b, sp[4], "kernel"));
    cr_assert_eq(sp[5].off, GD_LOGMINE_ABSENT);
    cr_assert(span_is(b, sp[6], "Linux version 2.6.5"));
    gd_logfmt_free(f);
}

Test(format, backtracking_is_bounded)
{
    struct gd_logfmt *f;
    cr_assert_eq(gd_logfmt_compile("<A> <B> <C> <D> <E> <F> <G>: <Content>", &f, NULL, 0), 0);
    static char line[6001];
    for (int i = 0; i < 3000; i++) /* "a a a ...": every space is a candidate, no ':' */
        line[2 * i] = 'a', line[2 * i + 1] = ' ';
    struct gd_logmine_span sp[8];
    cr_assert_eq(gd_logfmt_match(f, line, 6000, sp), 0);
    gd_logfmt_free(f);
}

Test(format, regex_fallback_and_errors)
{
    struct gd_logfmt *f;
    cr_assert_eq(gd_logfmt_compile("<Level>\\s*\\|<Content>", &f, NULL, 0), 0);
    struct gd_logmine_span sp[2];
    const char *l = "WARN   |disk almost full";
    cr_assert_eq(gd_logfmt_match(f, l, strlen(l), sp), 1);
    cr_assert(span_is(l, sp[0], "WARN"));
    cr_assert(span_is(l, sp[1], "disk almost full"));
    gd_logfmt_free(f);
    char err[128] = "";
    cr_assert_eq(gd_logfmt_compile("no fields", &f, err, sizeof err), GD_EINVAL);
    cr_assert_eq(gd_logfmt_compile("<A> <A>", &f, err, sizeof err), GD_EINVAL);
    cr_assert_eq(gd_logfmt_compile("<A", &f, err, sizeof err), GD_EPARSE);
    cr_assert_eq(gd_logfmt_compile("<A> [unclosed", &f, err, sizeof err), GD_EPARSE);
    cr_assert(err[0] != '\0');
}

/* Tokenizes with the built-in masks and renders "tok|tok|<*>" for easy comparison. */
static void toks(const char *s, const char *const *masks, size_t nm, char *out, size_t cap)
{
    struct lm_masks mk;
    cr_assert_eq(lm_masks_init(&mk, masks, nm, NULL, 0), 0);
    struct lm_tok t[64];
    int n = lm_tokenize(&mk, 1, s, strlen(s), t, 64);
    cr_assert(n >= 0);
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s%.*s", i ? "|" : "", t[i].sp ? "_" : "",
                              t[i].var ? 3 : (int)t[i].len, t[i].var ? "<*>" : s + t[i].off);
    lm_masks_free(&mk);
}

Test(tokenize, key_values_and_punctuation)
{
    char o[512];
    toks("size=42, user=root (uid=0)", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "size|=|<*>|,|_user|=|root|_(|uid|=|<*>|)");
    toks("logname= uid=0 ruser= rhost=a.b", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "logname|=|<*>|_uid|=|<*>|_ruser|=|<*>|_rhost|=|a.b");
    toks("connection from 1.2.3.4 () at Mon Jun 20 04:02:54 2005", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "connection|_from|_<*>|_(|<*>|)|_at|_<*>");
}

Test(tokenize, builtin_masks)
{
    char o[512];
    toks("open /var/log/x.log from fe80::1:2 via http://h/p done.", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "open|_<*>|_from|_<*>|_via|_<*>|_done|.");
    toks("synchronized to LOCAL(0), stratum 10", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "synchronized|_to|_<*>|,|_stratum|_<*>");
    toks("program interrupt: illegal instruction......0 x/../y wait...", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "program|_interrupt|:|_illegal|_instruction|<*>|_x/../y|_wait..|.");
    toks("interface eth0 up", NULL, 0, o, sizeof o); /* one trailing digit: a name */
    cr_assert_str_eq(o, "interface|_eth0|_up");
    toks("tag=\"View Lock\", ws=null", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "tag|=|\"View Lock\"|,|_ws|=|null");
}

Test(tokenize, token_classes_keep_the_token_count)
{
    char o[512];
    /* units that follow the magnitude belong to the value; a unit word as a key does not */
    toks("wrote 512 B in 3 seconds at 2.5 MB/s", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "wrote|_<*>|_in|_<*>|_at|_<*>");
    toks("status=200 bytes=512 took 1 second", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "status|=|<*>|_bytes|=|<*>|_took|_<*>");
    /* lists of any length are one value; a one-word bracket stays */
    toks("members [alice, bob, carol] ok", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "members|_[|<*>|]|_ok");
    toks("members [alice] ok ids 1, 2, 3", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "members|_[|alice|]|_ok|_ids|_<*>");
    toks("{ action=DOWN, x=1 }", NULL, 0, o, sizeof o); /* key=value runs are no list */
    cr_assert_str_eq(o, "{|_action|=|DOWN|,|_x|=|<*>|_}");
    /* a path goes on across a space when the next word carries on the path */
    toks("open /home/u/My Documents/report final.pdf for reading", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "open|_<*>|_for|_reading");
    toks("open /var/log/x for reading", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "open|_<*>|_for|_reading");
    /* endpoints of both address families, hex without digits, quoted values */
    toks("from [2001:db8::1]:443 and 10.0.0.1:80 or [::1].", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "from|_<*>|_and|_<*>|_or|_<*>|.");
    toks("mask=ffffffff key DEADBEEF word effaced", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "mask|=|<*>|_key|_<*>|_word|_effaced");
    toks("query \"gus\" and \"a b\". then \"v 7\"", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "query|_\"gus\"|_and|_\"a b\"|.|_then|_<*>");
    toks("index of \"/srv/www/docs/\" is forbidden, referrer \"-\"", NULL, 0, o, sizeof o);
    cr_assert_str_eq(o, "index|_of|_<*>|_is|_forbidden|,|_referrer|_<*>");
}

Test(tokenize, user_masks_and_spans)
{
    const char *masks[] = {"blk_-?\\d+", "(\\d+\\.){3}\\d+(:\\d+)?"};
    char o[512];
    toks("Receiving block blk_-123 src: /10.0.0.1:5 dest: /10.0.0.2:50010", masks, 2, o, sizeof o);
    cr_assert_str_eq(o, "Receiving|_block|_<*>|_src|:|_<*>|_dest|:|_<*>");
    struct lm_masks mk;
    cr_assert_eq(lm_masks_init(&mk, masks, 2, NULL, 0), 0);
    struct lm_tok t[16];
    const char *s = "  a  blk_7 b";
    int n = lm_tokenize(&mk, 1, s, strlen(s), t, 16);
    cr_assert_eq(n, 3);
    cr_assert_eq(t[1].off, 5);
    cr_assert_eq(t[1].len, 5);
    cr_assert_eq(t[1].var, 1);
    lm_masks_free(&mk);
    char err[128];
    const char *bad[] = {"("};
    cr_assert_eq(lm_masks_init(&mk, bad, 1, err, sizeof err), GD_EPARSE);
}

Test(tokenize, token_cap_keeps_the_rest)
{
    struct lm_tok t[4];
    const char *s = "a b c d e f";
    int n = lm_tokenize(NULL, 1, s, strlen(s), t, 4);
    cr_assert_eq(n, 4);
    cr_assert_eq(t[3].var, 1);
    cr_assert_eq(t[3].off, 6);
    cr_assert_eq(t[3].len, 5);
}

static gd_logmine *new_miner(double sim)
{
    struct gd_logmine_opts o;
    gd_logmine_opts_init(&o);
    o.sim = sim;
    gd_logmine *m;
    cr_assert_eq(gd_logmine_new(&o, &m, NULL, 0), 0);
    return m;
}

static uint32_t add(gd_logmine *m, const char *s, struct gd_logmine_match *mt)
{
    cr_assert_eq(gd_logmine_add(m, s, strlen(s), mt), 0);
    return mt->template_id;
}

static const char *text(gd_logmine *m, uint32_t id)
{
    struct gd_logmine_template t;
    cr_assert_eq(gd_logmine_template(m, id, &t), 0);
    return t.text;
}

Test(miner, groups_generalises_and_counts)
{
    gd_logmine *m = new_miner(0.5);
    struct gd_logmine_match mt;
    cr_assert_eq(add(m, "PacketResponder 1 for block blk_1 terminating", &mt), 1);
    cr_assert(mt.created);
    cr_assert_eq(add(m, "PacketResponder 2 for block blk_22 terminating", &mt), 1);
    cr_assert(!mt.created && !mt.updated);
    cr_assert_eq(add(m, "Received block blk_3 of size 42 from /10.0.0.1", &mt), 2);
    cr_assert_str_eq(text(m, 1), "PacketResponder <*> for block <*> terminating");
    /* a differing word with a digit generalises; a new shape makes a new template */
    cr_assert_eq(add(m, "Verification succeeded for blk_9", &mt), 3);
    cr_assert_eq(add(m, "Verification succeeded for x-9", &mt), 3);
    cr_assert_eq(gd_logmine_count(m), 3);
    struct gd_logmine_template t;
    cr_assert_eq(gd_logmine_template(m, 1, &t), 0);
    cr_assert_eq(t.count, 2);
    cr_assert_eq(t.n_tokens, 6);
    cr_assert_eq(gd_logmine_template(m, 4, &t), GD_ENOENT);
    gd_logmine_free(m);
}

Test(miner, words_do_not_merge_unless_word_vars)
{
    gd_logmine *m = new_miner(0.5);
    struct gd_logmine_match mt;
    uint32_t a = add(m, "Block x stored as bytes in memory", &mt);
    uint32_t b = add(m, "Block x stored as values in memory", &mt);
    cr_assert_neq(a, b);
    gd_logmine_free(m);
    struct gd_logmine_opts o;
    gd_logmine_opts_init(&o);
    o.word_vars = 1;
    cr_assert_eq(gd_logmine_new(&o, &m, NULL, 0), 0);
    a = add(m, "Block x stored as bytes in memory", &mt);
    b = add(m, "Block x stored as values in memory", &mt);
    cr_assert_eq(a, b);
    cr_assert(mt.updated);
    cr_assert_str_eq(text(m, a), "Block x stored as <*> in memory");
    gd_logmine_free(m);
}

Test(miner, word_family_merges_and_resolves)
{
    gd_logmine *m = new_miner(0.5);
    struct gd_logmine_match mt;
    const char *users[] = {"cyrus", "news", "test", "root", "admin"};
    uint32_t ids[5];
    char line[64];
    for (int i = 0; i < 3; i++) {
        snprintf(line, sizeof line, "session opened for user %s by uid=0", users[i]);
        ids[i] = add(m, line, &mt);
        cr_assert(mt.created);
    }
    cr_assert_neq(ids[0], ids[1]);
    cr_assert_eq(gd_logmine_resolve(m, ids[1]), ids[1]);
    snprintf(line, sizeof line, "session opened for user %s by uid=0", users[3]);
    ids[3] = add(m, line, &mt); /* the 4th sibling: the family merges into the oldest */
    cr_assert_eq(ids[3], ids[0]);
    cr_assert(mt.updated);
    cr_assert_str_eq(text(m, ids[0]), "session opened for user <*> by uid=<*>");
    for (int i = 0; i < 4; i++)
        cr_assert_eq(gd_logmine_resolve(m, ids[i]), ids[0]);
    struct gd_logmine_template t;
    cr_assert_eq(gd_logmine_template(m, ids[2], &t), 0);
    cr_assert_eq(t.merged_into, ids[0]);
    cr_assert_str_eq(t.text, "session opened for user <*> by uid=<*>");
    cr_assert_eq(t.count, 1);
    snprintf(line, sizeof line, "session opened for user %s by uid=0", users[4]);
    cr_assert_eq(add(m, line, &mt), ids[0]);
    /* a pass-1 id of a merged template still extracts against the final template */
    const char *l1 = "session opened for user news by uid=0";
    cr_assert_eq(gd_logmine_extract(m, ids[1], l1, strlen(l1), &mt), 0);
    cr_assert_eq(mt.template_id, ids[0]);
    cr_assert(mt.tokens[4].is_var);
    /* state keeps aliases */
    char *data;
    size_t len;
    cr_assert_eq(gd_logmine_save_mem(m, &data, &len), 0);
    gd_logmine *m2 = new_miner(0.5);
    cr_assert_eq(gd_logmine_load_mem(m2, data, len), 0);
    cr_assert_eq(gd_logmine_resolve(m2, ids[2]), ids[0]);
    cr_assert_eq(add(m2, "session opened for user zed by uid=7", &mt), ids[0]);
    gd_logmine_free(m2);
    gd_logmine_free_mem(data);
    gd_logmine_free(m);
}

Test(miner, word_family_needs_one_position)
{
    gd_logmine *m = new_miner(0.5);
    struct gd_logmine_match mt;
    const char *l[] = {"task moved from NEW to READY now", "task moved from READY to RUNNING now",
                       "task moved from RUNNING to DONE now", "task moved from DONE to GONE now"};
    uint32_t ids[4];
    for (int i = 0; i < 4; i++)
        ids[i] = add(m, l[i], &mt);
    for (int i = 0; i < 4; i++) /* two word positions vary: different events, no merge */
        cr_assert_eq(gd_logmine_resolve(m, ids[i]), ids[i]);
    cr_assert_eq(gd_logmine_count(m), 4);
    gd_logmine_free(m);
}

Test(miner, similarity_threshold_and_punctuation)
{
    gd_logmine *m = new_miner(0.9);
    struct gd_logmine_match mt;
    uint32_t a = add(m, "a b c d x-1", &mt);
    cr_assert_neq(add(m, "a b c e y-2", &mt), a); /* 3 of 5 words equal < 0.9 */
    cr_assert_eq(add(m, "a b c d y-2", &mt), a);
    uint32_t p = add(m, "k=v1, z", &mt);
    cr_assert_neq(add(m, "k:v1, z", &mt), p); /* punctuation must agree */
    gd_logmine_free(m);
}

Test(miner, extract_matches_final_template)
{
    gd_logmine *m = new_miner(0.5);
    struct gd_logmine_match mt;
    const char *l1 = "user alice-1 logged in from h1";
    const char *l2 = "user bob-2 logged in from h2";
    uint32_t id = add(m, l1, &mt);
    cr_assert_eq(add(m, l2, &mt), id);
    cr_assert_eq(gd_logmine_extract(m, id, l1, strlen(l1), &mt), 0);
    cr_assert_eq(mt.n_tokens, 6);
    cr_assert(mt.tokens[1].is_var && mt.tokens[5].is_var && !mt.tokens[0].is_var);
    cr_assert_eq(mt.tokens[1].off, 5);
    cr_assert_eq(mt.tokens[1].len, 7);
    cr_assert_eq(gd_logmine_extract(m, id, "other line", 10, &mt), GD_EINVAL);
    cr_assert_eq(gd_logmine_extract(m, 99, l1, strlen(l1), &mt), GD_ENOENT);
    cr_assert_eq(gd_logmine_lookup(m, l2, strlen(l2), &mt), 0);
    cr_assert_eq(mt.template_id, id);
    cr_assert_eq(gd_logmine_lookup(m, "zzz", 3, &mt), GD_ENOENT);
    cr_assert_eq(gd_logmine_count(m), 1);
    gd_logmine_free(m);
}

Test(miner, deterministic_and_empty)
{
    const char *lines[] = {"a 1", "b c", "", "a 2", "b d", "x y z", "", "b c"};
    uint32_t ids[2][8];
    for (int r = 0; r < 2; r++) {
        gd_logmine *m = new_miner(0.5);
        struct gd_logmine_match mt;
        for (int i = 0; i < 8; i++)
            ids[r][i] = add(m, lines[i], &mt);
        gd_logmine_free(m);
    }
    cr_assert_eq(memcmp(ids[0], ids[1], sizeof ids[0]), 0);
    cr_assert_eq(ids[0][2], ids[0][6]);
    cr_assert_eq(ids[0][0], ids[0][3]);
}

Test(miner, template_cap)
{
    struct gd_logmine_opts o;
    gd_logmine_opts_init(&o);
    o.max_templates = 2;
    gd_logmine *m;
    cr_assert_eq(gd_logmine_new(&o, &m, NULL, 0), 0);
    struct gd_logmine_match mt;
    add(m, "one", &mt);
    add(m, "two words", &mt);
    cr_assert_eq(gd_logmine_add(m, "three more words", 16, &mt), GD_ELIMIT);
    cr_assert_eq(gd_logmine_count(m), 2);
    o.sim = 2;
    cr_assert_eq(gd_logmine_new(&o, &m, NULL, 0) == GD_EINVAL, 1);
    gd_logmine_free(m);
}

Test(state, save_load_continues_ids)
{
    gd_logmine *m = new_miner(0.5);
    struct gd_logmine_match mt;
    add(m, "alpha 1 beta", &mt);
    add(m, "gamma delta", &mt);
    add(m, "alpha 2 beta", &mt);
    add(m, "key=\"with\nnewline\" and bytes \x01\xff", &mt);
    char *data;
    size_t len;
    cr_assert_eq(gd_logmine_save_mem(m, &data, &len), 0);
    gd_logmine *m2 = new_miner(0.5);
    cr_assert_eq(gd_logmine_load_mem(m2, data, len), 0);
    cr_assert_eq(gd_logmine_count(m2), 3);
    for (uint32_t id = 1; id <= 3; id++)
        cr_assert_str_eq(text(m, id), text(m2, id));
    cr_assert_eq(add(m2, "gamma delta", &mt), 2);
    cr_assert_eq(add(m2, "new one here", &mt), 4);
    cr_assert_eq(gd_logmine_load_mem(m2, data, len), GD_ESTATE);
    /* every truncation is rejected cleanly */
    for (size_t cut = 0; cut < len; cut++) {
        gd_logmine *m3 = new_miner(0.5);
        cr_assert_neq(gd_logmine_load_mem(m3, data, cut), 0);
        gd_logmine_free(m3);
    }
    gd_logmine *m4 = new_miner(0.7); /* other options: refused */
    cr_assert_eq(gd_logmine_load_mem(m4, data, len), GD_EINVAL);
    gd_logmine_free(m4);
    gd_logmine_free_mem(data);
    char path[] = "/tmp/logmine-state-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    cr_assert_eq(gd_logmine_save(m, path), 0);
    gd_logmine *m5 = new_miner(0.5);
    cr_assert_eq(gd_logmine_load(m5, path), 0);
    cr_assert_eq(gd_logmine_count(m5), 3);
    unlink(path);
    cr_assert_eq(gd_logmine_load(m5, path), GD_ENOENT);
    gd_logmine_free(m5);
    gd_logmine_free(m2);
    gd_logmine_free(m);
}

Test(severity, otel_numbers)
{
    const char *t;
    cr_assert_eq(gd_logmine_severity("INFO", 4, &t), 9);
    cr_assert_str_eq(t, "INFO");
    cr_assert_eq(gd_logmine_severity("warning", 7, &t), 13);
    cr_assert_eq(gd_logmine_severity("E", 1, &t), 17);
    cr_assert_str_eq(t, "ERROR");
    cr_assert_eq(gd_logmine_severity("FATAL", 5, &t), 21);
    cr_assert_eq(gd_logmine_severity("[DEBUG]", 7, &t), 5);
    cr_assert_eq(gd_logmine_severity("combo", 5, &t), 0);
    cr_assert_null(t);
}

Test(miner, merge_reports_the_aliased_ids)
{
    gd_logmine *m = new_miner(0.5);
    struct gd_logmine_match mt;
    const char *users[] = {"alice", "bob", "carl", "dan"};
    uint32_t ids[4];
    char line[64];
    for (int i = 0; i < 4; i++) {
        snprintf(line, sizeof line, "login ok for %s from console", users[i]);
        ids[i] = add(m, line, &mt);
        if (i < 3)
            cr_assert_eq(mt.n_merged, 0);
    }
    /* the survivor is the oldest; ids 2 and 3 were handed out and are listed in order; the
     * 4th template was created and merged in the same call and is not */
    cr_assert_eq(ids[3], ids[0]);
    cr_assert_eq(mt.n_merged, 2);
    cr_assert_eq(mt.merged[0], ids[1]);
    cr_assert_eq(mt.merged[1], ids[2]);
    cr_assert_eq(gd_logmine_resolve(m, 4), ids[0]);
    add(m, "login ok for eve from console", &mt);
    cr_assert_eq(mt.n_merged, 0);
    cr_assert_eq(mt.template_id, ids[0]);
    gd_logmine_free(m);
}

Test(miner, leading_words_meet_across_leaves)
{
    gd_logmine *m = new_miner(0.5);
    struct gd_logmine_match mt;
    /* the first token is a parse-tree level: each table name has its own leaf */
    const char *tables[] = {"DSDT", "FADT", "HPET", "MADT", "XSDT"};
    uint32_t ids[5];
    char line[96];
    for (int i = 0; i < 5; i++) {
        snprintf(line, sizeof line, "%s (v001 DELL PE BKC 0x1 MSFT 0x100000a) @ 0x000f0000",
                 tables[i]);
        ids[i] = add(m, line, &mt);
    }
    cr_assert_neq(ids[0], ids[1]);
    cr_assert_eq(ids[3], ids[0]); /* the 4th sibling merged the family (across leaves) */
    cr_assert_eq(ids[4], ids[0]); /* a new first word fits the merged template */
    cr_assert_str_eq(text(m, ids[0]), "<*> (<*> DELL PE BKC <*> MSFT <*>) @ <*>");
    /* a first word with other words differing too stays apart */
    cr_assert_neq(add(m, "Link (v001 DELL XX BKC 0x1 MSFT 0x100000a) @ 0x000f0000", &mt), ids[0]);
    /* a loaded state searches across leaves the same way */
    char *data;
    size_t len;
    cr_assert_eq(gd_logmine_save_mem(m, &data, &len), 0);
    gd_logmine *m2 = new_miner(0.5);
    cr_assert_eq(gd_logmine_load_mem(m2, data, len), 0);
    cr_assert_eq(add(m2, "SSDT (v001 DELL PE BKC 0x2 MSFT 0x100000a) @ 0x000f0100", &mt), ids[0]);
    cr_assert(!mt.created);
    gd_logmine_free(m2);
    gd_logmine_free_mem(data);
    gd_logmine_free(m);
}
