/* Golden tests of the inbound /v1/responses translation (xl_responses_in.h): requests to
 * chat form, chat answers to Response objects, chat chunks to the Responses event stream. */
#include "gateway/xl_responses_in.h"
#include "gateway/json_scan.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const char *req(const char *in, struct gd_xl_err *err, int *rc)
{
    static struct gd_buf b;
    gd_buf_free(&b);
    gd_buf_init(&b, 1 << 20);
    *rc = gd_xl_in_resp_request(in, strlen(in), &b, err);
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
    cr_assert_eq(err.status, 400);
    cr_assert_str_eq(err.param, param);
    cr_assert_not_null(strstr(err.message, part), "'%s' not in '%s'", part, err.message);
}

static void answer(const char *in, const char *want)
{
    struct gd_buf b;
    gd_buf_init(&b, 1 << 20);
    int rc = gd_xl_in_resp_response(in, strlen(in), 99, &b);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(b.data, want);
    gd_buf_free(&b);
}

Test(xl_in_resp_req, turns_images_tools_format_stream)
{
    golden("{\"model\":\"m\",\"instructions\":\"Be brief.\",\"input\":[{\"role\":\"developer\",\"c"
           "ontent\":\"dev\"},{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\""
           "see\"},{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,QUJD\",\"detail"
           "\":\"low\"}]},{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"ou"
           "tput_text\",\"text\":\"ok\"}]},{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\""
           ":\"f\",\"arguments\":\"{\\\"a\\\":1}\"},{\"type\":\"function_call\",\"call_id\":\"c2\""
           ",\"name\":\"g\",\"arguments\":\"{}\"},{\"type\":\"function_call_output\",\"call_id\":"
           "\"c1\",\"output\":\"r1\"},{\"type\":\"function_call_output\",\"call_id\":\"c2\",\"outp"
           "ut\":\"r2\"}],\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"description\":\"d\","
           "\"parameters\":{\"type\":\"object\"},\"strict\":true}],\"tool_choice\":{\"type\":\"fun"
           "ction\",\"name\":\"f\"},\"max_output_tokens\":50,\"temperature\":0.5,\"top_p\":1,\"tex"
           "t\":{\"format\":{\"type\":\"json_schema\",\"name\":\"s\",\"schema\":{\"type\":\"object"
           "\"},\"strict\":true}},\"user\":\"u\",\"metadata\":{\"k\":\"v\"},\"store\":true,\"paral"
           "lel_tool_calls\":false,\"stream\":true}",
           "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role"
           "\":\"system\",\"content\":\"dev\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
           "\"text\":\"see\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base"
           "64,QUJD\",\"detail\":\"low\"}}]},{\"role\":\"assistant\",\"content\":\"ok\",\"tool_cal"
           "ls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
           "\"{\\\"a\\\":1}\"}},{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":\"g\","
           "\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"r1\""
           "},{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"r2\"}],\"temperature\":0.5,"
           "\"top_p\":1,\"max_tokens\":50,\"tools\":[{\"type\":\"function\",\"function\":{\"name\""
           ":\"f\",\"description\":\"d\",\"parameters\":{\"type\":\"object\"},\"strict\":true}}],"
           "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}},\"parallel_tool_"
           "calls\":false,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":"
           "\"s\",\"schema\":{\"type\":\"object\"},\"strict\":true}},\"user\":\"u\",\"stream\":tru"
           "e,\"stream_options\":{\"include_usage\":true}}");
}

Test(xl_in_resp_req, string_input_json_object)
{
    golden("{\"model\":\"m\",\"input\":\"hi\",\"text\":{\"format\":{\"type\":\"json_object\"}},\"t"
           "ool_choice\":\"auto\",\"store\":false,\"truncation\":\"disabled\",\"include\":[]}",
           "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"response_form"
           "at\":{\"type\":\"json_object\"}}");
}

Test(xl_in_resp_req, function_call_without_assistant_text)
{
    golden("{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"q\"},{\"type\":\"function"
           "_call\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{}\"},{\"type\":\"function_ca"
           "ll_output\",\"call_id\":\"c\",\"output\":[{\"type\":\"input_text\",\"text\":\"r\"}]}]}",
           "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assis"
           "tant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function"
           "\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c\","
           "\"content\":\"r\"}]}");
}

