#!/bin/bash
# kiln layer export, checked by the tools people use: every compression's blob is what its JSON
# says (digest, size, diff id), `gzip -t`/`zstd -t` accept it, GNU tar lists and extracts it
# (`zstd -d | tar -x` too) into the source tree, byte for byte, with owners, modes, nanosecond
# times, xattrs, devices and hardlinks; umoci unpacks the gzip layer; zstd:chunked and eStargz
# layers in an OCI layout are mounted lazily by `kiln mount oci-layout://…` reading only the
# files used (lazyfs stats) and copied by skopeo; whiteouts and opaque markers of a pulled
# layer's diff tree come back as OCI names; a second export is found recorded; two stores give
# the same digests; SOURCE_DATE_EPOCH clamps times; bad options are refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-mount.sh"

need_fuse
need_cmd jq skopeo umoci tar gzip zstd python3 getfattr setfattr sha256sum

make_fixture "$T/src"
tree=$(kiln tree import "$T/src") || fail "tree import"
# Tables of contents are JSON: the fixture without its name that is not UTF-8.
cp -a "$T/src" "$T/src-utf8"
rm -f "$T/src-utf8/"$'\xff\xfe-not-utf8'
tree_utf8=$(kiln tree import "$T/src-utf8") || fail "tree import (UTF-8 names)"

blob_path() { echo "$KILN_ROOT/content/sha256/$(jq -r .digest "$1" | cut -d: -f2)"; }

# decompressed COMPRESSION BLOB: the blob's bytes decompressed, on stdout.
decompressed() {
	case $1 in
	uncompressed) cat "$2" ;;
	gzip | estargz) gzip -dc "$2" ;;
	*) zstd -dcq "$2" ;;
	esac
}

# listing DIR: every entry but the root (GNU tar leaves the directory it extracts into alone)
# with its type, mode, owner, device, nanosecond mtime, size, link target, xattrs and hardlink
# group — one python process, so the many comparisons below stay cheap on a busy machine.
listing() {
	python3 - "$1" <<'PY'
import os, stat, sys
root = sys.argv[1]
inodes = {}
rows = []
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(d, n)
        st = os.lstat(p)
        rel = os.fsencode(os.path.relpath(p, root))
        kind = stat.S_IFMT(st.st_mode)
        x = sorted((a, os.getxattr(p, a, follow_symlinks=False))
                   for a in os.listxattr(p, follow_symlinks=False))
        link = os.readlink(os.fsencode(p)) if stat.S_ISLNK(st.st_mode) else b""
        size = st.st_size if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode) else 0
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            inodes.setdefault(st.st_ino, []).append(rel)
        rows.append((rel, kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_rdev,
                     st.st_mtime_ns, size, link, x, st.st_ino))
group = {ino: min(names) for ino, names in inodes.items()}
for r in sorted(rows):
    print(repr(r[:10] + (group.get(r[10]),)))
PY
}
listing "$T/src" >"$T/list.src" || fail "listing the source"
listing "$T/src-utf8" >"$T/list.src-utf8" || fail "listing the source"

# same_as_source SRC DIR WHAT: the bytes and the listing of DIR are those of the source.
same_as_source() {
	local src=$1 dir=$2 what=$3
	diff -r --no-dereference -x fifo -x chardev -x blockdev "$src" "$dir" >"$T/diff" 2>&1 ||
		fail "$what: differs from the source: $(head -5 "$T/diff")"
	listing "$dir" >"$T/list.out" || fail "$what: listing"
	diff "$T/list.${src##*/}" "$T/list.out" >"$T/list.diff" ||
		fail "$what: metadata differs: $(head -10 "$T/list.diff")"
}

declare -A media=(
	[uncompressed]=application/vnd.oci.image.layer.v1.tar
	[gzip]=application/vnd.oci.image.layer.v1.tar+gzip
	[zstd]=application/vnd.oci.image.layer.v1.tar+zstd
	[zstd:chunked]=application/vnd.oci.image.layer.v1.tar+zstd
	[estargz]=application/vnd.oci.image.layer.v1.tar+gzip
)

