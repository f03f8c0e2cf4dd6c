#!/bin/sh
test_description='gear-delete removes volumes of any depth, refuses mounts inside, names what it cannot remove'
. "$(dirname "$0")/lib/test-lib.sh"
. "$TEST_DIRECTORY/lib/systemd-lib.sh"

RANGE=42200-42299
test_atexit 'gear-test-systemd stop "$SD"'
test_atexit 'at_depth "$CTR/data/t1/t16b/vol" 2999 chattr -i f 2>/dev/null'

# nest DIR DEPTH: DIR/d/d/.../d, DEPTH levels, a file and a link out at every level
nest() {
	perl -e '
		my ($top, $depth, $out) = @ARGV;
		chdir $top or die "$top: $!";
		for (1 .. $depth) {
			mkdir "d" or die "mkdir: $!";
			open(my $f, ">", "f") or die "f: $!"; print $f "x"; close $f;
			symlink($out, "out") or die "symlink: $!";
			chdir "d" or die "chdir: $!";
		}' "$1" "$2" "$TRASH_DIRECTORY/outside"
}

# at_depth DIR N CMD...: CMD run in DIR/d/d/... N levels down (deeper than the shell can cd)
at_depth() {
	perl -e '
		my ($top, $n, @cmd) = @ARGV;
		chdir $top or die "$top: $!";
		for (1 .. $n) { chdir "d" or die "chdir: $!"; }
		exec @cmd or die "exec: $!";' "$@"
}

test_expect_success 'setup: a manager and containers with a volume' '
	test_gear_conf run-arg=--pull=never &&
	build-test-image &&
	gear-test-systemd start "$SD" &&
	mkdir outside &&
	echo keep >outside/file &&
	g gear-install -v vol:/data $IMAGE t16a t16b t16c &&
	test -d "$CTR/data/t1/t16a/vol"
'

test_expect_success 'a volume nested 5,000 levels deep is removed with 256 descriptors, links not followed' '
	nest "$CTR/data/t1/t16a/vol" 5000 &&
	(ulimit -n 256 && g gear-delete t16a) &&
	test_must_fail test -e "$CTR/data/t1/t16a" &&
	test_must_fail test -e "$CTR/units/t1/ctr-t16a.service" &&
	echo keep >expect &&
	test_cmp expect outside/file
'

test_expect_success 'a file that cannot be removed: one message with its path and the error, then a retry works' '
	nest "$CTR/data/t1/t16b/vol" 3000 &&
	at_depth "$CTR/data/t1/t16b/vol" 2999 chattr +i f &&
	test_expect_code 111 g gear-delete t16b 2>err &&
	test $(wc -l <err) = 1 &&
	test $(wc -c <err) -lt 600 &&
	grep -c "Operation not permitted" err >count &&
	echo 1 >expect &&
	test_cmp expect count &&
	grep "^gear-delete: cannot delete '\''t16b'\'': in '\''.*'\'': cannot remove '\''data/t1/t16b/vol/d/d/.*/\.\.\./.*/d/d/f'\'': Operation not permitted$" err &&
	at_depth "$CTR/data/t1/t16b/vol" 2999 chattr -i f &&
	g gear-delete t16b &&
	test_must_fail test -e "$CTR/data/t1/t16b" &&
	echo keep >expect &&
	test_cmp expect outside/file
'

test_expect_success 'a file system mounted in a volume is refused, not emptied' '
	mkdir "$CTR/data/t1/t16c/vol/m" &&
	g sh -c "mount -t tmpfs tmpfs \"$CTR/data/t1/t16c/vol/m\" && echo keep >\"$CTR/data/t1/t16c/vol/m/file\"" &&
	test_expect_code 111 g gear-delete t16c 2>err &&
	grep "cannot remove '\''data/t1/t16c/vol/m'\'': Device or resource busy$" err &&
	g cat "$CTR/data/t1/t16c/vol/m/file" >out &&
	echo keep >expect &&
	test_cmp expect out &&
	g umount "$CTR/data/t1/t16c/vol/m" &&
	g gear-delete t16c &&
	test_must_fail test -e "$CTR/data/t1/t16c"
'

test_done
