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
