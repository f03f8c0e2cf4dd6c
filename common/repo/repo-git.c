/* libgit2, set up once for repo/ */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "repo-git.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int setup_error;

static void setup(void)
{
        static const int levels[] = {
                GIT_CONFIG_LEVEL_PROGRAMDATA, GIT_CONFIG_LEVEL_SYSTEM, GIT_CONFIG_LEVEL_XDG,
                GIT_CONFIG_LEVEL_GLOBAL,
        };

        if (sym_git_libgit2_init() < 0) {
                setup_error = 1;
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(levels); i++)
                if (sym_git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, levels[i], "") < 0)
                        setup_error = 1;
        if (sym_git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0) < 0)
                setup_error = 1;
}

int repo_git_ready(struct gear_err *e)
{
        if (dl_git2(e) < 0)
                return -1;
        pthread_once(&once, setup);
        if (setup_error)
                return repo_git_fail(e, GEAR_EXIT_SYS, "cannot set up libgit2");
        return 0;
}

int repo_git_fail(struct gear_err *e, int code, const char *fmt, ...)
{
        const git_error *ge = sym_git_error_last();
        char msg[sizeof e->msg];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (ge && ge->message)
                return gear_err_set(e, code, "%s: %s", msg, ge->message);
        return gear_err_set(e, code, "%s", msg);
}

int repo_git_open(git_repository **repo, const char *path, struct gear_err *e)
{
        unsigned flags = GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE | GIT_REPOSITORY_OPEN_NO_DOTGIT;

        if (sym_git_repository_open_ext(repo, path, flags, NULL) < 0)
                return repo_git_fail(e, GEAR_EXIT_SYS, "cannot open repository '%s'", path);
        return 0;
}
