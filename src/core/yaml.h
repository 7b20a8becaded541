/* YAML documents as a small, immutable node tree (map / sequence / scalar), built with
 * libyaml's event parser. Every node remembers where it came from (1-based line and
 * column) and its dotted path from the root ("limits.max_body_bytes", "providers[2].name"),
 * so that configuration errors can point at the offending text.
 *
 * Scalars get `${VAR}` / `${VAR:-default}` substitution from the environment while the tree
 * is built (`$${` writes a literal `${`). A scalar into which any environment value was
 * inserted carries GD_YAML_F_SECRET: code that prints errors, logs or summaries must never
 * show such a value. Keys are never substituted.
 *
 * Deliberately unsupported (each is a parse error with a position): anchors and aliases
 * (they make "billion laughs" documents cheap), merge keys, non-scalar map keys, duplicate
 * keys in one map, more than one document per stream.
 *
 * Everything is capped: input bytes, nesting depth, node count, scalar length. All memory of
 * a document lives in one arena released by gd_yaml_doc_free. */
#ifndef GD_CORE_YAML_H
#define GD_CORE_YAML_H

#include <stddef.h>

struct gd_config_diag; /* core/config.h: where parse errors are collected */

enum gd_yaml_kind { GD_YAML_SCALAR = 1, GD_YAML_MAP, GD_YAML_SEQ };

enum {
    GD_YAML_F_SECRET = 1u << 0, /* scalar holds text taken from the environment */
    GD_YAML_F_QUOTED = 1u << 1, /* quoted or block scalar: never null/bool/number-looking */
};

struct gd_yaml_pair;

struct gd_yaml_node {
    enum gd_yaml_kind kind;
    unsigned flags;             /* GD_YAML_F_* */
    int line, col;              /* 1-based position of the node's first character */
    const char *path;           /* dotted path from the root; "" for the root itself */
    const char *str;            /* scalar: NUL-terminated value (after substitution) */
    size_t len;                 /* scalar: bytes in str (may contain NUL bytes) */
    size_t n;                   /* map: pairs; seq: items */
    struct gd_yaml_pair *pairs; /* map: n pairs in document order */
    struct gd_yaml_node **items; /* seq: n items in document order */
};

struct gd_yaml_pair {
    struct gd_yaml_node *key; /* always a scalar */
    struct gd_yaml_node *value;
};

struct gd_yaml_limits {
    size_t max_bytes;        /* input size (default 1 MiB) */
    unsigned max_depth;      /* nesting of maps/sequences (default 32) */
    size_t max_nodes;        /* nodes of all kinds (default 100000) */
    size_t max_scalar_bytes; /* one scalar after substitution (default 64 KiB) */
};

/* Looks up an environment variable for ${VAR}; returns NULL when unset. */
typedef const char *(*gd_yaml_env_fn)(void *ud, const char *name);

struct gd_yaml_parse_opts {
    struct gd_yaml_limits limits; /* zero fields take the defaults above */
    gd_yaml_env_fn getenv;        /* NULL: getenv(3) */
    void *getenv_ud;
};

struct gd_yaml_doc; /* opaque; owns every node */

/* Parses data[0..len) (need not be NUL-terminated). opts may be NULL (defaults).
 * On success *out is a new document (free with gd_yaml_doc_free) and 0 is returned. On
 * failure returns GD_EPARSE (syntax, malformed ${...} or unsupported feature), GD_ELIMIT (a
 * cap) or GD_ENOMEM with one error recorded in diag, or GD_EINVAL when environment variables
 * without default are unset (each one recorded); *out = NULL. Messages never quote secrets.
 * An empty stream parses to a document whose root is NULL. Thread-safe (no shared state). */
int gd_yaml_parse(const char *data, size_t len, const struct gd_yaml_parse_opts *opts,
                  struct gd_config_diag *diag, struct gd_yaml_doc **out);
void gd_yaml_doc_free(struct gd_yaml_doc *doc);
/* The root node (NULL for an empty document); valid until gd_yaml_doc_free. */
const struct gd_yaml_node *gd_yaml_doc_root(const struct gd_yaml_doc *doc);

/* Value of key in a map node, or NULL when absent or when map is NULL / not a map. */
const struct gd_yaml_node *gd_yaml_map_get(const struct gd_yaml_node *map, const char *key);
/* True for an absent node or a plain scalar spelled "", "~", "null", "Null" or "NULL". */
int gd_yaml_is_null(const struct gd_yaml_node *node);
/* "a map" / "a sequence" / "a scalar" (for messages). */
const char *gd_yaml_kind_name(enum gd_yaml_kind kind);

#endif
