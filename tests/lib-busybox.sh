# lib-busybox.sh — a busybox userland for test images, made from the host's busybox-static.
# Sourced by tests/demo.sh and the integration libraries (lib-image.sh, lib-exec.sh).

# busybox_link_applets ROOT [N]: ROOT/bin/<applet> -> busybox for every applet /bin/busybox
# has (the first N only, when given); a name ROOT/bin already holds is kept.
busybox_link_applets() {
	local root=$1 max=${2:-} a n=0
	for a in $(/bin/busybox --list); do
		[ -n "$max" ] && [ "$n" -ge "$max" ] && break
		n=$((n + 1))
		[ -e "$root/bin/$a" ] || [ -L "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
	done
}

# busybox_install ROOT [N]: ROOT/bin/busybox (mode 0755) and its applets, as busybox_link_applets.
busybox_install() {
	mkdir -p "$1/bin"
	cp /bin/busybox "$1/bin/busybox"
	chmod 0755 "$1/bin/busybox"
	busybox_link_applets "$@"
}

# busybox_layout DIR SCRATCH: an OCI layout at DIR (tag latest) of one layer of busybox with
# every applet and a root user; SCRATCH (an existing directory) holds the rootfs and the tar.
busybox_layout() {
	local dir=$1 w=$2 root=$2/busybox-rootfs diffid ld ls cfg cd cs man md ms
	mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$dir/blobs/sha256"
	busybox_install "$root"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
		>"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	chmod 1777 "$root/tmp"
	tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$root" -cf "$w/layer.tar" .
	diffid=$(sha256sum "$w/layer.tar" | cut -d' ' -f1)
	gzip -n -c "$w/layer.tar" >"$w/layer.tar.gz"
	ld=$(sha256sum "$w/layer.tar.gz" | cut -d' ' -f1) ls=$(stat -c %s "$w/layer.tar.gz")
	mv "$w/layer.tar.gz" "$dir/blobs/sha256/$ld"
	cfg=$(jq -cn --arg d "sha256:$diffid" '{architecture: "amd64", os: "linux",
		config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
		         Cmd: ["/bin/sh"]},
		rootfs: {type: "layers", diff_ids: [$d]},
		history: [{created_by: "busybox-static: /bin/busybox and its applets"}]}')
	cd=$(printf %s "$cfg" | sha256sum | cut -d' ' -f1) cs=${#cfg}
	printf %s "$cfg" >"$dir/blobs/sha256/$cd"
	man=$(jq -cn --arg cd "sha256:$cd" --argjson cs "$cs" --arg ld "sha256:$ld" \
		--argjson ls "$ls" '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
		layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld,
		          size: $ls}]}')
	md=$(printf %s "$man" | sha256sum | cut -d' ' -f1) ms=${#man}
	printf %s "$man" >"$dir/blobs/sha256/$md"
	printf '{"imageLayoutVersion": "1.0.0"}\n' >"$dir/oci-layout"
	jq -n --arg d "sha256:$md" --argjson s "$ms" '{schemaVersion: 2, manifests: [{
		mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
		platform: {architecture: "amd64", os: "linux"},
		annotations: {"org.opencontainers.image.ref.name": "latest"}}]}' >"$dir/index.json"
}
