#!/bin/bash
# Images as trees: a busybox image (tar+gzip, zstd:chunked, eStargz and legacy stargz) from an OCI
# layout and from a docker-registry on loopback, mounted and compared byte for byte with `umoci
# unpack`; chunked and eStargz files fetched lazily by range, also through a bearer-token proxy
# with credentials from config.json or a docker credential helper; corrupt blobs, bad TOCs and
# footers, hostile tars refused, nothing cached.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"

need_fuse
need_cmd jq skopeo umoci docker-registry curl python3 zstd
make_busybox_oci_layout "$T/bb" latest

# The truth: umoci's unpack of the same image.
umoci unpack --rootless --image "$T/bb:latest" "$T/truth" >/dev/null 2>&1 ||
	fail "umoci unpack failed"

# A zstd:chunked copy of the image (skopeo writes one from an uncompressed layer).
make_layer_tar "$T/bb-rootfs" "$T/bb-layer.tar"
make_oci_layout "$T/bb-plain" latest "$T/bb-layer.tar"
skopeo copy --quiet --dest-compress-format zstd:chunked "oci:$T/bb-plain:latest" \
	"oci:$T/bb-zstd:latest" || fail "skopeo could not write a zstd:chunked image"
zman=$(jq -r '.manifests[0].digest' "$T/bb-zstd/index.json")
zlayer=$(jq -r '.layers[0].digest' "$T/bb-zstd/blobs/sha256/${zman#sha256:}")
jq -e '.layers[0].annotations["io.containers.zstd-chunked.manifest-position"]' \
	"$T/bb-zstd/blobs/sha256/${zman#sha256:}" >/dev/null || fail "skopeo wrote no TOC annotation"

# An eStargz copy (make-estargz.py, files in 512 KiB gzip members so bin/busybox has chunks);
# it is still a plain tar.gz.
make_estargz_oci_layout "$T/bb-estargz" latest "$T/bb-layer.tar" 524288
eman=$(jq -r '.manifests[0].digest' "$T/bb-estargz/index.json")
elayer=$(jq -r '.layers[0].digest' "$T/bb-estargz/blobs/sha256/${eman#sha256:}")
tar -tzf "$T/bb-estargz/blobs/sha256/${elayer#sha256:}" | grep -x './bin/busybox' >/dev/null ||
	fail "the eStargz layer is not a plain tar.gz"
busybox_hex=$(sha256sum /bin/busybox | cut -c1-64)

