#!/bin/sh
test_description='make install: binary, links, man pages, gear.conf kept, systemd units, bash completion'
. "$(dirname "$0")/lib/test-lib.sh"

D="$TRASH_DIRECTORY/d"

test_expect_success 'make install DESTDIR PREFIX=/usr: the files where a Debian system looks' '
	gear --list >list &&
	make -s -C "$GEAR_BUILD" install DESTDIR="$D" PREFIX=/usr >/dev/null &&
	(cd "$D" && find . ! -type d | sort) >files &&
	for f in etc/gear/gear.conf usr/bin/gear usr/share/bash-completion/completions/gear \
		usr/share/man/man1/gear.1 usr/share/man/man1/gear-rmi.1 usr/share/man/man5/gear.conf.5; do
		grep -x "./$f" files || return 1
	done &&
	for c in $(cat list); do
		test "$(readlink "$D/usr/bin/gear-$c")" = gear &&
		test "$(readlink "$D/usr/share/bash-completion/completions/gear-$c")" = gear &&
		test -f "$D/usr/share/man/man1/gear-$c.1" || return 1
	done &&
	ls "$D/usr/lib/systemd/system" >units &&
	cat >expect <<-\EOF &&
	container-active.target
	container-small.slice
	container.slice
	container.target
	gear-daemon.service
	gear-daemon.socket
	gear-gc.service
	gear-gc.timer
	gear-recompress.service
	gear-recompress.timer
	gear-switchns.socket
	gear-switchns@.service
	EOF
	test_cmp expect units &&
	grep -x "ExecStart=/usr/bin/gear-gc --max-size 10G" "$D/usr/lib/systemd/system/gear-gc.service" &&
	grep -x "ExecStart=/usr/bin/gear-recompress" "$D/usr/lib/systemd/system/gear-recompress.service" &&
	test_must_fail grep -r "@[A-Z_]*@" "$D/usr/lib/systemd/system" &&
	grep -x "#gear-bin=/usr/bin" "$D/etc/gear/gear.conf"
'

test_expect_success 'a second install keeps an edited gear.conf' '
	echo "runtime=crun" >>"$D/etc/gear/gear.conf" &&
	cp "$D/etc/gear/gear.conf" conf.edited &&
	make -s -C "$GEAR_BUILD" install DESTDIR="$D" PREFIX=/usr >/dev/null &&
	test_cmp conf.edited "$D/etc/gear/gear.conf"
'

test_expect_success 'SYSCONFDIR, and a prefix outside /usr: units where pkg-config says' '
	make -s -C "$GEAR_BUILD" install DESTDIR="$TRASH_DIRECTORY/l" PREFIX=/opt/gear SYSCONFDIR=/opt/etc >/dev/null &&
	test -f l/opt/etc/gear/gear.conf &&
	test -x l/opt/gear/bin/gear &&
	test -f l/opt/gear/share/bash-completion/completions/gear &&
	dir=$(pkg-config --variable=systemdsystemunitdir systemd) &&
	test -n "$dir" &&
	test -f "l$dir/gear-gc.timer" &&
	grep -x "ExecStart=/opt/gear/bin/gear-gc --max-size 10G" "l$dir/gear-gc.service"
'

# complete WORD...: what the installed completion offers for the last word
complete_words() {
	PATH="$D/usr/bin:$PATH" bash -c '
		. "$1/usr/share/bash-completion/completions/gear" && shift &&
		COMP_WORDS=("$@") && COMP_CWORD=$(($# - 1)) && _gear &&
		printf "%s\n" "${COMPREPLY[@]}"' sh "$D" "$@"
}

test_expect_success 'completion: command names, options, container ids, image names' '
	test_fake_unit t06web &&
	test_fake_unit t06db &&
	complete_words gear ima >out &&
	echo images >expect && test_cmp expect out &&
	complete_words gear-push --tl >out &&
	echo --tls-verify= >expect && test_cmp expect out &&
	complete_words gear build -j >out &&
	echo -j >expect && test_cmp expect out &&
	complete_words gear-build-image --g >out &&
	echo --gear >expect && test_cmp expect out &&
	complete_words gear-stop t06 >out &&
	printf "t06db\nt06web\n" >expect && test_cmp expect out &&
	complete_words gear start t06w >out &&
	echo t06web >expect && test_cmp expect out &&
	mkdir img && printf "test" >img/f &&
	gear-build dir:img t06/img:1 >/dev/null &&
	complete_words gear-rmi t06/ >out &&
	echo t06/img:1 >expect && test_cmp expect out &&
	complete_words gear-install gear:t06 >out &&
	echo gear:t06/img:1 >expect && test_cmp expect out
'

test_expect_success 'bash registers it for gear and every gear-NAME' '
	PATH="$D/usr/bin:$PATH" bash -c ". \"$D/usr/share/bash-completion/completions/gear\" && complete -p gear gear-rmi gear-list-units" >out &&
	cat >expect <<-\EOF &&
	complete -F _gear gear
	complete -F _gear gear-rmi
	complete -F _gear gear-list-units
	EOF
	test_cmp expect out
'

test_done
