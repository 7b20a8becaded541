/* SigV4 (aws_sigv4.h) against AWS's published Signature Version 4 test suite (the
 * aws-sig-v4-test-suite vectors: credentials AKIDEXAMPLE, 20150830T123600Z, us-east-1,
 * service "service", host example.amazonaws.com). The expected signatures are AWS's, not
 * values computed with this code. */
#include "gateway/aws_sigv4.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const struct gd_aws_creds suite = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                          NULL};

static struct gd_aws_sig_req vector(const char *method)
{
    struct gd_aws_sig_req r = {0};
    r.method = method;
    r.host = "example.amazonaws.com";
    r.path = "/";
    r.amz_date = "20150830T123600Z";
    r.region = "us-east-1";
    r.service = "service";
    return r;
}

static void signs_as(const struct gd_aws_sig_req *r, const struct gd_aws_creds *c,
                     const char *signed_headers, const char *signature)
{
    struct gd_buf auth;
    char want[512];
    gd_buf_init(&auth, 4096);
    cr_assert_eq(gd_aws_sigv4_sign(r, c, &auth, NULL), 0);
    snprintf(want, sizeof want,
             "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
             "SignedHeaders=%s, Signature=%s",
             signed_headers, signature);
    cr_assert_str_eq(auth.data, want);
    gd_buf_free(&auth);
}

Test(aws_sigv4, get_vanilla)
{
    struct gd_aws_sig_req r = vector("GET");
    signs_as(&r, &suite, "host;x-amz-date",
             "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

Test(aws_sigv4, post_vanilla)
{
    struct gd_aws_sig_req r = vector("POST");
    signs_as(&r, &suite, "host;x-amz-date",
             "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

/* post-vanilla.sts's last line: the hash of the canonical request post-vanilla.creq. */
Test(aws_sigv4, post_vanilla_canonical_request_hash)
{
    struct gd_aws_sig_req r = vector("POST");
    struct gd_buf cr;
    char h[65];
    gd_buf_init(&cr, 4096);
    cr_assert_eq(gd_aws_sigv4_canonical(&r, &cr), 0);
    gd_aws_sha256_hex(cr.data, cr.len, h);
    cr_assert_str_eq(h, "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87");
    gd_buf_free(&cr);
}

Test(aws_sigv4, get_vanilla_query_order_key_case)
{
    struct gd_aws_sig_req r = vector("GET");
    r.query = "Param2=value2&Param1=value1";
    signs_as(&r, &suite, "host;x-amz-date",
             "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

Test(aws_sigv4, post_sts_header_before)
{
    struct gd_aws_creds c = suite;
    c.session_token =
        "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmx"
        "fpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy"
        "0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL6"
        "4lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
    struct gd_aws_sig_req r = vector("POST");
    signs_as(&r, &c, "host;x-amz-date;x-amz-security-token",
             "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
}

/* Every service but S3 URI-encodes the (already encoded) wire path once more: the ':' of
 * a Bedrock model id is %3A on the wire and %253A in the canonical request. */
Test(aws_sigv4, canonical_uri_encodes_the_wire_path_again)
{
    struct gd_aws_sig_req r = vector("POST");
    r.path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse";
    r.payload = "{}";
    r.payload_len = 2;
    r.content_type = "application/json";
    struct gd_buf cr;
    gd_buf_init(&cr, 4096);
    cr_assert_eq(gd_aws_sigv4_canonical(&r, &cr), 0);
    cr_assert_str_eq(cr.data, "POST\n"
                              "/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse\n"
                              "\n"
                              "content-type:application/json\n"
                              "host:example.amazonaws.com\n"
                              "x-amz-date:20150830T123600Z\n"
                              "\n"
                              "content-type;host;x-amz-date\n"
                              /* SHA-256 of "{}" */
                              "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    gd_buf_free(&cr);
}

Test(aws_sigv4, content_sha256_header_is_signed_when_asked)
{
    struct gd_aws_sig_req r = vector("POST");
    r.sign_content_sha256 = 1;
    struct gd_buf auth;
    char ph[65];
    gd_buf_init(&auth, 4096);
    cr_assert_eq(gd_aws_sigv4_sign(&r, &suite, &auth, ph), 0);
    cr_assert_str_eq(ph, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_assert_not_null(strstr(auth.data, "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "));
    gd_buf_free(&auth);
}

Test(aws_sigv4, refuses_bad_fields)
{
    struct gd_buf auth;
    gd_buf_init(&auth, 4096);
    struct gd_aws_sig_req r = vector("POST");
    r.host = "example.com\r\nX-Evil: 1";
    cr_assert_eq(gd_aws_sigv4_sign(&r, &suite, &auth, NULL), GD_EINVAL);
    r = vector("POST");
    r.amz_date = "2015-08-30";
    cr_assert_eq(gd_aws_sigv4_sign(&r, &suite, &auth, NULL), GD_EINVAL);
    r = vector("POST");
    r.path = "model/x";
    cr_assert_eq(gd_aws_sigv4_sign(&r, &suite, &auth, NULL), GD_EINVAL);
    r = vector("POST");
    struct gd_aws_creds c = {"AKID\nX", "secret", NULL};
    cr_assert_eq(gd_aws_sigv4_sign(&r, &c, &auth, NULL), GD_EINVAL);
    struct gd_aws_creds empty = {"AKID", "", NULL};
    cr_assert_eq(gd_aws_sigv4_sign(&r, &empty, &auth, NULL), GD_EINVAL);
    cr_assert_eq(auth.len, 0);
    gd_buf_free(&auth);
}

Test(aws_sigv4, amz_date)
{
    char d[17];
    gd_aws_amz_date((time_t)1440938160, d); /* 2015-08-30 12:36:00 UTC */
    cr_assert_str_eq(d, "20150830T123600Z");
}
