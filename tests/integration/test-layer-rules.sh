#!/bin/bash
# Layers applied the way tar extraction and containerd's applier do: crafted layers (duplicate
# entries, root entries, file/dir replacements, whiteouts and opaque markers in any order,
# hardlinks whose target is replaced later, devices) as tar, tar+gzip, eStargz and zstd:chunked
# images, mounted and compared with GNU tar's extraction of the same layer; two-layer images
# whose whiteouts hide only the lower layer, compared with the merged tree expected; bad layers
# refused naming the layer and the entry.
#
# GNU tar runs as `tar -xpf LAYER -C DIR --numeric-owner --delay-directory-restore` (the last so
# directory times are set after the hardlinks GNU tar makes at the end): as root it keeps
# owners and modes,
# merges a directory listed twice, and removes an existing non-directory before extracting over
# it (it unlinks, never overwrites in place, so a hardlink keeps the old content, as containerd's
# RemoveAll does). Layers where a non-directory replaces a non-empty directory add
# --recursive-unlink (make-layers.py writes NAME.tar-flags): without it GNU tar refuses, and with
# it everywhere it would also empty a directory listed twice, which containerd merges. GNU tar
# ignores entries naming the root, so root_entries applies their metadata. A single layer has
# no lower one, so the whiteout files tar writes are removed afterwards (their directory's mtime
# restored).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-mount.sh"

need_fuse
need_cmd python3 tar jq skopeo gzip getfattr
python3 "$(dirname "$0")/make-layers.py" "$T/cases" || fail "make-layers.py failed"

# root_entries LAYER OUT.tar DIR: copies LAYER without its entries naming the root ("./", ".",
# "/": GNU tar neither applies their metadata to the directory it extracts into nor keeps what
# came before a later one), and sets DIR's metadata from the last of them, as kiln does.
root_entries() {
	python3 - "$@" <<'PY' || fail "root_entries $1 failed"
import os, sys, tarfile
src, out, root = sys.argv[1:4]
last = None
with tarfile.open(src) as t, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as o:
    for m in t:
        if os.path.normpath("/" + m.name) == "/":
            last = m
            continue
        o.addfile(m, t.extractfile(m) if m.isreg() else None)
if last:
    os.chown(root, last.uid, last.gid)
    os.chmod(root, last.mode & 0o7777)
    with open(root + ".mtime", "w") as f:
        f.write("%d" % last.mtime)
PY
}

# extract LAYER DIR: GNU tar's view of one layer, whiteout files dropped.
extract() {
	local layer=$1 dir=$2 w parent mt flags=()
	[ -f "${layer%.tar}.tar-flags" ] && read -r -a flags <"${layer%.tar}.tar-flags"
	rm -rf "$dir" "$dir.mtime"
	mkdir -p "$dir"
	root_entries "$layer" "$dir.tar" "$dir"
	tar -xpf "$dir.tar" -C "$dir" --numeric-owner --delay-directory-restore "${flags[@]}" ||
		fail "tar -x of $layer failed"
	while IFS= read -r -d '' w; do
		parent=$(dirname "$w")
		mt=$(stat -c %.9Y "$parent")
		rm -rf "$w"
		touch -h -d "@$mt" "$parent"
	done < <(find "$dir" -depth -name '.wh.*' -print0)
	if [ -f "$dir.mtime" ]; then touch -h -d "@$(cat "$dir.mtime")" "$dir"; fi
}

# mount_compare SOURCE TRUTH WHAT: mounts SOURCE and compares it with the directory TRUTH.
mount_compare() {
	local src=$1 truth=$2 what=$3 m=$T/mnt.$RANDOM
	mount_bg "$src" "$m"
	same_tree "$truth" "$m"
	kiln umount "$m"
	ok "$what"
}

