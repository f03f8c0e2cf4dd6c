/*
 * Registry token auth: a registry answers 401 with a Bearer challenge; the
 * realm it names gives a token for the scope (anonymously or for the
 * credentials of the auth file), which then goes to the registry. Tokens
 * are cached per scope until shortly before they expire.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "registry-token.h"
#include "../base/dl-curl.h"
#include "../base/fsutil.h"

/* a token answer: a JSON object with a token of a few KB */
#define TOKEN_ANSWER_MAX (1u << 20)
#define TOKEN_CACHE_MAX 16
/* a token is not used in its last seconds: a request may take that long to arrive */
#define TOKEN_MARGIN 10

struct token_entry {
        char *scope, *token;
        time_t expires; /* CLOCK_MONOTONIC seconds */
};

struct token_cache {
        pthread_mutex_t lock;
        pthread_mutex_t fetch; /* one token request at a time: threads that meet the same challenge share its answer */
        struct token_entry v[TOKEN_CACHE_MAX];
        size_t n;
};

static time_t now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec;
}

/* one key="value" or key=token of a challenge from *p; false at its end or on nonsense */
static bool next_param(const char **p, char *key, size_t nk, char *val, size_t nv)
{
        const char *s = *p;
        size_t k = 0, v = 0;

        while (*s == ' ' || *s == '\t' || *s == ',')
                s++;
        if (!*s)
                return false;
        while (*s && *s != '=' && *s != ' ' && *s != ',')
                if (k + 1 < nk)
                        key[k++] = tolower((unsigned char)*s++);
                else
                        return false;
        key[k] = 0;
        if (*s++ != '=' || !k)
                return false;
        if (*s == '"') {
                for (s++; *s && *s != '"'; s++) {
                        if (*s == '\\' && s[1])
                                s++;
                        if (v + 1 >= nv)
                                return false;
                        val[v++] = *s;
                }
                if (*s++ != '"')
                        return false;
        } else
                while (*s && *s != ',' && *s != ' ')
                        if (v + 1 < nv)
                                val[v++] = *s++;
                        else
                                return false;
        val[v] = 0;
        *p = s;
        return true;
}

bool bearer_parse(const char *h, struct bearer_challenge *c)
{
        char key[32], val[1024];

        memset(c, 0, sizeof *c);
        while (*h == ' ' || *h == '\t')
                h++;
        if (strncasecmp(h, "bearer", 6) || (h[6] != ' ' && h[6] != '\t'))
                return false;
        h += 7;
        while (next_param(&h, key, sizeof key, val, sizeof val)) {
                if (!strcmp(key, "realm"))
                        snprintf(c->realm, sizeof c->realm, "%s", val);
                else if (!strcmp(key, "service"))
                        snprintf(c->service, sizeof c->service, "%s", val);
                else if (!strcmp(key, "scope"))
                        snprintf(c->scope, sizeof c->scope, "%s", val);
        }
        return c->realm[0] != 0;
}

static int str_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* scope with the actions of "TYPE:NAME:A,B" sorted: "push,pull" and "pull,push" are one scope */
static void scope_key(const char *scope, char *out, size_t n)
{
        char acts[1024], *v[16], *save = NULL, *p;
        const char *colon = strrchr(scope, ':');
        size_t k = 0, len;

        snprintf(out, n, "%s", scope);
        if (!colon || strlen(colon + 1) >= sizeof acts)
                return;
        snprintf(acts, sizeof acts, "%s", colon + 1);
        for (p = strtok_r(acts, ",", &save); p && k < ELEMENTSOF(v); p = strtok_r(NULL, ",", &save))
                v[k++] = p;
        if (p)
                return;
        qsort(v, k, sizeof *v, str_cmp);
        len = colon + 1 - scope;
        if (len >= n)
                return;
        out[len] = 0;
        for (size_t i = 0; i < k; i++) {
                size_t l = strlen(out);
                snprintf(out + l, n - l, "%s%s", i ? "," : "", v[i]);
        }
}

struct token_cache *token_cache_new(void)
{
        struct token_cache *tc = calloc(1, sizeof *tc);

