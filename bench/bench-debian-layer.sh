#!/usr/bin/env bash
# bench-debian-layer.sh [ROOTFS.tar] — a real layer no one here wrote: the rootfs tar of a Debian
# 12 base made by `mmdebstrap --variant=minbase bookworm` (from Debian's archive; or ROOTFS.tar
# when given), as a one-layer tar+gzip OCI layout, pulled and mounted by kiln and compared byte
# for byte, with every metadata field and the hardlink groups, against `tar -xpf` of the same
# tar. Prints the time of each step; fails when the trees differ. Needs root, FUSE, mmdebstrap
# (unless ROOTFS.tar is given), jq, and a kiln whose mount takes oci-layout:// sources (KILN,
# default build/cli/kiln). Too slow for CI: mmdebstrap alone takes about 3 minutes here, most of
# it downloading packages.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KILN=${KILN:-$here/../build/cli/kiln}
T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
export KILN_ROOT=$T/root
_mounts=()
cleanup() {
	set +e
	for m in "${_mounts[@]}"; do "$KILN" umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
track_mount() { _mounts+=("$1"); }
need_cmd() { :; }
skip() { echo "cannot run: $*" >&2; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
kiln() { "$KILN" "$@"; }
. "$here/../tests/integration/lib-image.sh"
. "$here/../tests/integration/lib-mount.sh"
# meta_listing and link_groups, without lib.sh's traps and temp dir
eval "$(sed -n '/^meta_listing()/,/^}/p; /^link_groups()/,/^}/p' "$here/../tests/integration/lib.sh")"

secs() { local s=$EPOCHREALTIME; "$@" >/dev/null; echo "$EPOCHREALTIME - $s" | bc -l; }

if [ $# -ge 1 ]; then
	cp "$1" "$T/rootfs.tar"
else
	t=$(secs mmdebstrap --variant=minbase --quiet bookworm "$T/rootfs.tar")
	printf 'mmdebstrap --variant=minbase bookworm: %.1f s\n' "$t"
fi
printf 'layer: %d entries, %d MB\n' "$(tar -tf "$T/rootfs.tar" | wc -l)" \
	"$(($(stat -c %s "$T/rootfs.tar") >> 20))"
gzip -n -c "$T/rootfs.tar" >"$T/rootfs.tar.gz"
make_oci_layout "$T/debian" bookworm "$T/rootfs.tar.gz"

mkdir -p "$T/truth"
t=$(secs tar -xpf "$T/rootfs.tar" -C "$T/truth" --numeric-owner --delay-directory-restore)
printf 'tar -xpf (baseline): %.2f s\n' "$t"
t=$(secs kiln pull "oci-layout://$T/debian:bookworm")
printf 'kiln pull (tar+gzip into an empty store): %.2f s\n' "$t"
s=$EPOCHREALTIME
mount_bg "oci-layout://$T/debian:bookworm" "$T/mnt"
printf 'kiln mount: %.2f s\n' "$(echo "$EPOCHREALTIME - $s" | bc -l)"
# The tar's "./" entry sets the root's metadata (kiln), which GNU tar does not apply to the
# directory it extracts into: apply it from the tar.
python3 - "$T/rootfs.tar" "$T/truth" <<'PY'
import os, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t:
        if os.path.normpath("/" + m.name) == "/":
            os.chown(sys.argv[2], m.uid, m.gid)
            os.chmod(sys.argv[2], m.mode & 0o7777)
            os.utime(sys.argv[2], (m.mtime, m.mtime))
PY
s=$EPOCHREALTIME
# diff -r cannot compare devices (meta_listing does: type, mode, owner, rdev)
nodev=()
while IFS= read -r n; do nodev+=(-x "$n"); done < <(find "$T/truth" \( -type c -o -type b -o -type p \) -printf '%f\n' | sort -u)
diff -r --no-dereference "${nodev[@]}" "$T/truth" "$T/mnt" >"$T/diff" 2>&1 ||
	fail "diff -r differs: $(head -20 "$T/diff")"
meta_listing "$T/truth" >"$T/meta.a"
meta_listing "$T/mnt" >"$T/meta.b"
diff "$T/meta.a" "$T/meta.b" >"$T/meta.diff" || fail "metadata differs: $(head -20 "$T/meta.diff")"
[ "$(link_groups "$T/truth")" = "$(link_groups "$T/mnt")" ] || fail "hardlink groups differ"
printf 'compare (diff -r, metadata, hardlinks): %.1f s\n' "$(echo "$EPOCHREALTIME - $s" | bc -l)"
ok "the Debian 12 minbase rootfs mounted by kiln matches tar -x"
