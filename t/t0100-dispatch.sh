#!/bin/sh
test_description='the multicall binary: dispatch, --help, --list, man pages'
. "$(dirname "$0")/lib/test-lib.sh"

test_expect_success '--list prints every command, sorted' '
	gear --list >list &&
	test -s list &&
	sort list >sorted &&
	test_cmp sorted list &&
	grep -x ports list &&
	grep -x auth-keys-command list
'

test_expect_success 'gear-NAME and gear NAME are the same call' '
	for c in $(cat list); do
		gear-$c --help >a &&
		gear $c --help >b &&
		test_cmp a b || return 1
	done
'

test_expect_success 'an unknown command exits 127 with one line' '
	test_expect_code 127 gear frobnicate 2>err &&
	echo "gear: '\''frobnicate'\'' is not a gear command; see '\''gear --list'\''" >expect &&
	test_cmp expect err &&
	ln -s "$GEAR_BUILD/gear" gear-frobnicate &&
	test_expect_code 127 ./gear-frobnicate 2>err &&
	test_cmp expect err
'

test_expect_success 'gear without arguments or with a bad option is a usage error' '
	test_expect_code 100 gear 2>err &&
	grep "^usage: gear NAME" err &&
	test_expect_code 100 gear --frob 2>err &&
	grep "unknown option" err &&
	gear --help >out &&
	grep "^usage: gear NAME" out
'

test_expect_success '--help prints usage on stdout and exits 0 for every command' '
	for c in $(cat list); do
		gear-$c --help >out 2>err &&
		grep "^usage: gear-$c" out &&
		test_must_fail test -s err || return 1
	done
'

test_expect_success 'a bad option prints usage on stderr and exits 100' '
	for c in $(cat list); do
		test_expect_code 100 gear-$c --no-such-option >out 2>err &&
		grep "^usage: gear-$c" err &&
		test_must_fail test -s out || return 1
	done
'

# the SYNOPSIS of doc/gear-NAME.1, unformatted, one line per form
synopsis() {
	sed -n "/^\.SH SYNOPSIS/,/^\.SH/p" "$1" | sed "1d;\$d" | grep -v "^\." |
		sed "s/\\\\f[BIRP]//g; s/\\\\-/-/g; s/\\\\ / /g"
}

test_expect_success 'every command has a man page whose SYNOPSIS matches --help' '
	for c in $(cat list); do
		test -f "$GEAR_BUILD/doc/gear-$c.1" || { echo "no doc/gear-$c.1"; return 1; }
		gear-$c --help | sed "s/^usage: //; s/^       //" >help &&
		synopsis "$GEAR_BUILD/doc/gear-$c.1" >man &&
		test_cmp help man || return 1
	done &&
	test -f "$GEAR_BUILD/doc/gear.1" &&
	test -f "$GEAR_BUILD/doc/gear-tree.5"
'

test_expect_success 'man pages render without warnings' '
	for m in "$GEAR_BUILD"/doc/*.[15]; do
		LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$m" >/dev/null 2>err &&
		test_must_fail test -s err || { cat err; return 1; }
	done
'

test_expect_success 'every man page lists the exit codes' '
	for m in "$GEAR_BUILD"/doc/gear*.1; do
		sed -n "/^\.SH EXIT STATUS/,/^\.SH [^E]/p" "$m" | grep -q 127 || { echo "$m"; return 1; }
	done
'

test_expect_success 'make install puts gear, one link per command, man pages and units under DESTDIR' '
	make -s -C "$GEAR_BUILD" install DESTDIR="$TRASH_DIRECTORY/dest" PREFIX=/usr >/dev/null &&
	test -x dest/usr/bin/gear &&
	for c in $(cat list); do
		test "$(readlink dest/usr/bin/gear-$c)" = gear || return 1
	done &&
	test -f dest/usr/share/man/man1/gear-ports.1 &&
	test -f dest/usr/share/man/man5/gear-tree.5 &&
	grep -x "ExecStart=/usr/bin/gear-gc --max-size 10G" dest/usr/share/gear/units/gear-gc.service &&
	test_must_fail grep -r @BINDIR@ dest/usr/share/gear/units
'

test_done
