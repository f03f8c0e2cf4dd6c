/*
 * A container's links (ports/links.h) applied with nftables inside its network
 * namespace: one table, "ip gear_links", replaced in one transaction.
 *
 *   output       DNAT of LOCALIP:LOCALPORT (TCP) to the address HOST resolved to
 *   postrouting  masquerade of what leaves with a loopback source address
 * and net.ipv4.conf.all.route_localnet=1 there, so that a packet from a
 * loopback address may be routed off the loopback device at all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container.h"
#include "../base/config.h"
#include "../base/spawn.h"
#include "../ports/links.h"

#define NFT "/usr/sbin/nft"
#define LINKS_TABLE "gear_links"

static int resolve(const char *host, char out[INET_ADDRSTRLEN], struct gear_err *e)
{
        struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
        int r = getaddrinfo(host, NULL, &hints, &res);

        if (r)
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot resolve '%s': %s", host, gai_strerror(r));
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, out, INET_ADDRSTRLEN);
        freeaddrinfo(res);
        return 0;
}

/* the ruleset text: the table emptied and filled in one transaction */
static char *ruleset(const struct net_link *links, size_t n, char (*addr)[INET_ADDRSTRLEN])
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return NULL;
        fputs("table ip " LINKS_TABLE "\ndelete table ip " LINKS_TABLE "\n", f);
        if (n) {
                fputs("table ip " LINKS_TABLE " {\n"
                      "\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n", f);
                for (size_t i = 0; i < n; i++)
                        fprintf(f, "\t\tip daddr %s tcp dport %u dnat to %s:%u\n", links[i].local_ip,
                                links[i].local_port, addr[i], links[i].port);
                fputs("\t}\n\tchain postrouting {\n\t\ttype nat hook postrouting priority 100; policy accept;\n"
                      "\t\tip saddr 127.0.0.0/8 oifname != \"lo\" masquerade\n\t}\n}\n", f);
        }
        if (fclose(f)) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* the pid of the container's first process from podman; 0 when it is not running */
static int container_pid(struct gear_tree *t, const char *id, pid_t *pid, struct gear_err *e)
{
        _cleanup_(config_done) struct gear_config c = {0};
        _cleanup_(strv_done) struct gear_strv argv = {0};
        char name[CTR_PATH_MAX], out[512];
        bool ok;
        int r;

        *pid = 0;
        if (config_load(&c, t, e) < 0 || config_podman_argv(&c, &argv, e) < 0)
                return -1;
        snprintf(name, sizeof name, "ctr-%s", id);
        ok = strv_push(&argv, "container") == 0 && strv_push(&argv, "inspect") == 0 &&
             strv_push(&argv, "--format={{.State.Pid}}") == 0 && strv_push(&argv, name) == 0;
        if (!ok)
                return gear_err_sys(e, ENOMEM, "cannot build the podman command");
        r = spawn_run(argv.v, NULL, out, sizeof out, e);
        if (r < 0)
                return -1;
        /* no such container: not running, nothing to apply now */
        if (r)
                return 0;
        char *end;
        long v = strtol(out, &end, 10);
        if (*end || end == out || v < 0)
                return gear_err_set(e, GEAR_EXIT_SYS, "podman says the pid of '%s' is '%s'", name, out);
        *pid = v;
        return 0;
}

int container_links_apply(struct gear_tree *t, const char *id, bool fresh, bool *applied, struct gear_err *e)
{
        _cleanup_free_ struct net_link *links = NULL;
        _cleanup_free_ char (*addr)[INET_ADDRSTRLEN] = NULL;
        _cleanup_free_ char *rules = NULL;
        _cleanup_close_ int ns = -1;
        char path[64], out[1024];
        size_t n = 0;
        pid_t pid;
        int r;

        *applied = false;
        if (links_read(t, id, &links, &n, e) < 0)
                return -1;
        /* a container just started has a new namespace without the table */
        if (fresh && !n) {
                *applied = true;
                return 0;
        }
        if (container_pid(t, id, &pid, e) < 0)
                return -1;
        if (!pid)
                return 0;
        addr = calloc(n ? n : 1, sizeof *addr);
        if (!addr)
                return gear_err_sys(e, ENOMEM, "cannot apply links");
        for (size_t i = 0; i < n; i++)
                if (resolve(links[i].host, addr[i], e) < 0)
                        return gear_err_wrap(e, "link %s:%u of '%s'", links[i].local_ip, links[i].local_port, id);
        rules = ruleset(links, n, addr);
        if (!rules)
                return gear_err_sys(e, ENOMEM, "cannot apply links");
        snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
        ns = open(path, O_RDONLY | O_CLOEXEC);
        if (ns < 0)
                return gear_err_sys(e, errno, "cannot open the network namespace of '%s'", id);
        char *argv[] = { NFT, "-f", "-", NULL };
        struct spawn_opts o = { .input = rules, .input_len = strlen(rules), .netns_fd = ns,
                                .sysctl = n ? "/proc/sys/net/ipv4/conf/all/route_localnet=1" : NULL };
        r = spawn_run(argv, &o, out, sizeof out, e);
        if (r < 0)
                return -1;
        if (r)
                return gear_err_set(e, GEAR_EXIT_SYS, "nft failed in the network namespace of '%s' (%d): %s", id,
                                    r, out);
        *applied = true;
        return 0;
}

int container_links_set(struct gear_tree *t, const char *id, const struct net_link *links, size_t n, bool *applied,
                        struct gear_err *e)
{
        _cleanup_free_ struct net_link *old = NULL;
        _cleanup_close_ int lock = -1;
        size_t nold = 0;
        int k;

        *applied = false;
        if (!id_valid(id))
                return gear_err_set(e, GEAR_EXIT_USAGE, "invalid identifier '%s'", id);
        lock = container_lock(t, id, e);
        if (lock < 0)
                return -1;
        k = container_exists(t, id, e);
        if (k <= 0)
                return k < 0 ? -1 : gear_err_set(e, GEAR_EXIT_NO, "no container '%s'", id);
        if (links_read(t, id, &old, &nold, e) < 0 || links_write(t, id, links, n, e) < 0)
                return -1;
        if (container_links_apply(t, id, false, applied, e) == 0)
                return 0;
        /* the running container keeps its rules (nft applies all or nothing): so does the tree */
        struct gear_err ignore = {0};
        links_write(t, id, old, nold, &ignore);
        return -1;
}
