/* opening a library on first use and resolving its symbols */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "dl.h"

/* pthread_once runs a function without arguments: the library being opened */
static __thread struct dl_lib *opening;

static void dl_open_once(void)
{
        struct dl_lib *l = opening;
        void *h = dlopen(l->soname, RTLD_NOW | RTLD_NODELETE);

        if (!h) {
                snprintf(l->error, sizeof l->error, "%s", dlerror());
                return;
        }
        for (size_t i = 0; i < l->n; i++) {
                void *f = dlsym(h, l->syms[i].name);
                if (!f) {
                        snprintf(l->error, sizeof l->error, "%s has no '%s'", l->soname, l->syms[i].name);
                        for (size_t k = 0; k < i; k++)
                                *l->syms[k].fn = NULL;
                        dlclose(h);
                        return;
                }
                *l->syms[i].fn = f;
        }
}

int dl_open(struct dl_lib *l, struct gear_err *e)
{
        opening = l;
        pthread_once(&l->once, dl_open_once);
        if (l->error[0])
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot load %s: %s", l->soname, l->error);
        return 0;
}
