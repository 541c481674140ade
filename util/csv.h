/* csv — one field at a time of a comma-separated option string, as BuildKit reads --output
 * ("type=oci,\"name=a,b\",dest=x"): double quotes group, "" inside quotes is a quote. */
#pragma once

/* The field at *p as a new string (caller frees) in *ret; *p moves past its comma. -EINVAL
 * for an unterminated quote (*ret untouched). */
int kl_csv_next(const char **p, char **ret);