for c in uncompressed gzip zstd zstd:chunked estargz; do
	n=${c/:/-}
	src=$T/src
	t=$tree
	if [ "$c" = zstd:chunked ] || [ "$c" = estargz ]; then
		expect_fail 1 "not UTF-8" kiln layer export --compression "$c" "$tree"
		src=$T/src-utf8
		t=$tree_utf8
	fi
	kiln layer export --compression "$c" "$t" >"$T/$n.json" || fail "layer export $c"
	b=$(blob_path "$T/$n.json")
	[ -f "$b" ] || fail "$c: no blob at $b"
	[ "sha256:$(sha256sum <"$b" | cut -c1-64)" = "$(jq -r .digest "$T/$n.json")" ] ||
		fail "$c: the blob does not hash to its digest"
	[ "$(stat -c %s "$b")" = "$(jq -r .size "$T/$n.json")" ] || fail "$c: size"
	[ "$(jq -r .reused "$T/$n.json")" = false ] || fail "$c: reused on a first export"
	[ "$(jq -r .media_type "$T/$n.json")" = "${media[$c]}" ] || fail "$c: media type"
	case $c in
	gzip | estargz) gzip -t "$b" || fail "$c: gzip -t" ;;
	zstd*) zstd -tq "$b" || fail "$c: zstd -t" ;;
	esac
	# (a file, not a pipe: tar stops reading at the tar's end, before eStargz's TOC)
	decompressed "$c" "$b" >"$T/$n.tar" || fail "$c: decompressing"
	[ "sha256:$(sha256sum <"$T/$n.tar" | cut -c1-64)" = "$(jq -r .diff_id "$T/$n.json")" ] ||
		fail "$c: the diff id is not that of the tar"
	[ "$(stat -c %s "$T/$n.tar")" = "$(jq -r .tar_size "$T/$n.json")" ] || fail "$c: tar_size"
	tar -tvf "$T/$n.tar" >"$T/$n.list" || fail "$c: tar -t"
	grep -q ' ./$' "$T/$n.list" && grep -q 'hard-a link to dir with spaces/hard-c' "$T/$n.list" ||
		fail "$c: tar -t lists $(head -3 "$T/$n.list")"
	mkdir "$T/x-$n"
	if [ "$c" = zstd ]; then # as a consumer would: zstd -d | tar -x
		zstd -dcq "$b" | tar -xpf - -C "$T/x-$n" --numeric-owner --xattrs \
			--xattrs-include='*' --delay-directory-restore 2>"$T/tar.err"
	else
		tar -xpf "$T/$n.tar" -C "$T/x-$n" --numeric-owner --xattrs --xattrs-include='*' \
			--delay-directory-restore 2>"$T/tar.err"
	fi || fail "$c: tar -x: $(cat "$T/tar.err")"
	rm -f "$T/$n.tar"
	same_as_source "$src" "$T/x-$n" "$c, extracted by GNU tar"
	ok "$c: the blob is what the JSON says and GNU tar extracts the source from it"
done

# The eStargz TOC's tar follows the layer's own end: tar stops before it.
! grep -q stargz.index.json "$T/estargz.list" || fail "tar -t of eStargz lists its TOC"
python3 - "$(blob_path "$T/estargz.json")" "$(jq -r '.annotations["containerd.io/snapshot/stargz/toc.digest"]' "$T/estargz.json")" <<'PY' || fail "the eStargz footer or TOC"
import gzip, hashlib, io, sys, tarfile
blob = open(sys.argv[1], "rb").read()
foot = blob[-51:]
assert foot[:4] == b"\x1f\x8b\x08\x04" and foot[12:14] == b"SG", foot
off = int(foot[16:32], 16)
assert foot[32:38] == b"STARGZ"
t = tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob[off:-51])))
m = t.next()
assert m.name == "stargz.index.json", m.name
toc = t.extractfile(m).read()
assert "sha256:" + hashlib.sha256(toc).hexdigest() == sys.argv[2]
PY
ok "estargz: the footer points at the TOC member, whose JSON has the annotated digest"

