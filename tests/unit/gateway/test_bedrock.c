/* type: bedrock — the config keys (gw_config_bedrock.h), the adapter's path and signed
 * headers (gw_adapter_bedrock.c) and golden tests of the Converse translators
 * (xl_bedrock.h), streams fed as real event stream bytes. JSON is written with ' for " (q()
 * swaps them) to keep the goldens readable. */
#include "gateway/gw_adapter.h"
#include "gateway/gw_config.h"
#include "gateway/gw_config_bedrock.h"
#include "gateway/xl_bedrock.h"
#include "girder/error.h"
#include "gw_test_config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const char *q(const char *s)
{
    static char *ring[64];
    static unsigned n;
    char *d = strdup(s);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    free(ring[n % 64]);
    ring[n++ % 64] = d;
    return d;
}

static void clear_env(void)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
}

/* --- config --------------------------------------------------------------------------- */

Test(bedrock_config, keys_defaults_and_environment)
{
    clear_env();
    struct gd_config *cfg = NULL;
    struct gd_buf errs;
    gd_buf_init(&errs, 1 << 16);
    const char *y = "providers:\n"
                    "  - {name: b, type: bedrock, region: eu-west-3, aws_access_key_id: AKIDX,\n"
                    "     aws_secret_access_key: sk-secret, aws_session_token: tok}\n"
                    "  - {name: e, type: bedrock, base_url: 'http://127.0.0.1:9/'}\n"
                    "models:\n  - {alias: m, deployments: [{provider: b, model: x}]}\n";
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "envtok", 1);
    setenv("AWS_REGION", "us-west-2", 1);
    cr_assert_eq(gw_test_load(y, &cfg, &errs), 0, "%s", errs.data ? errs.data : "");
    const struct gd_gw_config *c = gd_gw_config_get(cfg);
    const struct gd_gw_bedrock_cfg *b = c->providers[0].bedrock;
    cr_assert_eq(c->providers[0].type, GD_GW_PROVIDER_BEDROCK);
    cr_assert_str_eq(c->providers[0].base_url, "https://bedrock-runtime.eu-west-3.amazonaws.com");
    cr_assert_str_eq(b->region, "eu-west-3");
    cr_assert_str_eq(b->access_key_id, "AKIDX");
    cr_assert_str_eq(b->secret_access_key, "sk-secret");
    cr_assert_str_eq(b->session_token, "tok");
    b = c->providers[1].bedrock;
    cr_assert_str_eq(c->providers[1].base_url, "http://127.0.0.1:9");
    cr_assert_str_eq(b->region, "us-west-2");
    cr_assert_str_eq(b->access_key_id, "AKIDENV");
    cr_assert_str_eq(b->secret_access_key, "envsecret");
    cr_assert_str_eq(b->session_token, "envtok");
    gd_config_unref(cfg);
    gd_buf_free(&errs);
    clear_env();
}

Test(bedrock_config, errors_with_positions)
{
    clear_env();
    gw_test_expect_error("providers:\n  - {name: b, type: bedrock, aws_access_key_id: A,\n"
                         "     aws_secret_access_key: sk-secret}\n",
                         "t.yaml:2:5: key 'region': type: bedrock needs region (or AWS_REGION");
    gw_test_expect_error("providers:\n  - {name: b, type: bedrock, region: us-east-1}\n",
                         "type: bedrock needs aws_access_key_id and aws_secret_access_key (or "
                         "AWS_ACCESS_KEY_ID");
    gw_test_expect_error("providers:\n  - {name: b, type: bedrock, region: US_EAST, "
                         "aws_access_key_id: A, aws_secret_access_key: sk-secret}\n",
                         "t.yaml:2:38: key 'region': region: expected an AWS region");
    gw_test_expect_error("providers:\n  - {name: b, type: bedrock, region: us-east-1, "
                         "aws_access_key_id: A}\n",
                         "aws_access_key_id and aws_secret_access_key go together");
    gw_test_expect_error("providers:\n  - {name: b, type: bedrock, region: us-east-1, "
                         "aws_access_key_id: A, aws_secret_access_key: sk-secret, api_key: k}\n",
                         "not an api_key");
    gw_test_expect_error("providers:\n  - {name: o, base_url: 'http://h', region: us-east-1}\n",
                         "t.yaml:2:45: key 'region': region is only for providers of type: "
                         "bedrock");
    gw_test_expect_error("providers:\n  - {name: b, type: bedrock, region: us-east-1, "
                         "aws_access_key_id: 'A B', aws_secret_access_key: sk-secret}\n",
                         "printable ASCII without spaces");
}