# Each single layer as tar, tar+gzip, eStargz and zstd:chunked, against tar -x.
for layer in "$T"/cases/single/*.tar; do
	name=$(basename "$layer" .tar)
	extract "$layer" "$T/truth-$name"
	img=$T/img-$name
	make_oci_layout "$img" tar "$layer"
	mount_compare "oci-layout://$img:tar" "$T/truth-$name" "$name: tar layer matches tar -x"
	gzip -n -c "$layer" >"$T/$name.tar.gz"
	make_oci_layout "$img-gz" gz "$T/$name.tar.gz"
	mount_compare "oci-layout://$img-gz:gz" "$T/truth-$name" "$name: tar+gzip matches tar -x"
	make_estargz_oci_layout "$img-es" es "$layer" 4096
	mount_compare "oci-layout://$img-es:es" "$T/truth-$name" "$name: eStargz matches tar -x"
	skopeo copy --quiet --dest-compress-format zstd:chunked "oci:$img:tar" "oci:$img-zstd:zstd" ||
		fail "skopeo could not write a zstd:chunked copy of $name"
	mount_compare "oci-layout://$img-zstd:zstd" "$T/truth-$name" \
		"$name: zstd:chunked matches tar -x"
done

# Two layers: the upper's whiteouts and opaque markers hide only the lower layer.
extract "$T/cases/two/expected.tar" "$T/expected"
make_oci_layout "$T/two" tar "$T/cases/two/lower.tar" "$T/cases/two/upper.tar"
mount_compare "oci-layout://$T/two:tar" "$T/expected" "two layers merge as expected"
gzip -n -c "$T/cases/two/upper.tar" >"$T/upper.tar.gz"
make_oci_layout "$T/two-gz" gz "$T/cases/two/lower.tar" "$T/upper.tar.gz"
mount_compare "oci-layout://$T/two-gz:gz" "$T/expected" "two layers (upper tar+gzip) merge as expected"
toc=$(python3 "$(dirname "$0")/make-estargz.py" "$T/cases/two/upper.tar" "$T/upper-es.tar.gz" 4096) ||
	fail "make-estargz.py failed"
make_oci_layout "$T/two-es" es "$T/cases/two/lower.tar" "$T/upper-es.tar.gz"
layout_annotate_layer "$T/two-es" 1 containerd.io/snapshot/stargz/toc.digest "$toc"
mount_compare "oci-layout://$T/two-es:es" "$T/expected" "two layers (upper eStargz) merge as expected"

# Bad layers: refused, naming the layer's digest and the entry.
bad_layer() {
	local name=$1 pattern=$2 digest
	shift 2
	python3 - "$T/bad-$name.tar" "$@" <<'PY' || fail "writing bad-$name.tar"
import io, sys, tarfile
out, specs = sys.argv[1], sys.argv[2:]
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    for s in specs:
        kind, name, data = s.split(":", 2)
        ti = tarfile.TarInfo(name)
        body = None
        if kind == "f":
            body = data.encode(); ti.size = len(body)
        elif kind == "d":
            ti.type = tarfile.DIRTYPE
        elif kind == "h":
            ti.type = tarfile.LNKTYPE; ti.linkname = data
        t.addfile(ti, io.BytesIO(body) if body is not None else None)
PY
	make_oci_layout "$T/bad-$name" tar "$T/bad-$name.tar"
	digest=sha256:$(sha256sum "$T/bad-$name.tar" | cut -c1-64)
	KILN_ROOT=$T/root-bad-$name expect_fail 1 "$pattern" kiln pull "oci-layout://$T/bad-$name:tar"
	grep -q "$digest" "$T/err" || fail "$name: the message does not name the layer: $(cat "$T/err")"
	ok "$name: refused naming the layer and the entry"
}
bad_layer below-file "'f/x' is below 'f', which is not a directory" f:f:1 f:f/x:2
bad_layer hardlink-to-lower "hardlink 'l' to 'keep', which is not a file of this layer" h:l:keep
bad_layer hardlink-to-dir "hardlink 'l' to 'd', which is a directory" d:d/: h:l:d
bad_layer dotdot "entry '../evil' escapes the root" f:../evil:x
bad_layer hardlink-out "hardlink 'l' to '../x' points outside the layer" f:x:1 h:l:../x
