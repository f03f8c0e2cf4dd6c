/*
 * libFuzzer: the index layer parser, and listing and rewriting what it
 * accepts. An input starting with '@' is not a tar but lines
 * "TYPE NAME[\tLINK-OR-DIGEST]" made into one, so that the fuzzer reaches
 * deep into the parser without a seed corpus.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/asan_interface.h>

#include <archive.h>
#include <archive_entry.h>

#include "../common/image/image.h"
#include "../common/image/index.h"

static int drop(const char *line, void *ud)
{
        return 0;
}

/* the tar in memory; the capacity doubles, as ASan's realloc always copies, and the
 * buffer is kept from run to run: a fresh large one costs ASan an mmap, page faults and
 * an munmap every time, more than the rest of the run; what lies past the tar is
 * poisoned, so that a read beyond it is still caught */
struct buf {
        char *p;
        size_t n, cap;
};

static la_ssize_t grow(struct archive *a, void *ud, const void *data, size_t n)
{
        struct buf *b = ud;

        if (b->n + n > b->cap) {
                size_t cap = b->cap ? b->cap : 16384;
                char *q;

                while (cap < b->n + n)
                        cap *= 2;
                if (!(q = realloc(b->p, cap)))
                        return -1;
                b->p = q;
                b->cap = cap;
        }
        memcpy(b->p + b->n, data, n);
        b->n += n;
        return n;
}

static void add(struct archive *a, struct archive_entry *ent, char *line)
{
        static const char types[] = "fdlhcbp";
        static const mode_t modes[] = { AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFREG, AE_IFCHR, AE_IFBLK, AE_IFIFO };
        const char *t = strchr(types, line[0]);
        char *extra = strchr(line, '\t');

        if (!t || !line[0] || !line[1])
                return;
        if (extra)
                *extra++ = 0;
        archive_entry_clear(ent);
        archive_entry_set_pathname(ent, line + 1);
        archive_entry_set_filetype(ent, modes[t - types]);
        archive_entry_set_perm(ent, 0644);
        if (*t == 'l' && extra)
                archive_entry_set_symlink(ent, extra);
        if (*t == 'h' && extra)
                archive_entry_set_hardlink(ent, extra);
        if (*t == 'f' && extra) {
                archive_entry_xattr_add_entry(ent, INDEX_XATTR_DIGEST, extra, strlen(extra));
                archive_entry_xattr_add_entry(ent, INDEX_XATTR_SIZE, "1", 1);
        }
        archive_write_header(a, ent);
}

/* the '@' form: a pax tar made of the lines */
static char *make_tar(const uint8_t *data, size_t size, size_t *len)
{
        struct archive *a = archive_write_new();
        struct archive_entry *ent = archive_entry_new();
        static struct buf out;
        char *text = strndup((const char *)data + 1, size - 1), *save = NULL;

        archive_write_set_format_pax(a);
        archive_write_set_format_option(a, "pax", "xattrheader", "SCHILY");
        archive_write_set_bytes_in_last_block(a, 1);
        out.n = 0;
        ASAN_UNPOISON_MEMORY_REGION(out.p, out.cap);
        archive_write_open(a, &out, NULL, grow, NULL);
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                add(a, ent, line);
        archive_write_close(a);
        archive_write_free(a);
        archive_entry_free(ent);
        free(text);
        ASAN_POISON_MEMORY_REGION(out.p + out.n, out.cap - out.n);
        *len = out.n;
        return out.p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct gear_err e = {0};
        struct index_summary sum;
        struct itree *t = NULL, *again = NULL;
        char *made = NULL, *tar = NULL;
        size_t n;

        if (size > 0 && data[0] == '@') {
                if (!(made = make_tar(data, size, &size)))
                        return 0;
                data = (const uint8_t *)made;
        }
        if (index_parse(data, size, &t, &e) < 0) {
                if (e.code != GEAR_EXIT_USAGE && e.code != GEAR_EXIT_SYS)
                        abort();
                return 0;
        }
        index_lines(t, true, drop, NULL, &e);
        /* what was accepted writes out and reads back */
        if (index_write(t, &tar, &n, &sum, &e) == 0 && index_parse(tar, n, &again, &e) < 0)
                abort();
        free(tar);
        itree_free(again);
        itree_free(t);
        return 0;
}