# A legacy stargz copy: the same layout but the 47-byte footer of original stargz (gzip extra
# field XLEN 22 holding "%016xSTARGZ" itself, no 'S' 'G' subfield header).
make_estargz_oci_layout "$T/bb-legacy" legacy "$T/bb-layer.tar" 524288 legacy
lman=$(jq -r '.manifests[0].digest' "$T/bb-legacy/index.json")
llayer=$(jq -r '.layers[0].digest' "$T/bb-legacy/blobs/sha256/${lman#sha256:}")
lblob=$T/bb-legacy/blobs/sha256/${llayer#sha256:}
[ "$(tail -c 47 "$lblob" | head -c 12 | od -An -tx1 | tr -d ' \n')" = 1f8b08040000000000ff1600 ] &&
	[ "$(tail -c 19 "$lblob" | head -c 6)" = STARGZ ] ||
	fail "make-estargz.py --legacy-footer did not end the blob with a legacy stargz footer"

start_registry
push_layout "$T/bb" latest busybox:latest
push_layout "$T/bb-zstd" latest busybox:zstd
push_layout "$T/bb-estargz" latest busybox:estargz
push_layout "$T/bb-legacy" legacy busybox:legacy

compare_with_truth() {
	local dir=$1 what=$2
	diff -r --no-dereference "$T/truth/rootfs" "$dir" >"$T/diff" 2>&1 ||
		fail "$what differs from umoci's unpack: $(head -5 "$T/diff")"
	[ "$(meta_listing "$T/truth/rootfs")" = "$(meta_listing "$dir")" ] ||
		fail "$what: metadata differs from umoci's unpack"
	[ "$(link_groups "$T/truth/rootfs")" = "$(link_groups "$dir")" ] ||
		fail "$what: hardlinks differ"
}

# Pull (no FUSE needed): every source resolves, the same image gives the same tree.
t_layout=$(kiln pull "oci-layout://$T/bb:latest") || fail "pull of the layout failed"
t_reg=$(kiln pull "docker-image://$REGISTRY/busybox:latest") || fail "pull from the registry failed"
[ "$t_layout" = "$t_reg" ] || fail "layout and registry trees differ: $t_layout $t_reg"
[ -s "$KILN_ROOT/imgsrc/layers/$(jq -r '.layers[0].digest' \
	"$T/bb/blobs/sha256/$(jq -r '.manifests[0].digest' "$T/bb/index.json" | cut -d: -f2)" |
	cut -d: -f2)" ] || fail "no layer record"
ok "pull from a layout and a registry give the same tree"

before=$(grep -c 'GET /v2/busybox/blobs' "$REGISTRY_LOG" || true)
t_again=$(kiln pull "docker-image://$REGISTRY/busybox:latest")
after=$(grep -c 'GET /v2/busybox/blobs' "$REGISTRY_LOG" || true)
[ "$t_again" = "$t_reg" ] && [ "$before" = "$after" ] ||
	fail "a second pull fetched blobs again ($before → $after)"
ok "a second pull is served from the cache"

t_zstd=$(kiln pull "docker-image://$REGISTRY/busybox:zstd") || fail "pull of zstd:chunked failed"
zsize=$(stat -c %s "$(registry_blob_path "$zlayer")")
got=$(grep 'GET /v2/busybox/blobs/'"$zlayer" "$REGISTRY_LOG" | grep -c 'HTTP/1.1" 206' || true)
[ "$got" -ge 1 ] || fail "the chunked layer was not read by range"
kiln store verify >/dev/null || fail "store verify after pulls"
ok "zstd:chunked pull reads only the table of contents"

KILN_ROOT=$T/root-es kiln pull "oci-layout://$T/bb-estargz:latest" >/dev/null ||
	fail "pull of the eStargz layout failed"
[ -s "$T/root-es/imgsrc/layers/${elayer#sha256:}" ] || fail "no record of the eStargz layer"
[ ! -e "$T/root-es/content/sha256/$busybox_hex" ] || fail "the eStargz pull fetched bin/busybox"
esize=$(stat -c %s "$(registry_blob_path "$elayer")")
lines=$(wc -l <"$REGISTRY_LOG")
KILN_ROOT=$T/root-es2 kiln pull "docker-image://$REGISTRY/busybox:estargz" >/dev/null ||
	fail "pull of eStargz from the registry failed"
new=$(tail -n +"$((lines + 1))" "$REGISTRY_LOG" | grep "GET /v2/busybox/blobs/$elayer" || true)
[ "$(grep -c 'HTTP/1.1" 206' <<<"$new")" = 2 ] && [ "$(grep -c 'HTTP/1.1" 200' <<<"$new")" = 0 ] ||
	fail "the eStargz layer was not read as footer + TOC by range: $new"
sent=$(tail -n +"$((lines + 1))" "$REGISTRY_LOG" | grep -o 'http.response.written=[0-9]*' |
	cut -d= -f2 | awk '{s += $1} END {print s + 0}')
[ "$sent" -lt $((esize / 50)) ] || fail "an eStargz pull moved $sent bytes of $esize"
KILN_ROOT=$T/root-es2 kiln store verify >/dev/null || fail "store verify after an eStargz pull"
ok "eStargz pull reads only the footer and the table of contents ($sent of $esize bytes)"

# A TOC that does not match its annotation: an error naming the layer, nothing cached.
cp -r "$T/bb-estargz" "$T/es-bad"
layout_annotate_layer "$T/es-bad" 0 containerd.io/snapshot/stargz/toc.digest \
	"sha256:$(printf '%064d' 0)"
expect_fail 1 "${elayer}.*does not match" \
	env KILN_ROOT="$T/root-es3" "$KILN" pull "oci-layout://$T/es-bad:latest"
[ ! -e "$T/root-es3/imgsrc/layers/${elayer#sha256:}" ] || fail "a bad eStargz TOC left a record"
[ ! -e "$T/root-es3/imgsrc/origins/${elayer#sha256:}" ] || fail "a bad eStargz TOC left an origin"
ok "an eStargz TOC that does not match its digest is refused naming the layer"

# Legacy stargz: the 47-byte footer is found in the same 51-byte read, then the TOC.
KILN_ROOT=$T/root-legacy kiln pull "oci-layout://$T/bb-legacy:legacy" >/dev/null ||
	fail "pull of the legacy stargz layout failed"
[ -s "$T/root-legacy/imgsrc/layers/${llayer#sha256:}" ] || fail "no record of the stargz layer"
[ ! -e "$T/root-legacy/content/sha256/$busybox_hex" ] ||
	fail "the legacy stargz pull fetched bin/busybox: its footer was not recognized"
lines=$(wc -l <"$REGISTRY_LOG")
KILN_ROOT=$T/root-legacy2 kiln pull "docker-image://$REGISTRY/busybox:legacy" >/dev/null ||
	fail "pull of legacy stargz from the registry failed"
new=$(tail -n +"$((lines + 1))" "$REGISTRY_LOG" | grep "GET /v2/busybox/blobs/$llayer" || true)
[ "$(grep -c 'HTTP/1.1" 206' <<<"$new")" = 2 ] && [ "$(grep -c 'HTTP/1.1" 200' <<<"$new")" = 0 ] ||
	fail "the legacy stargz layer was not read as footer + TOC by range: $new"
[ ! -e "$T/root-legacy2/content/sha256/$busybox_hex" ] || fail "the registry pull fetched bin/busybox"
ok "legacy stargz (47-byte footer) pull reads only the footer and the table of contents"

# A blob whose footer says neither: an error naming the layer, nothing cached.
cp "$lblob" "$T/no-footer.tar.gz"
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[-14]=ord("X"); open(p,"wb").write(b)' \
	"$T/no-footer.tar.gz"
[ "$(tail -c 19 "$T/no-footer.tar.gz" | head -c 6)" = STARGX ] || fail "the footer was not broken"
gzip -t "$T/no-footer.tar.gz" || fail "the broken footer broke the gzip stream"
make_oci_layout "$T/es-nofooter" latest "$T/no-footer.tar.gz"
layout_annotate_layer "$T/es-nofooter" 0 containerd.io/snapshot/stargz/toc.digest "$ESTARGZ_TOC_DIGEST"
nf=sha256:$(sha256sum "$T/no-footer.tar.gz" | cut -c1-64)
expect_fail 1 "layer ${nf}.*neither an eStargz nor a stargz footer" \
	env KILN_ROOT="$T/root-nf" "$KILN" pull "oci-layout://$T/es-nofooter:latest"
[ ! -e "$T/root-nf/imgsrc/layers/${nf#sha256:}" ] || fail "a layer without a footer left a record"
ok "a layer annotated as eStargz without a footer is refused naming the layer"

# Mounts: compare bytes and metadata with the truth.
{
	for src in "oci-layout://$T/bb:latest" "docker-image://$REGISTRY/busybox:latest" \
		"oci-layout://$T/bb-zstd:latest" "oci-layout://$T/bb-estargz:latest"; do
		m=$T/mnt.$RANDOM
		mkdir -p "$m"
		kiln mount "$src" "$m" || fail "mount $src failed"
		track_mount "$m"
		compare_with_truth "$m" "$src"
		kiln umount "$m"
		ok "mount $src matches umoci's unpack"
	done
	# The chunked image from the registry, into a fresh store (the others hold its files
	# already): one small file costs a few hundred bytes, fetched by range.
	m=$T/mnt.zstd
	mkdir -p "$m"
	lines=$(wc -l <"$REGISTRY_LOG")
	KILN_ROOT=$T/root-lazy kiln mount "docker-image://$REGISTRY/busybox:zstd" "$m" ||
		fail "mount of zstd:chunked failed"
	track_mount "$m"
	[ "$(cat "$m/etc/motd")" = "hello from kiln" ] || fail "etc/motd of the chunked image"
	sent=$(tail -n +"$((lines + 1))" "$REGISTRY_LOG" | grep -o 'http.response.written=[0-9]*' |
		cut -d= -f2 | awk '{s += $1} END {print s + 0}')
	[ "$sent" -lt $((zsize / 50)) ] ||
		fail "reading one small file moved $sent bytes of a $zsize-byte layer"
	ok "reading etc/motd of the chunked image moved $sent of $zsize bytes"
	ranges=$(tail -n +"$((lines + 1))" "$REGISTRY_LOG" | grep -c 'HTTP/1.1" 206' || true)
	[ "$ranges" -ge 1 ] || fail "etc/motd was not fetched by a range request"
	compare_with_truth "$m" "docker-image://$REGISTRY/busybox:zstd"
	cmp "$m/bin/busybox" /bin/busybox || fail "bin/busybox of the chunked image"
	kiln umount "$m"
	KILN_ROOT=$T/root-lazy kiln store verify >/dev/null || fail "store verify after lazy reads"
	ok "mount of the zstd:chunked image from the registry matches umoci's unpack"

	# The eStargz image from the registry, into a fresh store: the mount reads the footer and
	# the TOC, a first read of etc/motd one range (its gzip member), nothing more.
	m=$T/mnt.estargz
	mkdir -p "$m"
	lines=$(wc -l <"$REGISTRY_LOG")
	KILN_ROOT=$T/root-es-lazy kiln mount "docker-image://$REGISTRY/busybox:estargz" "$m" ||
		fail "mount of eStargz failed"
	track_mount "$m"
	stats=$(getfattr --only-values -n user.kiln.lazyfs.stats "$m")
	[[ $stats == *" fetched=0 "*" bytes=0 "* ]] || fail "the eStargz mount fetched files: $stats"
	mounted=$(grep -c "GET /v2/busybox/blobs/$elayer" "$REGISTRY_LOG")
	[ "$(cat "$m/etc/motd")" = "hello from kiln" ] || fail "etc/motd of the eStargz image"
	stats=$(getfattr --only-values -n user.kiln.lazyfs.stats "$m")
	[[ $stats == *" fetched=1 "*" bytes=16 "* ]] || fail "reading etc/motd: $stats"
	[ "$(grep -c "GET /v2/busybox/blobs/$elayer" "$REGISTRY_LOG")" = $((mounted + 1)) ] ||
		fail "etc/motd of the eStargz image took more than one range request"
	sent=$(tail -n +"$((lines + 1))" "$REGISTRY_LOG" | grep -o 'http.response.written=[0-9]*' |
		cut -d= -f2 | awk '{s += $1} END {print s + 0}')
	[ "$sent" -lt $((esize / 50)) ] ||
		fail "mounting and reading one small file moved $sent bytes of $esize"
	ok "eStargz mount reads the TOC, then etc/motd's member alone ($sent of $esize bytes)"
	compare_with_truth "$m" "docker-image://$REGISTRY/busybox:estargz"
	cmp "$m/bin/busybox" /bin/busybox || fail "bin/busybox (chunked) of the eStargz image"
	kiln umount "$m"
	KILN_ROOT=$T/root-es-lazy kiln store verify >/dev/null || fail "store verify after eStargz"
	ok "mount of the eStargz image from the registry matches umoci's unpack"

	# The legacy stargz image from the registry, into a fresh store: lazy as eStargz is.
	m=$T/mnt.legacy
	mkdir -p "$m"
	track_mount "$m"
	KILN_ROOT=$T/root-legacy-lazy kiln mount "docker-image://$REGISTRY/busybox:legacy" "$m" ||
		fail "mount of legacy stargz failed"
	stats=$(getfattr --only-values -n user.kiln.lazyfs.stats "$m")
	[[ $stats == *" fetched=0 "* ]] || fail "the legacy stargz mount fetched files: $stats"
	[ "$(cat "$m/etc/motd")" = "hello from kiln" ] || fail "etc/motd of the legacy stargz image"
	stats=$(getfattr --only-values -n user.kiln.lazyfs.stats "$m")
	[[ $stats == *" fetched=1 "*" bytes=16 "* ]] || fail "reading etc/motd (legacy): $stats"
	cmp "$m/bin/busybox" /bin/busybox || fail "bin/busybox (chunked) of the legacy stargz image"
	compare_with_truth "$m" "docker-image://$REGISTRY/busybox:legacy"
	kiln umount "$m"
	KILN_ROOT=$T/root-legacy-lazy kiln store verify >/dev/null ||
		fail "store verify after legacy stargz"
	ok "mount of the legacy stargz image from the registry reads lazily and matches"
}

# A corrupt layer in the registry's storage: an error naming the digest, nothing cached.
make_rootfs_busybox "$T/r2"
echo other >"$T/r2/etc/other"
make_layer_tar "$T/r2" "$T/r2.tar.gz"
make_oci_layout "$T/bad" latest "$T/r2.tar.gz"
push_layout "$T/bad" latest bad:latest
bad=$(jq -r '.layers[0].digest' "$T/bad/blobs/sha256/$(jq -r '.manifests[0].digest' \
	"$T/bad/index.json" | cut -d: -f2)")
f=$(registry_blob_path "$bad")
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0xff; open(p,"wb").write(b)' "$f"
expect_fail 1 "${bad}.*(does not match|digest)" kiln pull "docker-image://$REGISTRY/bad:latest"
[ ! -e "$KILN_ROOT/imgsrc/layers/${bad#sha256:}" ] || fail "a corrupt layer left a record"
[ ! -e "$KILN_ROOT/content/sha256/${bad#sha256:}" ] || fail "a corrupt layer blob was stored"
kiln store verify >/dev/null || fail "store verify after a corrupt blob"
ok "a corrupt registry blob is refused by digest and nothing is cached"

# The same corruption in a layout.
f=$T/bad/blobs/sha256/${bad#sha256:}
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0xff; open(p,"wb").write(b)' "$f"
expect_fail 1 "${bad}" kiln pull "oci-layout://$T/bad:latest"
[ ! -e "$KILN_ROOT/imgsrc/layers/${bad#sha256:}" ] || fail "a corrupt layout layer left a record"
ok "a corrupt layout blob is refused naming its digest"

# Hostile tars: '..' escapes, hardlinks out of the layer, an entry below a file (duplicates are
# fine: a later entry replaces an earlier one, see test-layer-rules.sh).
hostile() {
	local name=$1 pattern=$2
	python3 - "$T/$name.tar" "$name" <<'PY'
import io, sys, tarfile
path, kind = sys.argv[1], sys.argv[2]
with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
    def add(name, data=b"x", **kw):
        i = tarfile.TarInfo(name)
        for k, v in kw.items():
            setattr(i, k, v)
        if i.type == tarfile.REGTYPE:
            i.size = len(data)
            t.addfile(i, io.BytesIO(data))
        else:
            t.addfile(i)
    if kind == "dotdot":
        add("../../etc/evil")
    elif kind == "hardlink":
        add("ok")
        add("link", type=tarfile.LNKTYPE, linkname="../../etc/shadow")
    elif kind == "below-file":
        add("f")
        add("f/x", b"y")
PY
	make_oci_layout "$T/$name" latest "$T/$name.tar"
	expect_fail 1 "$pattern" kiln pull "oci-layout://$T/$name:latest"
	[ -z "$(ls "$KILN_ROOT/imgsrc/layers" | grep -F "$(sha256sum "$T/$name.tar" | cut -c1-64)")" ] ||
		fail "$name: a record was written"
	ok "a tar with $name is refused"
}
hostile dotdot "escapes the root"
hostile hardlink "outside the layer"
hostile below-file "'f/x' is below 'f', which is not a directory"

# Bearer-token auth with basic credentials from a docker config.json.
start_auth_proxy kiln s3cret kiln-refresh
expect_fail 1 "token server|denied|unauthorized" \
	env DOCKER_CONFIG="$T/no-such-dir" KILN_ROOT="$T/root-auth" "$KILN" pull \
	"docker-image://$AUTH_REGISTRY/busybox:latest"
mkdir -p "$T/docker"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$AUTH_REGISTRY" "$(printf kiln:s3cret | base64)" \
	>"$T/docker/config.json"
t_auth=$(DOCKER_CONFIG=$T/docker KILN_ROOT=$T/root-auth kiln pull \
	"docker-image://$AUTH_REGISTRY/busybox:latest") || fail "pull with credentials failed"
[ "$t_auth" = "$t_reg" ] || fail "the tree through the auth proxy differs"
ok "bearer-token auth with credentials from config.json"

# Docker credential helpers: docker-credential-kilntest on PATH logs what it is asked and answers
# as KILNTEST_MODE says. credHelpers comes before credsStore, which comes before auths (here a
# wrong password, and a credsStore whose helper does not exist: either would fail the pull).
mkdir -p "$T/helpers" "$T/docker-store" "$T/docker-helpers" "$T/docker-missing"
cat >"$T/helpers/docker-credential-kilntest" <<'SH'
#!/bin/sh
server=$(cat)
echo "$* $server" >>"$KILNTEST_LOG"
case $KILNTEST_MODE in
basic) printf '{"ServerURL":"%s","Username":"kiln","Secret":"s3cret"}\n' "$server" ;;
token) printf '{"ServerURL":"%s","Username":"<token>","Secret":"kiln-refresh"}\n' "$server" ;;
none) echo "credentials not found in native keychain"; exit 1 ;;
*) echo "kilntest: the keychain is locked" >&2; exit 3 ;;
esac
SH
chmod 0755 "$T/helpers/docker-credential-kilntest"
wrong=$(printf kiln:wrong | base64)
printf '{"credsStore":"kilntest","auths":{"%s":{"auth":"%s"}}}\n' "$AUTH_REGISTRY" "$wrong" \
	>"$T/docker-store/config.json"
