#!/bin/sh
# bench/push.sh [WORKDIR [ROUNDS]]
#
# gear-push to a registry against skopeo copy of the original image, the
# registry storage of the image set in packs against the first format (one
# blob per object) and against the images' gzip layers, and the lazy fetch of
# one small file against a plain curl Range GET of the same bytes, on the
# image set of bench/lib-set.sh.
#
#   push     per image, each side into the same fresh docker-registry on
#            127.0.0.1: skopeo copy of the OCI image (its gzip layers, as
#            they are) and gear-push of the Gear image built from it (packs;
#            nothing known of the registry), page cache warm; the median of
#            ROUNDS (default 3) runs, and the ratio gear / skopeo
#   storage  the whole set pushed into one registry each way, the bytes of
#            the blobs it keeps: skopeo copy, gear-push in the first format
#            (GEAR_TEST_PUSH_OBJECT_BLOBS, one blob per object), gear-push in
#            packs (later images naming the packs of earlier ones), and
#            gear-push in packs once more after gear-recompress of the store
#            --no-frames (PUSH_RECOMPRESS_LEVEL, default 19; its time is the
#            last column), then again with the store's solid frames that
#            gear-recompress makes (the time to make them is the last
#            column), and, with PUSH_SOLID_LEVEL set, with frames made at
#            push time instead (gear.conf solid-level=; the pushes' time)
#   lazy     python3 pulled into a fresh tree and mounted with gear-fs; 200
#            small files of /usr/lib/python3.11 each opened and read once
#            (open to close, in ms), with --no-read-around (every one a
#            fetch of its own) and without (read-around: one request may
#            bring the next files), against curl fetching the same 200
#            ranges of the same packs over one connection, same registry,
#            same run; and the registry requests' own times in gear
#            (GEAR_HTTP_TRACE)
#
# PUSH_SECTIONS (default "push storage lazy") picks sections; lazy alone
# pushes python3 to a registry of its own first. PUSH_LAZY_FROM=frames
# reads from the registry of the store's solid frames (storage section) instead.
#
# Needs root, FUSE, docker-registry, skopeo, and the Debian archive the first
# time (the image set). Run after make.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib-set.sh"
bench_start push 3 "$@"

images=$set_images

cleanup() {
	set +e
	grep -o " $run/[^ ]*" /proc/mounts | sort -r | while read -r m; do fusermount3 -u -z "$m"; done
	for r in "$run"/reg-*; do [ -d "$r" ] && gear-test-registry stop "$r" >/dev/null 2>&1; done
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$run"
cc -O2 -o "$run/readfiles" "$top/bench/readfiles.c"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", b - a }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
# blob_bytes REG: the bytes of the blobs a registry keeps (each once)
blob_bytes() { find "$1/data/docker/registry/v2/blobs" -name data -type f -printf "%s\n" | awk '{ s += $1 } END { print s + 0 }'; }

export GEAR_SYSROOT="$run/build"
for name in $images; do
	gear-build -q "oci:$sdir/oci:$name" "bench/$name" >/dev/null
done
G="$GEAR_SYSROOT/var/lib/gear"

sections=${PUSH_SECTIONS:-push storage lazy}
has() { case " $sections " in *" $1 "*) return 0 ;; esac; return 1; }

if has push; then
echo "push to an empty registry on 127.0.0.1 (median of $rounds; page cache warm)"
printf "%-11s %9s %9s %7s %8s %8s\n" image skopeo-s gear-s ratio objects packs
for name in $images; do
	: >"$run/s" && : >"$run/g"
	find "$G/objects" $sdir/oci/blobs -type f -print0 | xargs -0 cat >/dev/null
	i=0
	while [ $i -lt "$rounds" ]; do
		rm -rf "$run/reg-push" "$G/images/bench/$name/latest/pushed"
		addr=$(gear-test-registry start "$run/reg-push")
		t0=$(now)
		skopeo copy -q --dest-tls-verify=false "oci:$sdir/oci:$name" "docker://$addr/plain/$name:latest" >/dev/null
		t1=$(now)
		gear-push --tls-verify=false "bench/$name" "docker://$addr/gear/$name" >"$run/out"
		t2=$(now)
		gear-test-registry stop "$run/reg-push"
		secs $t0 $t1 >>"$run/s"
		secs $t1 $t2 >>"$run/g"
		i=$((i + 1))
	done
	s=$(median <"$run/s") g=$(median <"$run/g")
	objects=$(sed -n 's/^objects sent \([0-9]*\),.*/\1/p' "$run/out")
	packs=$(sed -n 's/.*packs sent \([0-9]*\),.*/\1/p' "$run/out")
	printf "%-11s %9s %9s %6.2fx %8s %8s\n" $name $s $g $(awk -v s=$s -v g=$g 'BEGIN { print g / s }') "$objects" "$packs"
done
rm -rf "$run/reg-push"
echo
fi

