#!/usr/bin/env bash
# kiln build without SOURCE_DATE_EPOCH: a no-op rebuild gives the same image id, as BuildKit's
# does, because the config's `created` and its history times are when the cached results were
# first made (the cache records' times), not when the rebuild ran; a changed file gives a new
# id whose new layer has a newer time and whose cached layers keep theirs; the image kept by
# -t and the same build exported as OCI have one config digest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-image.sh"
. "$(dirname "$0")/lib-solve.sh"
. "$(dirname "$0")/lib-build.sh"
need_build
need_cmd tar
unset SOURCE_DATE_EPOCH

make_build_base
C=$T/ctx
mkdir -p "$C"
printf 'a\n' >"$C/a.txt"
printf 'b\n' >"$C/b.txt"
cat >"$C/Dockerfile" <<'DF'
FROM busybox:test
ENV A=1
COPY a.txt /a.txt
RUN echo ran > /ran
LABEL x=y
COPY b.txt /b.txt
CMD ["/bin/sh"]
DF

# times NAME: the created time of each of the build's own history entries (the last 6), then
# the config's
times() {
	config "$1" '.history[-6:][] | .created'
	config "$1" '.Created // .created'
}
to_sec() { date -u -d "$1" +%s; }

# the first steps built alone first: the rest of the build made 2 s after them
head -4 "$C/Dockerfile" >"$T/Dockerfile.first"
build "$T/b0.log" -f "$T/Dockerfile.first" "$C"
sleep 2
build "$T/b1.log" -t created:1 --iidfile "$T/iid1" "$C"
times created:1 >"$T/t1"
sleep 2
build "$T/b2.log" -t created:1 --iidfile "$T/iid2" "$C"
all_cached "$T/b2.log" || fail "the no-op rebuild ran steps: $(cat "$T/b2.log")"
[ "$(cat "$T/iid1")" = "$(cat "$T/iid2")" ] ||
	fail "a no-op rebuild 2 s later changed the image id: $(cat "$T/iid1") $(cat "$T/iid2")"
times created:1 | diff "$T/t1" - || fail "a no-op rebuild changed the history times"
ok "no-op rebuild 2 s later: every step cached, same image id and times"

# the rule: COPY a.txt and RUN keep the times the first build made them, COPY b.txt has its
# own; ENV (before any layer) takes the first layer's time, LABEL the RUN's before it, CMD
# the last COPY's; created is the latest
mapfile -t t <"$T/t1"
[ "$(to_sec "${t[4]}")" -ge $(($(to_sec "${t[2]}") + 2)) ] ||
	fail "COPY b.txt (${t[4]}) is not 2 s after the cached RUN (${t[2]}): ${t[*]}"
# (made by the first build one after the other: the same second or a later one)
[ "$(to_sec "${t[1]}")" -le "$(to_sec "${t[2]}")" ] ||
	fail "COPY a.txt ${t[1]} is later than the RUN ${t[2]} that came after it"
[ "${t[0]}" = "${t[1]}" ] || fail "ENV's time ${t[0]} is not the first COPY's ${t[1]}"
[ "${t[3]}" = "${t[2]}" ] || fail "LABEL's time ${t[3]} is not the RUN's ${t[2]}"
[ "${t[5]}" = "${t[4]}" ] || fail "CMD's time ${t[5]} is not the last COPY's ${t[4]}"
[ "${t[6]}" = "${t[4]}" ] || fail "created ${t[6]} is not the latest history time ${t[4]}"
now=$(date -u +%s)
[ $((now - $(to_sec "${t[6]}"))) -ge 2 ] || fail "created ${t[6]} is the rebuild's time, not the first build's"
ok "history times: each layer's from its vertex, metadata from the nearest layer, created the latest"

# the same build to an OCI archive: the config the index keeps
build "$T/b3.log" -o "type=oci,dest=$T/img.tar" --metadata-file "$T/meta.json" "$C"
all_cached "$T/b3.log" || fail "the OCI export ran steps: $(cat "$T/b3.log")"
[ "$(jq -r '."containerimage.config.digest"' "$T/meta.json")" = "$(cat "$T/iid1")" ] ||
	fail "the OCI export's config $(jq -r '."containerimage.config.digest"' "$T/meta.json") is not the -t image's $(cat "$T/iid1")"
mkdir "$T/oci" && tar -C "$T/oci" -xf "$T/img.tar"
cfg=$(jq -r '.manifests[0].digest' "$T/oci/index.json" | sed 's/:/\//')
cfg=$(jq -r '.config.digest' "$T/oci/blobs/$cfg" | sed 's/:/\//')
[ "sha256:$(sha256sum "$T/oci/blobs/$cfg" | cut -d' ' -f1)" = "$(cat "$T/iid1")" ] ||
	fail "the OCI archive's config blob is not the -t image's config"
ok "-t and -o type=oci give the same config digest"

# one file changed: a new id; the new layer's time is newer, the cached ones keep theirs
sleep 1
printf 'b2\n' >"$C/b.txt"
build "$T/b4.log" -t created:2 --iidfile "$T/iid4" "$C"
[ "$(cat "$T/iid4")" != "$(cat "$T/iid1")" ] || fail "a changed file kept the image id"
mapfile -t u < <(times created:2)
[ "$(to_sec "${u[4]}")" -gt "$(to_sec "${t[4]}")" ] ||
	fail "the new COPY's time ${u[4]} is not newer than the old one's ${t[4]}"
[ "${u[5]}" = "${u[4]}" ] || fail "CMD's time ${u[5]} is not the new COPY's ${u[4]}"
[ "${u[6]}" = "${u[4]}" ] || fail "created ${u[6]} is not the new layer's time ${u[4]}"
for i in 0 1 2 3; do
	[ "${u[i]}" = "${t[i]}" ] || fail "entry $i of a cached step changed its time: ${t[i]} -> ${u[i]}"
done
ok "a changed file: new id, the new layer newer, the cached layers' times kept"

# SOURCE_DATE_EPOCH still decides every time
build "$T/b5.log" -t created:3 --build-arg SOURCE_DATE_EPOCH=1600000000 "$C"
[ "$(times created:3 | sort -u)" = 2020-09-13T12:26:40Z ] ||
	fail "SOURCE_DATE_EPOCH did not set every time: $(times created:3)"
expect_fail 1 "invalid SOURCE_DATE_EPOCH ' 1': not a number of seconds" \
	kiln build --build-arg "SOURCE_DATE_EPOCH= 1" -t created:4 "$C"
kiln images | grep -q created:4 && fail "a bad SOURCE_DATE_EPOCH still kept an image"
ok "SOURCE_DATE_EPOCH overrides the cache's times; a bad one is refused"