/* --- adapter: path and signed headers ------------------------------------------------- */

static int add_hdr(void *ud, const char *prefix, const char *v, size_t n)
{
    struct gd_buf *b = ud;
    int rc = gd_buf_puts(b, prefix);
    rc = rc ? rc : gd_buf_append(b, v, n);
    return rc ? rc : gd_buf_putc(b, '\n');
}

Test(bedrock_adapter, path_and_signed_headers)
{
    const struct gw_adapter *ad = gw_adapter_for(GD_GW_PROVIDER_BEDROCK);
    cr_assert_not_null(ad);
    struct gd_gw_bedrock_cfg bc = {"us-east-1", "AKIDEXAMPLE", "secret", "the-token"};
    struct gd_gw_provider_cfg p = {0};
    p.type = GD_GW_PROVIDER_BEDROCK;
    p.base_url = "http://127.0.0.1:8080";
    p.bedrock = &bc;
    struct gd_buf b;
    gd_buf_init(&b, 1 << 16);
    cr_assert_eq(ad->path(&p, 0, "anthropic.claude-3-haiku-20240307-v1:0", 0, &b), 0);
    cr_assert_str_eq(b.data, "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse");
    gd_buf_reset(&b);
    cr_assert_eq(ad->path(&p, 0, "arn:aws:bedrock:us-east-1::foundation-model/x", 1, &b), 0);
    cr_assert_str_eq(b.data, "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Fx/"
                             "converse-stream");
    cr_assert_eq(ad->path(&p, 1, "m", 0, NULL), GD_ENOTSUP);
    cr_assert_eq(ad->path(&p, 2, "m", 0, NULL), GD_ENOTSUP);
    gd_buf_reset(&b);
    cr_assert_eq(ad->sign(&p, "/model/m/converse", "{}", 2, add_hdr, &b), 0);
    cr_assert_eq(strncmp(b.data, "X-Amz-Date: 20", 14), 0, "%s", b.data);
    cr_assert_not_null(strstr(b.data, "\nX-Amz-Security-Token: the-token\n"));
    cr_assert_not_null(strstr(b.data, "\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
    cr_assert_not_null(strstr(b.data, "/us-east-1/bedrock/aws4_request, SignedHeaders="
                                      "content-type;host;x-amz-date;x-amz-security-token, "
                                      "Signature="));
    cr_assert_null(strstr(b.data, "secret\n"));
    gd_buf_free(&b);
}

/* --- request --------------------------------------------------------------------------- */

static const char *req(const char *in, struct gd_xl_err *err, int *rc)
{
    static struct gd_buf b;
    gd_buf_free(&b);
    gd_buf_init(&b, 1 << 20);
    in = q(in);
    *rc = gd_xl_bedrock_request(in, strlen(in), "m", &b, err);
    return b.data ? b.data : "";
}

static void golden_req(const char *in, const char *want)
{
    struct gd_xl_err err;
    int rc;
    const char *got = req(in, &err, &rc);
    cr_assert_eq(rc, 0, "rc %d: %s (%s)", rc, err.message, err.param);
    cr_assert_str_eq(got, q(want));
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

Test(bedrock_req, system_turns_merged_inference_config)
{
    golden_req("{'model':'a','messages':[{'role':'system','content':'Be brief.'},"
               "{'role':'developer','content':[{'type':'text','text':'No lists.'}]},"
               "{'role':'user','content':'hi'},{'role':'user','content':'again'},"
               "{'role':'assistant','content':'hello'},{'role':'user','content':'x'}],"
               "'max_tokens':50,'temperature':0.5,'top_p':0.9,'stop':['END','STOP'],"
               "'stream':true,'stream_options':{'include_usage':true},'user':'u1',"
               "'n':1,'seed':null,'response_format':{'type':'text'}}",
               "{'messages':[{'role':'user','content':[{'text':'hi'},{'text':'again'}]},"
               "{'role':'assistant','content':[{'text':'hello'}]},"
               "{'role':'user','content':[{'text':'x'}]}],"
               "'system':[{'text':'Be brief.'},{'text':'No lists.'}],"
               "'inferenceConfig':{'maxTokens':50,'temperature':0.5,'topP':0.9,"
               "'stopSequences':['END','STOP']}}");
}

Test(bedrock_req, images_tools_and_tool_turns)
{
    golden_req(
        "{'messages':[{'role':'user','content':[{'type':'text','text':'what?'},"
        "{'type':'image_url','image_url':{'url':'data:image/png;base64,iVBORw0K'}}]},"
        "{'role':'assistant','content':null,'tool_calls':[{'id':'tooluse_1','type':'function',"
        "'function':{'name':'weather','arguments':'{\\'city\\':\\'Paris\\'}'}}]},"
        "{'role':'tool','tool_call_id':'tooluse_1','content':'18C'}],"
        "'tools':[{'type':'function','function':{'name':'weather','description':'Weather.',"
        "'parameters':{'type':'object','properties':{'city':{'type':'string'}}}}},"
        "{'type':'function','function':{'name':'noargs'}}],"
        "'tool_choice':{'type':'function','function':{'name':'weather'}},"
        "'max_completion_tokens':7}",
        "{'messages':[{'role':'user','content':[{'text':'what?'},"
        "{'image':{'format':'png','source':{'bytes':'iVBORw0K'}}}]},"
        "{'role':'assistant','content':[{'toolUse':{'toolUseId':'tooluse_1','name':'weather',"
        "'input':{'city':'Paris'}}}]},"
        "{'role':'user','content':[{'toolResult':{'toolUseId':'tooluse_1',"
        "'content':[{'text':'18C'}],'status':'success'}}]}],"
        "'toolConfig':{'tools':[{'toolSpec':{'name':'weather','description':'Weather.',"
        "'inputSchema':{'json':{'type':'object','properties':{'city':{'type':'string'}}}}}},"
        "{'toolSpec':{'name':'noargs','inputSchema':{'json':{'type':'object',"
        "'properties':{}}}}}],'toolChoice':{'tool':{'name':'weather'}}},"
        "'inferenceConfig':{'maxTokens':7}}");
    golden_req("{'messages':[{'role':'user','content':'hi'}],'tools':[{'type':'function',"
               "'function':{'name':'f'}}],'tool_choice':'required'}",
               "{'messages':[{'role':'user','content':[{'text':'hi'}]}],'toolConfig':{'tools':"
               "[{'toolSpec':{'name':'f','inputSchema':{'json':{'type':'object','properties':"
               "{}}}}}],'toolChoice':{'any':{}}}}");
}

Test(bedrock_req, refusals_name_the_parameter)
{
    refused("{'messages':[{'role':'user','content':'hi'}],'seed':3}", "seed",
            "seed is not supported by Bedrock deployments");
    refused("{'messages':[{'role':'user','content':'hi'}],'n':2}", "n", "n is not supported");
    refused("{'messages':[{'role':'user','content':'hi'}],'frobnicate':1}", "frobnicate",
            "Unrecognized request argument supplied: frobnicate");
    refused("{'messages':[{'role':'user','content':'hi'}],'response_format':"
            "{'type':'json_object'}}",
            "response_format", "not supported");
    refused("{'messages':[{'role':'user','content':'hi'}],'temperature':1.5}", "temperature",
            "temperature must be a number from 0 to 1");
    refused("{'messages':[{'role':'user','content':'hi'}],'stop':['a','b','c','d','e']}", "stop",
            "at most 4");
    refused("{'messages':[{'role':'user','content':'hi'}],'tool_choice':'auto'}", "tool_choice",
            "tool_choice needs tools");
    refused("{'messages':[{'role':'user','content':'hi'}],'tools':[{'type':'function',"
            "'function':{'name':'f'}}],'tool_choice':'none'}",
            "tool_choice", "none is not supported");
    refused("{'messages':[{'role':'assistant','content':'hi'}]}", "messages[0]",
            "must start with a user message");
    refused("{'messages':[{'role':'user','content':'hi'},{'role':'system','content':'s'}]}",
            "messages[1]", "only before the first");
    refused("{'messages':[{'role':'user','content':[{'type':'image_url','image_url':"
            "{'url':'https://x/y.png'}}]}]}",
            "messages[0].content[0]", "data: URLs only");
    refused("{'messages':[{'role':'user','content':[{'type':'image_url','image_url':"
            "{'url':'data:image/tiff;base64,AAAA'}}]}]}",
            "messages[0].content[0]", "png, jpeg, gif or webp");
    refused("{'messages':[{'role':'user','content':''}]}", "messages", "empty content");
    refused("{'messages':[{'role':'user','content':'hi'}],'parallel_tool_calls':false}",
            "parallel_tool_calls", "not supported");
    refused("{'messages':[{'role':'tool','content':'x'}]}", "messages[0]", "tool_call_id");
}

/* --- response and errors -------------------------------------------------------------- */

static void golden_resp(const char *in, const char *want, int64_t prompt, int64_t completion)
{
    struct gd_buf b;
    struct gd_gw_usage u = {0};
    gd_buf_init(&b, 1 << 20);
    in = q(in);
    cr_assert_eq(gd_xl_bedrock_response(in, strlen(in), 1700000000, &b, &u), 0);
    cr_assert_str_eq(b.data, q(want));
    cr_assert_eq(u.prompt_tokens, prompt);
    cr_assert_eq(u.completion_tokens, completion);
    gd_buf_free(&b);
}

Test(bedrock_resp, text_tools_stop_reasons_usage)
{
    golden_resp("{'output':{'message':{'role':'assistant','content':[{'text':'Hel'},"
                "{'text':'lo'}]}},'stopReason':'end_turn','usage':{'inputTokens':11,"
                "'outputTokens':7,'totalTokens':18,'cacheReadInputTokens':2},"
                "'metrics':{'latencyMs':5}}",
                "{'id':'chatcmpl-bedrock-1700000000','object':'chat.completion',"
                "'created':1700000000,'model':'','choices':[{'index':0,'message':{'role':"
                "'assistant','content':'Hello','refusal':null},'logprobs':null,"
                "'finish_reason':'stop'}],'usage':{'prompt_tokens':11,'completion_tokens':7,"
                "'total_tokens':18,'prompt_tokens_details':{'cached_tokens':2}}}",
                11, 7);
    golden_resp("{'output':{'message':{'role':'assistant','content':[{'reasoningContent':{}},"
                "{'toolUse':{'toolUseId':'tooluse_a','name':'weather','input':{'city':'Paris'}}}"
                "]}},'stopReason':'tool_use','usage':{'inputTokens':3,'outputTokens':4,"
                "'totalTokens':7}}",
                "{'id':'chatcmpl-bedrock-1700000000','object':'chat.completion',"
                "'created':1700000000,'model':'','choices':[{'index':0,'message':{'role':"
                "'assistant','content':null,'tool_calls':[{'id':'tooluse_a','type':'function',"
                "'function':{'name':'weather','arguments':'{\\'city\\':\\'Paris\\'}'}}],"
                "'refusal':null},'logprobs':null,'finish_reason':'tool_calls'}],'usage':"
                "{'prompt_tokens':3,'completion_tokens':4,'total_tokens':7,"
                "'prompt_tokens_details':{'cached_tokens':0}}}",
                3, 4);
    cr_assert_str_eq(gd_xl_bedrock_finish_reason("max_tokens"), "length");
    cr_assert_str_eq(gd_xl_bedrock_finish_reason("stop_sequence"), "stop");
    cr_assert_str_eq(gd_xl_bedrock_finish_reason("guardrail_intervened"), "content_filter");
    cr_assert_str_eq(gd_xl_bedrock_finish_reason("content_filtered"), "content_filter");
    struct gd_buf b;
    struct gd_gw_usage u;
    gd_buf_init(&b, 1 << 20);
    cr_assert_eq(gd_xl_bedrock_response("{}", 2, 1, &b, &u), GD_EPARSE);
    cr_assert_eq(gd_xl_bedrock_response("nope", 4, 1, &b, &u), GD_EPARSE);
    cr_assert_eq(b.len, 0);
    gd_buf_free(&b);
}

Test(bedrock_resp, errors)
{
    struct gd_buf b;
    gd_buf_init(&b, 1 << 20);
    const char *e = "{\"message\":\"Too many requests, please wait before trying again.\"}";
    cr_assert_eq(gd_xl_bedrock_error(429, e, strlen(e), &b), 0);
    cr_assert_str_eq(b.data, q("{'error':{'message':'Too many requests, please wait before "
                               "trying again.','type':'rate_limit_error','param':null,"
                               "'code':'ThrottlingException'}}"));
    gd_buf_reset(&b);
    cr_assert_eq(gd_xl_bedrock_error(503, "", 0, &b), 0);
    cr_assert_not_null(strstr(b.data, "HTTP 503 without an error body"));
    cr_assert_not_null(strstr(b.data, "ServiceUnavailableException"));
    gd_buf_free(&b);
}

/* --- stream ----------------------------------------------------------------------------- */

static size_t put_header(unsigned char *h, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value), i = 0;
    h[i++] = (unsigned char)nl;
    memcpy(h + i, name, nl);
    i += nl;
    h[i++] = 7;
    h[i++] = (unsigned char)(vl >> 8);
    h[i++] = (unsigned char)vl;
    memcpy(h + i, value, vl);
    return i + vl;
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* One event stream message: kind "event" (name in :event-type) or "exception". */
static size_t message(unsigned char *out, const char *kind, const char *name, const char *json)
{
    unsigned char h[256];
    size_t hn = put_header(h, ":message-type", kind);
    hn += put_header(h + hn, strcmp(kind, "event") ? ":exception-type" : ":event-type", name);
    hn += put_header(h + hn, ":content-type", "application/json");
    json = q(json);
    size_t pn = strlen(json), total = 16 + hn + pn;
    be32(out, (uint32_t)total);
    be32(out + 4, (uint32_t)hn);
    be32(out + 8, (uint32_t)crc32(0, out, 8));
    memcpy(out + 12, h, hn);
    memcpy(out + 12 + hn, json, pn);
    be32(out + total - 4, (uint32_t)crc32(0, out, (uInt)(total - 4)));
    return total;
}

struct sink {
    struct gd_xl_br_sse *s;
    struct gd_buf *out;
};

static int on_event(void *ud, const char *raw, size_t rn, const char *data, size_t dn)
{
    (void)raw, (void)rn;
    struct sink *k = ud;
    return gd_xl_br_sse_event(k->s, data, dn, k->out);
}

/* Feeds stream[0..n) in pieces of `step` bytes; the output into out. */
static int run_stream(const unsigned char *stream, size_t n, size_t step, int usage,
                      struct gd_buf *out, struct gd_xl_br_sse *s)
{
    gd_xl_br_sse_init(s, usage, 1700000000);
    struct sink k = {s, out};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += step)
        rc = gd_xl_br_sse_feed(s, (const char *)stream + i, n - i < step ? n - i : step, on_event,
                               &k);
    return rc;
}

#define HEAD                                                                                       \
    "data: {'id':'chatcmpl-bedrock-1700000000','object':'chat.completion.chunk',"                  \
    "'created':1700000000,'model':'','choices':["

Test(bedrock_sse, text_stream_any_split)
{
    static unsigned char st[8192];
    size_t n = 0;
    n += message(st + n, "event", "messageStart", "{'role':'assistant'}");
    n += message(st + n, "event", "contentBlockDelta",
                 "{'contentBlockIndex':0,'delta':{'text':'Hel'},'p':'abc'}");
    n += message(st + n, "event", "contentBlockDelta",
                 "{'contentBlockIndex':0,'delta':{'text':'lo \\u00fc'}}");
    n += message(st + n, "event", "contentBlockStop", "{'contentBlockIndex':0}");
    n += message(st + n, "event", "messageStop", "{'stopReason':'end_turn'}");
    n += message(st + n, "event", "metadata",
                 "{'usage':{'inputTokens':11,'outputTokens':7,'totalTokens':18},"
                 "'metrics':{'latencyMs':5}}");
    const char *want =
        q(HEAD "{'index':0,'delta':{'role':'assistant','content':''},'logprobs':null,"
               "'finish_reason':null}]}\n\n" HEAD "{'index':0,'delta':{'content':'Hel'},'logprobs'"
               ":null,'finish_reason':null}]}\n\n" HEAD "{'index':0,'delta':{'content':'lo ü'},"
               "'logprobs':null,'finish_reason':null}]}\n\n" HEAD "{'index':0,'delta':{},"
               "'logprobs':null,'finish_reason':'stop'}]}\n\n" HEAD "],'usage':{'prompt_tokens':"
               "11,'completion_tokens':7,'total_tokens':18,'prompt_tokens_details':"
               "{'cached_tokens':0}}}\n\ndata: [DONE]\n\n");
    for (size_t step = 1; step <= n; step += step < 40 ? 1 : 97) {
        struct gd_buf out;
        struct gd_xl_br_sse s;
        gd_buf_init(&out, 1 << 20);
        cr_assert_eq(run_stream(st, n, step, 1, &out, &s), 0, "step %zu", step);
        cr_assert_str_eq(out.data, want, "step %zu", step);
        cr_assert(s.finished);
        struct gd_gw_usage u;
        cr_assert_eq(gd_xl_br_sse_usage(&s, &u), 1);
        cr_assert_eq(u.total_tokens, 18);
        gd_xl_br_sse_free(&s);
        gd_buf_free(&out);
    }
}

/* The text-delta fast path (ConverseStream's own serialisation) writes what the general path
 * writes: each payload once as is and once behind a space, which only the general path takes. */
Test(bedrock_sse, text_delta_fast_path_matches_general)
{
    static const char *const payloads[] = {
        "{'contentBlockIndex':0,'delta':{'text':'plain'},'p':'abcdefgh'}",
        "{'contentBlockIndex':12,'delta':{'text':'quote \\' back \\\\ nl \\n tab \\t'}}",
        "{'contentBlockIndex':0,'delta':{'text':'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80'}}",
        "{'contentBlockIndex':0,'delta':{'text':''},'p':'ab'}",
        "{'contentBlockIndex':0,'delta':{'text':'unicode \\u00e9'}}",
        "{'contentBlockIndex':0,'delta':{'text':'pad escaped'},'p':'\\u0041'}",
        "{'contentBlockIndex':0,'p':'x','delta':{'text':'pad first'}}",
        "{'contentBlockIndex':01,'delta':{'text':'leading zero'}}",
        "{'contentBlockIndex':0,'delta':{'text':'a'},'p':'x'} \n",
        "{'contentBlockIndex':0,'delta':{'text':'a'},'p':'x'}x",
        "{'contentBlockIndex':0,'delta':{'text':'bad \xff utf8'}}",
    };
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        char spaced[512];
        snprintf(spaced, sizeof spaced, " %s", payloads[i]);
        const char *forms[2] = {payloads[i], spaced};
        struct gd_buf out[2];
        int rc[2];
        for (int f = 0; f < 2; f++) {
            static unsigned char st[4096];
            size_t n = message(st, "event", "messageStart", "{'role':'assistant'}");
            n += message(st + n, "event", "contentBlockDelta", forms[f]);
            struct gd_xl_br_sse s;
            gd_buf_init(&out[f], 1 << 20);
            rc[f] = run_stream(st, n, n, 0, &out[f], &s);
            gd_xl_br_sse_free(&s);
        }
        cr_assert_eq(rc[0], rc[1], "payload %zu", i);
        cr_assert_eq(out[0].len, out[1].len, "payload %zu", i);
        cr_assert(!memcmp(out[0].data, out[1].data, out[0].len), "payload %zu: %.*s", i,
                  (int)out[0].len, out[0].data);
        gd_buf_free(&out[0]);
        gd_buf_free(&out[1]);
    }
}

Test(bedrock_sse, tool_use_stream)
{
    static unsigned char st[8192];
    size_t n = 0;
    n += message(st + n, "event", "messageStart", "{'role':'assistant'}");
    n += message(st + n, "event", "contentBlockStart",
                 "{'contentBlockIndex':0,'start':{'toolUse':{'toolUseId':'tooluse_a',"
                 "'name':'weather'}}}");
    n += message(st + n, "event", "contentBlockDelta",
                 "{'contentBlockIndex':0,'delta':{'toolUse':{'input':'{\\'city\\':'}}}");
    n += message(st + n, "event", "contentBlockDelta",
                 "{'contentBlockIndex':0,'delta':{'toolUse':{'input':'\\'Paris\\'}'}}}");
    n += message(st + n, "event", "contentBlockStop", "{'contentBlockIndex':0}");
    n += message(st + n, "event", "messageStop", "{'stopReason':'tool_use'}");
    n += message(st + n, "event", "metadata", "{'usage':{'inputTokens':1,'outputTokens':2}}");
    struct gd_buf out;
    struct gd_xl_br_sse s;
    gd_buf_init(&out, 1 << 20);
    cr_assert_eq(run_stream(st, n, n, 0, &out, &s), 0);
    cr_assert_str_eq(
        out.data,
        q(HEAD "{'index':0,'delta':{'role':'assistant','content':''},'logprobs':null,"
               "'finish_reason':null}]}\n\n" HEAD "{'index':0,'delta':{'tool_calls':[{'index':0,"
               "'id':'tooluse_a','type':'function','function':{'name':'weather','arguments':''}"
               "}]},'logprobs':null,'finish_reason':null}]}\n\n" HEAD "{'index':0,'delta':"
               "{'tool_calls':[{'index':0,'function':{'arguments':'{\\'city\\':'}}]},"
               "'logprobs':null,'finish_reason':null}]}\n\n" HEAD "{'index':0,'delta':"
               "{'tool_calls':[{'index':0,'function':{'arguments':'\\'Paris\\'}'}}]},"
               "'logprobs':null,'finish_reason':null}]}\n\n" HEAD "{'index':0,'delta':{},"
               "'logprobs':null,'finish_reason':'tool_calls'}]}\n\ndata: [DONE]\n\n"));
    gd_xl_br_sse_free(&s);
    gd_buf_free(&out);
}

Test(bedrock_sse, exception_and_bad_frames)
{
    static unsigned char st[8192];
    size_t n = 0;
    n += message(st + n, "event", "messageStart", "{'role':'assistant'}");
    n += message(st + n, "exception", "throttlingException",
                 "{'message':'Too many tokens, please wait before trying again.'}");
    struct gd_buf out;
    struct gd_xl_br_sse s;
    gd_buf_init(&out, 1 << 20);
    cr_assert_eq(run_stream(st, n, 7, 0, &out, &s), 0);
    cr_assert_not_null(strstr(out.data, q("event: error\ndata: {'error':{'message':'Too many "
                                          "tokens, please wait before trying again.','type':"
                                          "'rate_limit_error','param':null,'code':"
                                          "'ThrottlingException'}}\n\ndata: [DONE]\n\n")),
                       "%s", out.data);
    cr_assert(s.finished);
    gd_xl_br_sse_free(&s);
    /* a corrupted CRC is a framing error, not an event */
    gd_buf_reset(&out);
    st[n - 1] ^= 1;
    cr_assert_eq(run_stream(st, n, n, 0, &out, &s), GD_EPARSE);
    cr_assert_not_null(strstr(s.es.error, "CRC"));
    cr_assert(!s.finished);
    gd_xl_br_sse_free(&s);
    /* a stream that ends before metadata is not finished */
    gd_buf_reset(&out);
    n = message(st, "event", "messageStart", "{'role':'assistant'}");
    n += message(st + n, "event", "messageStop", "{'stopReason':'end_turn'}");
    cr_assert_eq(run_stream(st, n, n, 0, &out, &s), 0);
    cr_assert(!s.finished);
    gd_xl_br_sse_free(&s);
    /* a delta for a tool use that never started */
    gd_buf_reset(&out);
    n = message(st, "event", "contentBlockDelta",
                "{'contentBlockIndex':0,'delta':{'toolUse':{'input':'{}'}}}");
    cr_assert_eq(run_stream(st, n, n, 0, &out, &s), GD_EPARSE);
    cr_assert_eq(out.len, 0);
    gd_xl_br_sse_free(&s);
    gd_buf_free(&out);
    cr_assert_eq(gd_xl_bedrock_exception_status("serviceUnavailableException"), 503);
    cr_assert_eq(gd_xl_bedrock_exception_status("ValidationException"), 400);
}
