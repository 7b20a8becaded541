/* Golden tests of the OpenAI <-> Anthropic Messages translation (xl_anthropic.h). */
#include "gateway/xl_anthropic.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static char *req(const char *in, struct gd_xl_err *err, int *rc)
{
    static struct gd_buf b;
    gd_buf_free(&b);
    gd_buf_init(&b, 1 << 20);
    *rc = gd_xl_anth_request(in, strlen(in), "claude-x", &b, err);
    return b.data ? b.data : "";
}

static void golden_req(const char *in, const char *want)
{
    struct gd_xl_err err;
    int rc;
    const char *got = req(in, &err, &rc);
    cr_assert_eq(rc, 0, "rc %d: %s (%s)", rc, err.message, err.param);
    cr_assert_str_eq(got, want);
}

static void refused(const char *in, const char *param, const char *msg_part)
{
    struct gd_xl_err err;
    int rc;
    req(in, &err, &rc);
    cr_assert_eq(rc, GD_EINVAL, "accepted: %s", in);
    cr_assert_eq(err.status, 400);
    cr_assert_str_eq(err.param, param);
    cr_assert_not_null(strstr(err.message, msg_part), "'%s' not in '%s'", msg_part, err.message);
}

Test(xl_anth_req, system_multi_turn_defaults)
{
    golden_req("{\"model\":\"alias\",\"messages\":[{\"role\":\"system\",\"content\":\"Be "
               "brief.\"},{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"No "
               "lists.\"}]},{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\","
               "\"content\":\"hello\"},{\"role\":\"user\",\"content\":\"again\"}],"
               "\"temperature\":0.5,\"top_p\":0.9,\"stop\":\"END\",\"user\":\"u1\","
               "\"n\":1,\"presence_penalty\":0,\"stream\":false}",
               "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
               "\"text\",\"text\":\"hi\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":"
               "\"text\",\"text\":\"hello\"}]},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
               "\"text\":\"again\"}]}],\"system\":[{\"type\":\"text\",\"text\":\"Be brief.\"},"
               "{\"type\":\"text\",\"text\":\"No lists.\"}],\"max_tokens\":4096,"
               "\"stop_sequences\":[\"END\"],\"temperature\":0.5,\"top_p\":0.9,"
               "\"metadata\":{\"user_id\":\"u1\"}}");
}

Test(xl_anth_req, max_tokens_stop_list_stream_and_consecutive_users_merge)
{
    golden_req("{\"model\":\"a\",\"max_completion_tokens\":50,\"max_tokens\":9,\"stream\":true,"
               "\"stream_options\":{\"include_usage\":true},\"stop\":[\"a\",\"b\"],"
               "\"messages\":[{\"role\":\"user\",\"content\":\"one\"},{\"role\":\"user\","
               "\"content\":\"two\"}]}",
               "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
               "\"text\",\"text\":\"one\"},{\"type\":\"text\",\"text\":\"two\"}]}],"
               "\"max_tokens\":50,\"stop_sequences\":[\"a\",\"b\"],\"stream\":true}");
    golden_req("{\"max_tokens\":7,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
               "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
               "\"text\",\"text\":\"x\"}]}],\"max_tokens\":7}");
}

Test(xl_anth_req, images)
{
    golden_req("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
               "\"what?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;"
               "base64,iVBORw0K\",\"detail\":\"low\"}},{\"type\":\"image_url\",\"image_url\":"
               "{\"url\":\"https://example.com/cat.jpg\"}}]}]}",
               "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
               "\"text\",\"text\":\"what?\"},{\"type\":\"image\",\"source\":{\"type\":"
               "\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0K\"}},{\"type\":"
               "\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://example.com/cat.jpg\"}}"
               "]}],\"max_tokens\":4096}");
    refused("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
            "\"image_url\":{\"url\":\"ftp://x/y.png\"}}]}]}",
            "messages[0].content[0]", "http(s) or data: URL");
    refused("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
            "\"image_url\":{\"url\":\"data:image/png,abc\"}}]}]}",
            "messages[0].content[0]", "base64");
    refused("{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"image_url\","
            "\"image_url\":{\"url\":\"https://x/y.png\"}}]}]}",
            "messages[0].content[0]", "not supported");
}

