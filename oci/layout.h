/* layout — reading OCI image layout directories: oci-layout, index.json, blobs/sha256/<hex>.
 * Blobs are verified against their digest as they are read. */
#pragma once
#include <stddef.h>

#include "fs/digest.h"

struct kl_error;
struct oci_descriptor;

/* Finds in DIR's index.json the entry named by tag (org.opencontainers.image.ref.name) or by
 * digest (has_digest), or, when both are unset, the only entry (else the one tagged "latest").
 * Fills ret (free with oci_descriptor_done); -ENOENT with a message when nothing matches. */
int oci_layout_find(const char *dir, const char *tag, const struct digest *digest,
                    struct oci_descriptor *ret, struct kl_error **err);
/* Opens blob d of the layout read-only (not verified: the caller hashes while reading);
 * -ENOENT with a message naming the digest when absent. */
int oci_layout_open_blob(const char *dir, const struct digest *d, struct kl_error **err);
/* Reads a whole blob of at most max bytes into memory, verified against d (-EBADMSG naming it). */
int oci_layout_read_blob(const char *dir, const struct digest *d, size_t max, char **ret,
                         size_t *ret_len, struct kl_error **err);
