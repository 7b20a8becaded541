/* Golden tests of the OpenAI <-> Gemini generateContent translation (xl_gemini.h). JSON is
 * written with ' for " (q() swaps them) to keep the goldens readable. */
#include "gateway/xl_gemini.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* s with every ' turned into " (kept until 64 more calls: goldens use a few at a time). */
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

static const char *req(const char *in, struct gd_xl_err *err, int *rc)
{
    static struct gd_buf b;
    gd_buf_free(&b);
    gd_buf_init(&b, 1 << 20);
    in = q(in);
    *rc = gd_xl_gem_request(in, strlen(in), "gemini-x", &b, err);
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

Test(xl_gem_req, system_roles_multi_turn_generation_config)
{
    golden_req("{'model':'alias','messages':[{'role':'system','content':'Be brief.'},"
               "{'role':'developer','content':[{'type':'text','text':'No lists.'}]},"
               "{'role':'user','content':'hi'},{'role':'assistant','content':'hello'},"
               "{'role':'user','content':'again'},{'role':'user','content':'and again'}],"
               "'temperature':1.5,'top_p':0.9,'max_tokens':77,'stop':'END','seed':3,"
               "'presence_penalty':0.5,'frequency_penalty':-0.5,'user':'u1','n':1,"
               "'logprobs':false,'stream':true,'stream_options':{'include_usage':true},"
               "'response_format':{'type':'json_object'}}",
               "{'contents':[{'role':'user','parts':[{'text':'hi'}]},{'role':'model','parts':"
               "[{'text':'hello'}]},{'role':'user','parts':[{'text':'again'},{'text':"
               "'and again'}]}],'systemInstruction':{'parts':[{'text':'Be brief.'},{'text':"
               "'No lists.'}]},'generationConfig':{'stopSequences':['END'],'temperature':1.5,"
               "'topP':0.9,'maxOutputTokens':77,'seed':3,'presencePenalty':0.5,"
               "'frequencyPenalty':-0.5,'responseMimeType':'application/json'}}");
    /* max_completion_tokens wins over max_tokens; no generationConfig when nothing is set */
    golden_req("{'max_completion_tokens':5,'max_tokens':9,'stop':['a','b'],'messages':[{'role':"
               "'user','content':'x'}]}",
               "{'contents':[{'role':'user','parts':[{'text':'x'}]}],'generationConfig':"
               "{'stopSequences':['a','b'],'maxOutputTokens':5}}");
    golden_req("{'messages':[{'role':'user','content':'x'}]}",
               "{'contents':[{'role':'user','parts':[{'text':'x'}]}]}");
}

Test(xl_gem_req, images_as_inline_data)
{
    golden_req("{'messages':[{'role':'user','content':[{'type':'text','text':'what?'},"
               "{'type':'image_url','image_url':{'url':'data:image/png;base64,iVBORw0K',"
               "'detail':'low'}}]}]}",
               "{'contents':[{'role':'user','parts':[{'text':'what?'},{'inlineData':"
               "{'mimeType':'image/png','data':'iVBORw0K'}}]}]}");
    refused("{'messages':[{'role':'user','content':[{'type':'image_url','image_url':{'url':"
            "'https://example.com/cat.png'}}]}]}",
            "messages[0].content[0]", "data: URLs only");
    refused("{'messages':[{'role':'user','content':[{'type':'image_url','image_url':{'url':"
            "'data:image/png,xx'}}]}]}",
            "messages[0].content[0]", "expected data:<media type>;base64");
    refused("{'messages':[{'role':'assistant','content':[{'type':'image_url','image_url':{'url':"
            "'data:image/png;base64,xx'}}]}]}",
            "messages[0].content[0]", "in this role");
}

Test(xl_gem_req, tools_calls_and_results_both_ways)
{
    golden_req(
        "{'messages':[{'role':'user','content':'weather?'},{'role':'assistant','content':null,"
        "'tool_calls':[{'id':'call_0','type':'function','function':{'name':'get_weather',"
        "'arguments':'{\\'city\\':\\'Paris\\'}'}},{'id':'call_1','type':'function','function':"
        "{'name':'get_time','arguments':''}}]},{'role':'tool','tool_call_id':'call_0','content':"
        "'{\\'temp\\':18}'},{'role':'tool','tool_call_id':'call_1','content':'noon'}],"
        "'tools':[{'type':'function','function':{'name':'get_weather','description':'Weather',"
        "'parameters':{'type':'object','properties':{'city':{'type':'string'}},'required':"
        "['city']}}},{'type':'function','function':{'name':'get_time','parameters':{'type':"
        "'object','properties':{}}}}],'tool_choice':'required','parallel_tool_calls':true}",
        "{'contents':[{'role':'user','parts':[{'text':'weather?'}]},{'role':'model','parts':"
        "[{'functionCall':{'name':'get_weather','args':{'city':'Paris'}}},{'functionCall':"
        "{'name':'get_time','args':{}}}]},{'role':'user','parts':[{'functionResponse':{'name':"
        "'get_weather','response':{'temp':18}}},{'functionResponse':{'name':'get_time',"
        "'response':{'content':'noon'}}}]}],'tools':[{'functionDeclarations':[{'name':"
        "'get_weather','description':'Weather','parameters':{'type':'object','properties':"
        "{'city':{'type':'string'}},'required':['city']}},{'name':'get_time'}]}],'toolConfig':"
        "{'functionCallingConfig':{'mode':'ANY'}}}");
    golden_req("{'messages':[{'role':'user','content':'x'}],'tools':[{'type':'function',"
               "'function':{'name':'f'}}],'tool_choice':{'type':'function','function':{'name':"
               "'f'}}}",
               "{'contents':[{'role':'user','parts':[{'text':'x'}]}],'tools':[{"
               "'functionDeclarations':[{'name':'f'}]}],'toolConfig':{'functionCallingConfig':"
               "{'mode':'ANY','allowedFunctionNames':['f']}}}");
    golden_req("{'messages':[{'role':'user','content':'x'}],'tools':[{'type':'function',"
               "'function':{'name':'f'}}],'tool_choice':'none'}",
               "{'contents':[{'role':'user','parts':[{'text':'x'}]}],'tools':[{"
               "'functionDeclarations':[{'name':'f'}]}],'toolConfig':{'functionCallingConfig':"
               "{'mode':'NONE'}}}");
    refused("{'messages':[{'role':'user','content':'x'},{'role':'tool','tool_call_id':'nope',"
            "'content':'r'}]}",
            "messages[1]", "names no tool call");
    refused("{'messages':[{'role':'assistant','tool_calls':[{'id':'a','type':'function',"
            "'function':{'name':'f','arguments':'[1]'}}]}]}",
            "messages[0].tool_calls[0]", "must be a JSON object");
    refused("{'messages':[{'role':'user','content':'x'}],'tools':[{'type':'function',"
            "'function':{'name':'f','strict':true}}]}",
            "tools[0]", "strict");
    refused("{'messages':[{'role':'user','content':'x'}],'tool_choice':'sometimes'}", "tool_choice",
            "tool_choice must be");
}

Test(xl_gem_req, refusals_name_the_parameter)
{
    refused("{'messages':[{'role':'user','content':'x'}],'n':2}", "n", "not supported by Gemini");
    refused("{'messages':[{'role':'user','content':'x'}],'logprobs':true}", "logprobs",
            "not supported by Gemini");
    refused("{'messages':[{'role':'user','content':'x'}],'logit_bias':{'1':2}}", "logit_bias",
            "not supported");
    refused("{'messages':[{'role':'user','content':'x'}],'parallel_tool_calls':false}",
            "parallel_tool_calls", "not supported");
    refused("{'messages':[{'role':'user','content':'x'}],'frobnicate':1}", "frobnicate",
            "Unrecognized request argument");
    refused("{'messages':[{'role':'user','content':'x'}],'temperature':3}", "temperature",
            "from 0 to 2");
    refused("{'messages':[{'role':'user','content':'x'}],'max_tokens':1.5}", "max_tokens",
            "an integer");
    refused("{'messages':[{'role':'user','content':'x'}],'stop':['1','2','3','4','5','6']}", "stop",
            "at most 5");
    refused("{'messages':[{'role':'user','content':'x'}],'response_format':{'type':"
            "'json_schema'}}",
            "response_format", "json_object");
    refused("{'messages':[{'role':'system','content':'only system'}]}", "messages",
            "at least one user or assistant");
    refused("{'messages':[{'role':'user','content':''}]}", "messages", "empty content");
    refused("{'messages':[]}", "messages", "non-empty array");
    refused("{'messages':[{'role':'user','content':'x'},{'role':'system','content':'late'}]}",
            "messages[1]", "only before the first");
    refused("{'messages':[{'role':'function','content':'x'}]}", "messages[0]",
            "role 'function' is not supported");
    refused("{'messages':[{'role':'assistant','content':null}]}", "messages[0]",
            "needs content or tool_calls");
    refused("[1]", "", "JSON object");
    refused("{nope", "", "could not parse");
}

static const char *resp(const char *in, struct gd_gw_usage *u, int *rc)
{
    static struct gd_buf b;
    gd_buf_free(&b);
    gd_buf_init(&b, 1 << 20);
    in = q(in);
    *rc = gd_xl_gem_response(in, strlen(in), 42, &b, u);
    return b.data ? b.data : "";
}

Test(xl_gem_resp, text_and_usage)
{
    struct gd_gw_usage u;
    int rc;
    const char *got =
        resp("{'candidates':[{'content':{'role':'model','parts':[{'text':'thinking','thought':"
             "true},{'text':'Hello '},{'text':'there'}]},'finishReason':'STOP','index':0,"
             "'safetyRatings':[]}],'usageMetadata':{'promptTokenCount':11,"
             "'candidatesTokenCount':7,'thoughtsTokenCount':2,'totalTokenCount':20,"
             "'cachedContentTokenCount':4},'modelVersion':'gemini-2.0-flash','responseId':'r1'}",
             &u, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(got, q("{'id':'chatcmpl-r1','object':'chat.completion','created':42,"
                            "'model':'gemini-2.0-flash','choices':[{'index':0,'message':{'role':"
                            "'assistant','content':'Hello there','refusal':null},'logprobs':"
                            "null,'finish_reason':'stop'}],'usage':{'prompt_tokens':11,"
                            "'completion_tokens':9,'total_tokens':20,'prompt_tokens_details':"
                            "{'cached_tokens':4}}}"));
    cr_assert_eq(u.prompt_tokens, 11);
    cr_assert_eq(u.completion_tokens, 9);
    cr_assert_eq(u.total_tokens, 20);
}

Test(xl_gem_resp, function_calls_get_deterministic_ids)
{
    struct gd_gw_usage u;
    int rc;
    const char *got = resp("{'candidates':[{'content':{'role':'model','parts':[{'functionCall':"
                           "{'name':'f','args':{'a':1}}},{'functionCall':{'name':'g'}}]},"
                           "'finishReason':'STOP'}]}",
                           &u, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(got, q("{'id':'chatcmpl-gemini','object':'chat.completion','created':42,"
                            "'model':'','choices':[{'index':0,'message':{'role':'assistant',"
                            "'content':null,'tool_calls':[{'id':'call_0','type':'function',"
                            "'function':{'name':'f','arguments':'{\\'a\\':1}'}},{'id':'call_1',"
                            "'type':'function','function':{'name':'g','arguments':'{}'}}],"
                            "'refusal':null},'logprobs':null,'finish_reason':'tool_calls'}],"
                            "'usage':{'prompt_tokens':0,'completion_tokens':0,'total_tokens':0,"
                            "'prompt_tokens_details':{'cached_tokens':0}}}"));
}

Test(xl_gem_resp, finish_reasons_and_blocks)
{
    static const char *const map[][2] = {{"STOP", "'stop'"},
                                         {"MAX_TOKENS", "'length'"},
                                         {"SAFETY", "'content_filter'"},
                                         {"RECITATION", "'content_filter'"},
                                         {"BLOCKLIST", "'content_filter'"},
                                         {"PROHIBITED_CONTENT", "'content_filter'"},
                                         {"SPII", "'content_filter'"},
                                         {"OTHER", "'stop'"},
                                         {"FINISH_REASON_UNSPECIFIED", "null"}};
    char in[256], want[64];
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        struct gd_gw_usage u;
        int rc;
        snprintf(in, sizeof in, "{'candidates':[{'finishReason':'%s'}]}", map[i][0]);
        const char *got = resp(in, &u, &rc);
        cr_assert_eq(rc, 0);
        snprintf(want, sizeof want, "'finish_reason':%s}", map[i][1]);
        cr_assert_not_null(strstr(got, q(want)), "%s: %s", map[i][0], got);
        cr_assert_not_null(strstr(got, "\"content\":null"), "%s", got);
    }
    struct gd_gw_usage u;
    int rc;
    const char *got = resp("{'promptFeedback':{'blockReason':'SAFETY'},'usageMetadata':"
                           "{'promptTokenCount':5,'totalTokenCount':5}}",
                           &u, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_not_null(strstr(got, q("'content':null")), "%s", got);
    cr_assert_not_null(strstr(got, q("'finish_reason':'content_filter'")), "%s", got);
    cr_assert_eq(u.prompt_tokens, 5);
    resp("{'error':{'code':400}}", &u, &rc);
    cr_assert_eq(rc, GD_EPARSE);
    resp("{'candidates':{}}", &u, &rc);
    cr_assert_eq(rc, GD_EPARSE);
    resp("{'candidates':[{'content':{'parts':[{'functionCall':{'args':{}}}]}}]}", &u, &rc);
    cr_assert_eq(rc, GD_EPARSE);
    resp("not json", &u, &rc);
    cr_assert_eq(rc, GD_EPARSE);
}

Test(xl_gem_resp, errors_keep_status_and_google_status)
{
    struct gd_buf b;
    gd_buf_init(&b, 1 << 16);
    const char *in = q("{'error':{'code':429,'message':'Resource has been exhausted','status':"
                       "'RESOURCE_EXHAUSTED'}}");
    cr_assert_eq(gd_xl_gem_error(429, in, strlen(in), &b), 0);
    cr_assert_str_eq(b.data, q("{'error':{'message':'Resource has been exhausted','type':"
                               "'rate_limit_error','param':null,'code':'RESOURCE_EXHAUSTED'}}"));
    gd_buf_reset(&b);
    in = q("[{'error':{'code':400,'message':'bad','status':'INVALID_ARGUMENT'}}]");
    cr_assert_eq(gd_xl_gem_error(400, in, strlen(in), &b), 0);
    cr_assert_not_null(strstr(b.data, q("'message':'bad'")), "%s", b.data);
    gd_buf_reset(&b);
    cr_assert_eq(gd_xl_gem_error(503, "<html>", 6, &b), 0);
    cr_assert_not_null(strstr(b.data, "HTTP 503 without an error body"), "%s", b.data);
    gd_buf_free(&b);
}

static const char *stream(struct gd_xl_gem_sse *s, const char *const *ev, size_t n, int *rc)
{
    static struct gd_buf b;
    gd_buf_free(&b);
    gd_buf_init(&b, 1 << 20);
    *rc = 0;
    for (size_t i = 0; i < n && *rc == 0; i++) {
        const char *e = q(ev[i]);
        *rc = gd_xl_gem_sse_event(s, e, strlen(e), &b);
    }
    return b.len ? b.data : "";
}

#define HEAD                                                                                       \
    "data: {'id':'chatcmpl-r9','object':'chat.completion.chunk','created':7,'model':"              \
    "'gemini-2.0-flash','choices':["
#define TAIL ",'logprobs':null,'finish_reason':null}]}\n\n"

Test(xl_gem_sse, text_tools_usage_done)
{
    static const char *const ev[] = {
        "{'candidates':[{'content':{'role':'model','parts':[{'text':'Hi '}]}}],'usageMetadata':"
        "{'promptTokenCount':12},'modelVersion':'gemini-2.0-flash','responseId':'r9'}",
        "{'candidates':[{'content':{'role':'model','parts':[{'text':'there','thought':true},"
        "{'text':'\\'there\\''}]}}]}",
        "{'candidates':[{'content':{'role':'model','parts':[{'functionCall':{'name':'f','args':"
        "{'a':1}}}]},'finishReason':'STOP'}],'usageMetadata':{'promptTokenCount':12,"
        "'candidatesTokenCount':15,'totalTokenCount':27,'cachedContentTokenCount':3}}",
        "{'candidates':[{'content':{'parts':[{'text':'after the end'}]}}]}",
    };
    struct gd_xl_gem_sse s;
    gd_xl_gem_sse_init(&s, 1, 7);
    int rc;
    const char *got = stream(&s, ev, sizeof ev / sizeof ev[0], &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(
        got, q(HEAD "{'index':0,'delta':{'role':'assistant','content':''}" TAIL HEAD
                    "{'index':0,'delta':{'content':'Hi '}" TAIL HEAD
                    "{'index':0,'delta':{'content':'\\'there\\''}" TAIL HEAD
                    "{'index':0,'delta':{'tool_calls':[{'index':0,'id':'call_0','type':"
                    "'function','function':{'name':'f','arguments':'{\\'a\\':1}'}}]}" TAIL HEAD
                    "{'index':0,'delta':{},'logprobs':null,'finish_reason':'tool_calls'}]}\n\n" HEAD
                    "],'usage':{'prompt_tokens':12,'completion_tokens':15,'total_tokens':27,"
                    "'prompt_tokens_details':{'cached_tokens':3}}}\n\n"
                    "data: [DONE]\n\n"));
    cr_assert(s.finished);
    struct gd_gw_usage u;
    cr_assert_eq(gd_xl_gem_sse_usage(&s, &u), 1);
    cr_assert_eq(u.prompt_tokens, 12);
    cr_assert_eq(u.completion_tokens, 15);
    cr_assert_eq(u.total_tokens, 27);
}

Test(xl_gem_sse, blocks_errors_and_malformed_events)
{
    static const char *const blocked[] = {
        "{'promptFeedback':{'blockReason':'PROHIBITED_CONTENT'},'responseId':'r9',"
        "'modelVersion':'gemini-2.0-flash'}"};
    struct gd_xl_gem_sse s;
    gd_xl_gem_sse_init(&s, 0, 7);
    int rc;
    const char *got = stream(&s, blocked, 1, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(got, q(HEAD "{'index':0,'delta':{'role':'assistant','content':''}" TAIL HEAD
                                 "{'index':0,'delta':{},'logprobs':null,'finish_reason':"
                                 "'content_filter'}]}\n\ndata: [DONE]\n\n"));
    static const char *const err[] = {
        "{'candidates':[{'content':{'parts':[{'text':'a'}]}}]}",
        "{'error':{'code':503,'message':'The model is overloaded.','status':'UNAVAILABLE'}}"};
    gd_xl_gem_sse_init(&s, 0, 7);
    got = stream(&s, err, 2, &rc);
    cr_assert_eq(rc, 0);
    cr_assert_not_null(strstr(got, q("event: error\ndata: {'error':{'message':'The model is "
                                     "overloaded.','type':'api_error','param':null,'code':"
                                     "'UNAVAILABLE'}}\n\ndata: [DONE]\n\n")),
                       "%s", got);
    cr_assert(s.finished);
    static const char *const bad[] = {
        "[1]", "{'candidates':{}}", "{'candidates':[{'content':{'parts':{}}}]}",
        "{'candidates':[{'content':{'parts':[{'functionCall':{}}]}}]}", "{'cand"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gd_xl_gem_sse_init(&s, 0, 7);
        got = stream(&s, &bad[i], 1, &rc);
        cr_assert_eq(rc, GD_EPARSE, "case %zu: %d", i, rc);
        cr_assert_str_eq(got, "", "a failed event writes nothing");
        cr_assert_eq(s.started, 0, "and changes nothing");
    }
}

Test(xl_gem_embed, requests)
{
    struct gd_buf b;
    struct gd_xl_err err;
    gd_buf_init(&b, 1 << 16);
    const char *in = q("{'model':'alias','input':['a','b'],'dimensions':8,'encoding_format':"
                       "'base64','user':'u'}");
    cr_assert_eq(gd_xl_gem_embed_request(in, strlen(in), "text-embedding-004", &b, &err), 0);
    cr_assert_str_eq(b.data, q("{'requests':[{'model':'models/text-embedding-004','content':"
                               "{'parts':[{'text':'a'}]},'outputDimensionality':8},{'model':"
                               "'models/text-embedding-004','content':{'parts':[{'text':'b'}]},"
                               "'outputDimensionality':8}]}"));
    gd_buf_reset(&b);
    in = q("{'input':'one'}");
    cr_assert_eq(gd_xl_gem_embed_request(in, strlen(in), "e", &b, &err), 0);
    cr_assert_str_eq(b.data, q("{'requests':[{'model':'models/e','content':{'parts':[{'text':"
                               "'one'}]}}]}"));
    static const char *const bad[][2] = {
        {"{'input':[1,2,3]}", "input"},
        {"{'input':[]}", "input"},
        {"{'input':'x','encoding_format':'int8'}", "encoding_format"},
        {"{'input':'x','dimensions':0}", "dimensions"},
        {"{'input':'x','frob':1}", "frob"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gd_buf_reset(&b);
        in = q(bad[i][0]);
        cr_assert_eq(gd_xl_gem_embed_request(in, strlen(in), "e", &b, &err), GD_EINVAL, "%s", in);
        cr_assert_str_eq(err.param, bad[i][1]);
    }
    gd_buf_free(&b);
}

Test(xl_gem_embed, responses_float_and_base64)
{
    struct gd_buf b;
    struct gd_gw_usage u;
    gd_buf_init(&b, 1 << 16);
    const char *r = q("{'embeddings':[{'values':[0.5,-1.25]},{'values':[3]}]}");
    const char *c = q("{'input':['a','b']}");
    cr_assert_eq(gd_xl_gem_embed_response(c, strlen(c), r, strlen(r), "e", &b, &u), 0);
    cr_assert_str_eq(b.data, q("{'object':'list','data':[{'object':'embedding','index':0,"
                               "'embedding':[0.5,-1.25]},{'object':'embedding','index':1,"
                               "'embedding':[3]}],'model':'e','usage':{'prompt_tokens':0,"
                               "'total_tokens':0}}"));
    cr_assert_eq(u.prompt_tokens, 0);
    gd_buf_reset(&b);
    c = q("{'input':['a','b'],'encoding_format':'base64'}");
    cr_assert_eq(gd_xl_gem_embed_response(c, strlen(c), r, strlen(r), "e", &b, &u), 0);
    /* 0.5f = 00 00 00 3f, -1.25f = 00 00 a0 bf, 3.0f = 00 00 40 40 (little-endian) */
    cr_assert_str_eq(b.data, q("{'object':'list','data':[{'object':'embedding','index':0,"
                               "'embedding':'AAAAPwAAoL8='},{'object':'embedding','index':1,"
                               "'embedding':'AABAQA=='}],'model':'e','usage':{'prompt_tokens':"
                               "0,'total_tokens':0}}"));
    gd_buf_reset(&b);
    r = q("{'embeddings':[{'values':['x']}]}");
    cr_assert_eq(gd_xl_gem_embed_response(c, strlen(c), r, strlen(r), "e", &b, &u), GD_EPARSE);
    cr_assert_eq(b.len, 0);
    r = q("{'candidates':[]}");
    cr_assert_eq(gd_xl_gem_embed_response(c, strlen(c), r, strlen(r), "e", &b, &u), GD_EPARSE);
    gd_buf_free(&b);
}

Test(xl_gem_embed, values_outside_float32_are_refused)
{
    struct gd_buf b;
    struct gd_gw_usage u;
    gd_buf_init(&b, 1 << 16);
    const char *c = q("{'input':'a','encoding_format':'base64'}");
    const char *r = q("{'embeddings':[{'values':[1e300]}]}");
    cr_assert_eq(gd_xl_gem_embed_response(c, strlen(c), r, strlen(r), "e", &b, &u), GD_EPARSE);
    cr_assert_eq(b.len, 0);
    gd_buf_free(&b);
}

Test(xl_gem_req, tool_results_answer_the_last_calling_turn_only)
{
    /* call ids restart at call_0 every answer: a result names a call of the last turn */
    golden_req("{'messages':[{'role':'user','content':'x'},{'role':'assistant','tool_calls':[{"
               "'id':'call_0','type':'function','function':{'name':'f','arguments':'{}'}}]},"
               "{'role':'tool','tool_call_id':'call_0','content':'1'},{'role':'assistant',"
               "'content':'ok'},{'role':'user','content':'y'},{'role':'assistant','tool_calls':"
               "[{'id':'call_0','type':'function','function':{'name':'g','arguments':'{}'}}]},"
               "{'role':'tool','tool_call_id':'call_0','content':'2'}]}",
               "{'contents':[{'role':'user','parts':[{'text':'x'}]},{'role':'model','parts':[{"
               "'functionCall':{'name':'f','args':{}}}]},{'role':'user','parts':[{"
               "'functionResponse':{'name':'f','response':{'content':'1'}}}]},{'role':'model',"
               "'parts':[{'text':'ok'}]},{'role':'user','parts':[{'text':'y'}]},{'role':'model',"
               "'parts':[{'functionCall':{'name':'g','args':{}}}]},{'role':'user','parts':[{"
               "'functionResponse':{'name':'g','response':{'content':'2'}}}]}]}");
    refused("{'messages':[{'role':'user','content':'x'},{'role':'assistant','tool_calls':[{"
            "'id':'a','type':'function','function':{'name':'f','arguments':'{}'}}]},{'role':"
            "'assistant','tool_calls':[{'id':'b','type':'function','function':{'name':'g',"
            "'arguments':'{}'}}]},{'role':'tool','tool_call_id':'a','content':'r'}]}",
            "messages[3]", "names no tool call of the last assistant message");
    char big[16384];
    size_t o = (size_t)snprintf(big, sizeof big, "{'messages':[{'role':'assistant','tool_calls':[");
    for (int i = 0; i < 129; i++)
        o += (size_t)snprintf(big + o, sizeof big - o,
                              "%s{'id':'c%d','type':'function','function':{'name':'f',"
                              "'arguments':'{}'}}",
                              i ? "," : "", i);
    snprintf(big + o, sizeof big - o, "]}]}");
    refused(big, "messages[0]", "at most 128 tool_calls");
}
