/* Probe response comparison (ms_probe.h): what passes, and that every failure names what
 * differed. */
#include <criterion/criterion.h>
#include <string.h>

#include "girder/error.h"
#include "serve/ms_probe.h"

static int cmp(const char *got, const char *want, char *why)
{
    return gd_ms_probe_compare(got, strlen(got), want, strlen(want), 1e-3, 1e-2, why, 300);
}

static const char GOT[] =
    "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP32\",\"shape\":[2,2],"
    "\"data\":[1.0,2.0,3.0,400.0]},{\"name\":\"s\",\"datatype\":\"BYTES\",\"shape\":[1],"
    "\"data\":[\"ok\"]},{\"name\":\"b\",\"datatype\":\"BOOL\",\"shape\":[1],\"data\":[true]}]}";

Test(serve_probe, matches_within_tolerance_and_nested_data)
{
    char why[300] = "";
    cr_assert_eq(cmp(GOT,
                     "{\"outputs\":[{\"name\":\"y\",\"shape\":[2,2],"
                     "\"data\":[[1.0005,2],[3,403]]}]}",
                     why),
                 0, "%s", why);
    /* only the listed outputs and fields are compared */
    cr_assert_eq(
        cmp(GOT, "{\"outputs\":[{\"name\":\"s\",\"data\":[\"ok\"]},{\"name\":\"b\"}]}", why), 0,
        "%s", why);
}

Test(serve_probe, differences_are_named)
{
    static const struct {
        const char *want, *fragment;
    } cases[] = {
        {"{\"outputs\":[{\"name\":\"y\",\"data\":[1,2,3.1,400]}]}", "output 'y'[2] is 3"},
        {"{\"outputs\":[{\"name\":\"y\",\"shape\":[4]}]}",
         "output 'y': shape is [2,2], expected [4]"},
        {"{\"outputs\":[{\"name\":\"y\",\"datatype\":\"FP16\"}]}", "datatype"},
        {"{\"outputs\":[{\"name\":\"y\",\"data\":[1,2,3]}]}", "4 values, expected 3"},
        {"{\"outputs\":[{\"name\":\"z\"}]}", "output 'z' is missing"},
        {"{\"outputs\":[{\"name\":\"s\",\"data\":[\"no\"]}]}", "output 's'[0] is \"ok\""},
        {"{\"outputs\":[{\"name\":\"b\",\"data\":[false]}]}", "output 'b'[0] is true"},
        {"{\"outputs\":[{\"data\":[1]}]}", "no \"name\""},
        {"{\"nothing\":1}", "expected response has no \"outputs\""},
        {"not json", "expected response has no \"outputs\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[300] = "";
        cr_assert_eq(cmp(GOT, cases[i].want, why), GD_EINVAL, "case %zu passed", i);
        cr_assert(strstr(why, cases[i].fragment), "case %zu: '%s' lacks '%s'", i, why,
                  cases[i].fragment);
    }
    char why[300] = "";
    cr_assert_eq(cmp("{\"error\":\"x\"}", "{\"outputs\":[]}", why), GD_EINVAL);
    cr_assert(strstr(why, "the response has no"), "%s", why);
}
