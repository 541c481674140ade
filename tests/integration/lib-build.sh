# lib-build.sh — fixtures for kiln build tests: the busybox base image (every applet) named
# busybox:test in the test's image index, and helpers to build and read the results.
# Source after lib.sh, lib-image.sh and lib-solve.sh: `. "$(dirname "$0")/lib-build.sh"`.

need_build() {
	need_solve
	need_cmd jq
}

# make_build_base: the busybox layout at $T/base, named busybox:test (and busybox:latest).
make_build_base() {
	make_solve_image "$T/base"
	kiln tag "oci-layout://$T/base:latest" busybox:test >/dev/null ||
		fail "kiln tag of the base image failed"
}

# build LOG ARGS…: kiln build with plain progress into LOG; fails the test when it fails.
build() {
	local log=$1
	shift
	kiln build --progress plain "$@" 2>"$log" || fail "kiln build $* failed: $(cat "$log")"
}

# steps LOG: the graph vertices' names ("[stage 1/2] RUN …") the log shows.
steps() { grep -E '^#[0-9]+ \[' "$1" | grep -v '\[internal\]' | sed 's/^#[0-9]* //' | sort -u; }
# all_cached LOG: every step the log shows ended CACHED (none ran); prints those that did not.
all_cached() {
	awk '/^#[0-9]+ \[/ && !/\[internal\]/ { v[$1] = $0 }
	     /^#[0-9]+ CACHED$/ { c[$1] = 1 }
	     /^#[0-9]+ (DONE|ERROR)/ { d[$1] = 1 }
	     END { n = 0; for (k in v) { n++; if (!(k in c) || (k in d)) { print "ran: " v[k]; bad = 1 } }
	           exit (bad || n == 0) }' "$1"
}
# config NAME JQ: a jq query over kiln inspect's first image.
config() { kiln inspect "$1" | jq -r ".[0] | $2"; }
