/* timestamp — the times kiln writes into image configs (RFC 3339 in UTC, whole seconds, as
 * BuildKit writes them) and SOURCE_DATE_EPOCH (reproducible-builds.org's variable), parsed the
 * same way by every command and the Dockerfile frontend. Pure. */
#pragma once
#include <stdint.h>

struct kl_error;

#define KL_TIMESTAMP_SIZE 32               /* room for kl_timestamp_format's text */
#define KL_EPOCH_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z: four-digit years */

/* t (seconds since 1970-01-01 UTC) as "2006-01-02T15:04:05Z" into buf; returns buf. A time
 * outside [0, KL_EPOCH_MAX] gives "1970-01-01T00:00:00Z". */
const char *kl_timestamp_format(int64_t t, char buf[KL_TIMESTAMP_SIZE]);

/* Parses a SOURCE_DATE_EPOCH value: decimal digits only, seconds since 1970-01-01 UTC, at
 * most KL_EPOCH_MAX. name is where it came from, for the message ("SOURCE_DATE_EPOCH",
 * "--source-date-epoch"). Returns 1 with *ret set; 0 when value is NULL or empty (unset, as
 * the specification has it; *ret untouched); -EINVAL with "invalid NAME 'VALUE': not a
 * number of seconds since 1970-01-01 (0 to 253402300799)" otherwise. */
int kl_source_date_epoch_parse(const char *name, const char *value, int64_t *ret,
                               struct kl_error **err);
