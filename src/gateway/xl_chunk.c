/* OpenAI chat.completion.chunk writers for the stream translators (see xl_chunk.h). */
#include "gateway/xl_chunk.h"

#include <string.h>

#include "core/json_write.h"
#include "gateway/xl_json.h"

void gd_xl_chunks_init(struct gd_xl_chunks *c, int64_t created)
{
    memset(c, 0, sizeof *c);
    c->created = created;
}

static int write_head(const struct gd_xl_chunks *c, struct gd_buf *b)
{
    int rc = gd_buf_puts(b, "data: {\"id\":");
    rc = rc ? rc : gd_xl_put_str(b, c->id);
    rc = rc ? rc : gd_buf_puts(b, ",\"object\":\"chat.completion.chunk\",\"created\":");
    rc = rc ? rc : gd_json_put_i64(b, c->created);
    rc = rc ? rc : gd_buf_puts(b, ",\"model\":");
    rc = rc ? rc : gd_xl_put_str(b, c->model);
    return rc ? rc : gd_buf_puts(b, ",\"choices\":[");
}

void gd_xl_chunks_build(struct gd_xl_chunks *c)
{
    struct gd_buf b;
    c->head_len = 0;
    gd_buf_init(&b, sizeof c->head);
    if (write_head(c, &b) == 0 && b.len <= sizeof c->head) {
        memcpy(c->head, b.data, b.len);
        c->head_len = b.len;
    }
    gd_buf_free(&b);
}

int gd_xl_chunk_head(const struct gd_xl_chunks *c, struct gd_buf *b)
{
    return c->head_len ? gd_buf_append(b, c->head, c->head_len) : write_head(c, b);
}

int gd_xl_chunk(const struct gd_xl_chunks *c, struct gd_buf *b, const char *delta, const char *fr)
{
    int rc = gd_xl_chunk_head(c, b);
    rc = rc ? rc : gd_buf_puts(b, "{\"index\":0,\"delta\":");
    rc = rc ? rc : gd_buf_puts(b, delta);
    rc = rc ? rc : gd_buf_puts(b, ",\"logprobs\":null,\"finish_reason\":");
    rc = rc ? rc : (fr ? gd_xl_put_str(b, fr) : gd_buf_puts(b, "null"));
    return rc ? rc : gd_buf_puts(b, "}]}\n\n");
}

int gd_xl_chunk_text(const struct gd_xl_chunks *c, struct gd_buf *b, const char *text, size_t n,
                     int raw)
{
    int rc = gd_xl_chunk_head(c, b);
    rc = rc ? rc : gd_buf_puts(b, "{\"index\":0,\"delta\":{\"content\":");
    rc = rc ? rc : (raw ? gd_buf_append(b, text, n) : gd_json_put_str(b, text, n));
    return rc ? rc : gd_buf_puts(b, "},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
}

int gd_xl_chunk_tool(const struct gd_xl_chunks *c, struct gd_buf *b, int64_t index, const char *id,
                     const char *name, const char *args)
{
    int rc = gd_xl_chunk_head(c, b);
    rc = rc ? rc : gd_buf_puts(b, "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":");
    rc = rc ? rc : gd_json_put_i64(b, index);
    if (rc == 0 && id) {
        rc = gd_buf_puts(b, ",\"id\":");
        rc = rc ? rc : gd_xl_put_str(b, id);
        rc = rc ? rc : gd_buf_puts(b, ",\"type\":\"function\"");
    }
    rc = rc ? rc : gd_buf_puts(b, ",\"function\":{");
    if (rc == 0 && name) {
        rc = gd_buf_puts(b, "\"name\":");
        rc = rc ? rc : gd_xl_put_str(b, name);
        rc = rc ? rc : gd_buf_puts(b, ",");
    }
    rc = rc ? rc : gd_buf_puts(b, "\"arguments\":");
    rc = rc ? rc : gd_xl_put_str(b, args);
    return rc ? rc : gd_buf_puts(b, "}}]},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
}
