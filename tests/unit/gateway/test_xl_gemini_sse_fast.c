/* The Gemini stream translator's fast path (xl_gemini_sse_fast.c) against its general cJSON
 * path: on a corpus of chunks (text with escapes, UTF-8, \u escapes, invalid bytes, empty
 * text, thought parts, several parts, usage-only chunks, every finishReason kind, spacing
 * and key orders of the real API), whenever the fast path takes an event its output must be
 * byte for byte the general path's and leave the same state. The chunks it must take are
 * checked to be taken, and the unusual ones (function calls, several candidates, errors,
 * blocks, odd numbers, escaped or duplicate keys, ...) to be left to the general path. A whole
 * stream through gd_xl_gem_sse_event (fast path, its memo of the last event, general path)
 * must give what the general path alone gives. */
#include "gateway/xl_gemini.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stream states the events are translated in. */
static void start(struct gd_xl_gem_sse *s, int include_usage, int kind)
{
    char ev[2048];
    gd_xl_gem_sse_init(s, include_usage, 1733500000);
    if (kind == 2) { /* a model name whose chunk head does not fit s->head: written each time */
        char model[800];
        for (int i = 0; i < 127; i++)
            memcpy(model + i * 6, "\\u0001", 6);
        model[127 * 6] = '\0';
        snprintf(ev, sizeof ev,
                 "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}]}}],\"modelVersion\":"
                 "\"%s\",\"responseId\":\"%s\"}",
                 model, model);
    } else {
        snprintf(ev, sizeof ev, "%s",
                 "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}],\"role\":\"model\"}}],"
                 "\"modelVersion\":\"gemini-2.0-flash\",\"responseId\":\"r\\u00e91\"}");
    }
    struct gd_buf b;
    gd_buf_init(&b, 1 << 16);
    cr_assert_eq(gd_xl_gem_sse_event(s, ev, strlen(ev), &b), 0);
    cr_assert_eq(s->ck.head_len == 0, kind == 2);
    if (kind == 1) { /* a function call before: STOP becomes tool_calls */
        static const char fc[] = "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":"
                                 "{\"name\":\"f\",\"args\":{\"a\":1}}}]}}]}";
        cr_assert_eq(gd_xl_gem_sse_event(s, fc, strlen(fc), &b), 0);
        cr_assert_eq(s->n_tools, 1);
    }
    gd_buf_free(&b);
}

static void same_state(const struct gd_xl_gem_sse *a, const struct gd_xl_gem_sse *b, const char *ev)
{
    cr_assert(a->started == b->started && a->finished == b->finished && a->n_tools == b->n_tools &&
                  a->prompt == b->prompt && a->completion == b->completion &&
                  a->total == b->total && a->cached == b->cached &&
                  a->ck.head_len == b->ck.head_len && strcmp(a->ck.id, b->ck.id) == 0 &&
                  strcmp(a->ck.model, b->ck.model) == 0,
              "state differs after %s", ev);
}

/* Runs ev through both paths in every state; returns how many of them the fast path took. */
static int compare(const char *ev, size_t cap)
{
    int took = 0;
    for (int kind = 0; kind < 3; kind++) {
        for (int iu = 0; iu < 2; iu++) {
            struct gd_xl_gem_sse f, g;
            struct gd_buf fb, gb;
            start(&f, iu, kind);
            g = f;
            gd_buf_init(&fb, cap);
            gd_buf_init(&gb, cap);
            int frc = -12345;
            int t = gd_xl_gem_sse_fast(&f, ev, strlen(ev), &fb, &frc);
            int grc = gd_xl_gem_sse_event_full(&g, ev, strlen(ev), &gb);
            if (t) {
                cr_assert_eq(frc, grc, "rc %d (fast) vs %d for %s", frc, grc, ev);
                cr_assert_eq(fb.len, gb.len, "length %zu vs %zu for %s\nfast: %.*s\nfull: %.*s",
                             fb.len, gb.len, ev, (int)fb.len, fb.data, (int)gb.len, gb.data);
                cr_assert(fb.len == 0 || memcmp(fb.data, gb.data, fb.len) == 0,
                          "bytes differ for %s\nfast: %.*s\nfull: %.*s", ev, (int)fb.len, fb.data,
                          (int)gb.len, gb.data);
                same_state(&f, &g, ev);
                took++;
            } else {
                struct gd_xl_gem_sse fresh;
                start(&fresh, iu, kind);
                cr_assert_eq(fb.len, 0, "a declined event wrote something");
                same_state(&f, &fresh, ev);
            }
            gd_buf_free(&fb);
            gd_buf_free(&gb);
        }
    }
    return took;
}

