#!/usr/bin/env bash
# kiln solve -o: the solved tree as an image of one layer (an OCI tar that umoci unpacks to the
# tree, every kind of entry kept; created from $SOURCE_DATE_EPOCH; into kiln's index), its files
# as type=local and type=tar (file and stdout, which then gets no tree id), --metadata-file
# (the first image output's digests, the tree) and --provenance (materials: the local source's
# tree, an image by manifest; the graph as config source), and bad specs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
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

# --metadata-file: the image output's digests and name, the tree, the layer made
solve --metadata-file "$T/meta.json" -o "type=oci,dest=$T/meta.tar,name=kiln-test/meta:1" \
	>"$T/meta.tree" 2>"$T/meta.log" || fail "kiln solve --metadata-file failed: $(cat "$T/meta.log")"
mkdir "$T/meta" && tar -C "$T/meta" -xf "$T/meta.tar"
mdigest=$(jq -r '.manifests[0].digest' "$T/meta/index.json")
cdigest=$(jq -r .config.digest "$T/meta/blobs/sha256/${mdigest#sha256:}")
[ "$(jq -r '."containerimage.digest"' "$T/meta.json")" = "$mdigest" ] ||
	fail "containerimage.digest is not the manifest $mdigest: $(cat "$T/meta.json")"
[ "$(jq -r '."containerimage.descriptor".digest' "$T/meta.json")" = "$mdigest" ] ||
	fail "the descriptor is not the manifest's: $(cat "$T/meta.json")"
[ "$(jq -r '."containerimage.config.digest"' "$T/meta.json")" = "$cdigest" ] ||
	fail "containerimage.config.digest is not the config $cdigest: $(cat "$T/meta.json")"
[ "$(jq -r '."image.name"' "$T/meta.json")" = kiln-test/meta:1 ] ||
	fail "image.name: $(cat "$T/meta.json")"
[ "$(jq -r '."kiln.tree"' "$T/meta.json")" = "$(cat "$T/meta.tree")" ] || fail "kiln.tree is not the tree printed"
[ "$(jq -r '."kiln.layers_made" + ."kiln.layers_reused"' "$T/meta.json")" = 1 ] ||
	fail "not one layer made or reused: $(cat "$T/meta.json")"
jq -e 'has("kiln.stages")' "$T/meta.json" >/dev/null && fail "a solve has no stages: $(cat "$T/meta.json")"
# without an image output: the tree alone
solve --metadata-file "$T/meta2.json" >/dev/null 2>&1 || fail "kiln solve --metadata-file without outputs"
[ "$(jq -r 'keys | join(",")' "$T/meta2.json")" = kiln.layers_made,kiln.layers_reused,kiln.tree ] ||
	fail "metadata without an image output: $(cat "$T/meta2.json")"
ok "--metadata-file: the image output's digests and name, the tree"

# --provenance: an index with the attestation; materials name the context's tree and the image
# by its manifest; the graph is the config source by digest; max lists the locals
mkdir -p "$T/img-root/etc" && printf 'img\n' >"$T/img-root/etc/img"
make_layer_tar "$T/img-root" "$T/img-layer.tar.gz"
make_oci_layout "$T/img" v1 "$T/img-layer.tar.gz"
imanifest=$(jq -r '.manifests[0].digest' "$T/img/index.json")
printf '{"version":1,"vertices":[{"id":"img","source":{"type":"image","ref":"oci-layout://%s:v1"}},
 {"id":"ctx","source":{"type":"local","name":"context"}},
 {"id":"both","inputs":["img","ctx"],"merge":{}}],"result":"both"}\n' "$T/img" >"$T/graph2.json"
ptree=$(kiln solve --progress plain --local "context=$T/fixture" --provenance mode=max \
	--metadata-file "$T/prov.json" -o "type=oci,dest=$T/prov,tar=false,name=p:1" "$T/graph2.json" 2>"$T/prov.log") ||
	fail "kiln solve --provenance failed: $(cat "$T/prov.log")"
idx=$T/prov/blobs/sha256/$(jq -r '."containerimage.digest"' "$T/prov.json" | cut -d: -f2)
[ "$(jq -r '.manifests | length' "$idx")" = 2 ] || fail "the index does not hold the attestation: $(cat "$idx")"
[ "$(jq -r '.manifests[1].annotations."vnd.docker.reference.type"' "$idx")" = attestation-manifest ] ||
	fail "no attestation-manifest annotation"
att=$T/prov/blobs/sha256/$(jq -r '.manifests[1].digest' "$idx" | cut -d: -f2)
st=$T/prov/blobs/sha256/$(jq -r '.layers[0].digest' "$att" | cut -d: -f2)
jq -e --arg d "${tree#sha256:}" 'any(.predicate.materials[]; .uri == "kiln-context://context" and .digest.sha256 == $d)' \
	"$st" >/dev/null || fail "the context's tree is not named: $(jq -c .predicate.materials "$st")"
jq -e --arg u "oci-layout://$T/img:v1" --arg d "${imanifest#sha256:}" 'any(.predicate.materials[]; .uri == $u and .digest.sha256 == $d)' \
	"$st" >/dev/null || fail "the image is not named by its manifest: $(jq -c .predicate.materials "$st")"
[ "$(jq -r .predicate.invocation.configSource.digest.sha256 "$st")" = "$(sha256sum "$T/graph2.json" | cut -d' ' -f1)" ] ||
	fail "the config source is not the graph: $(jq -c .predicate.invocation "$st")"
[ "$(jq -r '.predicate.invocation.parameters.locals[].name' "$st")" = context ] ||
	fail "max provenance lacks the locals: $(jq -c .predicate.invocation "$st")"
[ "$(jq -r '."kiln.tree"' "$T/prov.json")" = "$ptree" ] || fail "kiln.tree with provenance"
# off unless asked for
[ "$(jq -r '.manifests[0].mediaType' "$T/meta/index.json")" = application/vnd.oci.image.manifest.v1+json ] ||
	fail "an index without --provenance"
ok "--provenance: the attestation names the context's tree, the image's manifest and the graph"

expect_fail 2 "provenance.*huge" solve --provenance mode=huge -o "type=oci,dest=$T/x.tar"
SOURCE_DATE_EPOCH=soon expect_fail 1 "invalid SOURCE_DATE_EPOCH 'soon'" solve -o "type=oci,dest=$T/x.tar"
[ ! -e "$T/x.tar" ] || fail "a refused solve wrote its output"
expect_fail 2 "unknown output option 'colour'" solve -o "type=oci,dest=x,colour=red"
expect_fail 2 "type=tar needs dest=FILE or dest=-" solve -o type=tar
expect_fail 2 "output type 'zip'|unknown output type 'zip'" solve -o type=zip
[ ! -e x ] || fail "a refused output left a file"
ok "bad outputs are usage errors"
