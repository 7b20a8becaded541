#include "core/alloc.h"
#include "core/arena.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/hash.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

Test(buf, grows_and_stays_terminated)
{
    struct gd_buf b;
    gd_buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(gd_buf_printf(&b, "%d,", i), 0);
    cr_assert_eq(b.data[b.len], '\0');
    cr_assert(strncmp(b.data, "0,1,2,", 6) == 0);
    gd_buf_consume(&b, 2);
    cr_assert(strncmp(b.data, "1,2,", 4) == 0);
    gd_buf_free(&b);
}

Test(buf, cap_is_enforced)
{
    struct gd_buf b;
    gd_buf_init(&b, 8);
    cr_assert_eq(gd_buf_puts(&b, "12345678"), 0);
    cr_assert_eq(gd_buf_putc(&b, 'x'), GD_ELIMIT);
    cr_assert_eq(b.len, 8);
    gd_buf_free(&b);
}

Test(alloc, failure_injection_and_counts)
{
    struct gd_alloc_stats before, after;
    gd_alloc_get_stats(&before);
    gd_alloc_fail_after(2);
    void *a = gd_malloc(10);
    void *b = gd_malloc(10);
    void *c = gd_malloc(10);
    cr_assert_not_null(a);
    cr_assert_null(b);
    cr_assert_not_null(c);
    gd_free(a);
    gd_free(c);
    gd_alloc_get_stats(&after);
    cr_assert_eq(after.failures - before.failures, 1);
    cr_assert_eq(after.allocs - before.allocs, 2);
    cr_assert_null(gd_calloc(SIZE_MAX / 2, 4), "calloc must detect overflow");
}

Test(arena, aligned_and_capped)
{
    struct gd_arena a;
    gd_arena_init(&a, 256, 1024);
    for (int i = 0; i < 10; i++) {
        void *p = gd_arena_alloc(&a, 33);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % 16, 0);
    }
    cr_assert_null(gd_arena_alloc(&a, 1024), "over the cap");
    cr_assert_str_eq(gd_arena_strndup(&a, "hello world", 5), "hello");
    gd_arena_free(&a);
}

Test(json, escapes_controls_and_invalid_utf8)
{
    struct gd_buf b;
    gd_buf_init(&b, 1024);
    const char in[] = "a\"b\\c\n\x01\xc3\xa9\xff";
    cr_assert_eq(gd_json_put_str(&b, in, sizeof in - 1), 0);
    cr_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\\ufffd\"");
    gd_buf_reset(&b);
    gd_json_put_f64(&b, 0.1);
    cr_assert_str_eq(b.data, "0.1");
    gd_buf_free(&b);
}

Test(hash, differs_by_content_and_seed)
{
    cr_assert_neq(gd_hash("abc", 3), gd_hash("abd", 3));
    cr_assert_eq(gd_hash("abcdefghij", 10), gd_hash("abcdefghij", 10));
    cr_assert_neq(gd_hash_seeded("x", 1, 1), gd_hash_seeded("x", 1, 2));
}

Test(base64, rfc4648_vectors_and_cap)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                      "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        struct gd_buf b;
        gd_buf_init(&b, 64);
        cr_assert_eq(gd_base64_encode(&b, in[i], strlen(in[i])), 0);
        cr_assert_str_eq(b.data ? b.data : "", out[i]);
        gd_buf_free(&b);
    }
    const unsigned char bytes[] = {0x00, 0xff, 0xfe, 0x80};
    struct gd_buf b;
    gd_buf_init(&b, 7);
    cr_assert_eq(gd_base64_encode(&b, bytes, sizeof bytes), GD_ELIMIT); /* needs 8 */
    gd_buf_free(&b);
    gd_buf_init(&b, 8);
    cr_assert_eq(gd_base64_encode(&b, bytes, sizeof bytes), 0);
    cr_assert_str_eq(b.data, "AP/+gA==");
    gd_buf_free(&b);
}