Test(xl_in_resp_resp, text_and_calls_usage)
{
    answer("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700,\"model\":\"gpt"
           "\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi\",\""
           "tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\""
           "arguments\":\"{\\\"a\\\":1}\"}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prom"
           "pt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8,\"prompt_tokens_details\":{\""
           "cached_tokens\":2},\"completion_tokens_details\":{\"reasoning_tokens\":1}}}",
           "{\"id\":\"resp_chatcmpl-1\",\"object\":\"response\",\"created_at\":1700,\"status\":\"c"
           "ompleted\",\"error\":null,\"incomplete_details\":null,\"model\":\"gpt\",\"output\":[{"
           "\"id\":\"msg_chatcmpl-1\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"ass"
           "istant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hi\",\"annotations\":[]}]},"
           "{\"id\":\"fc_call_1\",\"type\":\"function_call\",\"status\":\"completed\",\"call_id\":"
           "\"call_1\",\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}],\"parallel_tool_calls\":tr"
           "ue,\"usage\":{\"input_tokens\":5,\"input_tokens_details\":{\"cached_tokens\":2},\"outp"
           "ut_tokens\":3,\"output_tokens_details\":{\"reasoning_tokens\":1},\"total_tokens\":8}}");
}

Test(xl_in_resp_resp, length_is_incomplete)
{
    answer("{\"id\":\"chatcmpl-2\",\"model\":\"gpt\",\"choices\":[{\"index\":0,\"message\":{\"role"
           "\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":\"length\"}]}",
           "{\"id\":\"resp_chatcmpl-2\",\"object\":\"response\",\"created_at\":99,\"status\":\"inc"
           "omplete\",\"error\":null,\"incomplete_details\":{\"reason\":\"max_output_tokens\"},\"m"
           "odel\":\"gpt\",\"output\":[{\"id\":\"msg_chatcmpl-2\",\"type\":\"message\",\"status\":"
           "\"incomplete\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":"
           "\"Hi\",\"annotations\":[]}]}],\"parallel_tool_calls\":true,\"usage\":{\"input_tokens\""
           ":0,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":0,\"output_tokens_"
           "details\":{\"reasoning_tokens\":0},\"total_tokens\":0}}");
}

Test(xl_in_resp_resp, content_filter_and_only_calls)
{
    answer("{\"id\":\"x\",\"created\":5,\"model\":\"gpt\",\"choices\":[{\"index\":0,\"message\":{"
           "\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"k\",\"type\":\"funct"
           "ion\",\"function\":{\"name\":\"g\",\"arguments\":\"\"}}]},\"finish_reason\":\"content_"
           "filter\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}",
           "{\"id\":\"resp_x\",\"object\":\"response\",\"created_at\":5,\"status\":\"incomplete\","
           "\"error\":null,\"incomplete_details\":{\"reason\":\"content_filter\"},\"model\":\"gpt"
           "\",\"output\":[{\"id\":\"fc_k\",\"type\":\"function_call\",\"status\":\"completed\",\""
           "call_id\":\"k\",\"name\":\"g\",\"arguments\":\"\"}],\"parallel_tool_calls\":true,\"usa"
           "ge\":{\"input_tokens\":1,\"input_tokens_details\":{\"cached_tokens\":0},\"output_token"
           "s\":2,\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":3}}");
}

Test(xl_in_resp_resp, refusal)
{
    answer("{\"id\":\"y\",\"created\":5,\"model\":\"gpt\",\"choices\":[{\"index\":0,\"message\":{"
           "\"role\":\"assistant\",\"content\":null,\"refusal\":\"no\"},\"finish_reason\":\"stop\""
           "}]}",
           "{\"id\":\"resp_y\",\"object\":\"response\",\"created_at\":5,\"status\":\"completed\","
           "\"error\":null,\"incomplete_details\":null,\"model\":\"gpt\",\"output\":[{\"id\":\"msg"
           "_y\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":"
           "[{\"type\":\"refusal\",\"refusal\":\"no\"}]}],\"parallel_tool_calls\":true,\"usage\":{"
           "\"input_tokens\":0,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":0,"
           "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":0}}");
}

