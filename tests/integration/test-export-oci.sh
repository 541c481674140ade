#!/usr/bin/env bash
# kiln build -o type=oci of a Dockerfile checked by the tools people use: skopeo inspect and copy
# of the tar, the layout directory and stdout; umoci unpack compared byte for byte with the
# image's filesystem; the base image's layer kept by digest; -t storing the same image (the id
# kiln build gives is the exported config's digest; kiln save writes the same manifest) and a
# no-op rebuild compressing nothing; SOURCE_DATE_EPOCH (build arg or environment) giving the
# same digests from two stores; provenance naming the git commit, the base image and the
# context; the metadata file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
. "$(dirname "$0")/lib-build.sh"
. "$(dirname "$0")/lib-export.sh"
need_root
need_cmd skopeo umoci jq getfattr git

make_app layout
# Builds are compared with each other: without an epoch each has its own `created`.
export SOURCE_DATE_EPOCH=1600000000

# OCI tar: skopeo reads it by its ref name; the base layer is the base's own blob.
digest=$(export_app "type=oci,dest=$T/app.tar,name=kiln-test/app:1")
skopeo inspect "oci-archive:$T/app.tar:1" >"$T/inspect.json" || fail "skopeo inspect of the tar failed"
[ "$(jq -r '.Digest' "$T/inspect.json")" = "$digest" ] || fail "skopeo sees another digest"
[ "$(jq -r '.Layers | length' "$T/inspect.json")" = 2 ] || fail "not two layers"
[ "$(jq -r '.Layers[0]' "$T/inspect.json")" = "$BASE_LAYER" ] || fail "the base layer was not kept by digest"
[ "$(jq -r '."containerimage.descriptor".mediaType' "$T/export.json")" = application/vnd.oci.image.manifest.v1+json ] ||
	fail "metadata descriptor"
[ "$(jq -r '."containerimage.descriptor".digest' "$T/export.json")" = "$digest" ] || fail "metadata descriptor digest"
[ "$(jq -r '."image.name"' "$T/export.json")" = kiln-test/app:1 ] || fail "metadata image.name"
cfg=$(skopeo inspect --raw "oci-archive:$T/app.tar:1" | jq -r .config.digest)
[ "$(jq -r '."containerimage.config.digest"' "$T/export.json")" = "$cfg" ] || fail "metadata config digest $(jq -r '."containerimage.config.digest"' "$T/export.json"), not $cfg"
[ "$(layers_made)" = 1 ] || fail "the first export made $(layers_made) layers, not the app's one"
grep -q 'exporting to oci image format' "$T/export.log" || fail "no export step in the progress"
ok "OCI tar read by skopeo, base layer kept by digest, metadata"

# skopeo copy to a layout, then umoci unpack: the filesystem is the image's.
skopeo copy --quiet "oci-archive:$T/app.tar:1" "oci:$T/copy:1" || fail "skopeo copy failed"
umoci unpack --image "$T/copy:1" "$T/bundle" >/dev/null || fail "umoci unpack failed"
expected_rootfs "$T/expected"
same_tree "$T/bundle/rootfs" "$T/expected" "umoci unpack of the app image"
ok "skopeo copy + umoci unpack equal the image's tree"

# -t: the image in kiln's index is the exported one; a no-op rebuild compresses nothing.
build "$T/t1.log" -t kiln-test/app:1 --iidfile "$T/iid" --metadata-file "$T/t1.json" \
	-o "type=oci,dest=$T/t1.tar,name=kiln-test/app:1" "$T/ctx"
[ "$(skopeo inspect --raw "oci-archive:$T/t1.tar:1" | jq -r .config.digest)" = "$cfg" ] ||
	fail "a rebuild with the same epoch made another config"
[ "$(cat "$T/iid")" = "$cfg" ] || fail "--iidfile $(cat "$T/iid") is not the exported config digest $cfg"
[ "$(config kiln-test/app:1 .Id)" = "${cfg#sha256:}" ] || fail "kiln inspect shows another id"
[ "$(jq -r '."containerimage.config.digest"' "$T/t1.json")" = "$cfg" ] || fail "-t metadata config digest"
[ "$(jq -r '."containerimage.digest"' "$T/t1.json")" = "$digest" ] || fail "-t metadata digest"
[ "$(kiln images -q --no-trunc kiln-test/app:1)" = "$cfg" ] || fail "kiln images shows another id"
kiln save --format oci -o "$T/saved.tar" kiln-test/app:1 >/dev/null || fail "kiln save failed"
[ "$(skopeo inspect "oci-archive:$T/saved.tar:1" | jq -r .Digest)" = "$digest" ] ||
	fail "kiln save wrote another image than kiln build -o type=oci"