if has storage; then
echo "registry storage of the set ($images), each image in its own repository"
plain=$(gear-test-registry start "$run/reg-plain")
old=$(gear-test-registry start "$run/reg-old")
packs=$(gear-test-registry start "$run/reg-packs")
rm -rf "$G"/images/bench/*/latest/pushed
t_old=0 t_packs=0
for name in $images; do
	skopeo copy -q --dest-tls-verify=false "oci:$sdir/oci:$name" "docker://$plain/plain/$name:latest" >/dev/null
	t0=$(now)
	GEAR_TEST_PUSH_OBJECT_BLOBS=1 gear-push --tls-verify=false "bench/$name" "docker://$old/gear/$name" >/dev/null
	t1=$(now)
	gear-push --tls-verify=false "bench/$name" "docker://$packs/gear/$name" >"$run/out-$name"
	t2=$(now)
	t_old=$(awk -v a=$t_old -v s=$(secs $t0 $t1) 'BEGIN { print a + s }')
	t_packs=$(awk -v a=$t_packs -v s=$(secs $t1 $t2) 'BEGIN { print a + s }')
	echo "  gear-push $name: $(cat "$run/out-$name")"
done
bp=$(blob_bytes "$run/reg-plain") bo=$(blob_bytes "$run/reg-old") bk=$(blob_bytes "$run/reg-packs")
printf "  %-34s %8s MB %8s files %8s s\n" "skopeo copy (gzip layers)" $(mb $bp) \
	$(find "$run/reg-plain/data" -type f | wc -l) -
printf "  %-34s %8s MB %8s files %8s s\n" "gear-push, one blob per object" $(mb $bo) \
	$(find "$run/reg-old/data" -type f | wc -l) $t_old
printf "  %-34s %8s MB %8s files %8s s\n" "gear-push, packs" $(mb $bk) \
	$(find "$run/reg-packs/data" -type f | wc -l) $t_packs
echo "  packs vs one blob per object: $(awk -v o=$bo -v k=$bk 'BEGIN { printf "%+.1f%%", 100 * (k - o) / o }');" \
	"packs vs the gzip layers: $(awk -v p=$bp -v k=$bk 'BEGIN { printf "%.1f%% saved", 100 * (1 - k / p) }')"
# the same set after gear-recompress of the store's objects, into a registry of its own
level=${PUSH_RECOMPRESS_LEVEL:-19}
t0=$(now)
gear-recompress --no-frames -l "$level" >"$run/recompress"
t_rc=$(secs $t0 $(now))
rc=$(gear-test-registry start "$run/reg-rc")
rm -rf "$G"/images/bench/*/latest/pushed
for name in $images; do
	gear-push --tls-verify=false "bench/$name" "docker://$rc/gear/$name" >/dev/null
done
br=$(blob_bytes "$run/reg-rc")
printf "  %-34s %8s MB %8s files %8s s\n" "gear-push, packs, recompressed" $(mb $br) \
	$(find "$run/reg-rc/data" -type f | wc -l) $t_rc
echo "  gear-recompress --no-frames -l $level: $(tr '\n' ' ' <"$run/recompress")(${t_rc} s, recompressing only)"
echo "  recompressed packs vs the gzip layers: $(awk -v p=$bp -v k=$br 'BEGIN { printf "%.1f%% saved", 100 * (1 - k / p) }')"
# and with the store's solid frames, which gear-recompress makes next
t0=$(now)
gear-recompress -l "$level" >"$run/frames"
t_fr=$(secs $t0 $(now))
fr=$(gear-test-registry start "$run/reg-frames")
rm -rf "$G"/images/bench/*/latest/pushed
t0=$(now)
for name in $images; do
	gear-push --tls-verify=false "bench/$name" "docker://$fr/gear/$name" >"$run/out-$name"
done
t_frp=$(secs $t0 $(now))
bf=$(blob_bytes "$run/reg-frames")
printf "  %-34s %8s MB %8s files %8s s\n" "gear-push, packs, store frames" $(mb $bf) \
	$(find "$run/reg-frames/data" -type f | wc -l) $t_fr
echo "  gear-recompress -l $level, frames: $(grep frames "$run/frames" | tr '\n' ' ')(${t_fr} s); the five pushes: ${t_frp} s"
echo "  packs with the store frames vs the gzip layers: $(awk -v p=$bp -v k=$bf 'BEGIN { printf "%.1f%% saved", 100 * (1 - k / p) }')"
# frames made at push time instead (gear.conf solid-level=), when PUSH_SOLID_LEVEL is set
if [ -n "${PUSH_SOLID_LEVEL:-}" ]; then
	find "$G/frames" -type f -delete
	sr=$(gear-test-registry start "$run/reg-solid")
	rm -rf "$G"/images/bench/*/latest/pushed
	mkdir -p "$GEAR_SYSROOT/etc/gear"
	echo "solid-level=$PUSH_SOLID_LEVEL" >"$GEAR_SYSROOT/etc/gear/gear.conf"
	t0=$(now)
	for name in $images; do
		gear-push --tls-verify=false "bench/$name" "docker://$sr/gear/$name" >/dev/null
	done
	t_solid=$(secs $t0 $(now))
	rm "$GEAR_SYSROOT/etc/gear/gear.conf"
	bs=$(blob_bytes "$run/reg-solid")
	printf "  %-34s %8s MB %8s files %8s s\n" "gear-push, solid-level=$PUSH_SOLID_LEVEL" $(mb $bs) \
		$(find "$run/reg-solid/data" -type f | wc -l) $t_solid
	echo "  push-time frames vs the gzip layers: $(awk -v p=$bp -v k=$bs 'BEGIN { printf "%.1f%% saved", 100 * (1 - k / p) }')"