printf '{"credsStore":"kiln-missing","credHelpers":{"%s":"kilntest"},"auths":{"%s":{"auth":"%s"}}}\n' \
	"$AUTH_REGISTRY" "$AUTH_REGISTRY" "$wrong" >"$T/docker-helpers/config.json"
printf '{"credsStore":"kiln-missing"}\n' >"$T/docker-missing/config.json"
export KILNTEST_LOG=$T/helper.log
# helper_kiln CONFIG-DIR MODE kiln-args…: kiln with the helper on PATH.
helper_kiln() {
	local cfg=$1 mode=$2
	shift 2
	env PATH="$T/helpers:$PATH" DOCKER_CONFIG="$cfg" KILNTEST_MODE="$mode" \
		KILN_ROOT="$T/root-helper" "$KILN" "$@"
}

t_help=$(helper_kiln "$T/docker-store" basic pull "docker-image://$AUTH_REGISTRY/busybox:latest") ||
	fail "pull with credentials from credsStore failed"
[ "$t_help" = "$t_reg" ] || fail "the tree through the auth proxy (credsStore) differs"
[ "$(cat "$KILNTEST_LOG")" = "get $AUTH_REGISTRY" ] ||
	fail "the helper was not asked once, with get and the registry on stdin: $(cat "$KILNTEST_LOG")"
