#!/bin/sh
# soname.sh LIBDIR NAME — the SONAME of LIBDIR/libNAME.so: the name under which kiln dlopen()s a
# library it does not link (util/dl-*.c), read at configure time from the one it builds against.
set -eu
so=$(readelf -d "$1/lib$2.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
[ -n "$so" ] || { echo "soname.sh: no SONAME in $1/lib$2.so" >&2; exit 1; }
echo "$so"