q=$(SOURCE_DATE_EPOCH= kiln build -q -t kiln-test/q:1 "$T/ctx" 2>/dev/null) || fail "kiln build -q failed"
[ "$q" = "sha256:$(config kiln-test/q:1 .Id)" ] || fail "kiln build -q printed $q, not the image's id"
build "$T/t2.log" -t kiln-test/app:1 --metadata-file "$T/t2.json" "$T/ctx"
all_cached "$T/t2.log" || fail "the rebuild ran steps: $(cat "$T/t2.log")"
[ "$(jq -r '."kiln.layers_made"' "$T/t2.json")" = 0 ] || fail "the no-op rebuild compressed a layer"
grep -q 'keeping 2 layers as diff trees, nothing compressed' "$T/t2.log" ||
	fail "progress: $(grep -A3 'exporting to image' "$T/t2.log")"
# -t alone on an empty store compresses nothing, and kiln push/save of it later agree on the id
KILN_ROOT=$T/fresh kiln tag "oci-layout://$T/base:latest" kiln-test/base:1 >/dev/null ||
	fail "kiln tag of the base in a fresh store failed"
KILN_ROOT=$T/fresh build "$T/t3.log" -t kiln-test/app:1 --metadata-file "$T/t3.json" "$T/ctx"
[ "$(jq -r '."kiln.layers_made"' "$T/t3.json")" = 0 ] || fail "-t alone compressed a layer"
[ "$(jq -r '."containerimage.config.digest"' "$T/t3.json")" = "$cfg" ] ||
	fail "-t alone on another store gave $(jq -r '."containerimage.config.digest"' "$T/t3.json"), not $cfg"
[ ! -e "$T/fresh/exporters/layers" ] && [ -n "$(ls "$T/fresh/exporters/diffids")" ] ||
	fail "-t alone made a layer blob, or recorded no diff id"
KILN_ROOT=$T/fresh kiln save --format oci -o "$T/fresh.tar" kiln-test/app:1 >/dev/null || fail "kiln save of the -t image"
[ "$(skopeo inspect "oci-archive:$T/fresh.tar:1" | jq -r .Digest)" = "$digest" ] ||
	fail "kiln save of the uncompressed -t image wrote another image"
ok "-t: kiln build's id is the exported config digest, kiln save agrees, nothing compressed until an export"

# The layout directory and stdout.
[ "$(export_app "type=oci,dest=$T/layout,tar=false,name=kiln-test/app:1")" = "$digest" ] || fail "layout digest"
[ "$(skopeo inspect "oci:$T/layout:1" | jq -r .Digest)" = "$digest" ] || fail "skopeo reads another layout digest"
kiln build -q -o "type=oci,dest=-,name=kiln-test/app:1" "$T/ctx" >"$T/stdout.tar" 2>"$T/stdout.err" ||
	fail "export to stdout failed: $(cat "$T/stdout.err")"
[ "$(skopeo inspect "oci-archive:$T/stdout.tar:1" | jq -r .Digest)" = "$digest" ] || fail "stdout tar digest"
# buildctl's form
build "$T/bk.log" --frontend dockerfile.v0 --local "context=$T/ctx" --local "dockerfile=$T/ctx" \
	--exporter oci --exporter-opt "dest=$T/bk.tar" --exporter-opt name=kiln-test/app:1
[ "$(skopeo inspect "oci-archive:$T/bk.tar:1" | jq -r .Digest)" = "$digest" ] || fail "buildctl form: another digest"
ok "tar=false layout, dest=- and the buildctl form read by skopeo"

# SOURCE_DATE_EPOCH: a second store makes every layer again, the digests do not move.
a=$(export_app "type=oci,dest=$T/e1.tar,name=x:1,rewrite-timestamp=true" --build-arg SOURCE_DATE_EPOCH=1700000000)
export KILN_ROOT=$T/root2
make_app layout
b=$(SOURCE_DATE_EPOCH=1700000000 export_app "type=oci,dest=$T/e2.tar,name=x:1,rewrite-timestamp=true")
[ "$(layers_made)" = 1 ] || fail "the second store did not make the layer again"
[ "$a" = "$b" ] || fail "same SOURCE_DATE_EPOCH, different digests: $a $b"
cmp -s "$T/e1.tar" "$T/e2.tar" || fail "same SOURCE_DATE_EPOCH, different archives"
created=$(skopeo inspect --config "oci-archive:$T/e1.tar:1" | jq -r .created)
[ "$created" = 2023-11-14T22:13:20Z ] || fail "created is $created, not the epoch"
tar -xOf "$T/e1.tar" "blobs/sha256/$(skopeo inspect "oci-archive:$T/e1.tar:1" | jq -r '.Layers[1]' | cut -d: -f2)" |
	tar -tvzf - >"$T/e1.list"
grep -q '2022-02-02' "$T/e1.list" || fail "file times before the epoch were changed: $(head -3 "$T/e1.list")"
export KILN_ROOT=$T/root
ok "two stores, same SOURCE_DATE_EPOCH (build arg, environment): identical digests and archives"

