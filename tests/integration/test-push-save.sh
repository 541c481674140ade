#!/usr/bin/env bash
# kiln push and kiln save of images in kiln's index: an image pulled from one repository pushed
# to another of the same registry mounts every layer (no byte is fetched or sent) and keeps its
# image id; pushed again, it sends no blob; saved as a Docker archive and an OCI tar that skopeo
# reads; bad names and missing images are clear errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
need_cmd skopeo jq docker-registry

start_registry
make_busybox_oci_layout "$T/bb" latest
push_layout "$T/bb" latest busybox:1
src=$REGISTRY/busybox:1
kiln pull "$src" >/dev/null || fail "pull failed"
layer=$(skopeo inspect --tls-verify=false "docker://$src" | jq -r '.Layers[0]')
id=$(skopeo inspect --tls-verify=false --config "docker://$src" | sha256sum | cut -d' ' -f1)


log_since() { tail -n +$(($1 + 1)) "$REGISTRY_LOG" | grep -oE '"(GET|HEAD|POST|PUT|PATCH) /v2/[^"]*"' || true; }

n0=$(wc -l <"$REGISTRY_LOG")
digest=$(kiln push --metadata-file "$T/md.json" "$src" "$REGISTRY/copy:1") || fail "kiln push failed"
log_since "$n0" >"$T/push1.log"
grep -q "POST /v2/copy/blobs/uploads/?mount=$layer&from=busybox" "$T/push1.log" ||
	fail "the layer was not mounted: $(cat "$T/push1.log")"
grep -q 'PATCH' "$T/push1.log" && fail "kiln push uploaded a layer it could mount: $(cat "$T/push1.log")"
[ "$(jq -r '."containerimage.digest"' "$T/md.json")" = "$digest" ] || fail "metadata digest"
[ "$(skopeo inspect --tls-verify=false "docker://$REGISTRY/copy:1" | jq -r .Digest)" = "$digest" ] ||
	fail "skopeo sees another digest"
got=$(skopeo inspect --tls-verify=false --config "docker://$REGISTRY/copy:1" | sha256sum | cut -d' ' -f1)
[ "$got" = "$id" ] || fail "the pushed config is not the pulled one (image id changed)"
ok "kiln push: layer mounted from its repository, image id kept"

n1=$(wc -l <"$REGISTRY_LOG")
[ "$(kiln push "$src" "$REGISTRY/copy:1")" = "$digest" ] || fail "second push made another image"
log_since "$n1" >"$T/push2.log"
grep -E 'PATCH|POST' "$T/push2.log" && fail "the second push sent blobs"
ok "kiln push again: HEADs and the manifest PUT only"

kiln save -o "$T/bb-docker.tar" "$src" >/dev/null || fail "kiln save failed"
tar -xOf "$T/bb-docker.tar" manifest.json | jq -e --arg t "$REGISTRY/busybox:1" '.[0].RepoTags == [$t]' >/dev/null ||
	fail "the docker archive does not tag the image"
# (docker-archive: skopeo names layers by their diff ids; the config says which)
[ "$(skopeo inspect --config "docker-archive:$T/bb-docker.tar" | sha256sum | cut -d' ' -f1)" = "$id" ] ||
	fail "skopeo reads another config from the docker archive"
[ "$(tar -xOf "$T/bb-docker.tar" manifest.json | jq -r '.[0].Layers[0]')" = "blobs/sha256/${layer#sha256:}" ] ||
	fail "the docker archive does not hold the pulled layer blob"
kiln save --format oci -o "$T/bb-oci.tar" "$src" >/dev/null || fail "kiln save --format oci failed"
[ "$(skopeo inspect "oci-archive:$T/bb-oci.tar:1" | jq -r '.Layers[0]')" = "$layer" ] ||
	fail "skopeo reads another layer from the OCI archive"
kiln save -o - "$src" >"$T/stdout.tar" || fail "kiln save to stdout failed"
cmp -s "$T/stdout.tar" "$T/bb-docker.tar" || fail "kiln save to stdout wrote other bytes"
ok "kiln save: docker and OCI archives, stdout"

expect_fail 1 "no image 'nothing:here' in kiln's index" kiln push nothing:here "$REGISTRY/x:1"
expect_fail 1 "no image 'nothing:here' in kiln's index" kiln save -o "$T/x.tar" nothing:here
[ ! -e "$T/x.tar" ] || fail "a failed save left a file"
expect_fail 2 "expected an image name" kiln push
expect_fail 2 "-o FILE is needed" kiln save "$src"
expect_fail 2 "--format is docker or oci" kiln save --format zip -o "$T/x.tar" "$src"
ok "missing images and bad usage are clear errors"
