#!/usr/bin/env bash
# bench-imgstore.sh [N] — the image index's commands against an index of N (default 100) names
# of one busybox image (from an OCI layout): CPU time (user + system) of `kiln images`,
# `kiln images -q`, `kiln inspect NAME`, `kiln tag NAME OTHER` and `kiln pull --policy never NAME`
# (a name resolved from the index), each the mean of 10 runs, next to `kiln --version` (the cost
# of starting the process at all). CPU time, not wall time: the machine is shared. Needs
# busybox-static, jq (KILN, default build/cli/kiln).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KILN=${KILN:-$here/../build/cli/kiln}
n=${1:-100}
T=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
export KILN_ROOT=$T/root
trap 'rm -rf "$T"' EXIT
need_cmd() { :; }
skip() { echo "cannot run: $*" >&2; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }
. "$here/../tests/integration/lib-image.sh"

cpu_ms() { # mean CPU ms of 10 runs of "$@", children included
	local a b me=$BASHPID # this subshell: $(…) below runs in another
	a=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$me/stat")
	for _ in 1 2 3 4 5 6 7 8 9 10; do "$@" >/dev/null; done
	b=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$me/stat")
	echo $(((b - a) * 1000 / 10 / $(getconf CLK_TCK)))
}

make_busybox_oci_layout "$T/bb" v1
"$KILN" pull "oci-layout://$T/bb:v1" >/dev/null
for i in $(seq 1 "$n"); do "$KILN" tag localhost/bb:v1 "name$i"; done
printf '%-40s %s\n' "command ($((n + 1)) names)" "CPU ms"
printf '%-40s %s\n' "kiln --version" "$(cpu_ms "$KILN" --version)"
printf '%-40s %s\n' "kiln images" "$(cpu_ms "$KILN" images)"
printf '%-40s %s\n' "kiln images -q" "$(cpu_ms "$KILN" images -q)"
printf '%-40s %s\n' "kiln inspect name1" "$(cpu_ms "$KILN" inspect name1)"
printf '%-40s %s\n' "kiln tag name1 other" "$(cpu_ms "$KILN" tag name1 other)"
printf '%-40s %s\n' "kiln pull --policy never name1" "$(cpu_ms "$KILN" pull --policy never name1)"