        if (tc) {
                pthread_mutex_init(&tc->lock, NULL);
                pthread_mutex_init(&tc->fetch, NULL);
        }
        return tc;
}

static void entry_clear(struct token_entry *t)
{
        free(t->scope);
        if (t->token)
                explicit_bzero(t->token, strlen(t->token));
        free(t->token);
        memset(t, 0, sizeof *t);
}

void token_cache_free(struct token_cache *tc)
{
        if (!tc)
                return;
        for (size_t i = 0; i < tc->n; i++)
                entry_clear(&tc->v[i]);
        pthread_mutex_destroy(&tc->lock);
        pthread_mutex_destroy(&tc->fetch);
        free(tc);
}

char *token_cached(struct token_cache *tc, const char *scope_in)
{
        char *t = NULL, scope[1100];

        scope_key(scope_in, scope, sizeof scope);
        pthread_mutex_lock(&tc->lock);
        for (size_t i = 0; i < tc->n; i++)
                if (!strcmp(tc->v[i].scope, scope) && tc->v[i].expires > now()) {
                        t = strdup(tc->v[i].token);
                        break;
                }
        pthread_mutex_unlock(&tc->lock);
        return t;
}

void token_forget(struct token_cache *tc, const char *scope_in)
{
        char scope[1100];

        scope_key(scope_in, scope, sizeof scope);
        pthread_mutex_lock(&tc->lock);
        for (size_t i = 0; i < tc->n; i++)
                if (!strcmp(tc->v[i].scope, scope))
                        tc->v[i].expires = 0;
        pthread_mutex_unlock(&tc->lock);
}

static void cache_put(struct token_cache *tc, const char *scope_in, const char *token, long life)
{
        struct token_entry *t = NULL;
        char scope[1100];

        scope_key(scope_in, scope, sizeof scope);
        pthread_mutex_lock(&tc->lock);
        for (size_t i = 0; i < tc->n && !t; i++)
                if (!strcmp(tc->v[i].scope, scope))
                        t = &tc->v[i];
        if (!t)
                t = tc->n < TOKEN_CACHE_MAX ? &tc->v[tc->n++] : &tc->v[0];
        entry_clear(t);
        t->scope = strdup(scope);
        t->token = strdup(token);
        t->expires = now() + life - TOKEN_MARGIN;
        if (!t->scope || !t->token)
                t->expires = 0;
        if (!t->scope)
                t->scope = strdup("");
        pthread_mutex_unlock(&tc->lock);
}

struct answer {
        char *buf;
        size_t n;
        bool too_big;
};

static size_t answer_cb(char *p, size_t size, size_t nmemb, void *ud)
{
        struct answer *a = ud;
        size_t n = size * nmemb;

        if (n > TOKEN_ANSWER_MAX - a->n) {
                a->too_big = true;
                return 0;
        }
        return mem_append(&a->buf, &a->n, p, n) < 0 ? 0 : n;
}