# umoci (Go's archive/tar) unpacks the gzip layer into the same tree.
mkdir -p "$T/oci-gzip/blobs/sha256"
# write_layout DIR JSON…: an OCI layout of one image with the exported layers (lowest first),
# the descriptors carrying their annotations; index.json names it "latest".
write_layout() {
	local dir=$1 j cfg man d s ids='[]' layers='[]'
	shift
	mkdir -p "$dir/blobs/sha256"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	for j in "$@"; do
		cp "$(blob_path "$j")" "$dir/blobs/sha256/"
		ids=$(jq -c --arg d "$(jq -r .diff_id "$j")" '. + [$d]' <<<"$ids")
		layers=$(jq -c --slurpfile l "$j" '. + [{mediaType: $l[0].media_type,
			digest: $l[0].digest, size: $l[0].size} +
			(if ($l[0].annotations | length) > 0 then {annotations: $l[0].annotations}
			 else {} end)]' <<<"$layers")
	done
	cfg=$T/cfg.json
	jq -cn --argjson ids "$ids" '{architecture: "amd64", os: "linux", config: {},
		rootfs: {type: "layers", diff_ids: $ids}}' >"$cfg"
	read -r d s < <(_layout_add_blob "$dir" "$cfg")
	man=$T/man.json
	jq -cn --arg d "$d" --argjson s "$s" --argjson layers "$layers" '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $d,
		size: $s}, layers: $layers}' >"$man"
	read -r d s < <(_layout_add_blob "$dir" "$man")
	jq -n --arg d "$d" --argjson s "$s" '{schemaVersion: 2, manifests: [{
		mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
		platform: {architecture: "amd64", os: "linux"},
		annotations: {"org.opencontainers.image.ref.name": "latest"}}]}' >"$dir/index.json"
}
write_layout "$T/oci-gzip" "$T/gzip.json"
umoci unpack --image "$T/oci-gzip:latest" "$T/umoci" >/dev/null 2>&1 || fail "umoci unpack"
same_as_source "$T/src" "$T/umoci/rootfs" "gzip, unpacked by umoci"
ok "umoci unpacks the gzip layer into the source tree"

# zstd:chunked and eStargz in OCI layouts: skopeo copies them; kiln mounts them lazily.
for c in zstd:chunked estargz; do
	n=${c/:/-}
	write_layout "$T/oci-$n" "$T/$n.json"
	skopeo copy --quiet "oci:$T/oci-$n:latest" "oci:$T/copy-$n:latest" ||
		fail "skopeo copy of the $c layout"
	skopeo inspect --raw "oci:$T/copy-$n:latest" | jq -e --slurpfile l "$T/$n.json" \
		'.layers[0].annotations == $l[0].annotations' >/dev/null ||
		fail "skopeo's copy lost the $c annotations"
	m=$T/mnt-$n
	KILN_ROOT=$T/root-$n mount_bg "oci-layout://$T/oci-$n:latest" "$m"
	[ "$(mount_stat "$m" fetched)" = 0 ] && [ "$(mount_stat "$m" bytes)" = 0 ] ||
		fail "$c: mounting fetched files: $(getfattr --only-values -n user.kiln.lazyfs.stats "$m")"
	[ "$(cat "$m/dir with spaces/file one")" = hello ] || fail "$c: a file of the mount"
	[ "$(mount_stat "$m" fetched)" = 1 ] && [ "$(mount_stat "$m" bytes)" = 6 ] ||
		fail "$c: reading one 6-byte file: $(getfattr --only-values -n user.kiln.lazyfs.stats "$m")"
	cmp "$m/random.bin" "$T/src/random.bin" || fail "$c: random.bin"
	[ "$(mount_stat "$m" fetched)" = 2 ] && [ "$(mount_stat "$m" bytes)" = 3000006 ] ||
		fail "$c: reading random.bin: $(getfattr --only-values -n user.kiln.lazyfs.stats "$m")"
	ok "$c: the mount fetched only the files read"
	same_as_source "$T/src-utf8" "$m" "$c, mounted lazily by kiln"
	kiln umount "$m"
	KILN_ROOT=$T/root-$n kiln store verify >/dev/null || fail "$c: store verify"
	ok "$c: skopeo copies the layout; kiln's lazy mount of it is the source tree"
done

# A tree whose contents are still behind locators (the zstd:chunked image pulled by its TOC
# alone) exports to the same tar: its files are fetched through the layer provider.
lazy_tree=$(KILN_ROOT=$T/root-lazy kiln pull "oci-layout://$T/oci-zstd-chunked:latest") ||
	fail "pull of the zstd:chunked layout"
[ "$(KILN_ROOT=$T/root-lazy kiln store du | sed -n 's/^bytes //p')" -lt 1000000 ] ||
	fail "the pull fetched file contents"
KILN_ROOT=$T/root-lazy kiln layer export --compression uncompressed "$lazy_tree" >"$T/lazy.json" ||
	fail "export of a lazily pulled tree"
[ "$(jq -r .diff_id "$T/lazy.json")" = "$(jq -r .diff_id "$T/zstd-chunked.json")" ] ||
	fail "the lazily pulled tree exports to another tar"
ok "a tree of lazily located contents exports to the same tar, fetching them"