ok "credsStore: docker-credential-kilntest get gives the credentials, before auths"

: >"$KILNTEST_LOG"
posts=$(grep -c '"POST /token' "$AUTH_PROXY_LOG" || true)
t_help=$(helper_kiln "$T/docker-helpers" token pull "docker-image://$AUTH_REGISTRY/busybox:latest") ||
	fail "pull with an identity token from credHelpers failed"
[ "$t_help" = "$t_reg" ] || fail "the tree through the auth proxy (identity token) differs"
[ "$(cat "$KILNTEST_LOG")" = "get $AUTH_REGISTRY" ] || fail "credHelpers: $(cat "$KILNTEST_LOG")"
[ "$(grep -c '"POST /token HTTP/1.1" 200' "$AUTH_PROXY_LOG")" -gt "$posts" ] ||
	fail "the identity token was not sent as an OAuth2 refresh_token grant"
ok "credHelpers: an identity token (user <token>) becomes a refresh_token grant, before credsStore"

# "credentials not found": anonymous, as docker does (the token server then refuses).
expect_fail 1 "token server .* answered HTTP 401" \
	helper_kiln "$T/docker-store" none pull "docker-image://$AUTH_REGISTRY/busybox:latest"
! grep -q "credential helper" "$T/err" || fail "not-found was reported as a helper failure"
ok "a helper without credentials means anonymous"

