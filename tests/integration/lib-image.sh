# lib-image.sh — image fixtures: a busybox OCI layout made from Debian's busybox-static, a
# docker-registry (distribution) on loopback, and pushes into it with skopeo.
# Source after lib.sh: `. "$(dirname "$0")/lib-image.sh"`.

. "$(dirname "${BASH_SOURCE[0]}")/../lib-busybox.sh"

# Writes blob file $2 into layout $1 under its sha256; prints "sha256:<hex> <size>".
_layout_add_blob() {
	local dir=$1 f=$2 hex size
	hex=$(sha256sum "$f" | cut -d' ' -f1)
	size=$(stat -c %s "$f")
	mkdir -p "$dir/blobs/sha256"
	cp "$f" "$dir/blobs/sha256/$hex"
	echo "sha256:$hex $size"
}

# make_rootfs_busybox DIR: a rootfs with bin/busybox, its applets as symlinks, a hardlink, etc/.
make_rootfs_busybox() {
	local root=$1
	mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/usr/share/doc"
	busybox_install "$root" 40
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'hello from kiln\n' >"$root/etc/motd"
	ln "$root/etc/motd" "$root/etc/motd.link"
	chmod 1777 "$root/tmp"
	printf 'docs\n' >"$root/usr/share/doc/README"
}

# make_layer_tar ROOTFS OUT.tar[.gz]: a reproducible tar (numeric root owner, sorted, fixed mtime).
make_layer_tar() {
	local root=$1 out=$2
	case $out in
	*.gz) tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@1700000000 \
		-C "$root" -cf - . | gzip -n >"$out" ;;
	*) tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@1700000000 \
		-C "$root" -cf "$out" . ;;
	esac
}

# make_oci_layout DIR TAG LAYER… : an OCI layout whose image has the given tar(.gz) layers in
# order (lowest first); index.json names the manifest with TAG.
make_oci_layout() {
	local dir=$1 tag=$2 l d s mt diffids='[]' layers='[]' cfg man
	shift 2
	mkdir -p "$dir/blobs/sha256"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	for l in "$@"; do
		read -r d s < <(_layout_add_blob "$dir" "$l")
		case $l in
		*.gz) mt=application/vnd.oci.image.layer.v1.tar+gzip
			diffids=$(jq -c --arg d "sha256:$(gzip -dc "$l" | sha256sum | cut -d' ' -f1)" '. + [$d]' <<<"$diffids") ;;
		*) mt=application/vnd.oci.image.layer.v1.tar
			diffids=$(jq -c --arg d "$d" '. + [$d]' <<<"$diffids") ;;
		esac
		layers=$(jq -c --arg m "$mt" --arg d "$d" --argjson s "$s" \
			'. + [{mediaType: $m, digest: $d, size: $s}]' <<<"$layers")
	done
	cfg=$(mktemp "$T/cfg.XXXXXX")
	jq -cn --argjson ids "$diffids" '{architecture: "amd64", os: "linux",
		config: {Cmd: ["/bin/sh"]}, rootfs: {type: "layers", diff_ids: $ids}}' >"$cfg"
	read -r d s < <(_layout_add_blob "$dir" "$cfg")
	man=$(mktemp "$T/man.XXXXXX")
	jq -cn --arg d "$d" --argjson s "$s" --argjson layers "$layers" '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $d, size: $s},
		layers: $layers}' >"$man"
	read -r d s < <(_layout_add_blob "$dir" "$man")
	jq -n --arg d "$d" --argjson s "$s" --arg t "$tag" '{schemaVersion: 2, manifests: [{
		mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
		platform: {architecture: "amd64", os: "linux"},
		annotations: {"org.opencontainers.image.ref.name": $t}}]}' >"$dir/index.json"
	rm -f "$cfg" "$man"
}

# make_busybox_oci_layout DIR [TAG]: the busybox base image, one tar+gzip layer.
make_busybox_oci_layout() {
	local dir=$1 tag=${2:-latest}
	need_cmd busybox jq sha256sum gzip tar
	[ -x /bin/busybox ] || skip "needs /bin/busybox (busybox-static)"
	rm -rf "$T/bb-rootfs"
	make_rootfs_busybox "$T/bb-rootfs"
	make_layer_tar "$T/bb-rootfs" "$T/bb-layer.tar.gz"
	make_oci_layout "$dir" "$tag" "$T/bb-layer.tar.gz"
}