# zstd -d | tar -x of zstd:chunked: plain tar+zstd to any consumer (checked above with -dc);
# its frames: one per file, the TOC in a skippable frame the annotation points at.
python3 - "$(blob_path "$T/zstd-chunked.json")" "$T/zstd-chunked.json" <<'PY' || fail "zstd:chunked TOC"
import hashlib, json, subprocess, sys
blob = open(sys.argv[1], "rb").read()
ann = json.load(open(sys.argv[2]))["annotations"]
off, n, ulen, kind = map(int, ann["io.github.containers.zstd-chunked.manifest-position"].split(":"))
assert kind == 1 and blob[off - 8:off - 4] == b"\x50\x2a\x4d\x18"
assert ann["io.github.containers.zstd-chunked.manifest-checksum"] == \
    "sha256:" + hashlib.sha256(blob[off:off + n]).hexdigest()
toc = json.loads(subprocess.run(["zstd", "-dcq"], input=blob[off:off + n],
                                capture_output=True, check=True).stdout)
assert toc["version"] == 1
files = 0
for e in toc["entries"]:
    if e["type"] == "reg" and e.get("size"):
        data = subprocess.run(["zstd", "-dcq"], input=blob[e["offset"]:e["endOffset"]],
                              capture_output=True, check=True).stdout
        assert len(data) == e["size"], e["name"]
        assert "sha256:" + hashlib.sha256(data).hexdigest() == e["digest"], e["name"]
        files += 1
assert files > 300, files
assert blob[-8:] == b"GNUlInUx"
PY
ok "zstd:chunked: every file's frames decompress to that file alone"

# A second export finds the record: nothing compressed, the same blob.
for c in gzip zstd:chunked; do
	n=${c/:/-}
	t=$tree
	[ "$c" = zstd:chunked ] && t=$tree_utf8
	kiln layer export --compression "$c" "$t" >"$T/again.json" || fail "second export $c"
	[ "$(jq -r .reused "$T/again.json")" = true ] || fail "$c: the second export was not reused"
	[ "$(jq -S 'del(.reused)' "$T/again.json")" = "$(jq -S 'del(.reused)' "$T/$n.json")" ] ||
		fail "$c: the recorded layer differs"
done
# … unless its blob is gone.
rm -f "$(blob_path "$T/gzip.json")"
kiln layer export "$tree" >"$T/again.json" || fail "export after the blob went"
[ "$(jq -r .reused "$T/again.json")" = false ] && [ -f "$(blob_path "$T/gzip.json")" ] &&
	[ "$(jq -r .digest "$T/again.json")" = "$(jq -r .digest "$T/gzip.json")" ] ||
	fail "a record without its blob was trusted"
ok "a second export is found recorded (reused: true), unless its blob is gone"

# Another store, the same files: the same digests, whatever the threads.
t2=$(KILN_ROOT=$T/root2 kiln tree import "$T/src")
[ "$t2" = "$tree" ] || fail "the tree id differs in another store"
for c in gzip zstd; do
	n=${c/:/-}
	KILN_ROOT=$T/root2 kiln layer export --threads 1 --compression "$c" "$t2" >"$T/other.json"
	[ "$(jq -r .digest "$T/other.json")" = "$(jq -r .digest "$T/$n.json")" ] ||
		fail "$c: another store with one thread gave another digest"
done
ok "another store and one thread give the same digests"

# What an import hashed, an export in another process does not hash again (the tree's trust
# set); an export that had to hash leaves one for the next; a small blob changed in place, its
# size and mtime kept, is still found corrupt, and no set is left to vouch for anything.
hashed() { sed -n 's/.*layer tar of tree sha256:[0-9a-f]*: \([0-9]*\) store blobs hashed.*/\1/p' "$1"; }
KILN_ROOT=$T/root2 kiln --debug layer export --compression uncompressed "$t2" >/dev/null \
	2>"$T/trust.log" || fail "export after import"
[ "$(hashed "$T/trust.log")" = 0 ] || fail "an export after the import hashed: $(cat "$T/trust.log")"
rm -rf "$T/root2/verified/trees" "$T/root2/exporters"
KILN_ROOT=$T/root2 kiln --debug layer export --compression uncompressed "$t2" >/dev/null \
	2>"$T/trust.log" || fail "export without a trust set"
[ "$(hashed "$T/trust.log")" -gt 300 ] || fail "without a trust set: $(hashed "$T/trust.log")"
rm -rf "$T/root2/exporters"
KILN_ROOT=$T/root2 kiln --debug layer export --compression uncompressed "$t2" >/dev/null \
	2>"$T/trust.log" || fail "export after an export"
