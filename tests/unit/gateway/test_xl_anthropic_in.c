/* Golden tests of the inbound /v1/messages translation (xl_anthropic_in.h). */
#include "gateway/xl_anthropic_in.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const char *req(const char *in, struct gd_xl_err *err, int *rc)
{
    static struct gd_buf b;
    gd_buf_free(&b);
    gd_buf_init(&b, 1 << 20);
    *rc = gd_xl_in_anth_request(in, strlen(in), &b, err);
    return b.data ? b.data : "";
}

static void golden(const char *in, const char *want)
{
    struct gd_xl_err err;
    int rc;
    const char *got = req(in, &err, &rc);
    cr_assert_eq(rc, 0, "rc %d: %s", rc, err.message);
    cr_assert_str_eq(got, want);
}

static void refused(const char *in, const char *param, const char *part)
{
    struct gd_xl_err err;
    int rc;
    req(in, &err, &rc);
    cr_assert_eq(rc, GD_EINVAL, "accepted: %s", in);
    cr_assert_str_eq(err.param, param);
    cr_assert_not_null(strstr(err.message, part), "'%s' not in '%s'", part, err.message);
}

Test(xl_in_anth_req, system_turns_images_stream)
{
    golden("{\"model\":\"alias\",\"max_tokens\":64,\"system\":[{\"type\":\"text\",\"text\":\"A\"},"
           "{\"type\":\"text\",\"text\":\"B\"}],\"messages\":[{\"role\":\"user\",\"content\":"
           "[{\"type\":\"text\",\"text\":\"see\"},{\"type\":\"image\",\"source\":{\"type\":"
           "\"base64\",\"media_type\":\"image/png\",\"data\":\"QUJD\"}},{\"type\":\"image\","
           "\"source\":{\"type\":\"url\",\"url\":\"https://x/y.jpg\"}}]},{\"role\":\"assistant\","
           "\"content\":\"ok\"},{\"role\":\"user\",\"content\":\"more\"}],\"stop_sequences\":"
           "[\"X\"],\"temperature\":0.5,\"stream\":true,\"metadata\":{\"user_id\":\"u\"}}",
           "{\"model\":\"alias\",\"messages\":[{\"role\":\"system\",\"content\":\"A\\n\\nB\"},"
           "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"see\"},{\"type\":"
           "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,QUJD\"}},{\"type\":"
           "\"image_url\",\"image_url\":{\"url\":\"https://x/y.jpg\"}}]},{\"role\":\"assistant\","
           "\"content\":\"ok\"},{\"role\":\"user\",\"content\":\"more\"}],\"max_tokens\":64,"
           "\"stop\":[\"X\"],\"temperature\":0.5,\"user\":\"u\",\"stream\":true,"
           "\"stream_options\":{\"include_usage\":true}}");
}

Test(xl_in_anth_req, tools_both_ways)
{
    golden("{\"model\":\"a\",\"max_tokens\":5,\"tools\":[{\"name\":\"f\",\"description\":\"d\","
           "\"input_schema\":{\"type\":\"object\"}}],\"tool_choice\":{\"type\":\"any\","
           "\"disable_parallel_tool_use\":true},\"messages\":[{\"role\":\"user\",\"content\":"
           "\"q\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"hm\"},"
           "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\",\"input\":{\"a\":1}}]},"
           "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\","
           "\"content\":[{\"type\":\"text\",\"text\":\"r\"}]},{\"type\":\"text\",\"text\":"
           "\"next\"}]}]}",
           "{\"model\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":"
           "\"assistant\",\"tool_calls\":[{\"id\":\"t1\",\"type\":\"function\",\"function\":"
           "{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}],\"content\":\"hm\"},{\"role\":"
           "\"tool\",\"tool_call_id\":\"t1\",\"content\":\"r\"},{\"role\":\"user\",\"content\":"
           "[{\"type\":\"text\",\"text\":\"next\"}]}],\"max_tokens\":5,\"tools\":[{\"type\":"
           "\"function\",\"function\":{\"name\":\"f\",\"description\":\"d\",\"parameters\":"
           "{\"type\":\"object\"}}}],\"tool_choice\":\"required\",\"parallel_tool_calls\":false}");
}