# Any other failure is an error naming the helper and quoting it; so is a missing helper.
expect_fail 1 "'docker-credential-kilntest' failed \(exit status 3\): kilntest: the keychain is locked" \
	helper_kiln "$T/docker-store" fail pull "docker-image://$AUTH_REGISTRY/busybox:latest"
expect_fail 1 "credential helper 'docker-credential-kiln-missing' is not on PATH" \
	helper_kiln "$T/docker-missing" basic pull "docker-image://$AUTH_REGISTRY/busybox:latest"
ok "a failing or missing credential helper is an error naming it"

# Lazy reads of a private registry's chunked layers: the mount's provider has the credentials.
{
	# auths, from a relative DOCKER_CONFIG (the background server reads it from "/")
	m=$T/mnt.auth-zstd
	mkdir -p "$m"
	track_mount "$m"
	(cd "$T" && DOCKER_CONFIG=docker KILN_ROOT=$T/root-auth-lazy "$KILN" mount \
		"docker-image://$AUTH_REGISTRY/busybox:zstd" "$m") ||
		fail "mount of zstd:chunked through the auth proxy failed"
	[ "$(cat "$m/etc/motd")" = "hello from kiln" ] || fail "etc/motd through the auth proxy"
	cmp "$m/bin/busybox" /bin/busybox || fail "bin/busybox through the auth proxy"
	grep -q "GET /v2/busybox/blobs/$zlayer HTTP/1.1\" 206" "$AUTH_PROXY_LOG" ||
		fail "no range read of the zstd:chunked layer went through the auth proxy"
	compare_with_truth "$m" "docker-image://$AUTH_REGISTRY/busybox:zstd"
	kiln umount "$m"
	KILN_ROOT=$T/root-auth-lazy kiln store verify >/dev/null || fail "store verify (auth, zstd)"
	ok "lazy reads of zstd:chunked through the auth proxy with config.json credentials"

	# a credential helper, run by the mount's server for each lazy read's registry client
	m=$T/mnt.auth-estargz
	mkdir -p "$m"
	track_mount "$m"
	: >"$KILNTEST_LOG"
	helper_kiln "$T/docker-store" basic --root "$T/root-auth-es" mount \
		"docker-image://$AUTH_REGISTRY/busybox:estargz" "$m" ||
		fail "mount of eStargz through the auth proxy failed"
	asked=$(wc -l <"$KILNTEST_LOG")
	cmp "$m/bin/busybox" /bin/busybox || fail "bin/busybox (eStargz) through the auth proxy"
	[ "$(wc -l <"$KILNTEST_LOG")" -gt "$asked" ] || fail "lazy reads did not ask the helper"
	grep -q "GET /v2/busybox/blobs/$elayer HTTP/1.1\" 206" "$AUTH_PROXY_LOG" ||
		fail "no range read of the eStargz layer went through the auth proxy"
	compare_with_truth "$m" "docker-image://$AUTH_REGISTRY/busybox:estargz"
	kiln umount "$m"
	ok "lazy reads of eStargz through the auth proxy with a credential helper"
}

# A manifest naming a blob the registry does not have.
expect_fail 1 "not found" kiln pull "docker-image://$REGISTRY/nothere:latest"
ok "a missing image is a clear error"