[ "$(hashed "$T/trust.log")" = 0 ] || fail "the second export hashed $(hashed "$T/trust.log")"
small=$T/root2/content/sha256/$(sha256sum <"$T/src/many/file-with-a-longish-name-7" | cut -c1-64)
python3 - "$small" <<'PY'
import os, sys
p = sys.argv[1]
st = os.stat(p)
os.chmod(p, 0o644)
with open(p, "r+b") as f:
    f.write(b"X")
os.chmod(p, st.st_mode & 0o7777)
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
PY
rm -rf "$T/root2/exporters"
KILN_ROOT=$T/root2 expect_fail 1 "is corrupt" kiln layer export --compression gzip "$t2"
[ -z "$(ls -A "$T/root2/verified/trees")" ] || fail "trust sets left after a corrupt blob"
ok "an export hashes no blob an import or export in another process hashed; corruption still found"

# SOURCE_DATE_EPOCH with --rewrite-timestamp: no time after the epoch.
SOURCE_DATE_EPOCH=1200000000 kiln layer export --rewrite-timestamp --compression uncompressed \
	"$tree" >"$T/epoch.json" || fail "export with SOURCE_DATE_EPOCH"
python3 - "$(blob_path "$T/epoch.json")" <<'PY' || fail "times after the epoch"
import sys, tarfile
ts = {m.name: m.mtime for m in tarfile.open(sys.argv[1])}
assert max(ts.values()) == 1200000000, max(ts.values())
assert ts["random.bin"] == 981173106.123456789, ts["random.bin"]  # 2001: before the epoch, kept
assert ts["empty-file"] == 1200000000, ts["empty-file"]
PY
[ "$(jq -r .digest "$T/epoch.json")" != "$(jq -r .digest "$T/uncompressed.json")" ] ||
	fail "the epoch changed nothing"
ok "--rewrite-timestamp clamps every later time to SOURCE_DATE_EPOCH"

# A pulled layer's diff tree: its whiteouts and opaque marker come back under their OCI names.
python3 - "$T/wh.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    def add(name, data=None, **kw):
        i = tarfile.TarInfo(name)
        i.mtime = 1700000000
        for k, v in kw.items():
            setattr(i, k, v)
        if data is not None:
            i.size = len(data)
        t.addfile(i, io.BytesIO(data) if data is not None else None)
    add("etc", type=tarfile.DIRTYPE, mode=0o755)
    add("etc/.wh.gone", b"")
    add("opt", type=tarfile.DIRTYPE, mode=0o755)
    add("opt/.wh..wh..opq", b"")
    add("opt/new", b"new\n")
PY
make_oci_layout "$T/wh" latest "$T/wh.tar"
kiln pull "oci-layout://$T/wh:latest" >/dev/null || fail "pull of the whiteout layer"
diff_tree=$(cat "$KILN_ROOT/imgsrc/layers/$(sha256sum "$T/wh.tar" | cut -c1-64)")
kiln layer export --compression uncompressed "$diff_tree" >"$T/wh.json" || fail "export of a diff"
tar -tf "$(blob_path "$T/wh.json")" >"$T/wh.list"
[ "$(cat "$T/wh.list")" = "$(printf 'etc/\netc/.wh.gone\nopt/\nopt/.wh..wh..opq\nopt/new')" ] ||
	fail "whiteouts: $(cat "$T/wh.list")"
[ "$(jq -r .diff_id "$T/wh.json")" = "sha256:$(sha256sum <"$(blob_path "$T/wh.json")" | cut -c1-64)" ] ||
	fail "whiteouts: diff id"
ok "a diff tree's whiteouts and opaque marker are exported as .wh. names, the marker after its dir"

# Bad options and trees: usage errors exit 2, others 1, each saying what.
expect_fail 2 "unknown compression 'lz4'" kiln layer export --compression lz4 "$tree"
expect_fail 2 "needs --source-date-epoch" kiln layer export --rewrite-timestamp "$tree"
expect_fail 2 "invalid --source-date-epoch '1e9': not a number of seconds" \
	kiln layer export --source-date-epoch 1e9 "$tree"
SOURCE_DATE_EPOCH=-1 expect_fail 2 "invalid SOURCE_DATE_EPOCH '-1'" kiln layer export "$tree"
expect_fail 2 "expected one tree id" kiln layer export
expect_fail 1 "gzip compression level 12 is not in \[1, 9\]" kiln layer export --level 12 "$tree"
expect_fail 1 "tree sha256:0{64} is not in the store" \
	kiln layer export "sha256:$(printf '%064d' 0)"
expect_fail 1 "not a sha256 digest" kiln layer export nonsense
kiln layer export --help | grep -q "zstd:chunked" || fail "--help"
ok "bad options and trees are refused, saying why"