/* Text literals (JSON, quotes included) the fast path translates. */
static const char *const texts[] = {
    "\"tok001 \"",
    "\"\"",
    "\"q\\\"b\\\\s\\n\\t\\r\\b\\f end\"",
    "\"slash \\/ escaped\"",
    "\"\xc3\xbcn\xc3\xaf \xe2\x82\xac \xf0\x9d\x84\x9e \xf4\x8f\xbf\xbf\"",
    "\"\\u00e9\\u00E9 \\u003cb\\u003e \\u0026 \\u2028\"",
    "\"pair \\ud83d\\ude00 \\uD834\\uDD1E\"",
    "\"\\u0001\\u001f\\u007f\"",
    "\"raw control \x01\x1f byte\"",
    "\"bad \xff byte \xe2\x82 cut \xed\xa0\x80 surrogate \xc0\xaf overlong \xf5\x80\x80\x80\"",
    "\"DEL \x7f ok\"",
};

/* Event templates: %s is a text literal. */
static const char *const shapes[] = {
    /* what bench/translate_bodies.py sends */
    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":%s}],\"role\":\"model\"},\"index\":0}],"
    "\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":10,\"totalTokenCount\":"
    "22},\"modelVersion\":\"bench-model\"}",
    /* the API's own spacing, details lists, responseId, trailing CRLF */
    "{\"candidates\": [{\"content\": {\"parts\": [{\"text\": %s}],\"role\": \"model\"},"
    "\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 8,\"candidatesTokenCount\": 3,"
    "\"totalTokenCount\": 11,\"promptTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": "
    "8}]},\"modelVersion\": \"gemini-2.0-flash\",\"responseId\": \"abc\"}\r\n",
    /* keys in another order, no usage */
    "{\"modelVersion\":\"m\",\"candidates\":[{\"index\":0,\"content\":{\"role\":\"model\","
    "\"parts\":[{\"text\":%s}]}}]}",
    /* a thought part, a signed part, several parts */
    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hidden\",\"thought\":true},"
    "{\"text\":%s,\"thoughtSignature\":\"c2ln\"},{\"thought\":false,\"text\":\"b\"},"
    "{\"text\":%s}]}}],\"usageMetadata\":{\"promptTokenCount\":5,\"thoughtsTokenCount\":7}}",
    /* safety ratings that do not block, citations, logprobs */
    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":%s}]},\"safetyRatings\":[{"
    "\"category\":\"HARM_CATEGORY_HATE_SPEECH\",\"probability\":\"NEGLIGIBLE\"}],"
    "\"citationMetadata\":{\"citationSources\":[{\"startIndex\":1,\"uri\":\"https://x\"}]},"
    "\"avgLogprobs\":-0.125e-3}],\"usageMetadata\":{\"promptTokenCount\":0}}",
};

static const char *const reasons[] = {
    "STOP",
    "MAX_TOKENS",
    "SAFETY",
    "RECITATION",
    "PROHIBITED_CONTENT",
    "OTHER",
    "LANGUAGE",
    "MALFORMED_FUNCTION_CALL",
    "FINISH_REASON_UNSPECIFIED",
    "",
    "NEW_REASON",
};

