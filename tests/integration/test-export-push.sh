#!/usr/bin/env bash
# kiln build -o type=image,push=true (and type=registry) of a Dockerfile FROM an image of
# Debian's docker-registry on loopback: the base layer mounted from its repository (never
# fetched), chunked uploads, the image pulled back by skopeo equal to kiln's own OCI export of
# it, a second push sending no blob at all (the access log has HEADs and the manifest PUT only)
# and compressing nothing, kiln push of the -t image the same, push-by-digest, provenance, and
# errors that quote the registry.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
. "$(dirname "$0")/lib-build.sh"
. "$(dirname "$0")/lib-export.sh"
need_cmd skopeo jq docker-registry curl

start_registry
[ -d "$T/base" ] || make_busybox_oci_layout "$T/base" latest
push_layout "$T/base" latest base:1
# The layout pulled first: the registry's image then has a known layer, its blob never fetched.
kiln pull "oci-layout://$T/base:latest" >/dev/null || fail "kiln pull of the layout failed"
kiln pull "$REGISTRY/base:1" >/dev/null || fail "kiln pull of the base failed"
make_app "$REGISTRY/base:1"
export SOURCE_DATE_EPOCH=1600000000 # the same image from each build
base_blob=$(registry_blob_path "$BASE_LAYER")
[ -f "$base_blob" ] || fail "the base layer is not in the registry"
# The base layer's blob is not in kiln's store: a push must mount it, never fetch it.
hex=${BASE_LAYER#sha256:}
[ ! -e "$KILN_ROOT/content/sha256/$hex" ] || fail "the base layer is in the store already"

log_since() { tail -n +$(($1 + 1)) "$REGISTRY_LOG" | grep -oE '"(GET|HEAD|POST|PUT|PATCH|DELETE) /v2/[^"]*"' || true; }

n0=$(wc -l <"$REGISTRY_LOG")
digest=$(export_app "type=image,name=$REGISTRY/app:1,push=true" --registry-chunk 65536)
log_since "$n0" >"$T/push1.log"
grep -q "POST /v2/app/blobs/uploads/?mount=$BASE_LAYER&from=base" "$T/push1.log" ||
	fail "the base layer was not mounted: $(cat "$T/push1.log")"
grep -q "GET /v2/base/blobs/$BASE_LAYER" "$T/push1.log" && fail "the base layer was fetched"
[ ! -e "$KILN_ROOT/content/sha256/$hex" ] || fail "the base layer was fetched into the store"
[ "$(grep -c 'PATCH /v2/app/blobs/uploads/' "$T/push1.log")" -ge 5 ] ||
	fail "a 300 kB layer in 64 kB chunks took fewer than 5 PATCHes: $(cat "$T/push1.log")"
grep -q 'PUT /v2/app/manifests/1 ' "$T/push1.log" || fail "no manifest PUT"
grep -q 'pushing layers: .* 1 blobs mounted' "$T/export.log" || fail "progress: $(grep pushing "$T/export.log")"
[ "$(jq -r '."image.name"' "$T/export.json")" = "$REGISTRY/app:1" ] || fail "metadata image.name"
ok "pushed: base layer mounted from its repository, others in chunks"

# Pulled back by skopeo: the same manifest and blobs as kiln's own OCI export of the image.
[ "$(skopeo inspect --tls-verify=false "docker://$REGISTRY/app:1" | jq -r .Digest)" = "$digest" ] ||
	fail "skopeo sees another digest"
skopeo copy --quiet --src-tls-verify=false "docker://$REGISTRY/app:1" "oci:$T/pulled:1" || fail "skopeo copy failed"
export_app "type=oci,dest=$T/local,tar=false,name=app:1" >/dev/null
[ "$(skopeo inspect "oci:$T/pulled:1" | jq -r .Digest)" = "$digest" ] || fail "the pulled copy has another digest"
for f in "$T/local/blobs/sha256/"*; do
	cmp -s "$f" "$T/pulled/blobs/sha256/$(basename "$f")" || fail "blob $(basename "$f") differs after the round trip"
done
ok "skopeo pulls back what kiln exports, byte for byte"

# The same image again: no blob is sent, no layer is compressed.
n1=$(wc -l <"$REGISTRY_LOG")
digest2=$(export_app "type=registry,name=$REGISTRY/app:1" -t kiln-test/app:1)
[ "$digest2" = "$digest" ] || fail "the second push made another image"
log_since "$n1" >"$T/push2.log"
grep -E 'PATCH|POST|PUT /v2/app/blobs' "$T/push2.log" && fail "the second push sent blobs"
[ "$(grep -c 'HEAD /v2/app/blobs/' "$T/push2.log")" = 3 ] || fail "not one HEAD per blob: $(cat "$T/push2.log")"
[ "$(layers_made)" = 0 ] || fail "the second push compressed a layer: $(cat "$T/export.log")"
grep -q 'exporting layers: 0 made, 2 reused' "$T/export.log" || fail "progress: $(cat "$T/export.log")"
# kiln push of the -t image: the same image, nothing sent again
n2=$(wc -l <"$REGISTRY_LOG")
[ "$(kiln push kiln-test/app:1 "$REGISTRY/app:1")" = "$digest" ] || fail "kiln push of the built image pushed another one"
log_since "$n2" | grep -E 'PATCH|POST' && fail "kiln push sent blobs"
ok "second push (and kiln push of the -t image): HEADs and the manifest PUT only, nothing compressed"

# push-by-digest: no tag; the manifest is there by its digest.
d=$(export_app "type=image,name=$REGISTRY/bydigest,push=true,push-by-digest=true")
# (a repository without tags answers 404 NAME_UNKNOWN, or an empty list)
curl -sS "http://$REGISTRY/v2/bydigest/tags/list" | jq -e '(.tags // []) | length == 0' >/dev/null ||
	fail "push-by-digest made a tag"
[ "sha256:$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/bydigest@$d" | sha256sum | cut -d' ' -f1)" = "$d" ] ||
	fail "no manifest by digest"
ok "push-by-digest"

# With provenance: the index by tag, its manifests by digest.
export_app "type=image,name=$REGISTRY/prov:1,push=true" --provenance max >/dev/null
skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/prov:1" |
	jq -e '.mediaType == "application/vnd.oci.image.index.v1+json" and (.manifests | length) == 2' >/dev/null ||
	fail "the pushed index is not the image and its attestation"
skopeo inspect --tls-verify=false "docker://$REGISTRY/prov:1" | jq -e ".Digest" >/dev/null || fail "skopeo cannot read it"
ok "push with provenance"

# A registry error is quoted: an upper-case repository is refused before anything is sent.
expect_fail 1 "repository" kiln build -o "type=image,name=$REGISTRY/Bad:1,push=true" "$T/ctx"
ok "bad names are refused"