static const char *const WANT_LENGTH =
    "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\""
    "response\":{\"id\":\"resp_c2\",\"object\":\"response\",\"created_at\":7,\"status\":\"i"
    "n_progress\",\"error\":null,\"incomplete_details\":null,\"model\":\"gpt\",\"output\":["
    "],\"parallel_tool_calls\":true,\"usage\":null}}\n\nevent: response.in_progress\ndata: "
    "{\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":{\"id\":\"resp_c"
    "2\",\"object\":\"response\",\"created_at\":7,\"status\":\"in_progress\",\"error\":null"
    ",\"incomplete_details\":null,\"model\":\"gpt\",\"output\":[],\"parallel_tool_calls\":t"
    "rue,\"usage\":null}}\n\nevent: response.output_item.added\ndata: {\"type\":\"response."
    "output_item.added\",\"sequence_number\":2,\"output_index\":0,\"item\":{\"id\":\"msg_c2"
    "\",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":"
    "[]}}\n\nevent: response.content_part.added\ndata: {\"type\":\"response.content_part.ad"
    "ded\",\"sequence_number\":3,\"item_id\":\"msg_c2\",\"output_index\":0,\"content_index"
    "\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\",\"annotations\":[]}}\n\nevent: r"
    "esponse.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_n"
    "umber\":4,\"item_id\":\"msg_c2\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi"
    "\",\"logprobs\":[]}\n\nevent: response.output_text.done\ndata: {\"type\":\"response.ou"
    "tput_text.done\",\"sequence_number\":5,\"item_id\":\"msg_c2\",\"output_index\":0,\"con"
    "tent_index\":0,\"text\":\"Hi\",\"logprobs\":[]}\n\nevent: response.content_part.done\n"
    "data: {\"type\":\"response.content_part.done\",\"sequence_number\":6,\"item_id\":\"msg"
    "_c2\",\"output_index\":0,\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text"
    "\":\"Hi\",\"annotations\":[]}}\n\nevent: response.output_item.done\ndata: {\"type\":\""
    "response.output_item.done\",\"sequence_number\":7,\"output_index\":0,\"item\":{\"id\":"
    "\"msg_c2\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"cont"
    "ent\":[{\"type\":\"output_text\",\"text\":\"Hi\",\"annotations\":[]}]}}\n\nevent: resp"
    "onse.incomplete\ndata: {\"type\":\"response.incomplete\",\"sequence_number\":8,\"respo"
    "nse\":{\"id\":\"resp_c2\",\"object\":\"response\",\"created_at\":7,\"status\":\"incomp"
    "lete\",\"error\":null,\"incomplete_details\":{\"reason\":\"max_output_tokens\"},\"mode"
    "l\":\"gpt\",\"output\":[{\"id\":\"msg_c2\",\"type\":\"message\",\"status\":\"completed"
    "\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hi\",\"ann"
    "otations\":[]}]}],\"parallel_tool_calls\":true,\"usage\":{\"input_tokens\":0,\"input_t"
    "okens_details\":{\"cached_tokens\":0},\"output_tokens\":0,\"output_tokens_details\":{"
    "\"reasoning_tokens\":0},\"total_tokens\":0}}}\n\n";

static const char *const WANT_FAILED =
    "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\""
    "response\":{\"id\":\"resp_c3\",\"object\":\"response\",\"created_at\":7,\"status\":\"i"
    "n_progress\",\"error\":null,\"incomplete_details\":null,\"model\":\"gpt\",\"output\":["
    "],\"parallel_tool_calls\":true,\"usage\":null}}\n\nevent: response.in_progress\ndata: "
    "{\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":{\"id\":\"resp_c"
    "3\",\"object\":\"response\",\"created_at\":7,\"status\":\"in_progress\",\"error\":null"
    ",\"incomplete_details\":null,\"model\":\"gpt\",\"output\":[],\"parallel_tool_calls\":t"
    "rue,\"usage\":null}}\n\nevent: response.output_item.added\ndata: {\"type\":\"response."
    "output_item.added\",\"sequence_number\":2,\"output_index\":0,\"item\":{\"id\":\"msg_c3"
    "\",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":"
    "[]}}\n\nevent: response.content_part.added\ndata: {\"type\":\"response.content_part.ad"
    "ded\",\"sequence_number\":3,\"item_id\":\"msg_c3\",\"output_index\":0,\"content_index"
    "\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\",\"annotations\":[]}}\n\nevent: r"
    "esponse.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_n"
    "umber\":4,\"item_id\":\"msg_c3\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi"
    "\",\"logprobs\":[]}\n\nevent: response.failed\ndata: {\"type\":\"response.failed\",\"s"
    "equence_number\":5,\"response\":{\"id\":\"resp_c3\",\"object\":\"response\",\"created_"
    "at\":7,\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"boom\""
    "},\"incomplete_details\":null,\"model\":\"gpt\",\"output\":[],\"parallel_tool_calls\":"
    "true,\"usage\":null}}\n\n";

Test(xl_in_resp_req, refusals_name_the_parameter)
{
    refused("{\"model\":\"m\",\"input\":\"hi\",\"previous_response_id\":\"resp_1\"}",
            "previous_response_id", "keeps no state");
    refused("{\"model\":\"m\",\"input\":\"hi\",\"conversation\":\"conv_1\"}", "conversation",
            "keeps no state");
    refused("{\"model\":\"m\",\"input\":\"hi\",\"background\":true}", "background", "foreground");
    refused("{\"model\":\"m\",\"input\":\"hi\",\"tools\":[{\"type\":\"web_search\"}]}", "tools.0",
            "built-in tool 'web_search'");
    refused("{\"model\":\"m\",\"input\":\"hi\",\"tools\":[{\"type\":\"file_search\"}]}", "tools.0",
            "built-in tool 'file_search'");
    refused("{\"model\":\"m\",\"input\":[{\"type\":\"reasoning\",\"id\":\"r\"}]}", "input.0",
            "item type 'reasoning'");
    refused("{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_file\","
            "\"file_id\":\"f\"}]}]}",
            "input.0.content.0", "part type 'input_file'");
    refused("{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\","
            "\"file_id\":\"f\"}]}]}",
            "input.0.content.0", "file_id");
    refused("{\"model\":\"m\",\"input\":\"hi\",\"reasoning\":{\"effort\":\"low\"}}", "reasoning",
            "not supported");
    refused("{\"model\":\"m\",\"input\":\"hi\",\"include\":[\"x\"]}", "include", "not supported");
    refused("{\"model\":\"m\",\"input\":\"hi\",\"truncation\":\"auto\"}", "truncation", "disabled");
    refused("{\"model\":\"m\",\"input\":[]}", "input", "non-empty");
    refused("{\"input\":\"hi\"}", "model", "model");
    refused("{\"model\":\"m\",\"input\":\"hi\",\"max_output_tokens\":0}", "max_output_tokens",
            "positive");
    refused("{\"model\":\"m\",\"input\":\"hi\",\"temperature\":3}", "temperature", "0 to 2");
    refused("{\"model\":\"m\",\"input\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "input.0",
            "role");
    refused("{\"model\":\"m\",\"input\":[{\"type\":\"function_call\",\"name\":\"f\"}]}", "input.0",
            "call_id");
    refused("{\"model\":\"m\",\"input\":\"hi\",\"text\":{\"format\":{\"type\":\"json_schema\"}}}",
            "text.format", "json_schema");
    refused("{\"model\":\"m\",\"input\":\"hi\",\"tool_choice\":{\"type\":\"web_search\"}}",
            "tool_choice", "tool_choice");
}

Test(xl_in_resp_req, not_json)
{
    struct gd_xl_err err;
    int rc;
    req("{\"model\":", &err, &rc);
    cr_assert_eq(rc, GD_EINVAL);
    req("[1]", &err, &rc);
    cr_assert_eq(rc, GD_EINVAL);
}

Test(xl_in_resp_resp, not_a_chat_completion)
{
    struct gd_buf b;
    gd_buf_init(&b, 1 << 20);
    cr_assert_eq(gd_xl_in_resp_response("{\"choices\":[]}", 14, 1, &b), GD_EPARSE);
    cr_assert_eq(gd_xl_in_resp_response("nope", 4, 1, &b), GD_EPARSE);
    cr_assert_eq(b.len, 0);
    gd_buf_free(&b);
}

static void feed(struct gd_xl_in_resp_sse *s, struct gd_buf *b, const char *data)
{
    cr_assert_eq(gd_xl_in_resp_sse_event(s, data, strlen(data), b), 0, "event %s", data);
}

Test(xl_in_resp_sse, length_stream_golden)
{
    struct gd_xl_in_resp_sse s;
    struct gd_buf b;
    gd_buf_init(&b, 1 << 20);
    gd_xl_in_resp_sse_init(&s, 99);
    feed(&s, &b,
         "{\"id\":\"c2\",\"created\":7,\"model\":\"gpt\",\"choices\":[{\"index\":0,\"delta\":"
         "{\"content\":\"Hi\"}}]}");
    feed(&s, &b,
         "{\"id\":\"c2\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}");
    feed(&s, &b, "[DONE]");
    cr_assert(s.finished);
    cr_assert_str_eq(b.data, WANT_LENGTH);
    gd_xl_in_resp_sse_free(&s);
    gd_buf_free(&b);
}

Test(xl_in_resp_sse, upstream_error_is_response_failed)
{
    struct gd_xl_in_resp_sse s;
    struct gd_buf b;
    gd_buf_init(&b, 1 << 20);
    gd_xl_in_resp_sse_init(&s, 99);
    feed(&s, &b,
         "{\"id\":\"c3\",\"created\":7,\"model\":\"gpt\",\"choices\":[{\"index\":0,\"delta\":"
         "{\"content\":\"Hi\"}}]}");
    feed(&s, &b, "{\"error\":{\"message\":\"boom\"}}");
    feed(&s, &b, "{\"id\":\"c3\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"late\"}}]}");
    cr_assert_str_eq(b.data, WANT_FAILED);
    gd_xl_in_resp_sse_free(&s);
    gd_buf_free(&b);
}

/* Text then a tool call: the event order, the sequence numbers, and the final response
 * carrying both items whole. */
Test(xl_in_resp_sse, text_then_function_call)
{
    static const char *const chunks[] = {
        "{\"id\":\"c1\",\"created\":7,\"model\":\"gpt\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"role\":\"assistant\",\"content\":\"\"}}]}",
        "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"He\"}}]}",
        "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"y\"}}]}",
        "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":"
        "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}",
        "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
        "\"function\":{\"arguments\":\"{\\\"a\\\"\"}}]}}]}",
        "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
        "\"function\":{\"arguments\":\":1}\"}}]}}]}",
        "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
        "{\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,"
        "\"total_tokens\":8,\"prompt_tokens_details\":{\"cached_tokens\":1}}}",
        "[DONE]"};
    static const char *const want[] = {"response.created",
                                       "response.in_progress",
                                       "response.output_item.added",
                                       "response.content_part.added",
                                       "response.output_text.delta",
                                       "response.output_text.delta",
                                       "response.output_text.done",
                                       "response.content_part.done",
                                       "response.output_item.done",
                                       "response.output_item.added",
                                       "response.function_call_arguments.delta",
                                       "response.function_call_arguments.delta",
                                       "response.function_call_arguments.done",
                                       "response.output_item.done",
                                       "response.completed"};
    struct gd_xl_in_resp_sse s;
    struct gd_buf b;
    gd_buf_init(&b, 1 << 20);
    gd_xl_in_resp_sse_init(&s, 99);
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++)
        feed(&s, &b, chunks[i]);
    gd_buf_putc(&b, '\0');
    char *p = b.data;
    cJSON *last = NULL;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char head[96];
        snprintf(head, sizeof head, "event: %s\ndata: ", want[i]);
        cr_assert_eq(strncmp(p, head, strlen(head)), 0, "event %zu: %.60s", i, p);
        char *data = p + strlen(head), *end = strstr(data, "\n\n");
        cr_assert_not_null(end);
        cJSON *j = cJSON_ParseWithLength(data, (size_t)(end - data));
        cr_assert(cJSON_IsObject(j));
        cr_assert_str_eq(cJSON_GetObjectItem(j, "type")->valuestring, want[i]);
        cr_assert_eq(cJSON_GetObjectItem(j, "sequence_number")->valueint, (int)i);
        cJSON_Delete(last);
        last = j;
        p = end + 2;
    }
    cr_assert_eq(*p, '\0');
    cJSON *r = cJSON_GetObjectItem(last, "response");
    cJSON *out = cJSON_GetObjectItem(r, "output");
    cr_assert_eq(cJSON_GetArraySize(out), 2);
    cJSON *text = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(out, 0), "content"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(text, "text")->valuestring, "Hey");
    cJSON *fc = cJSON_GetArrayItem(out, 1);
    cr_assert_str_eq(cJSON_GetObjectItem(fc, "call_id")->valuestring, "call_1");
    cr_assert_str_eq(cJSON_GetObjectItem(fc, "arguments")->valuestring, "{\"a\":1}");
    cJSON *u = cJSON_GetObjectItem(r, "usage");
    cr_assert_eq(cJSON_GetObjectItem(u, "input_tokens")->valueint, 5);
    cr_assert_eq(cJSON_GetObjectItem(u, "total_tokens")->valueint, 8);
    cr_assert_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(u, "input_tokens_details"), "cached_tokens")
            ->valueint,
        1);
    cJSON_Delete(last);
    gd_xl_in_resp_sse_free(&s);
    gd_buf_free(&b);
}

