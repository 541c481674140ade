#!/usr/bin/env bash
# kiln build -o type=image,store=containerd into a containerd the test starts (its own root, state and
# socket): `ctr images import` under the name Docker would give it, then `ctr run` prints a file
# of each layer.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
. "$(dirname "$0")/lib-build.sh"
. "$(dirname "$0")/lib-export.sh"
need_root
need_cmd containerd ctr runc jq

make_app layout
want=$(cat "$T/ctx/app/hello.txt")
start_containerd
ctr_() { ctr -a "$CONTAINERD_SOCK" -n kiln-test "$@"; }

export_app "type=image,name=kx:1,store=containerd,namespace=kiln-test,address=$CONTAINERD_SOCK" >"$T/digest"
ctr_ images ls -q >"$T/images"
grep -qx 'docker.io/library/kx:1' "$T/images" || fail "containerd has no docker.io/library/kx:1: $(cat "$T/images")"
[ "$(ctr_ images ls | awk '$1 == "docker.io/library/kx:1" {print $3}')" = "$(cat "$T/digest")" ] ||
	fail "containerd's image has another digest"
ok "imported into containerd as docker.io/library/kx:1"

got=$(ctr_ run --rm docker.io/library/kx:1 kiln-export-test cat /hello.txt 2>"$T/run.err") ||
	fail "ctr run failed: $(cat "$T/run.err")"
[ "$got" = "$want" ] || fail "ctr run printed '$got'"
got=$(ctr_ run --rm docker.io/library/kx:1 kiln-export-test cat /etc/motd 2>"$T/run.err") ||
	fail "ctr run failed: $(cat "$T/run.err")"
[ "$got" = "hello from kiln" ] || fail "ctr run of the base layer's file printed '$got'"
ok "ctr run prints the files"

# The default namespace is kiln's; a containerd that is not there is named.
export_app "type=image,name=kx:2,store=containerd,address=$CONTAINERD_SOCK" >/dev/null
ctr -a "$CONTAINERD_SOCK" -n kiln images ls -q | grep -qx 'docker.io/library/kx:2' ||
	fail "not in namespace kiln"
expect_fail 1 "ctr images import' into containerd at '$T/none.sock'" \
	kiln build -o "type=image,name=kx:3,store=containerd,address=$T/none.sock" "$T/ctx"
ok "namespace kiln by default; a missing containerd is named"
