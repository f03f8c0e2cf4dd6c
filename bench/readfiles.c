/*
 * readfiles ROUNDS LIST: open, read to the end and close every file named in
 * LIST (one path per line, relative to the working directory), ROUNDS times;
 * prints the seconds it took and the bytes it read. For bench/fs-read.sh.
 * readfiles -l LIST: the same once, printing the milliseconds of each file
 * (open to close), one a line. For bench/push.sh.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 20];

int main(int argc, char **argv)
{
        struct timespec a, b;
        char **paths = NULL, line[4096];
        size_t n = 0, cap = 0;
        unsigned long long bytes = 0;
        FILE *f;
        long rounds;

        bool each = argc == 3 && !strcmp(argv[1], "-l");

        if (argc != 3 || (!each && (rounds = strtol(argv[1], NULL, 10)) < 1) || !(f = fopen(argv[2], "r"))) {
                fprintf(stderr, "usage: readfiles ROUNDS LIST\n       readfiles -l LIST\n");
                return 100;
        }
        if (each)
                rounds = 1;
        while (fgets(line, sizeof line, f)) {
                line[strcspn(line, "\n")] = 0;
                if (n == cap && !(paths = realloc(paths, (cap = cap ? 2 * cap : 1024) * sizeof *paths)))
                        return 111;
                if (!(paths[n++] = strdup(line)))
                        return 111;
        }
        fclose(f);
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long r = 0; r < rounds; r++)
                for (size_t i = 0; i < n; i++) {
                        struct timespec c, d;
                        clock_gettime(CLOCK_MONOTONIC, &c);
                        int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
                        ssize_t k;
                        if (fd < 0) {
                                perror(paths[i]);
                                return 111;
                        }
                        while ((k = read(fd, buf, sizeof buf)) > 0)
                                bytes += k;
                        if (k < 0) {
                                perror(paths[i]);
                                return 111;
                        }
                        close(fd);
                        clock_gettime(CLOCK_MONOTONIC, &d);
                        if (each)
                                printf("%.3f\n", (d.tv_sec - c.tv_sec) * 1e3 + (d.tv_nsec - c.tv_nsec) / 1e6);
                }
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (!each)
                printf("%.6f %llu\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9, bytes);
        return 0;
}
