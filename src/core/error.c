#include "girder/error.h"

const char *gd_strerror(int err)
{
    switch (err) {
    case GD_OK: return "success";
    case GD_ENOMEM: return "out of memory";
    case GD_EINVAL: return "invalid argument";
    case GD_EIO: return "input/output error";
    case GD_ERANGE: return "value out of range";
    case GD_ENOTSUP: return "not supported";
    case GD_EPARSE: return "parse error";
    case GD_ELIMIT: return "limit exceeded";
    case GD_ENOENT: return "not found";
    case GD_EAGAIN: return "try again";
    case GD_ETIMEDOUT: return "timed out";
    case GD_ECLOSED: return "closed";
    case GD_EEXIST: return "already exists";
    case GD_ESTATE: return "invalid state";
    case GD_EINPROGRESS: return "in progress";
    }
    return "unknown error";
}