Test(xl_gem_sse_fast, texts_shapes_and_finish_reasons)
{
    char ev[4096], ev2[4096];
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
            snprintf(ev, sizeof ev, shapes[s], texts[t], texts[t]);
            cr_assert_eq(compare(ev, 1 << 20), 6, "not taken: %s", ev);
            /* the same with a finishReason in the candidate */
            for (size_t r = 0; r < sizeof reasons / sizeof reasons[0]; r++) {
                char *c = strstr(ev, "\"content\"");
                cr_assert_not_null(c);
                snprintf(ev2, sizeof ev2, "%.*s\"finishReason\": \"%s\",%s", (int)(c - ev), ev,
                         reasons[r], c);
                cr_assert_eq(compare(ev2, 1 << 20), 6, "not taken: %s", ev2);
            }
        }
    }
}

Test(xl_gem_sse_fast, usage_only_and_empty_chunks)
{
    static const char *const evs[] = {
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}],\"role\":\"model\"},"
        "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":12,"
        "\"candidatesTokenCount\":40,\"totalTokenCount\":52,\"cachedContentTokenCount\":4}}",
        "{\"candidates\":[{\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{"
        "\"promptTokenCount\":1,\"candidatesTokenCount\":999999999999999}}",
        "{\"candidates\":[{\"content\":{\"parts\":[]}}],\"usageMetadata\":{}}",
        "{\"candidates\":[{}]}",
        "{\"candidates\":[{\"content\":{}}],\"usageMetadata\":{\"totalTokenCount\":3,"
        "\"thoughtsTokenCount\":0,\"trafficType\":\"ON_DEMAND\"}}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"thoughtSignature\":\"x\"}]},"
        "\"finishReason\":\"MAX_TOKENS\"}]}",
        " \t\r\n{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]}}]} \r\n\t",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]}}],\"promptFeedback\":{"
        "\"blockReason\":\"SAFETY\"},\"createTime\":\"2026-01-01T00:00:00Z\",\"n\":[null,true,"
        "false,0,-1,1.5e+3,{\"a\":[[]]}]}",
    };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        cr_assert_eq(compare(evs[i], 1 << 20), 6, "not taken: %s", evs[i]);
}

Test(xl_gem_sse_fast, long_and_escaped_texts)
{
    /* over the decoder's stack buffer (heap then), and a text with many escapes */
    static char ev[20000], text[16000];
    size_t n = 0;
    text[n++] = '"';
    static const char piece[] = "ab \\u00e9 \\ud83d\\ude00 \\n \xe2\x82\xac ";
    while (n < 9000) {
        memcpy(text + n, piece, sizeof piece - 1);
        n += sizeof piece - 1;
    }
    text[n++] = '"';
    text[n] = '\0';
    snprintf(ev, sizeof ev,
             "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":%s}]},\"finishReason\":"
             "\"STOP\"}]}",
             text);
    cr_assert_eq(compare(ev, 1 << 20), 6);
    /* a text without escapes goes out as it came */
    memset(text + 1, 'x', 12000);
    text[12001] = '"';
    text[12002] = '\0';
    snprintf(ev, sizeof ev, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":%s}]}}]}", text);
    cr_assert_eq(compare(ev, 1 << 20), 6);
}

Test(xl_gem_sse_fast, out_of_room_changes_nothing)
{
    /* a buffer too small for the chunks: both paths fail (GD_ELIMIT), nothing written and
     * nothing remembered (compare checks rc, bytes and state) */
    static const char ev[] =
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a long enough text\"}]},"
        "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":3}}";
    cr_assert_eq(compare(ev, 64), 6);
    struct gd_xl_gem_sse s;
    struct gd_buf b;
    int rc;
    start(&s, 1, 0);
    gd_buf_init(&b, 64);
    cr_assert_eq(gd_xl_gem_sse_fast(&s, ev, strlen(ev), &b, &rc), 1);
    cr_assert_eq(rc, GD_ELIMIT);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(s.finished, 0);
    cr_assert_eq(s.prompt, -1);
    gd_buf_free(&b);
}

