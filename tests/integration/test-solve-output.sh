#!/usr/bin/env bash
# kiln solve -o: the solved tree as an image of one layer (an OCI tar that umoci unpacks to the
# tree, every kind of entry kept; created from $SOURCE_DATE_EPOCH; into kiln's index), its files
# as type=local and type=tar (file and stdout, which then gets no tree id), and bad specs.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
need_cmd skopeo umoci jq getfattr tar

mkdir "$T/fixture"
make_fixture "$T/fixture"
printf '{"version":1,"vertices":[{"id":"ctx","source":{"type":"local","name":"context"}}],"result":"ctx"}' >"$T/graph.json"
solve() { kiln solve --progress plain --local "context=$T/fixture" "$@" "$T/graph.json"; }
# the truth: the same directory imported (the solved tree's contents stay in the context)
kiln tree export "$(kiln tree import "$T/fixture")" "$T/expected" >/dev/null
meta_listing "$T/expected" | grep -v '^ \. |' >"$T/meta-expected"
# like_expected DIR WHAT: DIR holds what the fixture does (contents, metadata, hardlinks); one
# listing of the expected tree serves every output (a listing costs a process per entry).
like_expected() {
	local dir=$1 what=$2
	diff -r --no-dereference "$dir" "$T/expected" 2>&1 |
		grep -vE 'is a (block special file|character special file|fifo) while file .* is a \1$' >"$T/diff.out" || true
	[ ! -s "$T/diff.out" ] || fail "$what: contents differ: $(head -20 "$T/diff.out")"
	meta_listing "$dir" | grep -v '^ \. |' | diff - "$T/meta-expected" >"$T/meta.diff" ||
		fail "$what: metadata differs: $(head -20 "$T/meta.diff")"
	[ "$(link_groups "$dir")" = "$(link_groups "$T/expected")" ] || fail "$what: hardlinks differ"
}

tree=$(SOURCE_DATE_EPOCH=1700000000 solve -o "type=oci,dest=$T/fixture.tar,name=fixture:1" 2>"$T/solve.log") ||
	fail "kiln solve -o type=oci failed: $(cat "$T/solve.log")"
[[ $tree == sha256:* ]] || fail "kiln solve -o printed '$tree', not the tree id"
skopeo copy --quiet "oci-archive:$T/fixture.tar:1" "oci:$T/copy:1" || fail "skopeo copy of the tree image"
[ "$(skopeo inspect "oci:$T/copy:1" | jq -r '.Layers | length')" = 1 ] || fail "not one layer"
cfg=$(skopeo inspect --config "oci:$T/copy:1")
[ "$(jq -r .created <<<"$cfg")" = 2023-11-14T22:13:20Z ] || fail "created is not the epoch: $cfg"
[ "$(jq -r '.history[0].created_by' <<<"$cfg")" = "kiln solve" ] || fail "history: $cfg"
umoci unpack --image "$T/copy:1" "$T/bundle" >/dev/null || fail "umoci unpack of the tree image"
like_expected "$T/bundle/rootfs" "umoci unpack of a solved tree"
ok "type=oci: one layer that umoci unpacks to the tree, created from SOURCE_DATE_EPOCH"

solve -o "type=local,dest=$T/local" -o "type=image,name=kiln-test/solved:1" -o "type=tar,dest=$T/out.tar" \
	>/dev/null 2>"$T/solve2.log" || fail "kiln solve with three outputs failed: $(cat "$T/solve2.log")"
like_expected "$T/local" "kiln solve -o type=local"
mkdir "$T/untar" && tar -C "$T/untar" --numeric-owner --xattrs --xattrs-include='*' -xpf "$T/out.tar"
like_expected "$T/untar" "kiln solve -o type=tar"
[ "$(kiln inspect kiln-test/solved:1 | jq -r '.[0].Tree')" = "$tree" ] || fail "the indexed image is not the tree"
solve -o - >"$T/stdout.tar" 2>/dev/null || fail "kiln solve -o - failed"
tar -tf "$T/stdout.tar" >"$T/stdout.list" 2>/dev/null || fail "-o - wrote no tar"
grep -q '^empty-file$' "$T/stdout.list" || fail "the tar on stdout lacks empty-file: $(head -5 "$T/stdout.list")"
[ $(($(stat -c %s "$T/stdout.tar") % 512)) = 0 ] || fail "something else went to stdout after the tar"
ok "type=local, type=tar, type=image and -o - (no tree id over the tar)"

expect_fail 2 "unknown output option 'colour'" solve -o "type=oci,dest=x,colour=red"
expect_fail 2 "type=tar needs dest=FILE or dest=-" solve -o type=tar
expect_fail 2 "output type 'zip'|unknown output type 'zip'" solve -o type=zip
[ ! -e x ] || fail "a refused output left a file"
ok "bad outputs are usage errors"
