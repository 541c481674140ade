#!/usr/bin/env bash
# OCI output checked by the tools people use: skopeo inspect and copy of the tar, the layout
# directory and stdout; umoci unpack compared byte for byte with the image's tree; a base image's
# layer kept by digest; SOURCE_DATE_EPOCH giving the same digests from two stores; provenance
# naming the git commit; the metadata file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-export.sh"
need_root
need_cmd skopeo umoci jq getfattr

make_app_image "$T/app.json" "oci-layout://$T/base"

# OCI tar: skopeo reads it by its ref name; the base layer is the base's own blob.
digest=$(harness --metadata-file "$T/md.json" "$T/app.json" "type=oci,dest=$T/app.tar,name=kiln-test/app:1") ||
	fail "export to an OCI tar failed"
skopeo inspect "oci-archive:$T/app.tar:1" >"$T/inspect.json" || fail "skopeo inspect of the tar failed"
[ "$(jq -r '.Digest' "$T/inspect.json")" = "$digest" ] || fail "skopeo sees another digest"
[ "$(jq -r '.Layers | length' "$T/inspect.json")" = 2 ] || fail "not two layers"
[ "$(jq -r '.Layers[0]' "$T/inspect.json")" = "$BASE_LAYER" ] || fail "the base layer was not kept by digest"
[ "$(jq -r '."containerimage.digest"' "$T/md.json")" = "$digest" ] || fail "metadata digest"
[ "$(jq -r '."containerimage.descriptor".mediaType' "$T/md.json")" = application/vnd.oci.image.manifest.v1+json ] ||
	fail "metadata descriptor"
[ "$(jq -r '."image.name"' "$T/md.json")" = kiln-test/app:1 ] || fail "metadata image.name"
ok "OCI tar read by skopeo, base layer kept by digest"

# skopeo copy to a layout, then umoci unpack: the filesystem is the image's.
skopeo copy --quiet "oci-archive:$T/app.tar:1" "oci:$T/copy:1" || fail "skopeo copy failed"
umoci unpack --image "$T/copy:1" "$T/bundle" >/dev/null || fail "umoci unpack failed"
expected_rootfs "$T/expected"
same_tree "$T/bundle/rootfs" "$T/expected" "umoci unpack of the app image"
ok "skopeo copy + umoci unpack equal the image's tree"

# A single tree as kiln solve exports it: every kind of entry survives the layer.
mkdir "$T/fixture"
make_fixture "$T/fixture"
tree=$(kiln tree import "$T/fixture")
harness --tree "$tree" "type=oci,dest=$T/fixture.tar,name=fixture:1" >/dev/null || fail "export of a tree failed"
skopeo copy --quiet "oci-archive:$T/fixture.tar:1" "oci:$T/fixture-copy:1" || fail "skopeo copy of the tree image"
umoci unpack --image "$T/fixture-copy:1" "$T/fixture-bundle" >/dev/null || fail "umoci unpack of the tree image"
kiln tree export "$tree" "$T/fixture-exported" >/dev/null
same_tree "$T/fixture-bundle/rootfs" "$T/fixture-exported" "umoci unpack of a tree"
ok "umoci unpack of a solve-style image equals kiln tree export"

# The layout directory and stdout.
harness "$T/app.json" "type=oci,dest=$T/layout,tar=false,name=kiln-test/app:1" >/dev/null || fail "layout export failed"
[ "$(skopeo inspect "oci:$T/layout:1" | jq -r .Digest)" = "$digest" ] || fail "layout digest"
harness "$T/app.json" "type=oci,dest=-,name=kiln-test/app:1" >"$T/stdout.tar" 2>"$T/stdout.err" ||
	fail "export to stdout failed: $(cat "$T/stdout.err")"
[ "$(skopeo inspect "oci-archive:$T/stdout.tar:1" | jq -r .Digest)" = "$digest" ] || fail "stdout tar digest"
ok "tar=false layout and dest=- read by skopeo"