# Provenance of a build from a git context: an index with the attestation manifest, the statement
# naming the commit and the base image.
git init -q -b main "$T/repo"
cp -a "$T/ctx/." "$T/repo/"
git -C "$T/repo" add -A
git -C "$T/repo" -c user.name=k -c user.email=k@example.com commit -qm app
commit=$(git -C "$T/repo" rev-parse HEAD)
base_manifest=$(jq -r '.manifests[0].digest' "$T/base/index.json")
build "$T/prov.log" --provenance mode=min --build-arg FOO=bar --metadata-file "$T/prov.json" \
	-o "type=oci,dest=$T/prov,tar=false,name=kiln-test/app:1" "$T/repo#main"
pdigest=$(jq -r '."containerimage.digest"' "$T/prov.json")
idx=$T/prov/blobs/sha256/${pdigest#sha256:}
[ "$(jq -r .mediaType "$idx")" = application/vnd.oci.image.index.v1+json ] || fail "the root is not an index"
[ "$(jq -r '.manifests | length' "$idx")" = 2 ] || fail "the index does not hold two manifests"
[ "$(jq -r '.manifests[1].annotations."vnd.docker.reference.type"' "$idx")" = attestation-manifest ] ||
	fail "no attestation-manifest annotation"
mdigest=$(jq -r '.manifests[0].digest' "$idx")
[ "$(jq -r '.manifests[1].annotations."vnd.docker.reference.digest"' "$idx")" = "$mdigest" ] ||
	fail "the attestation does not refer to the image manifest"
att=$T/prov/blobs/sha256/$(jq -r '.manifests[1].digest' "$idx" | cut -d: -f2)
[ "$(jq -r '.layers[0].annotations."in-toto.io/predicate-type"' "$att")" = https://slsa.dev/provenance/v0.2 ] ||
	fail "predicate type annotation"
st=$T/prov/blobs/sha256/$(jq -r '.layers[0].digest' "$att" | cut -d: -f2)
jq -e --arg c "$commit" --arg u "$T/repo#main" 'any(.predicate.materials[]; .uri == $u and .digest.sha1 == $c)' "$st" >/dev/null ||
	fail "the commit is not named: $(jq -c .predicate.materials "$st")"
jq -e --arg d "${base_manifest#sha256:}" 'any(.predicate.materials[]; (.uri | startswith("pkg:docker/docker.io/kiln-test/base@1?platform=linux%2Famd64")) and .digest.sha256 == $d)' \
	"$st" >/dev/null || fail "the base image is not named by its manifest: $(jq -c .predicate.materials "$st")"
[ "$(jq -r '.subject[0].digest.sha256' "$st")" = "${mdigest#sha256:}" ] || fail "the subject is not the manifest"
skopeo inspect "oci:$T/prov:1" >/dev/null || fail "skopeo cannot read the index with provenance"
# a local context is named by its tree; max mode has the build args
build "$T/prov2.log" --provenance max --build-arg FOO=bar -o "type=oci,dest=$T/prov2,tar=false,name=a:1" "$T/ctx"
idx=$T/prov2/blobs/sha256/$(jq -r '.manifests[0].digest' "$T/prov2/index.json" | cut -d: -f2)
att=$T/prov2/blobs/sha256/$(jq -r '.manifests[1].digest' "$idx" | cut -d: -f2)
st=$T/prov2/blobs/sha256/$(jq -r '.layers[0].digest' "$att" | cut -d: -f2)
jq -e 'any(.predicate.materials[]; .uri == "kiln-context://context" and (.digest.sha256 | length) == 64)' "$st" >/dev/null ||
	fail "the context tree is not named: $(jq -c .predicate.materials "$st")"
grep -q '"build-arg:FOO": *"bar"' "$st" || fail "max provenance lacks the build arg: $(jq -c .predicate.invocation "$st")"
ok "provenance names the commit, the base image, the context tree"

# Without it, the layout names the manifest alone.
[ "$(tar -xOf "$T/app.tar" index.json | jq -r '.manifests[0].mediaType')" = application/vnd.oci.image.manifest.v1+json ] ||
	fail "the default export is not the manifest alone"
ok "no attestation unless asked for"

# Bad options are usage errors naming the option.
expect_fail 2 "unknown output option 'colour'" kiln build -o type=oci,dest=x,colour=red "$T/ctx"
expect_fail 2 "type=image needs name=NAME to push" kiln build -o type=registry "$T/ctx"
expect_fail 2 "type=local: unknown field 'name'" kiln build -o type=local,dest=x,name=y "$T/ctx"
expect_fail 2 "provenance" kiln build --provenance mode=huge "$T/ctx"
ok "bad outputs are usage errors"
