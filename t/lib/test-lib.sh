# gear's test library, in the style of git's sharness: TAP on stdout.
# A test script sets test_description, sources this file, runs
# test_expect_success blocks and ends with test_done.

TEST_DIRECTORY=$(cd "$(dirname "$0")" && pwd)
GEAR_BUILD=$(cd "$TEST_DIRECTORY/.." && pwd)
test_name=$(basename "$0" .sh)
TRASH_DIRECTORY="$TEST_DIRECTORY/trash.$test_name"
PATH="$GEAR_BUILD/bin:$GEAR_BUILD/scripts:$PATH"
LC_ALL=C
export PATH LC_ALL TEST_DIRECTORY GEAR_BUILD TRASH_DIRECTORY
unset GEAR_SYSTEMD

test_count=0
test_failed=0
test_cleanup_cmds=

rm -rf "$TRASH_DIRECTORY" && mkdir -p "$TRASH_DIRECTORY" || {
	echo "Bail out! cannot make $TRASH_DIRECTORY"
	exit 1
}
cd "$TRASH_DIRECTORY" || exit 1
GEAR_SYSROOT="$TRASH_DIRECTORY/root"
CTR="$GEAR_SYSROOT/var/lib/containers"
IMG="$GEAR_SYSROOT/var/lib/gear"
UNITDIR="$GEAR_SYSROOT/etc/systemd/system"
export GEAR_SYSROOT CTR IMG UNITDIR

say() { printf '# %s\n' "$*"; }

# run at exit, last registered first
test_atexit() { test_cleanup_cmds="$1
$test_cleanup_cmds"; }

test_run_() {
	(eval "set -e; $1") >"$TRASH_DIRECTORY/.out" 2>&1 </dev/null
}

test_expect_success() {
	test_count=$((test_count + 1))
	if test_run_ "$2"; then
		echo "ok $test_count - $1"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $1"
		printf '%s\n' "$2" | sed 's/^/#	/'
		sed 's/^/# > /' "$TRASH_DIRECTORY/.out"
	fi
}

# test_must_fail CMD...: fails unless CMD exits non-zero (and not by a signal)
test_must_fail() {
	"$@"
	code=$?
	if [ $code = 0 ]; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	elif [ $code -gt 128 ] && [ $code -lt 160 ]; then
		echo "test_must_fail: died by signal $((code - 128)): $*" >&2
		return 1
	fi
	return 0
}

# test_expect_code CODE CMD...
test_expect_code() {
	want=$1
	shift
	"$@"
	code=$?
	[ $code = "$want" ] && return 0
	echo "test_expect_code: want exit $want, got $code: $*" >&2
	return 1
}

test_cmp() { diff -u "$1" "$2"; }

# test_snap FILE: the tree snapshot plus the content of every file
test_snap() {
	test_tree_snapshot "$1" &&
	if [ -d "$GEAR_SYSROOT" ]; then
		(cd "$GEAR_SYSROOT" && find . -type f -exec md5sum {} + | sort) >>"$1"
	fi
}

# test_refused CODE MESSAGE CMD...: CMD exits CODE with MESSAGE as the first
# line on stderr and nothing on stdout, and leaves the tree as it was (as
# the function named by TEST_SNAP sees it, test_snap by default)
test_refused() {
	want_code=$1 want_msg=$2 &&
	shift 2 &&
	${TEST_SNAP:-test_snap} before &&
	test_expect_code "$want_code" "$@" >out 2>err &&
	printf "%s\n" "$want_msg" >expect &&
	head -n 1 err >err1 &&
	test_cmp expect err1 &&
	test_must_fail test -s out &&
	${TEST_SNAP:-test_snap} after &&
	test_cmp before after
}

# test_tree_snapshot FILE: every path, type, mode and link target under the sysroot
test_tree_snapshot() {
	if [ -d "$GEAR_SYSROOT" ]; then
		(cd "$GEAR_SYSROOT" && find . -printf '%y %m %p %l\n' | sort) >"$1"
	else
		: >"$1"
	fi
}

test_done() {
	eval "$test_cleanup_cmds" >/dev/null 2>&1
	echo "1..$test_count"
	if [ $test_failed = 0 ]; then
		cd "$TEST_DIRECTORY" && rm -rf "$TRASH_DIRECTORY"
		exit 0
	fi
	echo "# failed $test_failed of $test_count"
	exit 1
}

# test_fake_unit ID [INTERNAL:EXTERNAL...]: a unit file as gear-install writes its metadata
test_fake_unit() {
	id=$1
	shift
	mkdir -p "$CTR/units/$(printf %.2s "$id")" &&
	{
		printf '[Unit]\nX-ContainerId=%s\n' "$id"
		for m in "$@"; do printf 'X-PortMapping=%s\n' "$m"; done
	} >"$CTR/units/$(printf %.2s "$id")/ctr-$id.service"
}

# test_wait_file FILE: until FILE exists (30s at most)
test_wait_file() {
	i=0
	while ! test -e "$1"; do
		i=$((i + 1)) && test $i -lt 300 || { echo "no '$1'" >&2; return 1; }
		sleep 0.1
	done
}

# test_fake_repo ID: a repository as far as the tree says (its directory), without git or a user
test_fake_repo() {
	mkdir -p "$CTR/git/$(printf %.2s "$1")/$1.git"
}