# make_estargz_oci_layout DIR TAG TAR [CHUNK_SIZE [legacy]]: an image of one eStargz layer made
# from TAR by make-estargz.py (files split into CHUNK_SIZE-byte gzip members; with "legacy", the
# 47-byte footer of original stargz), its TOC digest in the layer annotation
# containerd.io/snapshot/stargz/toc.digest. Sets ESTARGZ_TOC_DIGEST.
make_estargz_oci_layout() {
	local dir=$1 tag=$2 tar=$3 chunk=${4:-4194304} legacy=() man d s
	[ "${5:-}" = legacy ] && legacy=(--legacy-footer)
	need_cmd python3 jq sha256sum gzip
	ESTARGZ_TOC_DIGEST=$(python3 "$(dirname "${BASH_SOURCE[0]}")/make-estargz.py" \
		"${legacy[@]}" "$tar" "$T/estargz-$tag.tar.gz" "$chunk") || fail "make-estargz.py failed"
	make_oci_layout "$dir" "$tag" "$T/estargz-$tag.tar.gz"
	layout_annotate_layer "$dir" 0 containerd.io/snapshot/stargz/toc.digest "$ESTARGZ_TOC_DIGEST"
}

# layout_annotate_layer DIR N KEY VALUE: sets an annotation on layer N of the layout's (only)
# manifest, rewriting the manifest blob and index.json.
layout_annotate_layer() {
	local dir=$1 n=$2 key=$3 value=$4 old man d s
	old=$(jq -r '.manifests[0].digest' "$dir/index.json")
	man=$(mktemp "$T/man.XXXXXX")
	jq -c --argjson n "$n" --arg k "$key" --arg v "$value" \
		'.layers[$n].annotations[$k] = $v' "$dir/blobs/sha256/${old#sha256:}" >"$man"
	read -r d s < <(_layout_add_blob "$dir" "$man")
	rm -f "$man" "$dir/blobs/sha256/${old#sha256:}"
	jq --arg d "$d" --argjson s "$s" '.manifests[0].digest = $d | .manifests[0].size = $s' \
		"$dir/index.json" >"$dir/index.json.new" && mv "$dir/index.json.new" "$dir/index.json"
}

