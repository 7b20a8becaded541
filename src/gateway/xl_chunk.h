/* The OpenAI `chat.completion.chunk` events that the stream translators (Anthropic, Gemini,
 * Bedrock -> OpenAI) write: one writer for the chunk head (built once per stream), text,
 * raw deltas with a finish_reason, and tool-call deltas, so that every provider's stream
 * reaches clients in the same bytes.
 *
 * Threading: one per stream. Errors: 0 or GD_ENOMEM (from gd_buf). */
#ifndef GD_GATEWAY_XL_CHUNK_H
#define GD_GATEWAY_XL_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct gd_xl_chunks {
    char id[128];    /* the chunks' "id" (set before gd_xl_chunks_build) */
    char model[256]; /* their "model" ("" when the provider does not say) */
    int64_t created;
    size_t head_len; /* 0: head not built (too long once escaped: written each time) */
    char head[1024]; /* `data: {"id":..,"object":..,"created":..,"model":..,"choices":[` */
};

/* Empty id and model, head not built. */
void gd_xl_chunks_init(struct gd_xl_chunks *c, int64_t created);
/* Builds the head from id, model and created (call again after changing them). */
void gd_xl_chunks_build(struct gd_xl_chunks *c);

int gd_xl_chunk_head(const struct gd_xl_chunks *c, struct gd_buf *b);
/* A chunk whose delta is `delta` (raw JSON object text), finish_reason fr (NULL: null). */
int gd_xl_chunk(const struct gd_xl_chunks *c, struct gd_buf *b, const char *delta, const char *fr);
/* A content delta: text[0..n) escaped, or copied as is when raw (already a JSON string). */
int gd_xl_chunk_text(const struct gd_xl_chunks *c, struct gd_buf *b, const char *text, size_t n,
                     int raw);
/* tool_calls[index]: the opening piece carries id (then "type":"function") and name, later
 * pieces only arguments (id / name NULL). */
int gd_xl_chunk_tool(const struct gd_xl_chunks *c, struct gd_buf *b, int64_t index, const char *id,
                     const char *name, const char *args);

#endif
