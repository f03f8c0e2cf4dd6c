/*
 * residency [-p] < LIST: of the files named in LIST (one path per line), the
 * pages in the page cache (mincore(2)), and what fetching them would cost:
 * for each slice size (4, 16, 64, 256 and 1024 KiB), the bytes of the slices
 * that hold a resident page, and those slices compressed one after the other
 * in file order as one zstd stream (level 19, long-distance matching over a
 * 128 MiB window): the floor of any fetch at that granularity, with the
 * store's compression, and no index. For bench/start-reads.sh. -p also prints
 * each file with a resident page: its resident MB and its size.
 * Build: cc -O2 -o residency residency.c -lzstd
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define PAGE 4096u
#define NG 5

static const unsigned slices[NG] = { 1, 4, 16, 64, 256 }; /* in pages */
static ZSTD_CCtx *cc[NG];
static unsigned long long raw[NG], packed[NG], resident;
static unsigned char out[1 << 17];

static void feed(int g, const void *p, size_t n, ZSTD_EndDirective end)
{
        ZSTD_inBuffer in = { p, n, 0 };
        size_t left;

        do {
                ZSTD_outBuffer o = { out, sizeof out, 0 };
                left = ZSTD_compressStream2(cc[g], &o, &in, end);
                if (ZSTD_isError(left)) {
                        fprintf(stderr, "residency: zstd: %s\n", ZSTD_getErrorName(left));
                        exit(1);
                }
                packed[g] += o.pos;
        } while (in.pos < in.size || (end == ZSTD_e_end && left));
}

int main(int argc, char **argv)
{
        int each = argc == 2 && !strcmp(argv[1], "-p");
        char path[4096];

        if (argc > 2 || (argc == 2 && !each)) {
                fprintf(stderr, "usage: residency [-p] < LIST\n");
                return 2;
        }
        for (int g = 0; g < NG; g++) {
                cc[g] = ZSTD_createCCtx();
                ZSTD_CCtx_setParameter(cc[g], ZSTD_c_compressionLevel, 19);
                ZSTD_CCtx_setParameter(cc[g], ZSTD_c_enableLongDistanceMatching, 1);
                ZSTD_CCtx_setParameter(cc[g], ZSTD_c_windowLog, 27);
        }
        while (fgets(path, sizeof path, stdin)) {
                struct stat st;
                unsigned char *v, *map;
                size_t np, res = 0;
                int fd;

                path[strcspn(path, "\n")] = 0;
                if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0 ||
                    !S_ISREG(st.st_mode) || !st.st_size) {
                        if (fd >= 0)
                                close(fd);
                        continue;
                }
                np = (st.st_size + PAGE - 1) / PAGE;
                map = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
                close(fd);
                if (map == MAP_FAILED || !(v = malloc(np)) || mincore(map, st.st_size, v) < 0) {
                        fprintf(stderr, "residency: %s: cannot map it\n", path);
                        return 1;
                }
                for (size_t i = 0; i < np; i++)
                        res += v[i] & 1;
                /* reading the bytes below brings no page in: only slices with a resident page are read */
                for (int g = 0; res && g < NG; g++)
                        for (size_t i = 0; i < np; i += slices[g]) {
                                size_t j, end = i + slices[g] < np ? i + slices[g] : np, n;
                                for (j = i; j < end && !(v[j] & 1); j++)
                                        ;
                                if (j == end)
                                        continue;
                                n = (end * PAGE < (size_t)st.st_size ? end * PAGE : (size_t)st.st_size) - i * PAGE;
                                raw[g] += n;
                                feed(g, map + i * PAGE, n, ZSTD_e_continue);
                        }
                if (each && res)
                        printf("file\t%.2f\t%.2f\t%s\n", res * PAGE / 1e6, st.st_size / 1e6, path);
                resident += res * PAGE;
                munmap(map, st.st_size);
                free(v);
        }
        for (int g = 0; g < NG; g++) {
                feed(g, "", 0, ZSTD_e_end);
                printf("slice\t%u\t%.2f\t%.2f\n", slices[g] * PAGE / 1024, raw[g] / 1e6, packed[g] / 1e6);
                ZSTD_freeCCtx(cc[g]);
        }
        printf("resident\t%.2f\n", resident / 1e6);
        return 0;
}