fi
echo
else
	packs=$(gear-test-registry start "$run/reg-packs")
	rm -rf "$G"/images/bench/python3/latest/pushed
	gear-push --tls-verify=false bench/python3 "docker://$packs/gear/python3" >/dev/null
fi
has lazy || exit 0

from="packs registry"
# PUSH_LAZY_FROM=frames (with the storage section): from the registry of the store's solid frames
if [ "${PUSH_LAZY_FROM:-}" = frames ] && [ -n "${fr:-}" ]; then
	packs=$fr from="registry of the store's solid frames"
fi
echo "lazy fetch of one small file, python3 from the $from on 127.0.0.1"
# lazy_run NAME [GEAR-FS OPTION]: a fresh tree, the 200 files read once through a mount; their ms in $run/NAME-ms
lazy_run() {
	export GEAR_SYSROOT="$run/lazy-$1"
	L="$GEAR_SYSROOT/var/lib/gear"
	gear-pull --tls-verify=false "docker://$packs/gear/python3:latest" bench/python3 >/dev/null
	mkdir -p "$run/mnt-$1"
	GEAR_HTTP_TRACE="$run/trace-$1" gear-fs ${2:-} bench/python3 "$run/mnt-$1"
	if [ ! -f "$run/small" ]; then
		# 200 files under 16 KiB, spread over the directory
		(cd "$run/mnt-$1" && find usr/lib/python3.11 -type f -size -16k | sort) >"$run/all"
		awk -v n=$(wc -l <"$run/all") 'NR % int(n / 200) == 0' "$run/all" | head -n 200 >"$run/small"
		gear-index bench/python3 >"$run/idx"
	fi
	(cd "$run/mnt-$1" && "$run/readfiles" -l "$run/small") >"$run/$1-ms"
	fusermount3 -u "$run/mnt-$1"
	cp "$L/images/bench/python3/latest/fs.stats" "$run/stats-$1"
	gear-index -m bench/python3 >"$run/map"
}
lazy_run alone --no-read-around
lazy_run around
# the peer: the same ranges, curl over one connection
awk -F '\t' 'NR == FNR { want[$0] = 1; next } $1 == "f" && ($7 in want) { sub("sha256:", "", $6); print $6 }' \
	"$run/small" "$run/idx" >"$run/hex"
awk -F '\t' -v a="$packs" 'NR == FNR { want[$1] = 1; next } $1 == "pack" { p = $2 }
	($1 in want) && $3 > 0 { printf "-o /dev/null -r %d-%d http://%s/v2/gear/python3/blobs/%s\n", $2, $2 + $3 - 1, a, p }' \
	"$run/hex" "$run/map" >"$run/curl-args"
curl -s -w "%{time_total}\n" $(cat "$run/curl-args") | awk '{ printf "%.3f\n", $1 * 1000 }' >"$run/curl-ms"
lazy_run alone2 --no-read-around
lazy_run around2
curl -s -w "%{time_total}\n" $(cat "$run/curl-args") | awk '{ printf "%.3f\n", $1 * 1000 }' >>"$run/curl-ms"
cat "$run/alone-ms" "$run/alone2-ms" >"$run/a-ms"
cat "$run/around-ms" "$run/around2-ms" >"$run/r-ms"
stat_of() { awk -v k=$2 '$1 == k { print $2 }' "$run/stats-$1"; }
a=$(median <"$run/a-ms") g=$(median <"$run/r-ms") c=$(median <"$run/curl-ms")
http=$(awk -F '\t' '$3 == 206 { printf "%.3f\n", $8 / 1000 }' "$run/trace-alone" "$run/trace-alone2" | median)
first=$(awk -F '\t' '$3 == 206 { printf "%.3f\n", $7 / 1000 }' "$run/trace-alone" "$run/trace-alone2" | median)
echo "  files: $(wc -l <"$run/small"), each read once by a fresh mount, twice each way"
echo "  gear-fs --no-read-around, open+read median:  $a ms ($(stat_of alone fetched_files) requests a run)"
echo "    of which the Range request (curl in gear-fs): $http ms (first byte $first ms)"
echo "  gear-fs (read-around), open+read median:     $g ms ($(grep -c . "$run/trace-around") requests a run," \
	"$(stat_of around read_around_files) files fetched ahead)"
echo "  curl Range GET of the same bytes, median:    $c ms"
echo "  ratio gear / curl: $(awk -v g=$a -v c=$c 'BEGIN { printf "%.2fx", g / c }') alone," \
	"$(awk -v g=$g -v c=$c 'BEGIN { printf "%.2fx", g / c }') with read-around"