Test(xl_gem_sse_fast, unusual_events_take_the_general_path)
{
    static const char *const evs[] = {
        /* a function call, inline data, an unknown part */
        "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":{}}"
        "}]}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"},{\"inlineData\":{}}]}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\",\"executableCode\":{}}]}}]}",
        /* several candidates, none, no candidates key, an error */
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}},{\"content\":{}}]}",
        "{\"candidates\":[]}",
        "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}",
        "{\"error\":{\"code\":503,\"message\":\"overloaded\",\"status\":\"UNAVAILABLE\"}}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}],\"error\":1}",
        /* a blocking safety rating */
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"safetyRatings\":[{"
        "\"category\":\"HARM_CATEGORY_HARASSMENT\",\"probability\":\"HIGH\",\"blocked\":true}]}]}",
        /* usage counts that are not plain integers */
        "{\"candidates\":[{}],\"usageMetadata\":{\"promptTokenCount\":1.5}}",
        "{\"candidates\":[{}],\"usageMetadata\":{\"promptTokenCount\":-1}}",
        "{\"candidates\":[{}],\"usageMetadata\":{\"promptTokenCount\":\"3\"}}",
        "{\"candidates\":[{}],\"usageMetadata\":{\"promptTokenCount\":1e3}}",
        "{\"candidates\":[{}],\"usageMetadata\":{\"promptTokenCount\":9999999999999999}}",
        "{\"candidates\":[{}],\"usageMetadata\":null}",
        /* escaped and duplicate keys */
        "{\"c\\u0061ndidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}",
        "{\"candidates\":[{}],\"candidates\":[{}]}",
        "{\"candidates\":[{\"finishReason\":\"STOP\",\"finishReason\":\"OTHER\"}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\",\"text\":\"b\"}]}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[],\"parts\":[]}}]}",
        "{\"candidates\":[{}],\"usageMetadata\":{\"promptTokenCount\":1,\"promptTokenCount\":2}}",
        /* strings cJSON reads differently or refuses */
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"nul \\u0000 in\"}]}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"lone \\ud834 x\"}]}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"lone \\udd1e x\"}]}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hex \\u00zz\"}]}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"esc \\x\"}]}}]}",
        "{\"candidates\":[{\"finishReason\":\"ST\\u004fP\"}]}",
        "{\"candidates\":[{\"finishReason\":\"0123456789012345678901234567890123456789012345678901"
        "234567890123456789\"}]}",
        /* values of the wrong type */
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":1}]}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\",\"thought\":1}]}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[\"a\"]}}]}",
        "{\"candidates\":[{\"content\":[]}]}",
        "{\"candidates\":[{\"finishReason\":1}]}",
        "{\"candidates\":{}}",
        "[1]",
        /* malformed, or more than the scanner reads */
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}x",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"},]}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}},]}",
        "{\"candidates\":[{}],\"x\":01}",
        "{\"candidates\":[{}],\"x\":1.}",
        "{\"candidates\":[{}],\"x\":tru}",
        "{\"candidates\":[{}],\"x\":12345678901234567890123456789012345678901}",
        "{\"candidates\":[{}],\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]}",
        "\xef\xbb\xbf{\"candidates\":[{}]}",
        "{\"candidates\":[{}]\f}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"},{\"text\":\"a\"},{\"text\":"
        "\"a\"},{\"text\":\"a\"},{\"text\":\"a\"},{\"text\":\"a\"},{\"text\":\"a\"},{\"text\":"
        "\"a\"},{\"text\":\"a\"},{\"text\":\"a\"},{\"text\":\"a\"},{\"text\":\"a\"},{\"text\":"
        "\"a\"},{\"text\":\"a\"},{\"text\":\"a\"},{\"text\":\"a\"},{\"text\":\"a\"}]}}]}",
        "",
    };
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        cr_assert_eq(compare(evs[i], 1 << 20), 0, "taken: %s", evs[i]);
}