Test(xl_anth_req, tools_both_ways)
{
    golden_req(
        "{\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},{\"role\":\"assistant\","
        "\"content\":null,\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
        "{\"id\":\"toolu_2\",\"type\":\"function\",\"function\":{\"name\":\"now\","
        "\"arguments\":\"\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":"
        "\"18C\"},{\"role\":\"tool\",\"tool_call_id\":\"toolu_2\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"noon\"}]},{\"role\":\"user\",\"content\":\"thanks\"}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"description\":\"Weather\",\"parameters\":{\"type\":\"object\",\"properties\":"
        "{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}},{\"type\":\"function\","
        "\"function\":{\"name\":\"now\"}}],\"tool_choice\":\"required\","
        "\"parallel_tool_calls\":false}",
        "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
        "\"text\":\"weather?\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
        "\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"now\",\"input\":{}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
        "\"content\":[{\"type\":\"text\",\"text\":\"18C\"}]},{\"type\":\"tool_result\","
        "\"tool_use_id\":\"toolu_2\",\"content\":[{\"type\":\"text\",\"text\":\"noon\"}]},"
        "{\"type\":\"text\",\"text\":\"thanks\"}]}],\"max_tokens\":4096,\"tools\":[{\"name\":"
        "\"get_weather\",\"description\":\"Weather\",\"input_schema\":{\"type\":\"object\","
        "\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}},{\"name\":"
        "\"now\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}],\"tool_choice\":"
        "{\"type\":\"any\",\"disable_parallel_tool_use\":true}}");
    golden_req("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":"
               "\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}}"
               "],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}}}",
               "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
               "\"text\",\"text\":\"x\"}]}],\"max_tokens\":4096,\"tools\":[{\"name\":\"f\","
               "\"input_schema\":{\"type\":\"object\"}}],\"tool_choice\":{\"type\":\"tool\","
               "\"name\":\"f\"}}");
    refused("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"a\",\"function\":"
            "{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}",
            "messages[0].tool_calls[0]", "JSON object");
    refused("{\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "messages[0]",
            "tool_call_id");
}

Test(xl_anth_req, unsupported_parameters_are_refused_by_name)
{
    const char *m = "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]";
    char buf[512];
    static const char *const cases[][3] = {
        {"\"n\":2", "n", "not supported by Anthropic"},
        {"\"logprobs\":true", "logprobs", "not supported"},
        {"\"presence_penalty\":0.5", "presence_penalty", "not supported"},
        {"\"frequency_penalty\":-1", "frequency_penalty", "not supported"},
        {"\"response_format\":{\"type\":\"json_object\"}", "response_format", "not supported"},
        {"\"seed\":7", "seed", "not supported"},
        {"\"temperature\":1.5", "temperature", "from 0 to 1"},
        {"\"max_tokens\":0", "max_tokens", "positive integer"},
        {"\"max_completion_tokens\":1.5", "max_completion_tokens", "positive integer"},
        {"\"stop\":[1]", "stop", "array of strings"},
        {"\"bogus\":1", "bogus", "Unrecognized request argument"},
        {"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"strict\":true}}]",
         "tools[0]", "strict"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(buf, sizeof buf, "{%s,%s}", m, cases[i][0]);
        refused(buf, cases[i][1], cases[i][2]);
    }
    refused("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"},{\"role\":\"system\","
            "\"content\":\"late\"}]}",
            "messages[1]", "only before the first");
    refused("{\"messages\":[]}", "messages", "non-empty");
    refused("{\"messages\":[{\"role\":\"function\",\"content\":\"x\"}]}", "messages[0]",
            "role 'function'");
    refused("[1]", "", "JSON object");
    refused("{\"messages\":", "", "could not parse");
    /* default-valued parameters ask for nothing: accepted and dropped */
    snprintf(buf, sizeof buf,
             "{%s,\"n\":1,\"logprobs\":false,\"response_format\":{\"type\":\"text\"},"
             "\"frequency_penalty\":0,\"logit_bias\":{},\"seed\":null}",
             m);
    golden_req(buf, "{\"model\":\"claude-x\",\"messages\":[{\"role\":\"user\",\"content\":[{"
                    "\"type\":\"text\",\"text\":\"x\"}]}],\"max_tokens\":4096}");
}

static const char *resp(const char *in, struct gd_gw_usage *u, int *rc)
{
    static struct gd_buf b;
    gd_buf_free(&b);
    gd_buf_init(&b, 1 << 20);
    *rc = gd_xl_anth_response(in, strlen(in), 1700000000, &b, u);
    return b.data ? b.data : "";
}

Test(xl_anth_resp, text_and_tool_use)
{
    struct gd_gw_usage u;
    int rc;
    const char *got =
        resp("{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\","
             "\"content\":[{\"type\":\"text\",\"text\":\"Let me \"},{\"type\":\"text\",\"text\":"
             "\"check.\"},{\"type\":\"tool_use\",\"id\":\"toolu_9\",\"name\":\"get_weather\","
             "\"input\":{\"city\":\"Paris\",\"days\":[1,2]}}],\"stop_reason\":\"tool_use\","
             "\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":5,"
             "\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":20}}",
             &u, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(
        got, "{\"id\":\"msg_1\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":"
             "\"claude-x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
             "\"content\":\"Let me check.\",\"tool_calls\":[{\"id\":\"toolu_9\",\"type\":"
             "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
             "\"{\\\"city\\\":\\\"Paris\\\",\\\"days\\\":[1,2]}\"}}],\"refusal\":null},"
             "\"logprobs\":null,\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":"
             "130,\"completion_tokens\":5,\"total_tokens\":135,\"prompt_tokens_details\":"
             "{\"cached_tokens\":100,\"cache_creation_tokens\":20}}}");
    cr_assert_eq(u.prompt_tokens, 130);
    cr_assert_eq(u.completion_tokens, 5);
}

