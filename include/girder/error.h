/* girder error codes, shared by every library (engine, logmine, server).
 * Functions return 0 on success and a negative GD_E* value on failure. */
#ifndef GIRDER_ERROR_H
#define GIRDER_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum gd_error {
    GD_OK = 0,
    GD_ENOMEM = -1,    /* allocation failed or a size cap was hit */
    GD_EINVAL = -2,    /* invalid argument or malformed input */
    GD_EIO = -3,       /* read/write failure (see errno) */
    GD_ERANGE = -4,    /* value or size out of the allowed range */
    GD_ENOTSUP = -5,   /* valid but unsupported (op, dtype, feature) */
    GD_EPARSE = -6,    /* syntax error in a text or binary format */
    GD_ELIMIT = -7,    /* a configured limit (bytes, count) was exceeded */
    GD_ENOENT = -8,    /* no such file, key, model or route */
    GD_EAGAIN = -9,    /* try again later (would block, queue full) */
    GD_ETIMEDOUT = -10,/* a deadline passed */
    GD_ECLOSED = -11,  /* the peer or the object was closed */
    GD_EEXIST = -12,   /* already exists */
    GD_ESTATE = -13,   /* call not valid in the object's current state */
    GD_EINPROGRESS = -14, /* started: the result comes later through a callback */
};

/* Static, human-readable description of a GD_E* code (never NULL). */
const char *gd_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
