#!/bin/sh
test_description='the layout of the source: cmd/ on common/, common/ folders bottom up, no include cycles'
. "$(dirname "$0")/lib/test-lib.sh"

SRC=$GEAR_BUILD

test_expect_success 'common/README lists every folder of common/, once' '
	sed -n "s|^\([a-z]*\)/  .*|\1|p" "$SRC/common/README" >order &&
	(cd "$SRC/common" && for d in */; do echo "${d%/}"; done) | sort >folders &&
	sort order >sorted &&
	test_cmp folders sorted &&
	test $(sort -u order | wc -l) = $(wc -l <order)
'

test_expect_success 'a folder includes only itself and the folders above it in common/README' '
	: >bad &&
	rank=0 &&
	while read d; do
		rank=$((rank + 1)) &&
		echo "$d $rank" >>ranks || return 1
	done <order &&
	for f in "$SRC"/common/*/*.[ch] "$SRC"/common/*/*.S; do
		from=$(basename "$(dirname "$f")") &&
		rf=$(sed -n "s/^$from //p" ranks) &&
		for inc in $(sed -n "s|^#include \"\.\./\([a-z]*\)/.*|\1|p" "$f"); do
			ri=$(sed -n "s/^$inc //p" ranks) &&
			if test -z "$ri" || test "$ri" -gt "$rf"; then echo "$f includes $inc/" >>bad; fi || return 1
		done || return 1
	done &&
	test_must_fail test -s bad
'

test_expect_success 'common/ includes nothing outside common/, cmd/ nothing but its own and common/' '
	grep -n "^#include \"\.\./\.\./" "$SRC"/common/*/*.[ch] >bad;
	grep -n "^#include \"" "$SRC"/cmd/*.[ch] | grep -v "#include \"\(commands\.h\|\.\./common/[a-z]*/[a-z-]*\.h\)\"" >>bad;
	test_must_fail test -s bad
'

test_expect_success 'no header includes itself through others' '
	for f in "$SRC"/common/*/*.h; do
		d=$(dirname "$f") &&
		for inc in $(sed -n "s|^#include \"\([^\"]*\)\"|\1|p" "$f"); do
			echo "$(realpath "$f") $(realpath "$d/$inc")" || return 1
		done || return 1
	done >pairs &&
	tsort pairs >/dev/null 2>err &&
	test_must_fail test -s err
'

test_done