Test(xl_anth_resp, stop_reasons)
{
    static const char *const map[][2] = {{"end_turn", "\"stop\""},
                                         {"stop_sequence", "\"stop\""},
                                         {"max_tokens", "\"length\""},
                                         {"refusal", "\"content_filter\""}};
    char in[512], want[64];
    for (size_t i = 0; i < 4; i++) {
        struct gd_gw_usage u;
        int rc;
        snprintf(in, sizeof in,
                 "{\"id\":\"m\",\"type\":\"message\",\"content\":[],\"stop_reason\":\"%s\"}",
                 map[i][0]);
        const char *got = resp(in, &u, &rc);
        cr_assert_eq(rc, 0);
        snprintf(want, sizeof want, "\"finish_reason\":%s}", map[i][1]);
        cr_assert_not_null(strstr(got, want), "%s", got);
        cr_assert_not_null(strstr(got, "\"content\":null"), "%s", got);
    }
    struct gd_gw_usage u;
    int rc;
    resp("{\"type\":\"error\",\"error\":{}}", &u, &rc);
    cr_assert_eq(rc, GD_EPARSE);
    resp("not json", &u, &rc);
    cr_assert_eq(rc, GD_EPARSE);
}

Test(xl_anth_resp, errors)
{
    struct gd_buf b;
    gd_buf_init(&b, 1 << 16);
    const char *in = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                     "\"Overloaded\"}}";
    cr_assert_eq(gd_xl_anth_error(529, in, strlen(in), &b), 0);
    cr_assert_str_eq(b.data, "{\"error\":{\"message\":\"Overloaded\",\"type\":\"overloaded_error\","
                             "\"param\":null,\"code\":\"overloaded_error\"}}");
    gd_buf_reset(&b);
    cr_assert_eq(gd_xl_anth_error(502, "<html>", 6, &b), 0);
    cr_assert_not_null(strstr(b.data, "HTTP 502 without an error body"));
    cr_assert_not_null(strstr(b.data, "\"type\":\"api_error\""));
    gd_buf_free(&b);
}

/* Feeds events (data JSON each) and returns everything emitted. */
static const char *stream(struct gd_xl_anth_sse *s, const char *const *ev, size_t n, int *rc)
{
    static struct gd_buf b;
    gd_buf_free(&b);
    gd_buf_init(&b, 1 << 20);
    *rc = 0;
    for (size_t i = 0; i < n && *rc == 0; i++)
        *rc = gd_xl_anth_sse_event(s, ev[i], strlen(ev[i]), &b);
    return b.data ? b.data : "";
}

#define HEAD                                                                                       \
    "data: {\"id\":\"msg_s\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":"        \
    "\"claude-x\",\"choices\":["
