#include "gateway/json_scan.h"
#include "gateway/oai_error.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct gd_gw_req_fields scan_ok(const char *js)
{
    struct gd_gw_req_fields f;
    cr_assert_eq(gd_gw_scan_request(js, strlen(js), &f), 0, "%s", js);
    return f;
}

static int span_eq(const char *js, struct gd_gw_span s, const char *want)
{
    return s.off >= 0 && (size_t)s.len == strlen(want) && memcmp(js + s.off, want, s.len) == 0;
}

Test(json_scan, finds_top_level_fields_only)
{
    const char *js = "{\"messages\":[{\"role\":\"user\",\"model\":\"inner\",\"stream\":false}],"
                     "\"stream_options\":{\"x\":[1,{\"include_usage\":false}],"
                     "\"include_usage\":true},\"model\":\"chat-default\",\"user\":\"u1\","
                     "\"stream\":true,\"n\":1}";
    struct gd_gw_req_fields f = scan_ok(js);
    cr_assert(span_eq(js, f.model, "chat-default"));
    cr_assert(span_eq(js, f.user, "u1"));
    cr_assert_eq(f.model_is_string, 1);
    cr_assert_eq(f.stream, 1);
    cr_assert_eq(f.include_usage, 1);
}

Test(json_scan, absent_and_non_string_fields)
{
    struct gd_gw_req_fields f = scan_ok("{\"stream\":false}");
    cr_assert_eq(f.model.off, -1);
    cr_assert_eq(f.model_is_string, 0);
    cr_assert_eq(f.stream, 0);
    f = scan_ok(" {\"model\": 42} \n");
    cr_assert_eq(f.model_is_string, 0);
    cr_assert_eq(f.model_tok.off, -1);
}

Test(json_scan, rejects_malformed_and_ambiguous)
{
    const char *bad[] = {"",
                         "[]",
                         "{",
                         "{\"model\":\"a\"",
                         "{\"model\":\"a\"} {}",
                         "{\"model\":\"a\",\"model\":\"b\"}",
                         "{\"model\":1,\"model\":\"b\"}",
                         "nope",
                         "{\"a\":tru e}",
                         "{\"model\":\"a\"}x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gd_gw_req_fields f;
        cr_assert_neq(gd_gw_scan_request(bad[i], strlen(bad[i]), &f), 0, "accepted %s", bad[i]);
    }
}

Test(json_scan, big_bodies_use_heap_tokens)
{
    struct gd_buf b;
    gd_buf_init(&b, 1 << 24);
    gd_buf_puts(&b, "{\"messages\":[");
    for (int i = 0; i < 5000; i++)
        gd_buf_printf(&b, "%s{\"role\":\"user\",\"content\":\"m%d\"}", i ? "," : "", i);
    gd_buf_puts(&b, "],\"model\":\"big\"}");
    struct gd_gw_req_fields f = scan_ok(b.data);
    cr_assert(span_eq(b.data, f.model, "big"));
    gd_buf_free(&b);
}

Test(json_scan, splice_keeps_every_other_byte)
{
    const char *js = "{ \"a\" : [1, 2.5e3, null],\n \"model\"  :\t\"chat\\u0041\" , \"z\":{}}";
    struct gd_gw_req_fields f = scan_ok(js);
    struct gd_buf out;
    gd_buf_init(&out, 1 << 20);
    cr_assert_eq(gd_gw_splice_model(js, strlen(js), &f, "llama \"3\"", 9, &out), 0);
    cr_assert_str_eq(out.data,
                     "{ \"a\" : [1, 2.5e3, null],\n \"model\"  :\t\"llama \\\"3\\\"\" , \"z\":{}}");
    gd_buf_free(&out);
}

Test(json_scan, unescape)
{
    char dst[64];
    const char *src = "a\\\"b\\\\c\\/\\n\\u00e9\\ud83d\\ude00";
    int n = gd_gw_json_unescape(src, strlen(src), dst, sizeof dst);
    cr_assert_eq(n, (int)strlen("a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80"));
    cr_assert_str_eq(dst, "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80");
    cr_assert_eq(gd_gw_json_unescape("\\ud83d", 6, dst, sizeof dst), GD_EPARSE);
    cr_assert_eq(gd_gw_json_unescape("\\x", 2, dst, sizeof dst), GD_EPARSE);
    cr_assert_eq(gd_gw_json_unescape("abcdef", 6, dst, 4), GD_ELIMIT);
}

Test(json_scan, usage)
{
    struct gd_gw_usage u;
    const char *js =
        "{\"id\":\"x\",\"choices\":[{\"usage\":{\"prompt_tokens\":1}}],"
        "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,\"total_tokens\":19}}";
    cr_assert_eq(gd_gw_scan_usage(js, strlen(js), &u), 1);
    cr_assert_eq(u.prompt_tokens, 12);
    cr_assert_eq(u.completion_tokens, 7);
    cr_assert_eq(u.total_tokens, 19);
    cr_assert_eq(gd_gw_scan_usage("{\"usage\":null}", 14, &u), 0);
    cr_assert_eq(u.prompt_tokens, -1);
    cr_assert_lt(gd_gw_scan_usage("{\"usage\":", 9, &u), 0);
}

Test(oai_error, body_shape)
{
    struct gd_buf b;
    gd_buf_init(&b, 4096);
    cr_assert_eq(
        gd_gw_error_write(&b, 404, "model \"x\" not found", NULL, "model", "model_not_found"), 0);
    cr_assert_str_eq(b.data, "{\"error\":{\"message\":\"model \\\"x\\\" not found\",\"type\":"
                             "\"invalid_request_error\",\"param\":\"model\",\"code\":"
                             "\"model_not_found\"}}");
    gd_buf_reset(&b);
    cr_assert_eq(gd_gw_error_write(&b, 502, "bad", NULL, NULL, NULL), 0);
    cr_assert_str_eq(b.data,
                     "{\"error\":{\"message\":\"bad\",\"type\":\"api_error\",\"param\":null,"
                     "\"code\":null}}");
    gd_buf_free(&b);
}

Test(json_scan, allocation_failure_is_reported)
{
    struct gd_buf b;
    gd_buf_init(&b, 1 << 24);
    gd_buf_puts(&b, "{\"x\":[");
    for (int i = 0; i < 2000; i++)
        gd_buf_printf(&b, "%s%d", i ? "," : "", i);
    gd_buf_puts(&b, "],\"model\":\"m\"}");
    struct gd_gw_req_fields f;
    gd_alloc_fail_after(1);
    int rc = gd_gw_scan_request(b.data, b.len, &f);
    gd_alloc_fail_after(0);
    cr_assert_eq(rc, GD_ENOMEM);
    gd_buf_free(&b);
}
