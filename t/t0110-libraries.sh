#!/bin/sh
test_description='the heavy libraries are loaded by the commands that call them, and only then'
. "$(dirname "$0")/lib/test-lib.sh"

HEAVY='libarchive|libcurl|libfuse3|libcrypto|libgit2|libmicrohttpd|libnettle|libsystemd|libselinux'
LIBDIR=$(dirname "$(ldconfig -p | sed -n 's/.*libarchive\.so\.13 .*=> //p' | head -n 1)")

# loaded CMD...: the objects the dynamic loader maps while CMD runs, one soname a line
loaded() {
	LD_DEBUG=files "$@" 2>&1 >/dev/null | sed -n 's/^ *[0-9]*:[[:space:]]*file=\([^ ]*\) .*generating link map.*/\1/p'
}

test_expect_success 'setup: a container with an environment and a key, an image' '
	mkdir -p "$CTR/units/li" &&
	: >"$CTR/units/li/ctr-lib1.service" &&
	gear-set-env lib1 A=1 >/dev/null &&
	ssh-keygen -q -t ed25519 -N "" -f key &&
	gear-keys add --key-file key.pub lib1 >/dev/null &&
	test_fake_repo librepo &&
	gear-keys add --key-file key.pub repo://librepo >/dev/null &&
	mkdir -p rootfs/etc && echo hello >rootfs/etc/hello &&
	gear-build dir:rootfs lib >/dev/null
'

test_expect_success 'the binary needs none of them at start, and few objects in all' '
	LD_TRACE_LOADED_OBJECTS=1 "$GEAR_BUILD/gear" >objs &&
	test_must_fail grep -E "$HEAVY" objs &&
	test $(wc -l <objs) -le 20
'

test_expect_success 'tree-only commands load none of them' '
	loaded gear-env lib1 >libs &&
	grep libc.so libs &&
	test_must_fail grep -E "$HEAVY" libs &&
	loaded gear-auth-keys-command ctr-lib1 >libs &&
	test_must_fail grep -E "$HEAVY" libs &&
	loaded gear-ports list >libs &&
	test_must_fail grep -E "$HEAVY" libs &&
	loaded gear-set-env lib1 B=2 >libs &&
	test_must_fail grep -E "$HEAVY" libs &&
	loaded gear-clean --dry-run >libs &&
	test_must_fail grep -E "$HEAVY" libs &&
	loaded gear-auth-keys-command git-librepo >libs &&
	test_must_fail grep -E "$HEAVY" libs &&
	loaded gear-repo list >libs &&
	test_must_fail grep -E "$HEAVY" libs
'

test_expect_success 'a command loads what it calls, and nothing else heavy' '
	loaded gear-index lib >libs &&
	grep libarchive libs &&
	test_must_fail grep -E "libcurl|libfuse3|libsystemd|libselinux" libs &&
	loaded gear-keys list lib1 >libs &&
	grep libnettle libs &&
	test_must_fail grep -E "libarchive|libcrypto|libcurl|libfuse3|libgit2|libsystemd|libselinux" libs &&
	loaded gear-repo archive librepo >libs &&
	grep libgit2 libs &&
	test_must_fail grep -E "libcurl|libfuse3|libmicrohttpd|libsystemd|libselinux" libs &&
	loaded gear-daemon >libs &&
	grep libmicrohttpd libs &&
	test_must_fail grep -E "libarchive|libcurl|libfuse3|libgit2|libselinux" libs
'

test_expect_success 'a library that cannot be loaded is named, exit 111, nothing written' '
	: >empty.so &&
	test_expect_code 111 unshare --mount sh -c "
		mount --bind empty.so $LIBDIR/libarchive.so.13 &&
		exec gear-build dir:rootfs lib2" 2>err &&
	grep "^gear-build: .*cannot load libarchive.so.13: " err &&
	test_must_fail test -e "$IMG/images/lib2" &&
	test_expect_code 111 unshare --mount sh -c "
		mount --bind empty.so $LIBDIR/libnettle.so.8 &&
		exec gear-keys list lib1" 2>err &&
	grep "^gear-keys: .*cannot load libnettle.so.8: " err &&
	unshare --mount sh -c "
		mount --bind empty.so $LIBDIR/libarchive.so.13 &&
		mount --bind empty.so $LIBDIR/libnettle.so.8 &&
		exec gear-env lib1" >out &&
	grep "^A=1" out
'

test_done
