/* whiteout — how a layer tar names things: Docker's cleaning of a tar name, and the OCI
 * whiteout names (".wh.NAME" removes NAME of the layers below, ".wh..wh..opq" makes its
 * directory opaque, other ".wh..wh.*" names are aufs bookkeeping, not part of the filesystem).
 * Pure functions, no state. */
#pragma once
#include <stddef.h>

#define OCI_WHITEOUT_PREFIX ".wh."
#define OCI_WHITEOUT_META_PREFIX ".wh..wh."
#define OCI_WHITEOUT_OPAQUE ".wh..wh..opq"

enum oci_name_kind {
	OCI_NAME_PLAIN,    /* an entry of the filesystem */
	OCI_NAME_WHITEOUT, /* ".wh.NAME": NAME of the lower layers is removed */
	OCI_NAME_OPAQUE,   /* ".wh..wh..opq": the lower layers' entries below its dir are hidden */
	OCI_NAME_AUFS,     /* other ".wh..wh.*" names and what is below them: ignored */
	_OCI_NAME_MAX
};

/* Cleans a tar name the way Docker does: leading "/" and "./" dropped, "." and empty
 * components removed, ".." resolved lexically; "." , "./" and "/" become "" (the root). NULL
 * when ".." escapes the root. Caller frees. */
char *oci_clean_name(const char *name);

/* Classifies a clean name (oci_clean_name's output). *ret_path (caller frees) is the path the
 * name acts on: the whited-out path for OCI_NAME_WHITEOUT, the directory holding the marker
 * for OCI_NAME_OPAQUE ("" for the root), the name itself for OCI_NAME_PLAIN, NULL for
 * OCI_NAME_AUFS. -EINVAL (nothing returned) for a whiteout of "", "." or "..". */
int oci_name_classify(const char *clean, enum oci_name_kind *ret_kind, char **ret_path);

/* The whiteout name of path ("a/b" → "a/.wh.b"); path is clean and not the root. Caller frees. */
char *oci_whiteout_name(const char *path, size_t len);
/* The opaque marker of directory dir ("a" → "a/.wh..wh..opq", "" → ".wh..wh..opq"). */
char *oci_opaque_name(const char *dir, size_t len);
