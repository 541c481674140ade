/* imgstore-internal — what the index (imgstore-index.c) asks of the records (imgstore.c). */
#pragma once
#include "fs/digest.h"

struct kl_error;
struct store;

/* The config digest (the image id) a record names, without reading the config; -ENOENT (err
 * untouched) when the record is absent, -EBADMSG naming it when malformed. */
int imgstore_record_id(struct store *s, const struct digest *record, struct digest *ret,
                       struct kl_error **err);
