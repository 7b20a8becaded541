#include "gateway/gw_cache.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <string.h>

static void key(const char *body, int kind, const char *scope, uint8_t out[32])
{
    cr_assert_eq(gd_gw_cache_key(kind, scope, body, strlen(body), out), 0, "%s", body);
}

Test(gw_cache, key_is_canonical)
{
    uint8_t a[32], b[32], c[32];
    key("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"n\":1.0}", 0, "t",
        a);
    key(" { \"n\" : 1, \"user\": \"x\", \"messages\" : [ { \"content\":\"hi\", \"role\":\"user\" } "
        "], \"model\":\"m\" } ",
        0, "t", b);
    cr_assert_eq(memcmp(a, b, 32), 0, "key order, whitespace and user must not matter");
    key("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"n\":2}", 0, "t",
        c);
    cr_assert_neq(memcmp(a, c, 32), 0);
    key("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"n\":1}", 1, "t",
        c);
    cr_assert_neq(memcmp(a, c, 32), 0, "the kind is part of the key");
    key("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"n\":1}", 0, "u",
        c);
    cr_assert_neq(memcmp(a, c, 32), 0, "the scope is part of the key");
    key("{\"model\":\"m\",\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],\"n\":1}", 0, "t",
        c);
    cr_assert_eq(memcmp(a, c, 32), 0, "nested objects are sorted too");
    cr_assert_eq(gd_gw_cache_key(0, "", "[1]", 3, c), GD_EPARSE);
    cr_assert_eq(gd_gw_cache_key(0, "", "{\"a\":", 5, c), GD_EPARSE);
    char body[256] = "{\"a\":";
    size_t n = strlen(body);
    memset(body + n, '[', 100);
    body[n + 100] = '1';
    memset(body + n + 101, ']', 100);
    memcpy(body + n + 201, "}", 2);
    cr_assert_eq(gd_gw_cache_key(0, "", body, strlen(body), c), GD_EPARSE, "too deep");
}

static uint8_t k(int i)
{
    return (uint8_t)i;
}

static void fill(uint8_t out[32], int i)
{
    memset(out, 0, 32);
    out[0] = k(i);
    out[31] = k(i);
}

Test(gw_cache, lru_ttl_and_limits)
{
    struct gd_gw_cache_config cc = {1000, 3 * (1024 + 200), 1024, 0, NULL};
    struct gd_gw_cache *c = gd_gw_cache_new(&cc);
    cr_assert_not_null(c);
    char body[1024];
    uint8_t key1[32], key2[32], key3[32], key4[32];
    fill(key1, 1), fill(key2, 2), fill(key3, 3), fill(key4, 4);
    uint64_t ev = 0;
    memset(body, 'a', sizeof body);
    cr_assert_eq(gd_gw_cache_put(c, key1, 0, "application/json", body, 900, &ev), 0);
    cr_assert_eq(gd_gw_cache_put(c, key2, 0, "application/json", body, 900, &ev), 0);
    cr_assert_eq(gd_gw_cache_put(c, key3, 0, "text/event-stream", body, 900, &ev), 0);
    cr_assert_eq(ev, 0);
    struct gd_buf out;
    char ct[64];
    gd_buf_init(&out, 1 << 20);
    cr_assert_eq(gd_gw_cache_get(c, key1, 10, &out, ct, sizeof ct), 1); /* key1 now newest */
    cr_assert_eq(out.len, 900);
    cr_assert_str_eq(ct, "application/json");
    cr_assert_eq(gd_gw_cache_put(c, key4, 10, "application/json", body, 900, &ev), 0);
    cr_assert_eq(ev, 1, "the least recently used one goes");
    gd_buf_reset(&out);
    cr_assert_eq(gd_gw_cache_get(c, key2, 10, &out, ct, sizeof ct), 0);
    cr_assert_eq(gd_gw_cache_get(c, key3, 10, &out, ct, sizeof ct), 1);
    cr_assert_str_eq(ct, "text/event-stream");
    cr_assert_eq(gd_gw_cache_put(c, key3, 20, "application/json", "x", 1, &ev), 0, "replace");
    gd_buf_reset(&out);
    cr_assert_eq(gd_gw_cache_get(c, key3, 30, &out, ct, sizeof ct), 1);
    cr_assert_eq(out.len, 1);
    cr_assert_eq(gd_gw_cache_get(c, key1, 1000, &out, ct, sizeof ct), 0, "expired at ttl");
    cr_assert_eq(gd_gw_cache_put(c, key2, 0, "application/json", body, 1025, &ev), GD_ELIMIT);
    struct gd_gw_cache_stats st;
    gd_gw_cache_stats(c, &st);
    cr_assert_eq(st.entries, 2); /* key3, key4 */
    cr_assert_eq(st.evictions, 1);
    gd_buf_free(&out);
    gd_gw_cache_free(c);
}
