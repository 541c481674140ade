#!/usr/bin/env bash
# kiln build's push against a registry that checks the protocol (fake-push-registry.py): a pull-scoped
# token refused for writes makes kiln ask for push, with the mount's source scope too; a refused
# mount's upload session is used (no second POST); chunks follow on with Content-Range and the
# final PUT's digest is checked; a layer that could not be mounted is fetched from its origin
# (and only then); the registry's own error is quoted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
. "$(dirname "$0")/lib-build.sh"
. "$(dirname "$0")/lib-export.sh"
need_cmd python3 jq

port=$(free_port)
reg=127.0.0.1:$port
log=$T/fake.log
: >"$log"
make_busybox_oci_layout "$T/base" latest
python3 "$(dirname "$0")/fake-push-registry.py" "$port" "$log" "$T/base/blobs/sha256" 2>"$T/fake.err" &
track_pid $!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://$reg/v2/" && break; sleep 0.1; done
mkdir -p "$T/docker"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$reg" "$(printf kiln:secret | base64)" >"$T/docker/config.json"
export DOCKER_CONFIG=$T/docker

# The base image is pulled from another repository of this registry, its layer's tree known
# from an earlier pull of the layout (so its blob was never fetched): kiln tries a mount.
kiln pull "oci-layout://$T/base:latest" >/dev/null || fail "kiln pull of the layout failed"
kiln pull "$reg/base:latest" >/dev/null || fail "kiln pull from the registry failed"
make_app "$reg/base:latest"
[ ! -e "$KILN_ROOT/content/sha256/${BASE_LAYER#sha256:}" ] || fail "the base layer's blob is in the store"
: >"$log"
digest=$(export_app "type=image,name=$reg/app:1,push=true" --registry-chunk 50000)

jq -se 'any(.[]; .method == "TOKEN" and (.scopes | index("repository:app:pull,push") and index("repository:base:pull")))' \
	"$log" >/dev/null || fail "no token asked for push with the mount's source: $(grep TOKEN "$log")"
jq -se "any(.[]; .method == \"MOUNT-REFUSED\" and .source == \"base\" and .digest == \"$BASE_LAYER\")" "$log" >/dev/null ||
	fail "no mount was tried"
posts=$(jq -s '[.[] | select(.method == "UPLOAD-START")] | length' "$log")
[ "$posts" = 3 ] || fail "$posts authorized upload POSTs (one a mount) for 3 blobs: the refused mount's session was not used"
patches=$(jq -r 'select(.method == "PATCH") | .content_range' "$log" | grep -c . || true)
[ "$patches" -ge 7 ] || fail "only $patches PATCHes with Content-Range for ~1.3 MB in 50 kB chunks"
jq -se "any(.[]; .method == \"GET\" and .path == \"/v2/base/blobs/$BASE_LAYER\")" "$log" >/dev/null ||
	fail "the unmounted layer was not fetched from its origin"
ok "push scope negotiated, refused mount's session used, layer fetched from its origin, chunks follow on"

# What the registry holds is the image kiln exported.
m=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	-H "Authorization: Bearer $(curl -s -u kiln:secret "http://$reg/token?scope=repository:app:pull" | jq -r .token)" \
	"http://$reg/v2/app/manifests/1" | sha256sum | cut -d' ' -f1)
[ "sha256:$m" = "$digest" ] || fail "the registry's manifest is not the pushed one"
ok "the manifest by tag is the one pushed"

expect_fail 1 "manifest '1' to '$reg/badmanifest': HTTP 400: MANIFEST_INVALID: manifest invalid: no good" \
	kiln build -o "type=image,name=$reg/badmanifest:1,push=true" "$T/ctx"
ok "the registry's error is quoted"
