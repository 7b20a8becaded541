/* A model repository in Triton's layout: <dir>/<name>/<version>/model.onnx, version a
 * positive integer, name URL-safe. Other files and folders are ignored (a per-model
 * config.pbtxt, READMEs, ...). The repository is read when the config is loaded; a poller
 * notices changes (new, removed or rewritten versions) and asks for a reload.
 *
 * Threading: scan and signature are reentrant; the poller runs on its own thread. */
#ifndef GD_SERVE_MS_REPO_H
#define GD_SERVE_MS_REPO_H

#include <stddef.h>
#include <stdint.h>

#define GD_MS_REPO_MAX_MODELS 256
#define GD_MS_REPO_MAX_VERSIONS 256

struct gd_ms_repo_model {
    char name[128];
    int64_t versions[GD_MS_REPO_MAX_VERSIONS]; /* ascending */
    size_t n_versions;
};

/* The models found in dir, sorted by name (*out freed with gd_free). Errors: GD_ENOENT or
 * GD_EIO (dir unreadable, why says so), GD_ELIMIT (too many models or versions),
 * GD_ENOMEM. */
int gd_ms_repo_scan(const char *dir, struct gd_ms_repo_model **out, size_t *n, char *why,
                    size_t whylen);

/* A hash of what the repository holds: names, versions, and each model.onnx's size and
 * modification time; changes whenever a reload would load something different. */
uint64_t gd_ms_repo_signature(const char *dir);

/* Polls dir every interval_ms and calls changed(ud) once per change of the signature
 * (first compared with the signature at start). */
struct gd_ms_repo_poller;
int gd_ms_repo_poller_new(const char *dir, uint64_t interval_ms, void (*changed)(void *ud),
                          void *ud, struct gd_ms_repo_poller **out);
void gd_ms_repo_poller_free(struct gd_ms_repo_poller *p);

#endif