/* realm?service=...&scope=..., each value URL-encoded; https (or http when https is false) only. Free with curl_free */
static char *token_url(const struct bearer_challenge *c, bool https)
{
        CURLU *u = sym_curl_url();
        char *scheme = NULL, *out = NULL, q[1400];
        bool ok = false;

        if (u && sym_curl_url_set(u, CURLUPART_URL, c->realm, 0) == CURLUE_OK &&
            sym_curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            (!strcmp(scheme, "https") || (!https && !strcmp(scheme, "http")))) {
                ok = true;
                if (c->service[0]) {
                        snprintf(q, sizeof q, "service=%s", c->service);
                        ok = sym_curl_url_set(u, CURLUPART_QUERY, q, CURLU_APPENDQUERY | CURLU_URLENCODE) == CURLUE_OK;
                }
                if (ok && c->scope[0]) {
                        snprintf(q, sizeof q, "scope=%s", c->scope);
                        ok = sym_curl_url_set(u, CURLUPART_QUERY, q, CURLU_APPENDQUERY | CURLU_URLENCODE) == CURLUE_OK;
                }
        }
        if (!ok || sym_curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
                out = NULL;
        sym_curl_free(scheme);
        sym_curl_url_cleanup(u);
        return out;
}

static int token_fetch(struct token_cache *tc, const struct bearer_challenge *c, const struct token_opts *o,
                       char **token, struct gear_err *e);

int token_get(struct token_cache *tc, const struct bearer_challenge *c, const struct token_opts *o, char **token,
              struct gear_err *e)
{
        int r;

        pthread_mutex_lock(&tc->fetch);
        r = token_fetch(tc, c, o, token, e);
        pthread_mutex_unlock(&tc->fetch);
        return r;
}

static int token_fetch(struct token_cache *tc, const struct bearer_challenge *c, const struct token_opts *o,
                       char **token, struct gear_err *e)
{
        struct answer a = {0};
        char *url;
        CURL *h;
        CURLcode rc;
        long status = 0, life = 60;
        json_error_t je;
        json_t *j = NULL, *exp;
        const char *t;
        int r = -1;

        if ((*token = token_cached(tc, c->scope)))
                return 0;
        if (!(url = token_url(c, o->https)))
                return gear_err_set(e, GEAR_EXIT_SYS, "invalid token realm '%.200s'%s", c->realm,
                                    o->https ? ": want https" : "");
        if (!(h = sym_curl_easy_init())) {
                sym_curl_free(url);
                return gear_err_set(e, GEAR_EXIT_SYS, "cannot create a curl handle");
        }
        sym_curl_easy_setopt(h, CURLOPT_URL, url);
        sym_curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        sym_curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, o->connect_timeout);
        sym_curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)FETCH_MIN_SPEED);
        sym_curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->stall_timeout);
        sym_curl_easy_setopt(h, CURLOPT_TIMEOUT, fetch_deadline(o->stall_timeout, TOKEN_ANSWER_MAX));
        sym_curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        sym_curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        sym_curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        sym_curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        sym_curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)TOKEN_ANSWER_MAX);
        if (o->userpwd) {
                sym_curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                sym_curl_easy_setopt(h, CURLOPT_USERPWD, o->userpwd);
        }
        sym_curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, answer_cb);
        sym_curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
        rc = sym_curl_easy_perform(h);
        sym_curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK) {
                gear_err_set(e, GEAR_EXIT_SYS, "token from '%.200s': %s", c->realm,
                             a.too_big ? "the answer is too large" : sym_curl_easy_strerror(rc));
                goto out;
        }
        if (status == 401 || status == 403) {
                gear_err_set(e, GEAR_EXIT_SYS, "token from '%.200s': not authorized (HTTP %ld)", c->realm, status);
                goto out;
        }
        if (status != 200) {
                gear_err_set(e, GEAR_EXIT_SYS, "token from '%.200s': HTTP %ld", c->realm, status);
                goto out;
        }
        j = a.buf ? json_loadb(a.buf, a.n, 0, &je) : NULL;
        t = json_string_value(json_object_get(j, "token"));
        if (!t || !*t)
                t = json_string_value(json_object_get(j, "access_token"));
        /* a token goes into an Authorization header: nothing that could end it */
        if (!t || !*t || strlen(t) > 64 * 1024 || strcspn(t, "\r\n\t ") != strlen(t)) {
                gear_err_set(e, GEAR_EXIT_SYS, "token from '%.200s': no token in the answer", c->realm);
                goto out;
        }
        exp = json_object_get(j, "expires_in");
        if (json_is_integer(exp) && json_integer_value(exp) > 0)
                life = json_integer_value(exp) > 86400 ? 86400 : (long)json_integer_value(exp);
        /* shorter lives than the margin are used at once and not kept */
        if (life > TOKEN_MARGIN)
                cache_put(tc, c->scope, t, life);
        if (!(*token = strdup(t))) {
                gear_err_sys(e, ENOMEM, "cannot keep the token");
                goto out;
        }
        r = 0;
out:
        json_decref(j);
        if (a.buf)
                explicit_bzero(a.buf, a.n);
        free(a.buf);
        sym_curl_easy_cleanup(h);
        sym_curl_free(url);
        return r;
}
