#!/bin/bash
# kiln's image index: `kiln pull` from a registry on loopback records the image under its
# normalized name, `kiln tag` names an OCI layout's image (and an indexed one, by name or id),
# `kiln images` lists them (table, -q, JSON), `kiln mount NAME` shows the files byte for byte as
# `umoci unpack` does, `kiln inspect` gives the config, history and the layers' tree ids, a name
# in the index needs no network (the registry stopped), `--pull never` fails clearly for a
# missing name, and `kiln rmi` removes names.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"

need_fuse
need_cmd jq skopeo umoci docker-registry curl python3
make_busybox_oci_layout "$T/bb" v1
layout_edit_config "$T/bb" '.created = "2024-01-02T03:04:05Z" |
	.config.Env = ["PATH=/usr/bin:/bin", "GREETING=hello"] |
	.config.Cmd = ["/bin/sh", "-c", "cat /etc/motd"] | .config.Labels = {"org.kiln.test": "yes"} |
	.history = [{created: "2024-01-02T03:04:05Z", created_by: "tar of a busybox rootfs"}]'
man=$(jq -r '.manifests[0].digest' "$T/bb/index.json")
cfg=$(jq -r '.config.digest' "$T/bb/blobs/sha256/${man#sha256:}")
layer=$(jq -r '.layers[0].digest' "$T/bb/blobs/sha256/${man#sha256:}")
id=${cfg#sha256:}
umoci unpack --rootless --image "$T/bb:v1" "$T/truth" >/dev/null 2>&1 || fail "umoci unpack failed"
# bytes of the image's files, each inode once: what SIZE shows
size=$(find "$T/truth/rootfs" -type f -printf '%i %s\n' | sort -u | awk '{s += $2} END {print s}')

start_registry
registry_pid=${_pids[-1]}
push_layout "$T/bb" v1 busybox:1.36

same_as_truth() {
	local dir=$1 what=$2
	diff -r --no-dereference "$T/truth/rootfs" "$dir" >"$T/diff" 2>&1 ||
		fail "$what differs from umoci's unpack: $(head -5 "$T/diff")"
	[ "$(meta_listing "$T/truth/rootfs")" = "$(meta_listing "$dir")" ] ||
		fail "$what: metadata differs from umoci's unpack"
	[ "$(link_groups "$T/truth/rootfs")" = "$(link_groups "$dir")" ] || fail "$what: hardlinks differ"
}

# A layout whose directory makes no name is pulled, and left unnamed with a hint.
cp -r "$T/bb" "$T/Upper"
kiln pull "oci-layout://$T/Upper:v1" >"$T/out" 2>"$T/err" || fail "pull of an unnamed layout"
grep -q "name it with 'kiln tag" "$T/err" || fail "no hint for an unnamed layout: $(cat "$T/err")"
[ ! -e "$KILN_ROOT/images" ] || fail "an unnamed layout got a name"
[[ $(cat "$T/out") =~ ^sha256:[0-9a-f]{64}$ ]] || fail "pull printed $(cat "$T/out")"

# An empty index lists a header alone.
[ "$(kiln images)" = "REPOSITORY  TAG  IMAGE ID  CREATED  SIZE" ] || fail "empty listing: $(kiln images)"
[ "$(kiln images --format json | jq length)" = 0 ] || fail "empty JSON listing"

# Pull: the tree id as before, and the image recorded under its normalized name.
t_reg=$(kiln pull "$REGISTRY/busybox:1.36") || fail "pull from the registry failed"
[[ $t_reg =~ ^sha256:[0-9a-f]{64}$ ]] || fail "pull printed '$t_reg', not a tree id"
[ -n "$(ls "$KILN_ROOT/images")" ] || fail "pull recorded no name"
t_lay=$(kiln pull "oci-layout://$T/bb:v1") || fail "pull of the layout failed"
[ "$t_lay" = "$t_reg" ] || fail "layout and registry trees differ"
[ "$(ls "$KILN_ROOT/images" | wc -l)" = 2 ] || fail "a layout pull recorded no name"
ok "kiln pull records a registry's image and a layout's under their names"

# Tag: a layout's image gets a name; an indexed image gets more, by name and by id.
kiln tag "oci-layout://$T/bb:v1" mybase:1 || fail "tag of the layout failed"
kiln tag mybase:1 localhost:5000/copy:v2 || fail "tag of an indexed name failed"
kiln tag "${id:0:12}" byid || fail "tag by id prefix failed"
kiln images >"$T/images" || fail "kiln images failed"
[ "$(head -1 "$T/images" | tr -s ' ')" = "REPOSITORY TAG IMAGE ID CREATED SIZE" ] ||
	fail "header: $(head -1 "$T/images")"
[ "$(wc -l <"$T/images")" = 6 ] || fail "expected 5 names: $(cat "$T/images")"
human=$(python3 -c "
import sys; v, u = float(sys.argv[1]), 0
while v >= 999.5: v, u = v / 1000, u + 1
print('%.3g %s' % (v, ['B', 'kB', 'MB', 'GB'][u]))" "$size")
for want in "docker.io/library/byid latest" "docker.io/library/mybase 1" "localhost/bb v1" \
	"localhost:5000/copy v2" "$REGISTRY/busybox 1.36"; do
	grep -E "^${want% *} +${want#* } +${id:0:12} +[0-9]+ (years|months|weeks) ago +$human\$" \
		"$T/images" >/dev/null || fail "no row '$want … ${id:0:12} … $human': $(cat "$T/images")"
done
[ "$(awk 'NR > 1 {print $1}' "$T/images" | sort -c && echo sorted)" = sorted ] ||
	fail "rows are not in name order"
[ "$(kiln images -q)" = "${id:0:12}" ] || fail "-q: $(kiln images -q)"
[ "$(kiln images -q --no-trunc)" = "$cfg" ] || fail "-q --no-trunc: $(kiln images -q --no-trunc)"
[ "$(kiln images mybase | tail -n +2 | awk '{print $1 ":" $2}')" = "docker.io/library/mybase:1" ] ||
	fail "filter by repository: $(kiln images mybase)"
[ "$(kiln images "$REGISTRY/busybox:1.36" | wc -l)" = 2 ] || fail "filter by name"
[ "$(kiln images busybox | wc -l)" = 1 ] || fail "docker.io/library/busybox is not indexed"
kiln images --format json >"$T/images.json"
jq -e --arg id "$id" --argjson size "$size" --arg reg "$REGISTRY/busybox:1.36" '
	length == 1 and .[0].Id == $id and .[0].Size == $size and
	.[0].Created == 1704164645 and .[0].CreatedAt == "2024-01-02T03:04:05Z" and
	.[0].Labels == {"org.kiln.test": "yes"} and (.[0].Names | length) == 5 and
	(.[0].Names | index($reg)) != null and (.[0].RepoTags | length) == 5' \
	"$T/images.json" >/dev/null || fail "images JSON: $(cat "$T/images.json")"
ok "kiln images lists every name (table, -q, a repository, JSON)"

# Mount by name: the files as umoci unpacks them.
m=$T/mnt
mkdir -p "$m"
kiln mount mybase:1 "$m" || fail "mount mybase:1 failed"
track_mount "$m"
same_as_truth "$m" "kiln mount mybase:1"
kiln umount "$m"
ok "kiln mount mybase:1 matches umoci's unpack"

# Inspect: the config under its OCI names, history, and the layers' trees.
kiln inspect docker.io/library/mybase:1 >"$T/inspect.json" || fail "inspect failed"
jq -e --arg id "$id" --arg man "$man" --arg layer "$layer" --arg tree "$t_reg" '
	length == 1 and .[0].Id == $id and .[0].architecture == "amd64" and .[0].os == "linux" and
	.[0].config.Env == ["PATH=/usr/bin:/bin", "GREETING=hello"] and
	.[0].config.Cmd == ["/bin/sh", "-c", "cat /etc/motd"] and
	.[0].history[0].created_by == "tar of a busybox rootfs" and
	(.[0].rootfs.diff_ids | length) == 1 and .[0].Tree == $tree and .[0].Digest == $man and
	(.[0].Layers | length) == 1 and .[0].Layers[0].Blob.digest == $layer and
	.[0].Layers[0].DiffID == .[0].rootfs.diff_ids[0] and
	(.[0].Layers[0].Origin | startswith("oci-layout:///")) and
	(.[0].RepoTags | index("docker.io/library/mybase:1")) != null' \
	"$T/inspect.json" >/dev/null || fail "inspect JSON: $(head -c 3000 "$T/inspect.json")"
ltree=$(jq -r '.[0].Layers[0].Tree' "$T/inspect.json")
kiln tree ls "$ltree" etc >"$T/ls" || fail "kiln tree ls of the layer tree $ltree failed"
grep -q 'motd$' "$T/ls" || fail "the layer tree lacks etc/motd: $(cat "$T/ls")"
kiln inspect "$REGISTRY/busybox:1.36" | jq -e --arg reg "$REGISTRY/busybox" \
	'.[0].Layers[0].Origin == "docker-image://" + $reg' >/dev/null ||
	fail "a pulled layer's origin is not its repository"
[ "$(kiln inspect "$id" | jq -r '.[0].Id')" = "$id" ] || fail "inspect by id"
[ "$(kiln inspect mybase:1 byid | jq length)" = 2 ] || fail "inspect of two names"
ok "kiln inspect shows Env, Cmd, architecture, history and the layers' tree ids"

# With the registry gone, names in the index still mount and inspect: no network is used.
kill "$registry_pid"
wait "$registry_pid" 2>/dev/null || true
curl -fs "http://$REGISTRY/v2/" >/dev/null 2>&1 && fail "the registry is still up"
kiln mount "$REGISTRY/busybox:1.36" "$m" || fail "mount by name without the registry failed"
same_as_truth "$m" "kiln mount $REGISTRY/busybox:1.36 (registry stopped)"
kiln umount "$m"
kiln inspect "$REGISTRY/busybox:1.36" >/dev/null || fail "inspect without the registry failed"
[ "$(kiln pull --policy missing "$REGISTRY/busybox:1.36")" = "$t_reg" ] ||
	fail "pull --policy missing went to the registry"
[ "$(kiln pull --policy newer "$REGISTRY/busybox:1.36")" = "$t_reg" ] ||
	fail "pull --policy newer did not keep to the index without the registry"
expect_fail 1 "docker-image://$REGISTRY/busybox:1.36" \
	kiln pull --registry-timeout 2s "$REGISTRY/busybox:1.36"
ok "a name in the index mounts and inspects with the registry stopped"

# A missing name with the pull policy 'never' fails clearly, and nothing is mounted.
never="image 'docker.io/library/nothere:latest' is not in kiln's image index, and the pull policy is 'never'"
expect_fail 1 "$never" kiln mount --pull never nothere "$m"
expect_fail 1 "$never" kiln mount nothere "$m"
expect_fail 1 "$never" kiln pull --policy never nothere
mountpoint -q "$m" && fail "a failed mount left a mount"
expect_fail 2 "pull policy 'sometimes' is none of" kiln mount --pull sometimes mybase:1 "$m"
ok "--pull never on a missing name fails naming it"

# Errors name what is wrong.
expect_fail 1 "tag: no image 'nothere' \(docker.io/library/nothere:latest\) in kiln's image index" \
	kiln tag nothere x
expect_fail 1 "refusing to create a tag with a digest reference" \
	kiln tag mybase:1 "x@sha256:$id"
expect_fail 1 "bad repository name" kiln tag mybase:1 Upper
expect_fail 2 "expected a source image and a name" kiln tag mybase:1
expect_fail 1 "inspect: no image 'nothere'" kiln inspect nothere
ok "tag and inspect errors name the image"

# rmi: names go, one by one or all of an id; a missing one is named.
kiln rmi mybase:1 >"$T/out" || fail "rmi mybase:1 failed"
[ "$(cat "$T/out")" = "Untagged: docker.io/library/mybase:1" ] || fail "rmi said: $(cat "$T/out")"
kiln images | grep -q mybase && fail "mybase is still listed"
expect_fail 1 "rmi: no image 'mybase:1' \(docker.io/library/mybase:1\) in kiln's image index" \
	kiln rmi mybase:1
expect_fail 1 "rmi: not in kiln's image index: 'a', 'b'" kiln rmi a byid b
kiln images | grep -q byid && fail "rmi of a, byid, b did not remove byid"
kiln rmi "${id:0:12}" >"$T/out" || fail "rmi by id failed"
[ "$(wc -l <"$T/out")" = 3 ] || fail "rmi by id untagged: $(cat "$T/out")"
[ "$(kiln images | wc -l)" = 1 ] || fail "names left: $(kiln images)"
kiln store verify >/dev/null || fail "store verify"
ok "kiln rmi removes names and names the missing ones"