Test(xl_in_resp_sse, bad_order_and_limits)
{
    struct gd_xl_in_resp_sse s;
    struct gd_buf b;
    gd_buf_init(&b, 1 << 22);
    gd_xl_in_resp_sse_init(&s, 99);
    /* arguments for a call that was never opened */
    const char *orphan = "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
                         "\"index\":3,\"function\":{\"arguments\":\"x\"}}]}}]}";
    cr_assert_eq(gd_xl_in_resp_sse_event(&s, orphan, strlen(orphan), &b), GD_EPARSE);
    cr_assert_eq(gd_xl_in_resp_sse_event(&s, "nope", 4, &b), GD_EPARSE);
    gd_xl_in_resp_sse_free(&s);
    gd_xl_in_resp_sse_init(&s, 99);
    char call[160];
    int rc = 0;
    for (int i = 0; i <= GD_XL_RESP_MAX_OUTPUT && rc == 0; i++) {
        snprintf(call, sizeof call,
                 "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":%d,"
                 "\"id\":\"k%d\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}",
                 i, i);
        rc = gd_xl_in_resp_sse_event(&s, call, strlen(call), &b);
    }
    cr_assert_eq(rc, GD_ELIMIT);
    gd_xl_in_resp_sse_free(&s);
    gd_buf_free(&b);
}

Test(xl_in_resp_native, usage_from_object_and_completed_event)
{
    struct gd_gw_usage u;
    const char *obj = "{\"id\":\"r\",\"usage\":{\"input_tokens\":7,\"output_tokens\":5,"
                      "\"total_tokens\":12}}";
    cr_assert_eq(gd_xl_in_resp_native_usage(obj, strlen(obj), &u), 1);
    cr_assert_eq(u.prompt_tokens, 7);
    cr_assert_eq(u.completion_tokens, 5);
    cr_assert_eq(u.total_tokens, 12);
    const char *ev = "{\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":"
                     "3,\"output_tokens\":2}}}";
    cr_assert_eq(gd_xl_in_resp_native_usage(ev, strlen(ev), &u), 1);
    cr_assert_eq(u.prompt_tokens, 3);
    cr_assert_eq(u.total_tokens, -1);
    const char *none = "{\"type\":\"response.created\",\"response\":{\"usage\":null}}";
    cr_assert_eq(gd_xl_in_resp_native_usage(none, strlen(none), &u), 0);
    cr_assert_eq(u.prompt_tokens, -1);
    cr_assert_eq(gd_xl_in_resp_native_usage("x", 1, &u), 0);
}
