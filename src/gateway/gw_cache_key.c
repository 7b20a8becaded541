/* The cache key of a request (gw_cache.h): two requests that mean the same — keys in
 * another order, other whitespace, another `user` — get the same key. */
#include "gateway/gw_cache.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 64 /* deeper bodies are not cached (and cJSON's own nesting limit holds) */

/* Sorts every object's members by name (stable: a repeated key keeps its order). */
static int canonicalise(cJSON *v, int depth)
{
    if (depth > MAX_DEPTH)
        return GD_EPARSE;
    if (cJSON_IsObject(v)) {
        cJSON *sorted = NULL, *next;
        for (cJSON *c = v->child; c; c = next) {
            next = c->next;
            cJSON **at = &sorted;
            while (*at && strcmp((*at)->string, c->string) <= 0)
                at = &(*at)->next;
            c->next = *at;
            *at = c;
        }
        cJSON *prev = NULL; /* cJSON keeps prev links, the first's pointing at the last */
        for (cJSON *c = sorted; c; c = c->next) {
            c->prev = prev;
            prev = c;
        }
        if (sorted)
            sorted->prev = prev;
        v->child = sorted;
    }
    for (cJSON *c = cJSON_IsObject(v) || cJSON_IsArray(v) ? v->child : NULL; c; c = c->next)
        if (canonicalise(c, depth + 1) != 0)
            return GD_EPARSE;
    return 0;
}

int gd_gw_cache_key(int kind, const char *scope, const char *body, size_t len,
                    uint8_t out[GD_GW_CACHE_KEY_BYTES])
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return GD_EPARSE;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(root, "user"); /* who asked, not what */
    int crc = canonicalise(root, 0);
    char *text = crc ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text)
        return crc ? crc : GD_ENOMEM;
    char head[32];
    int hn = snprintf(head, sizeof head, "girder-cache-1\n%d\n", kind);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(md, head, (size_t)hn) &&
             EVP_DigestUpdate(md, scope, strlen(scope) + 1) && /* the NUL ends the scope */
             EVP_DigestUpdate(md, text, strlen(text)) && EVP_DigestFinal_ex(md, out, &n);
    EVP_MD_CTX_free(md);
    cJSON_free(text);
    return ok && n == GD_GW_CACHE_KEY_BYTES ? 0 : GD_ENOMEM;
}
