/* `girder keys`: virtual keys for the gateway's governance section.
 *
 *   girder keys new [--id ID] [--prefix P]
 *                               a random key (gk-<43 base64url chars>, 256 bits), the
 *                               `keys:` entry holding only its SHA-256, and the redis-cli
 *                               HSET that stores the same entry in Redis (governance.redis
 *                               keys: true; P is its key_prefix, default girder)
 *   girder keys hash            the SHA-256 of the key read from stdin (one line)
 *
 * The key goes to stdout once and is never stored; reading it from stdin keeps it out of
 * the process list and shell history. Same digest as
 *   printf %s "$KEY" | sha256sum */
#include "cli/cli.h"
#include "gateway/gov_keys.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: girder keys new [--id ID] [--prefix KEY_PREFIX]\n"
                 "       girder keys hash < keyfile\n"
                 "new: prints a fresh virtual key, its config entry (key_sha256) and the\n"
                 "     redis-cli command that adds it to Redis instead (key_prefix, default\n"
                 "     girder)\n"
                 "hash: prints the SHA-256 (hex) of the key on stdin's first line\n");
}

/* What an id or key prefix may hold so that it is valid in Redis and quotes safely. */
static int plain(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 127 || strchr("\"'\\{}", *s))
            return 0;
    return 1;
}

static int cmd_new(int argc, char **argv)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *id = "my-key", *prefix = "girder";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--id") == 0 && i + 1 < argc)
            id = argv[++i];
        else if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc)
            prefix = argv[++i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (!plain(id, 128) || !plain(prefix, 64)) {
        fprintf(stderr, "girder keys: --id (1..128) and --prefix (1..64) take printable bytes "
                        "without spaces, quotes, '\\', '{' or '}'\n");
        return 2;
    }
    unsigned char raw[33];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        fprintf(stderr, "girder keys: getrandom failed\n");
        return 1;
    }
    char key[3 + 44 + 1] = "gk-";
    size_t k = 3;
    for (size_t i = 0; i < sizeof raw; i += 3) { /* 33 bytes -> 44 chars, no padding */
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
        for (int s = 18; s >= 0; s -= 6)
            key[k++] = b64[v >> s & 63];
    }
    key[k] = '\0';
    unsigned char md[32];
    char hex[65];
    gd_gov_sha256(key, k, md);
    gd_gov_hex(md, hex);
    memset(raw, 0, sizeof raw);
    printf("key: %s\n\n# governance.keys entry (the key itself is not stored):\n"
           "  - id: %s\n    key_sha256: %s\n\n"
           "# or in Redis (governance.redis.keys: true, key_prefix %s); more fields: tenant,\n"
           "# models (a,b), rpm, tpm, concurrent, budget_usd, budget_period, metadata (k=v,k=v)\n"
           "redis-cli HSET '{%s}:key:%s' id '%s'\n"
           "# revoke: redis-cli DEL '{%s}:key:%s'\n",
           key, id, hex, prefix, prefix, hex, id, prefix, hex);
    memset(key, 0, sizeof key);
    return 0;
}

static int cmd_hash(void)
{
    char line[GD_GOV_MAX_KEY_BYTES + 2];
    if (!fgets(line, sizeof line, stdin)) {
        fprintf(stderr, "girder keys hash: no key on stdin\n");
        return 1;
    }
    size_t n = strcspn(line, "\r\n");
    if (n == 0 || n > GD_GOV_MAX_KEY_BYTES) {
        fprintf(stderr, "girder keys hash: expected one key of 1 to %d bytes\n",
                GD_GOV_MAX_KEY_BYTES);
        return 1;
    }
    unsigned char md[32];
    char hex[65];
    gd_gov_sha256(line, n, md);
    gd_gov_hex(md, hex);
    memset(line, 0, sizeof line);
    printf("%s\n", hex);
    return 0;
}

int gd_cmd_keys(int argc, char **argv)
{
    if (argc < 2 || gd_cli_wants_help(argc, argv)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "new") == 0)
        return cmd_new(argc - 1, argv + 1);
    if (strcmp(argv[1], "hash") == 0 && argc == 2)
        return cmd_hash();
    usage(stderr);
    return 2;
}