# layout_edit_config DIR JQ-FILTER: rewrites the config of the layout's (only) image through the
# jq filter, and its manifest and index.json to match.
layout_edit_config() {
	local dir=$1 filter=$2 old cfg man d s
	old=$(jq -r '.manifests[0].digest' "$dir/index.json")
	cfg=$(mktemp "$T/cfg.XXXXXX")
	jq -c "$filter" "$dir/blobs/sha256/$(jq -r '.config.digest' \
		"$dir/blobs/sha256/${old#sha256:}" | cut -d: -f2)" >"$cfg" || fail "jq '$filter' failed"
	read -r d s < <(_layout_add_blob "$dir" "$cfg")
	man=$(mktemp "$T/man.XXXXXX")
	jq -c --arg d "$d" --argjson s "$s" '.config.digest = $d | .config.size = $s' \
		"$dir/blobs/sha256/${old#sha256:}" >"$man"
	read -r d s < <(_layout_add_blob "$dir" "$man")
	rm -f "$cfg" "$man" "$dir/blobs/sha256/${old#sha256:}"
	jq --arg d "$d" --argjson s "$s" '.manifests[0].digest = $d | .manifests[0].size = $s' \
		"$dir/index.json" >"$dir/index.json.new" && mv "$dir/index.json.new" "$dir/index.json"
}

# Prints a free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

# start_registry: docker-registry on 127.0.0.1:<free port> storing under $T/registry; sets
# REGISTRY (host:port), REGISTRY_DATA and REGISTRY_LOG.
start_registry() {
	local port i
	need_cmd docker-registry
	port=$(free_port)
	REGISTRY=127.0.0.1:$port
	REGISTRY_DATA=$T/registry
	REGISTRY_LOG=$T/registry.log
	mkdir -p "$REGISTRY_DATA"
	cat >"$T/registry.yml" <<EOC
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $REGISTRY_DATA
  delete:
    enabled: true
  cache:
    blobdescriptor: ""
http:
  addr: 127.0.0.1:$port
EOC
	docker-registry serve "$T/registry.yml" >"$REGISTRY_LOG" 2>&1 &
	track_pid $!
	for i in $(seq 1 100); do
		curl -fs "http://$REGISTRY/v2/" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "docker-registry did not start: $(tail -5 "$REGISTRY_LOG")"
}

# push_layout DIR TAG NAME:TAG [skopeo options…]: copies an OCI layout into the registry, its
# blobs as they are: skopeo's machine-wide blob-info cache would otherwise swap a layer for
# another compression of it that the registry already holds (the fixtures are deterministic, so
# earlier runs teach it those pairs).
push_layout() {
	local dir=$1 tag=$2 dest=$3
	shift 3
	need_cmd skopeo
	skopeo copy --quiet --dest-tls-verify=false --preserve-digests "$@" "oci:$dir:$tag" "docker://$REGISTRY/$dest" ||
		fail "skopeo copy into $REGISTRY/$dest failed"
}

# Path of a blob in the registry's filesystem storage.
registry_blob_path() {
	local hex=${1#sha256:}
	echo "$REGISTRY_DATA/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
}

# start_auth_proxy USER PASS [REFRESH_TOKEN]: a bearer-token front for the registry on 127.0.0.1
# (a token endpoint that wants basic auth on GET, or REFRESH_TOKEN in an OAuth2 refresh_token
# grant POSTed as a form, and /v2/ that wants the token); sets AUTH_REGISTRY and AUTH_PROXY_LOG
# (one line per request).
start_auth_proxy() {
	local user=$1 pass=$2 refresh=${3:-} port i
	port=$(free_port)
	AUTH_REGISTRY=127.0.0.1:$port
	AUTH_PROXY_LOG=$T/auth-proxy.log
	python3 - "$port" "$REGISTRY" "$user" "$pass" "$refresh" >"$AUTH_PROXY_LOG" 2>&1 <<'PY' &
import base64, http.server, json, sys, urllib.parse, urllib.request
port, upstream, user, pw, refresh = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
basic = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
TOKEN = "kiln-test-token"
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        one = lambda k: form.get(k, [""])[0]
        if (not self.path.startswith("/token") or not refresh or
                one("grant_type") != "refresh_token" or one("refresh_token") != refresh or
                not one("client_id") or one("service") != "kiln-test" or
                one("scope") != "repository:busybox:pull"):
            self.send_response(401); self.send_header("Content-Length", "0"); self.end_headers()
            return
        body = json.dumps({"access_token": TOKEN, "expires_in": 300}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path.startswith("/token"):
            if self.headers.get("Authorization") != basic:
                self.send_response(401); self.end_headers(); return
            body = json.dumps({"token": TOKEN}).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body); return
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Bearer realm="http://127.0.0.1:{port}/token",'
                             'service="kiln-test",scope="repository:busybox:pull"')
            self.send_header("Content-Length", "0"); self.end_headers(); return
        req = urllib.request.Request(f"http://{upstream}{self.path}")
        for h in ("Accept", "Range"):
            if self.headers.get(h):
                req.add_header(h, self.headers[h])
        try:
            r = urllib.request.urlopen(req)
        except urllib.error.HTTPError as e:
            r = e
        body = r.read()
        self.send_response(r.status if hasattr(r, "status") else r.code)
        for h in ("Content-Type", "Docker-Content-Digest", "Content-Range"):
            if r.headers.get(h):
                self.send_header(h, r.headers[h])
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
	track_pid $!
	for i in $(seq 1 100); do
		curl -s -o /dev/null "http://$AUTH_REGISTRY/v2/" && return 0
		sleep 0.1
	done
	fail "auth proxy did not start: $(cat "$T/auth-proxy.log")"
}
