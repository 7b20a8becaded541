/* The Anthropic stream translator's text-delta fast path (xl_anthropic_sse.c) against its
 * general cJSON path: the same event in the Messages API's own key order (fast) and with
 * its keys reordered (general) must translate to the same OpenAI chunk, whatever the text
 * holds (escapes, UTF-8, \u escapes, invalid bytes, control bytes); malformed events get the
 * general path's error. */
#include "gateway/xl_anthropic.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const char start[] =
    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_\\u00e9\",\"type\":\"message\","
    "\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"usage\":"
    "{\"input_tokens\":1,\"output_tokens\":1}}}";

/* One event after message_start; the chunk it became, normalised through cJSON ("" when
 * none), or NULL with *rc set on an error. */
static char *translate(const char *ev, int *rc)
{
    struct gd_xl_anth_sse s;
    struct gd_buf b;
    gd_xl_anth_sse_init(&s, 0, 7);
    gd_buf_init(&b, 1 << 20);
    cr_assert_eq(gd_xl_anth_sse_event(&s, start, strlen(start), &b), 0);
    size_t mark = b.len;
    *rc = gd_xl_anth_sse_event(&s, ev, strlen(ev), &b);
    char *out = NULL;
    if (*rc == 0 && b.len == mark) {
        out = strdup("");
    } else if (*rc == 0) {
        cr_assert(b.len - mark > 8 && memcmp(b.data + mark, "data: ", 6) == 0);
        cr_assert(memcmp(b.data + b.len - 2, "\n\n", 2) == 0);
        cJSON *j = cJSON_ParseWithLength(b.data + mark + 6, b.len - mark - 8);
        cr_assert_not_null(j, "not JSON: %.*s", (int)(b.len - mark), b.data + mark);
        out = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
    } else {
        cr_assert_eq(b.len, mark, "output left after an error");
    }
    gd_buf_free(&b);
    return out;
}

static void same(const char *text_literal)
{
    char fast[512], general[512];
    snprintf(fast, sizeof fast,
             "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
             "\"text\":%s}}",
             text_literal);
    snprintf(general, sizeof general,
             "{\"index\":0,\"delta\":{\"text\":%s,\"type\":\"text_delta\"},"
             "\"type\":\"content_block_delta\"}",
             text_literal);
    int rf, rg;
    char *a = translate(fast, &rf), *b = translate(general, &rg);
    cr_assert_eq(rf, rg, "rc %d vs %d for %s", rf, rg, text_literal);
    if (rf == 0)
        cr_assert_str_eq(a, b, "for %s", text_literal);
    free(a);
    free(b);
}

Test(xl_anth_sse_fast, same_chunk_as_the_general_path)
{
    static const char *const texts[] = {
        "\"plain text \"",
        "\"\"",
        "\"q\\\"b\\\\s\\/l\\n\\t\\r\\b\\f\"",
        "\"\xc3\xbcn\xc3\xaf \xe2\x82\xac \xf0\x9d\x84\x9e \xf4\x8f\xbf\xbf\"",
        "\"\\u00e9 \\ud834\\udd1e\"", /* \u escapes: general path */
        "\"lone \\ud834\"",
        "\"bad \xff byte\"",
        "\"cut \xe2\x82\"",
        "\"surrogate \xed\xa0\x80\"",
        "\"overlong \xc0\xaf \xe0\x80\xaf \xf0\x80\x80\xaf\"",
        "\"too big \xf4\x90\x80\x80 \xf5\x80\x80\x80\"",
        "\"control \x01 byte\"",
        "\"bad escape \\x\"",
        "\"DEL \x7f ok\"",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        same(texts[i]);
}

static void expect(const char *ev, int want_rc)
{
    int rc;
    char *out = translate(ev, &rc);
    cr_assert_eq(rc, want_rc, "rc %d for %s", rc, ev);
    free(out);
}

#define HEAD "{\"type\":\"content_block_delta\",\"index\":"
#define MID ",\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}"

Test(xl_anth_sse_fast, framing_is_checked)
{
    expect(HEAD "0" MID, 0);
    expect(HEAD "0" MID " \r\n\t", 0);
    expect(HEAD "1023" MID, 0);
    expect(HEAD "1024" MID, GD_ELIMIT);
    expect(HEAD "99999999" MID, GD_ELIMIT);
    expect(HEAD "-1" MID, GD_EPARSE);
    /* cJSON_ParseWithLength stops after the object: the general path ignores what follows */
    expect(HEAD "0" MID "x", 0);
    expect(HEAD "0" MID "}", 0);
    expect(HEAD "0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}", GD_EPARSE);
    expect(HEAD "0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x", GD_EPARSE);
    expect(HEAD "0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\\\"}}", GD_EPARSE);
    expect(HEAD "0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\",\"extra\":1}}", 0);
    expect(HEAD, GD_EPARSE);
    /* before message_start the general path refuses it */
    struct gd_xl_anth_sse s;
    struct gd_buf b;
    gd_xl_anth_sse_init(&s, 0, 7);
    gd_buf_init(&b, 4096);
    const char *ev = HEAD "0" MID;
    cr_assert_eq(gd_xl_anth_sse_event(&s, ev, strlen(ev), &b), GD_EPARSE);
    cr_assert_eq(b.len, 0);
    gd_buf_free(&b);
}

Test(xl_anth_sse_fast, long_id_and_model_still_head_every_chunk)
{
    char start_long[2048], model[700];
    memset(model, 'm', sizeof model - 1);
    model[sizeof model - 1] = '\0';
    snprintf(start_long, sizeof start_long,
             "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"%s\","
             "\"usage\":{\"input_tokens\":1}}}",
             model);
    struct gd_xl_anth_sse s;
    struct gd_buf b;
    gd_xl_anth_sse_init(&s, 0, 7);
    gd_buf_init(&b, 1 << 20);
    cr_assert_eq(gd_xl_anth_sse_event(&s, start_long, strlen(start_long), &b), 0);
    size_t mark = b.len;
    const char *ev = HEAD "0" MID;
    cr_assert_eq(gd_xl_anth_sse_event(&s, ev, strlen(ev), &b), 0);
    cJSON *j = cJSON_ParseWithLength(b.data + mark + 6, b.len - mark - 8);
    cr_assert_not_null(j);
    cr_assert_eq(strlen(cJSON_GetObjectItem(j, "model")->valuestring), 255); /* model[256] */
    cJSON_Delete(j);
    gd_buf_free(&b);
}