Test(xl_gem_sse_fast, not_before_the_first_event_nor_after_the_last)
{
    static const char ev[] = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},"
                             "\"finishReason\":\"STOP\"}],\"modelVersion\":\"m\"}";
    struct gd_xl_gem_sse s;
    struct gd_buf b;
    int rc;
    gd_xl_gem_sse_init(&s, 0, 7);
    gd_buf_init(&b, 1 << 16);
    cr_assert_eq(gd_xl_gem_sse_fast(&s, ev, strlen(ev), &b, &rc), 0); /* id, model: general */
    cr_assert_eq(gd_xl_gem_sse_event(&s, ev, strlen(ev), &b), 0);
    cr_assert(s.finished);
    size_t len = b.len;
    cr_assert_eq(gd_xl_gem_sse_fast(&s, ev, strlen(ev), &b, &rc), 0);
    cr_assert_eq(gd_xl_gem_sse_event(&s, ev, strlen(ev), &b), 0);
    cr_assert_eq(b.len, len, "nothing after [DONE]");
    gd_buf_free(&b);
}

#define PRE "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\""
#define SUF                                                                                        \
    "\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":12,"           \
    "\"totalTokenCount\":12},\"modelVersion\":\"m\"}"

Test(xl_gem_sse_fast, stream_with_the_memo_same_as_the_general_path)
{
    /* after an event with one text the next one with the same bytes around its text is read
     * from the memo; strings that end elsewhere, other texts and other usage are not */
    static const char *const evs[] = {
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}]}}],\"modelVersion\":\"m\"}",
        PRE "one" SUF,
        PRE "two \\u00e9 \\\" \xc3\xa9" SUF,
        PRE "x\",\"thought\":true,\"y\":\"z" SUF, /* same bytes around, a thought part */
        PRE "x\"},{\"functionCall\":{\"name\":\"f\"},\"y\":\"z" SUF, /* a call */
        PRE "three" SUF,
        PRE "" SUF,             /* empty text */
        PRE "bad \\u0000" SUF,  /* the general path decides */
        PRE "lone \\ud834" SUF, /* refused: the stream goes on */
        PRE "\\" SUF,           /* ends with an escaped quote: not a string there */
        PRE "four"
            "\"}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":12,"
            "\"candidatesTokenCount\":4,\"totalTokenCount\":16},\"modelVersion\":\"m\"}",
        PRE "five" SUF, /* usage back to the old bytes: the old usage again */
        PRE "six"
            "\"}],\"role\":\"model\"},\"index\":0,\"finishReason\":\"STOP\"}],"
            "\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":6,"
            "\"totalTokenCount\":18},\"modelVersion\":\"m\"}",
        PRE "after the end" SUF,
    };
    for (int iu = 0; iu < 2; iu++) {
        struct gd_xl_gem_sse a, g;
        struct gd_buf ab, gb;
        gd_xl_gem_sse_init(&a, iu, 9);
        gd_xl_gem_sse_init(&g, iu, 9);
        gd_buf_init(&ab, 1 << 20);
        gd_buf_init(&gb, 1 << 20);
        int memo_used = 0;
        for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
            int had_memo = a.memo_pre != 0;
            size_t mark = ab.len;
            int ra = gd_xl_gem_sse_event(&a, evs[i], strlen(evs[i]), &ab);
            int rg = gd_xl_gem_sse_event_full(&g, evs[i], strlen(evs[i]), &gb);
            cr_assert_eq(ra, rg, "rc %d vs %d for %s", ra, rg, evs[i]);
            cr_assert_eq(ab.len, gb.len, "event %zu: %s\nstream: %.*s\nfull: %.*s", i, evs[i],
                         (int)(ab.len - mark), ab.data + mark, (int)(gb.len - mark),
                         gb.data + mark);
            cr_assert(memcmp(ab.data, gb.data, ab.len) == 0, "bytes differ after %s", evs[i]);
            same_state(&a, &g, evs[i]);
            memo_used += had_memo && i == 2;
        }
        cr_assert(a.finished);
        cr_assert_eq(memo_used, 1, "the memo was not there for the second text");
        gd_buf_free(&ab);
        gd_buf_free(&gb);
    }
}
