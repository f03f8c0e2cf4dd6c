#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "index.h"

struct lister {
        bool lng;
        index_line_fn fn;
        void *ud;
        struct gear_err *e;
        char line[5 * PATH_MAX];
        char esc[4 * PATH_MAX + 8], link[4 * PATH_MAX + 8];
};

static char type_letter(mode_t mode)
{
        switch (mode & S_IFMT) {
        case S_IFDIR: return 'd';
        case S_IFREG: return 'f';
        case S_IFLNK: return 'l';
        case S_IFCHR: return 'c';
        case S_IFBLK: return 'b';
        case S_IFIFO: return 'p';
        default: return '?';
        }
}

static int clear_first(struct tnode *n, const char *path, void *ud)
{
        free(n->ino->first_path);
        n->ino->first_path = NULL;
        return 0;
}

static int line(struct tnode *n, const char *path, void *ud)
{
        struct lister *l = ud;
        struct inode *ino = n->ino;
        char type = type_letter(ino->mode), size[24] = "-", digest[sizeof DIGEST_PREFIX + DIGEST_HEX_LEN] = "-";
        int k;

        strcpy(l->link, "-");
        if (ino->first_path) {
                type = 'h';
                path_escape(ino->first_path, l->link, sizeof l->link);
        } else if (!S_ISDIR(ino->mode) && !(ino->first_path = strdup(path))) {
                return gear_err_sys(l->e, ENOMEM, "cannot list index");
        }
        if (S_ISREG(ino->mode)) {
                snprintf(size, sizeof size, "%" PRIu64, ino->blob->size);
                snprintf(digest, sizeof digest, DIGEST_PREFIX "%s", ino->blob->hex);
        }
        if (type == 'l')
                path_escape(ino->target, l->link, sizeof l->link);
        if (type == 'c' || type == 'b')
                snprintf(l->link, sizeof l->link, "%u,%u", major(ino->rdev), minor(ino->rdev));
        path_escape(path, l->esc, sizeof l->esc);
        k = snprintf(l->line, sizeof l->line, "%c\t%04o\t%u\t%u\t%s\t%s\t%s%s%s", type,
                     (unsigned)(ino->mode & 07777), (unsigned)ino->uid, (unsigned)ino->gid, size, digest,
                     l->esc, l->lng ? "\t" : "", l->lng ? l->link : "");
        if (k < 0 || (size_t)k >= sizeof l->line)
                return gear_err_set(l->e, GEAR_EXIT_SYS, "cannot list index: line too long");
        return l->fn(l->line, l->ud);
}

int index_lines(struct itree *t, bool lng, index_line_fn fn, void *ud, struct gear_err *e)
{
        struct lister *l = calloc(1, sizeof *l);
        int r;

        if (!l)
                return gear_err_sys(e, ENOMEM, "cannot list index");
        *l = (struct lister){ .lng = lng, .fn = fn, .ud = ud, .e = e };
        itree_walk(t, clear_first, NULL);
        r = itree_walk(t, line, l);
        free(l);
        if (r < 0 && !e->code)
                gear_err_sys(e, r == -ENOMEM ? ENOMEM : ENAMETOOLONG, "cannot list index");
        return r < 0 ? -1 : 0;
}
