#!/usr/bin/env bash
# kiln build -o type=docker of a Dockerfile checked by the tools people use: the archive loaded
# by `podman load` and run by podman, loaded by `docker load` into a dockerd the test starts and
# run by it, and the direct export into that daemon (the Engine API's image load over the unix
# socket $DOCKER_HOST names), run too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
. "$(dirname "$0")/lib-build.sh"
. "$(dirname "$0")/lib-export.sh"
need_root
need_cmd podman dockerd docker jq

make_app layout
want=$(cat "$T/ctx/app/hello.txt")
export SOURCE_DATE_EPOCH=1600000000 # the same image from each build

export_app "type=docker,dest=$T/app.tar,name=kiln-test/app:1" >/dev/null
tar -xOf "$T/app.tar" manifest.json | jq -e '.[0].RepoTags == ["kiln-test/app:1"]' >/dev/null ||
	fail "manifest.json does not tag the image"

# podman, rootful, with storage of its own in the test directory; runc (crun refuses a hybrid
# cgroup host) and the limits this host allows (podman's defaults may exceed them).
need_cmd runc
podman_() {
	podman --root "$T/podman/root" --runroot "$T/podman/run" --tmpdir "$T/podman/tmp" \
		--cgroup-manager=cgroupfs --events-backend=file --storage-driver=overlay --runtime runc "$@"
}
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
mkdir -p "$T/podman/tmp"
podman_ load -i "$T/app.tar" >"$T/podman-load.out" 2>&1 || fail "podman load failed: $(cat "$T/podman-load.out")"
got=$(podman_ run --rm --network none "${limits[@]}" docker.io/kiln-test/app:1 cat /hello.txt 2>"$T/podman-run.err") ||
	fail "podman run failed: $(cat "$T/podman-run.err")"
[ "$got" = "$want" ] || fail "podman run printed '$got'"
got=$(podman_ run --rm --network none "${limits[@]}" docker.io/kiln-test/app:1 cat /etc/motd 2>/dev/null)
[ "$got" = "hello from kiln" ] || fail "the base layer is not in the podman image: '$got'"
podman_ rmi -a -f >/dev/null 2>&1 || true
ok "podman load + podman run"

start_dockerd
docker load -i "$T/app.tar" >"$T/docker-load.out" 2>&1 || fail "docker load failed: $(cat "$T/docker-load.out")"
grep -q 'Loaded image: kiln-test/app:1' "$T/docker-load.out" || fail "docker load said: $(cat "$T/docker-load.out")"
got=$(docker run --rm --network none kiln-test/app:1 cat /hello.txt 2>"$T/docker-run.err") ||
	fail "docker run failed: $(cat "$T/docker-run.err")"
[ "$got" = "$want" ] || fail "docker run printed '$got'"
ok "docker load + docker run"

# Straight into the daemon: no file.
export_app "type=docker,name=kiln-test/direct:2" >/dev/null
id=$(docker image inspect -f '{{.Id}}' kiln-test/direct:2) || fail "the daemon has no kiln-test/direct:2"
[ "$id" = "$(docker image inspect -f '{{.Id}}' kiln-test/app:1)" ] || fail "the same image got another id"
got=$(docker run --rm --network none kiln-test/direct:2 cat /hello.txt 2>"$T/docker-run.err") ||
	fail "docker run of the direct export failed: $(cat "$T/docker-run.err")"
[ "$got" = "$want" ] || fail "docker run printed '$got'"
ok "direct export into dockerd + docker run"

# A daemon that is not there is an error naming it.
DOCKER_HOST=unix://$T/nothing.sock expect_fail 1 "cannot connect to the Docker daemon at 'unix://$T/nothing.sock'" \
	kiln build -o "type=docker,name=kiln-test/direct:3" "$T/ctx"
ok "a missing daemon is named"