# SOURCE_DATE_EPOCH: a second store makes every layer again, the digests do not move.
a=$(harness --epoch 1700000000 "$T/app.json" "type=oci,dest=$T/e1.tar,name=x:1,rewrite-timestamp=true")
export KILN_ROOT=$T/root2
make_app_image "$T/app2.json" "oci-layout://$T/base"
b=$(harness --epoch 1700000000 "$T/app2.json" "type=oci,dest=$T/e2.tar,name=x:1,rewrite-timestamp=true")
[ "$a" = "$b" ] || fail "same SOURCE_DATE_EPOCH, different digests: $a $b"
cmp -s "$T/e1.tar" "$T/e2.tar" || fail "same SOURCE_DATE_EPOCH, different archives"
created=$(skopeo inspect --config "oci-archive:$T/e1.tar:1" | jq -r .created)
[ "$created" = 2023-11-14T22:13:20Z ] || fail "created is $created, not the epoch"
tar -xOf "$T/e1.tar" "blobs/sha256/$(skopeo inspect "oci-archive:$T/e1.tar:1" | jq -r '.Layers[1]' | cut -d: -f2)" |
	tar -tvzf - >"$T/e1.list"
grep -q '2022-02-02' "$T/e1.list" || fail "file times before the epoch were changed: $(head -3 "$T/e1.list")"
export KILN_ROOT=$T/root
ok "two stores, same SOURCE_DATE_EPOCH: identical digests and archives"

# Provenance: an index with the attestation manifest, the statement naming the commit.
commit=0123456789abcdef0123456789abcdef01234567
harness --provenance mode=min --material "https://example.com/app.git#main=sha1:$commit" \
	--material "kiln-context://context=$APP_TREE" "$T/app.json" \
	"type=oci,dest=$T/prov,tar=false,name=kiln-test/app:1" >/dev/null || fail "export with provenance failed"
idx=$T/prov/blobs/sha256/$(jq -r '.manifests[0].digest' "$T/prov/index.json" | cut -d: -f2)
[ "$(jq -r '.manifests | length' "$idx")" = 2 ] || fail "the index does not hold two manifests"
[ "$(jq -r '.manifests[1].annotations."vnd.docker.reference.type"' "$idx")" = attestation-manifest ] ||
	fail "no attestation-manifest annotation"
[ "$(jq -r '.manifests[1].annotations."vnd.docker.reference.digest"' "$idx")" = "$digest" ] ||
	fail "the attestation does not refer to the image manifest"
att=$T/prov/blobs/sha256/$(jq -r '.manifests[1].digest' "$idx" | cut -d: -f2)
[ "$(jq -r '.layers[0].annotations."in-toto.io/predicate-type"' "$att")" = https://slsa.dev/provenance/v0.2 ] ||
	fail "predicate type annotation"
st=$T/prov/blobs/sha256/$(jq -r '.layers[0].digest' "$att" | cut -d: -f2)
[ "$(jq -r '.predicate.materials[0].digest.sha1' "$st")" = "$commit" ] || fail "the commit is not named"
[ "$(jq -r '.predicate.materials[1].digest.sha256' "$st")" = "${APP_TREE#sha256:}" ] || fail "the context tree is not named"
[ "$(jq -r '.subject[0].digest.sha256' "$st")" = "${digest#sha256:}" ] || fail "the subject is not the manifest"
skopeo inspect "oci:$T/prov:1" >/dev/null || fail "skopeo cannot read the index with provenance"
ok "provenance names the commit and the context tree"

# Without it, the layout names the manifest alone.
[ "$(tar -xOf "$T/app.tar" index.json | jq -r '.manifests[0].mediaType')" = application/vnd.oci.image.manifest.v1+json ] ||
	fail "the default export is not the manifest alone"
ok "no attestation unless asked for"
