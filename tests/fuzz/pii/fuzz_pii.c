/* libFuzzer driver for the PII detector (src/gateway/pii.c): the first byte picks the
 * category mask (all, or one category), the rest is scanned as a request text. Checks: the
 * scan returns 0, GD_ELIMIT or GD_EAGAIN; matches lie inside the text, are non-empty, do not
 * overlap, come in order and are of an enabled category; the validators never read past
 * their input (ASan sees the exact-size heap copy). The same bytes then go through the JSON
 * rewrite (mask) and the restore of the rewritten text: restoring never fails and no error
 * but the documented ones comes back. */
#include "gateway/pii.h"
#include "gateway/pii_json.h"
#include "girder/error.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gd_pii_scanner *sc;
    if (!sc && !(sc = gd_pii_scanner_new()))
        abort();
    if (size == 0)
        return 0;
    uint32_t cats = data[0] < GD_PII_NCAT ? UINT32_C(1) << data[0] : GD_PII_ALL;
    size_t n = size - 1;
    char *s = malloc(n ? n : 1);
    if (!s)
        return 0;
    memcpy(s, data + 1, n);
    struct gd_pii_match m[64];
    size_t nm = 0;
    int rc = gd_pii_scan(sc, s, n, cats, m, 64, &nm);
    if (rc != 0 && rc != GD_ELIMIT && rc != GD_EAGAIN)
        abort();
    size_t end = 0;
    for (size_t i = 0; i < nm; i++) {
        if (m[i].len == 0 || m[i].off < end || m[i].off + m[i].len > n)
            abort();
        if (!(cats >> m[i].cat & 1) || !gd_pii_cat_name(m[i].cat))
            abort();
        end = m[i].off + m[i].len;
    }
    struct gd_pii_vault v;
    gd_pii_vault_init(&v);
    struct gd_buf out, back;
    gd_buf_init(&out, 1 << 22);
    gd_buf_init(&back, 1 << 23);
    rc = gd_pii_rewrite_json(sc, s, n, cats, GD_PII_MODE_MASK, &v, &out, NULL);
    if (rc != 0 && rc != GD_EPARSE && rc != GD_ELIMIT)
        abort();
    if (rc == 0 && gd_pii_restore(&v, out.data, out.len, &back) != 0)
        abort();
    gd_buf_free(&back);
    gd_buf_free(&out);
    gd_pii_vault_free(&v);
    free(s);
    return 0;
}