Test(xl_in_anth_req, refusals)
{
    refused("{\"model\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "max_tokens",
            "Field required");
    refused("{\"model\":\"a\",\"max_tokens\":5,\"top_k\":3,\"messages\":[]}", "top_k",
            "not supported");
    refused("{\"model\":\"a\",\"max_tokens\":5,\"messages\":[]}", "messages", "at least one");
    refused("{\"model\":\"a\",\"max_tokens\":5,\"messages\":[{\"role\":\"system\","
            "\"content\":\"x\"}]}",
            "messages.0", "expected user or assistant");
    refused("{\"model\":\"a\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":"
            "[{\"type\":\"document\"}]}]}",
            "messages.0.content.0", "not supported");
    refused("{\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "model",
            "Field required");
}

Test(xl_in_anth_resp, message_and_errors)
{
    struct gd_buf b;
    gd_buf_init(&b, 1 << 20);
    const char *in =
        "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":\"hi\",\"tool_calls\":[{\"id\":\"t\","
        "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\": [1]}\"}}]},"
        "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":"
        "4,\"prompt_tokens_details\":{\"cached_tokens\":5}}}";
    cr_assert_eq(gd_xl_in_anth_response(in, strlen(in), &b), 0);
    cr_assert_str_eq(b.data,
                     "{\"id\":\"c1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
                     "\"content\":[{\"type\":\"text\",\"text\":\"hi\"},{\"type\":\"tool_use\","
                     "\"id\":\"t\",\"name\":\"f\",\"input\":{\"a\":[1]}}],\"stop_reason\":"
                     "\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":15,"
                     "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":5,"
                     "\"output_tokens\":4}}");
    gd_buf_reset(&b);
    const char *bad = "{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"t\",\"function\":"
                      "{\"name\":\"f\",\"arguments\":\"[1\"}}]}}]}";
    cr_assert_eq(gd_xl_in_anth_response(bad, strlen(bad), &b), GD_EPARSE);
    cr_assert_eq(b.len, 0);
    const char *err = "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\"}}";
    cr_assert_eq(gd_xl_in_anth_error(429, err, strlen(err), &b), 0);
    cr_assert_str_eq(b.data, "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
                             "\"message\":\"slow down\"}}");
    gd_buf_reset(&b);
    cr_assert_eq(gd_xl_in_anth_error(529, "x", 1, &b), 0);
    cr_assert_str_eq(b.data, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                             "\"message\":\"the upstream answered HTTP 529\"}}");
    gd_buf_free(&b);
}

Test(xl_in_anth_sse, event_sequence)
{
    static const char *const ev[] = {
        "{\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
        "\"assistant\",\"content\":\"\"}}]}",
        "{\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}",
        "{\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
        "\"index\":0,\"id\":\"t\",\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"\"}}]}}]}",
        "{\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
        "\"index\":0,\"function\":{\"arguments\":\"{}\"}}]}}]}",
        "{\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
        "\"tool_calls\"}]}",
        "{\"id\":\"c\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,"
        "\"completion_tokens\":2}}",
        "[DONE]",
    };
    struct gd_xl_in_anth_sse s;
    struct gd_buf b;
    gd_xl_in_anth_sse_init(&s);
    gd_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++)
        cr_assert_eq(gd_xl_in_anth_sse_event(&s, ev[i], strlen(ev[i]), &b), 0, "event %zu", i);
    cr_assert(s.finished);
    cr_assert_str_eq(
        b.data,
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"c\","
        "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],"
        "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,"
        "\"output_tokens\":0}}}\n\n"
        "event: ping\ndata: {\"type\":\"ping\"}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
        "\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"tool_use\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":3,"
        "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":2}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    /* an error object, and arguments for a call that is not open */
    gd_buf_reset(&b);
    gd_xl_in_anth_sse_init(&s);
    const char *e = "{\"error\":{\"message\":\"boom\"}}";
    cr_assert_eq(gd_xl_in_anth_sse_event(&s, e, strlen(e), &b), 0);
    cr_assert_str_eq(b.data, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                             "\"api_error\",\"message\":\"boom\"}}\n\n");
    gd_buf_reset(&b);
    gd_xl_in_anth_sse_init(&s);
    cr_assert_eq(gd_xl_in_anth_sse_event(&s, ev[3], strlen(ev[3]), &b), GD_EPARSE);
    cr_assert_eq(gd_xl_in_anth_sse_event(&s, "{", 1, &b), GD_EPARSE);
    gd_buf_free(&b);
}
