/* OpenAI-format error bodies for errors girder produces itself:
 * {"error":{"message":...,"type":...,"param":...|null,"code":...|null}}.
 * Pure and thread-safe. */
#ifndef GD_GATEWAY_OAI_ERROR_H
#define GD_GATEWAY_OAI_ERROR_H

#include "core/buf.h"

/* The OpenAI error `type` conventionally used for an HTTP status. */
const char *gd_gw_error_type_for(int status);

/* Appends the error object to out. param and code may be NULL (written as null); type
 * NULL means gd_gw_error_type_for(status). Returns 0, GD_ELIMIT or GD_ENOMEM. */
int gd_gw_error_write(struct gd_buf *out, int status, const char *message, const char *type,
                      const char *param, const char *code);

#endif