#define TAIL ",\"logprobs\":null,\"finish_reason\":null}]}\n\n"

Test(xl_anth_sse, text_tools_usage_done)
{
    static const char *const ev[] = {
        "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_s\",\"type\":\"message\","
        "\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"usage\":"
        "{\"input_tokens\":12,\"output_tokens\":1,\"cache_read_input_tokens\":3}}}",
        "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
        "\"text\":\"\"}}",
        "{\"type\":\"ping\"}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"Hi \\\"there\\\"\"}}",
        "{\"type\":\"content_block_stop\",\"index\":0}",
        "{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\","
        "\"id\":\"toolu_1\",\"name\":\"f\",\"input\":{}}}",
        "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"\"}}",
        "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"{\\\"a\\\": 1\"}}",
        "{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"}\"}}",
        "{\"type\":\"content_block_stop\",\"index\":1}",
        "{\"type\":\"some_future_event\"}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":"
        "null},\"usage\":{\"output_tokens\":15}}",
        "{\"type\":\"message_stop\"}",
        "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"after stop\"}}",
    };
    struct gd_xl_anth_sse s;
    gd_xl_anth_sse_init(&s, 1, 7);
    int rc;
    const char *got = stream(&s, ev, sizeof ev / sizeof ev[0], &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(
        got, HEAD
        "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}" TAIL HEAD
        "{\"index\":0,\"delta\":{\"content\":\"Hi \\\"there\\\"\"}" TAIL HEAD
        "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"toolu_1\",\"type\":"
        "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}" TAIL HEAD
        "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
        "\"{\\\"a\\\": 1\"}}]}" TAIL HEAD
        "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
        "\"}\"}}]}" TAIL HEAD
        "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]}\n\n" HEAD
        "],\"usage\":{\"prompt_tokens\":15,\"completion_tokens\":15,\"total_tokens\":30,"
        "\"prompt_tokens_details\":{\"cached_tokens\":3,\"cache_creation_tokens\":0}}}\n\n"
        "data: [DONE]\n\n");
    cr_assert(s.finished);
    struct gd_gw_usage u;
    cr_assert_eq(gd_xl_anth_sse_usage(&s, &u), 1);
    cr_assert_eq(u.prompt_tokens, 15);
    cr_assert_eq(u.completion_tokens, 15);
}

Test(xl_anth_sse, no_usage_chunk_unless_asked_and_errors)
{
    static const char *const ev[] = {
        "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_s\",\"model\":\"claude-x\"}}",
        "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"}}",
        "{\"type\":\"message_stop\"}",
    };
    struct gd_xl_anth_sse s;
    gd_xl_anth_sse_init(&s, 0, 7);
    int rc;
    const char *got = stream(&s, ev, 3, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(got, HEAD
                     "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}" TAIL HEAD
                     "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":"
                     "\"length\"}]}\n\ndata: [DONE]\n\n");
    static const char *const err[] = {
        "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_s\",\"model\":\"claude-x\"}}",
        "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
    };
    gd_xl_anth_sse_init(&s, 0, 7);
    got = stream(&s, err, 2, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_not_null(strstr(got, "event: error\ndata: {\"error\":{\"message\":\"Overloaded\","
                                   "\"type\":\"overloaded_error\""),
                       "%s", got);
    cr_assert_not_null(strstr(got, "\n\ndata: [DONE]\n\n"));
    cr_assert(s.finished);
    /* out of order or malformed */
    static const char *const bad[][2] = {
        {"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
         "\"text\":\"x\"}}",
         NULL},
        {"{\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}",
         "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\","
         "\"partial_json\":\"x\"}}"},
        {"{\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}",
         "{\"type\":\"content_block_start\",\"index\":5000,\"content_block\":{\"type\":\"text\"}}"},
        {"{\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}", "{\"type\":"},
    };
    static const int want[] = {GD_EPARSE, GD_EPARSE, GD_ELIMIT, GD_EPARSE};
    for (size_t i = 0; i < 4; i++) {
        gd_xl_anth_sse_init(&s, 0, 7);
        stream(&s, bad[i], bad[i][1] ? 2 : 1, &rc);
        cr_assert_eq(rc, want[i], "case %zu: %d", i, rc);
    }
}
