/* unit tests of the deployment planner in common/deploy/: geard's deployment_test.go cases; TAP on stdout */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/deploy/deploy.h"

#include "tap.h"

static const char *one_host[] = { "127.0.0.1" };
static const char *two_hosts[] = { "hosta", "hostb" };

static int parse(const char *json, struct deployment *d)
{
        struct gear_err e = {0};
        int r = deploy_parse(json, strlen(json), d, &e);

        if (r < 0)
                printf("# parse: %s\n", e.msg);
        return r;
}

/* plans json on hosts: 0, or -1 with the message in msg */
static int plan(const char *json, const char **hosts, size_t nhosts, struct deployment *next, size_t *nremoved,
                char *msg)
{
        struct deployment d;
        struct deploy_instance *removed = NULL;
        struct gear_err e = {0};
        int r;

        *msg = 0;
        *next = (struct deployment){0};
        *nremoved = 0;
        if (parse(json, &d) < 0)
                return -2;
        r = deploy_plan(&d, hosts, nhosts, next, &removed, nremoved, &e);
        if (r < 0)
                strcpy(msg, e.msg);
        deploy_instances_free(removed, *nremoved);
        deployment_done(&d);
        return r;
}

static void assign_ports(struct deployment *d)
{
        unsigned p = 10000;

        for (size_t i = 0; i < d->ninstances; i++)
                for (size_t j = 0; j < d->instances[i].nports; j++)
                        if (!d->instances[i].ports[j].external)
                                d->instances[i].ports[j].external = p++;
}

static bool all_links_assigned(const struct deployment *d)
{
        for (size_t i = 0; i < d->ninstances; i++)
                for (size_t j = 0; j < d->instances[i].nlinks; j++)
                        if (!d->instances[i].links[j].to_port)
                                return false;
        return true;
}

static const char web_db[] = "{\"containers\":[{\"name\":\"web\",\"count\":2,\"image\":\"pmorie/sti-html-app\","
                             "\"publicports\":[{\"internal\":8080,\"external\":0}]},"
                             "{\"name\":\"db\",\"count\":3,\"image\":\"pmorie/sti-db-app\"}]}";

static void test_prepare(void)
{
        struct deployment next;
        size_t nrm;
        char msg[1024];
        bool placed = true;

        ok(plan(web_db, NULL, 0, &next, &nrm, msg) == 0 && next.ninstances == 0, "no hosts: no error, nothing placed");
        deployment_done(&next);
        ok(plan(web_db, one_host, 1, &next, &nrm, msg) == 0 && next.ninstances == 5 && nrm == 0,
           "one host: 5 instances, none removed");
        for (size_t i = 0; i < next.ninstances; i++)
                placed = placed && !strcmp(next.instances[i].on, "127.0.0.1") && next.instances[i].add;
        ok(next.ninstances == 5 && placed, "every instance placed on the host and added");
        ok(next.ninstances == 5 && !strcmp(next.instances[0].id, "web-1") && !strcmp(next.instances[1].id, "web-2") &&
           !strcmp(next.instances[4].id, "db-3"), "ids NAME-N in the containers' order");
        deployment_done(&next);
}

static void test_external(void)
{
        struct deployment next;
        size_t nrm;
        char msg[1024];

        ok(plan("{\"containers\":[{\"name\":\"web\",\"count\":2,\"image\":\"pmorie/sti-html-app\","
                "\"publicports\":[{\"internal\":8080,\"external\":80}]}]}",
                one_host, 1, &next, &nrm, msg) == 0 && next.ninstances == 2 && next.instances[0].nports == 1 &&
           next.instances[0].ports[0].external == 80 && nrm == 0,
           "an external port is kept in the instances");
        deployment_done(&next);
}

static void test_remove_missing(void)
{
        struct deployment next;
        size_t nrm;
        char msg[1024];
        struct deployment d;
        struct deploy_instance *removed;
        struct gear_err e = {0};
        const char *json = "{\"containers\":[{\"name\":\"web\",\"count\":2,\"image\":\"pmorie/sti-html-app\"}],"
                           "\"instances\":[{\"id\":\"food\",\"from\":\"db\"}]}";

        ok(plan(json, one_host, 1, &next, &nrm, msg) == 0 && next.ninstances == 2 && nrm == 0,
           "an instance without a host is ignored");
        deployment_done(&next);
        if (parse(json, &d) < 0)
                return;
        strcpy(d.instances[0].on, "127.0.0.1");
        ok(deploy_plan(&d, one_host, 1, &next, &removed, &nrm, &e) == 0 && next.ninstances == 2 && nrm == 1 &&
           !strcmp(removed[0].from, "db"), "an instance of a container no longer there is removed");
        deploy_instances_free(removed, nrm);
        deployment_done(&next);
        deployment_done(&d);
}

static void test_errors(void)
{
        struct deployment next;
        size_t nrm;
        char msg[1024];
        const char *head = "{\"containers\":[{\"name\":\"web\",\"count\":2,\"image\":\"pmorie/sti-html-app\","
                           "\"publicports\":[{\"internal\":8080,\"external\":0}],\"links\":[";
        const char *db = "]},{\"name\":\"db\",\"count\":3,\"image\":\"pmorie/sti-db-app\"";
        char json[1024];

        snprintf(json, sizeof json, "%s{\"to\":\"web\"}%s}]}", head, db);
        ok(plan(json, one_host, 1, &next, &nrm, msg) == 0, "a container linked to itself");
        deployment_done(&next);
        snprintf(json, sizeof json, "%s{\"to\":\"web\",\"ports\":[8081]}%s}]}", head, db);
        ok(plan(json, one_host, 1, &next, &nrm, msg) < 0 &&
           !strcmp(msg, "target port 8081 on web is not found, cannot link from web"),
           "a link to a port the target does not publish: geard's message");
        snprintf(json, sizeof json, "%s{\"to\":\"db\"}%s}]}", head, db);
        ok(plan(json, one_host, 1, &next, &nrm, msg) < 0 &&
           !strcmp(msg, "target db has no public ports to link to from web"),
           "a link to a target without ports: geard's message");
        snprintf(json, sizeof json, "%s{\"to\":\"nodb\"}%s}]}", head, db);
        ok(plan(json, one_host, 1, &next, &nrm, msg) < 0 && !strcmp(msg, "target nodb not found for source web"),
           "a link to an unknown container: geard's message");
        snprintf(json, sizeof json, "%s{\"to\":\"db\"}%s,\"publicports\":[{\"internal\":27017}]}]}", head, db);
        ok(plan(json, one_host, 1, &next, &nrm, msg) == 0 && next.ninstances == 5 && next.instances[0].nlinks == 3 &&
           nrm == 0, "web-1 links to the 3 db instances");
        deployment_done(&next);
        snprintf(json, sizeof json, "%s{\"to\":\"db\"},{\"to\":\"web\"}%s,\"publicports\":[{\"internal\":27017}]}],"
                 "\"randomizeids\":true}", head, db);
        ok(plan(json, one_host, 1, &next, &nrm, msg) == 0 && next.ninstances == 5 && next.instances[0].nlinks == 5 &&
           strcmp(next.instances[0].id, "web-1") && id_valid(next.instances[0].id),
           "2 web links and 3 db links, random ids");
        deployment_done(&next);
}

static const char complex_deploy[] =
        "{\"containers\":[{\"name\":\"web\",\"count\":2,\"image\":\"pmorie/sti-html-app\","
        "\"publicports\":[{\"internal\":8080,\"external\":0}],\"links\":[{\"to\":\"web\"},{\"to\":\"db\"}]},"
        "{\"name\":\"db\",\"count\":3,\"image\":\"ccoleman/ubuntu-mongodb\","
        "\"publicports\":[{\"internal\":27017,\"external\":0}],\"links\":[{\"to\":\"db\"}]}]}";

static void test_interlink(void)
{
        struct deployment next;
        size_t nrm;
        char msg[1024];

        ok(plan(complex_deploy, one_host, 1, &next, &nrm, msg) == 0 && next.ninstances == 5, "complex: 5 instances");
        ok(next.ninstances && !all_links_assigned(&next), "the links' ports are unknown before the installs");
        assign_ports(&next);
        deploy_update_links(&next);
        ok(next.ninstances && all_links_assigned(&next), "every link gets its target's external port");
        deployment_done(&next);
}

static bool mongo_links_ok(const struct deployment *d)
{
        for (size_t i = 0; i < d->ninstances; i++) {
                const struct deploy_instance *in = &d->instances[i];

                if (!in->nlinks || strcmp(in->links[0].from_host, "192.168.1.1"))
                        return false;
                for (size_t j = 0; j < in->nlinks; j++) {
                        if (!in->links[j].to_port || in->links[j].from_port != in->links[0].from_port)
                                return false;
                        for (size_t k = 0; k < j; k++)
                                if (!strcmp(in->links[j].from_host, in->links[k].from_host))
                                        return false;
                }
        }
        return true;
}

static const char mongo_existing[] =
        "{\"Containers\":[{\"Name\":\"db\",\"Image\":\"openshift/ubuntu-mongodb-cluster\","
        "\"PublicPorts\":[{\"Internal\":27017}],\"Links\":[{\"To\":\"db\",\"NonLocal\":true,\"MatchPort\":true}],"
        "\"Count\":3}],\"Instances\":["
        "{\"Id\":\"db-1\",\"Image\":\"openshift/ubuntu-mongodb-cluster\",\"From\":\"db\",\"On\":\"127.0.0.1\","
        "\"Ports\":[{\"Internal\":27017,\"External\":4203,\"Target\":{\"Host\":\"192.168.1.1\",\"Port\":27017}}]},"
        "{\"Id\":\"db-2\",\"Image\":\"openshift/ubuntu-mongodb-cluster\",\"From\":\"db\",\"On\":\"127.0.0.1\","
        "\"Ports\":[{\"Internal\":27017,\"External\":4204,\"Target\":{\"Host\":\"192.168.1.2\",\"Port\":27017}}]},"
        "{\"Id\":\"db-3\",\"Image\":\"openshift/ubuntu-mongodb-cluster\",\"From\":\"db\",\"On\":\"127.0.0.1\","
        "\"Ports\":[{\"Internal\":27017,\"External\":4206,\"Target\":{\"Host\":\"192.168.1.3\",\"Port\":27017}}]}],"
        "\"IdPrefix\":\"\",\"RandomizeIds\":false}";

static void test_mongo(void)
{
        struct deployment next;
        size_t nrm;
        char msg[1024];

        ok(plan("{\"containers\":[{\"name\":\"db\",\"count\":3,\"image\":\"ccoleman/ubuntu-mongodb-repl\","
                "\"publicports\":[{\"internal\":27017,\"external\":0}],"
                "\"links\":[{\"to\":\"db\",\"nonlocal\":true,\"matchport\":true}]}]}",
                one_host, 1, &next, &nrm, msg) == 0 && next.ninstances == 3, "mongo: 3 instances");
        assign_ports(&next);
        deploy_update_links(&next);
        ok(next.ninstances == 3 && mongo_links_ok(&next), "mongo: non-local, same port, an address per instance from 192.168.1.1");
        deployment_done(&next);
        ok(plan(mongo_existing, one_host, 1, &next, &nrm, msg) == 0 && next.ninstances == 3 && nrm == 0 &&
           !next.instances[0].add, "mongo reloaded: the 3 instances stay");
        deploy_update_links(&next);
        ok(next.ninstances == 3 && mongo_links_ok(&next) && next.instances[0].nlinks == 3 &&
           next.instances[0].links[2].to_port == 4206 &&
           !strcmp(next.instances[2].links[2].from_host, "192.168.1.3"),
           "mongo reloaded: the links keep their addresses and reach the recorded ports");
        deployment_done(&next);
        ok(plan(mongo_existing, NULL, 0, &next, &nrm, msg) == 0 && next.ninstances == 0 && nrm == 3,
           "mongo without hosts: every instance removed");
        deployment_done(&next);
}

static void test_simple(void)
{
        struct deployment next, again;
        struct deploy_instance *removed = NULL;
        struct gear_err e = {0};
        size_t nrm;
        char msg[1024], *text;
        const struct deploy_ilink *l;

        ok(plan("{\"containers\":[{\"name\":\"web\",\"count\":2,\"image\":\"pmorie/sti-html-app\","
                "\"publicports\":[{\"internal\":8080,\"external\":0}],\"links\":[{\"to\":\"web\"}]}]}",
                one_host, 1, &next, &nrm, msg) == 0 && next.ninstances == 2 && next.instances[0].nlinks == 2,
           "simple: two web instances, each linked to both");
        if (next.ninstances != 2 || next.instances[0].nlinks != 2) {
                deployment_done(&next);
                return;
        }
        l = next.instances[0].links;
        ok(!strcmp(l[0].from_host, "127.0.0.1") && l[0].from_port == 8080 && !strcmp(l[0].target, "web-1") &&
           !strcmp(l[1].from_host, "127.0.0.1") && l[1].from_port == 8081 && !strcmp(l[1].target, "web-2") &&
           !strcmp(l[1].to_host, "127.0.0.1"), "simple: 127.0.0.1, the port bumped per instance");
        next.instances[0].ports[0].external = 4100;
        next.instances[1].ports[0].external = 4101;
        deploy_update_links(&next);
        ok(next.instances[0].links[1].to_port == 4101, "simple: the link to web-2 reaches its external port");
        text = deploy_format(&next);
        again = (struct deployment){0};
        ok(text && parse(text, &again) == 0 && again.ninstances == 2 &&
           !strcmp(again.instances[1].ports[0].target_host, "127.0.0.1") &&
           again.instances[1].ports[0].target_port == 8081 && again.instances[1].ports[0].external == 4101,
           "the written deployment reads back");
        free(text);
        deployment_done(&next);
        if (again.ncontainers != 1) {
                deployment_done(&again);
                return;
        }
        again.containers[0].count = 1;
        ok(deploy_plan(&again, one_host, 1, &next, &removed, &nrm, &e) == 0 && next.ninstances == 1 && nrm == 1 &&
           !strcmp(removed[0].id, "web-2") && !next.instances[0].add && next.instances[0].nlinks == 1 &&
           next.instances[0].links[0].from_port == 8080, "redeployed with Count 1: web-2 removed, web-1 kept");
        deploy_instances_free(removed, nrm);
        deployment_done(&next);
        again.containers[0].count = 3;
        ok(deploy_plan(&again, two_hosts, 2, &next, &removed, &nrm, &e) == 0 && nrm == 2 && next.ninstances == 3 &&
           !strcmp(next.instances[0].id, "web-1") && !strcmp(next.instances[0].on, "hosta") &&
           !strcmp(next.instances[1].on, "hostb") && !strcmp(next.instances[2].on, "hosta") &&
           next.instances[2].links[0].from_port == 8080,
           "round robin over two hosts; the instances on a host not given are removed");
        deploy_instances_free(removed, nrm);
        deployment_done(&next);
        deployment_done(&again);
}

static void test_ordering(void)
{
        struct deployment next;
        size_t nrm;
        char msg[1024];
        const struct deploy_ilink *l;

        /* a's plain link comes first in the file, b's MatchPort link is resolved first */
        ok(plan("{\"containers\":[{\"name\":\"a\",\"count\":1,\"image\":\"img\",\"links\":[{\"to\":\"b\"}]},"
                "{\"name\":\"b\",\"count\":2,\"image\":\"img\",\"publicports\":[{\"internal\":9000}],"
                "\"links\":[{\"to\":\"b\",\"matchport\":true}]}],\"idprefix\":\"pre\"}",
                one_host, 1, &next, &nrm, msg) == 0 && next.ninstances == 3, "ordering: planned");
        l = next.ninstances ? next.instances[0].links : NULL;
        ok(l && !strcmp(next.instances[0].id, "prea-1") && next.instances[0].nlinks == 2 &&
           !strcmp(l[0].from_host, "127.0.0.1") && l[0].from_port == 9000 && !strcmp(l[1].from_host, "127.0.0.2") &&
           l[1].from_port == 9000, "ordering: the MatchPort link reserves first, the plain link shares it");
        deployment_done(&next);
        ok(plan("{\"containers\":[{\"name\":\"a\",\"count\":1,\"image\":\"img\","
                "\"links\":[{\"to\":\"b\",\"aliasports\":[{\"internal\":9000,\"external\":7000}]}]},"
                "{\"name\":\"b\",\"count\":2,\"image\":\"img\",\"publicports\":[{\"internal\":9000}]}],\"idprefix\":\"p-\"}",
                one_host, 1, &next, &nrm, msg) == 0 && next.instances[0].nlinks == 2 &&
           !strcmp(next.instances[0].links[1].from_host, "127.0.0.2") &&
           next.instances[0].links[1].from_port == 7000, "an alias port: that port on addresses of their own");
        deployment_done(&next);
        ok(plan("{\"containers\":[{\"name\":\"a\",\"count\":1,\"image\":\"img\"}]}", one_host, 1, &next, &nrm,
                msg) < 0 && !strcmp(msg, "invalid identifier 'a-1' for an instance of a"),
           "an id too short for gear: refused");
}

static void test_reservation(void)
{
        struct deployment next;
        size_t nrm;
        char msg[1024];
        const char *fmt = "{\"containers\":[{\"name\":\"web\",\"count\":2,\"image\":\"img\","
                          "\"publicports\":[{\"internal\":8080}],\"links\":[{\"to\":\"web\"%s}]}],\"instances\":["
                          "{\"id\":\"web-1\",\"from\":\"web\",\"on\":\"127.0.0.1\",\"image\":\"img\",\"ports\":"
                          "[{\"internal\":8080,\"external\":4000,\"target\":{\"host\":\"127.0.0.1\",\"port\":8081}}]},"
                          "{\"id\":\"web-2\",\"from\":\"web\",\"on\":\"127.0.0.1\",\"image\":\"img\",\"ports\":"
                          "[{\"internal\":8080,\"external\":4001,\"target\":{\"host\":\"127.0.0.1\",\"port\":%d}}]}]}";
        char json[2048];

        snprintf(json, sizeof json, fmt, "", 8080);
        ok(plan(json, one_host, 1, &next, &nrm, msg) == 0 && next.instances[0].nlinks == 2 &&
           next.instances[0].links[0].from_port == 8081 &&
           next.instances[0].links[1].from_port == 8080, "reserved ports of an earlier run are kept");
        deployment_done(&next);
        snprintf(json, sizeof json, fmt, "", 8081);
        ok(plan(json, one_host, 1, &next, &nrm, msg) < 0 &&
           !strcmp(msg, "the port 127.0.0.1:8081 is assigned to multiple instances (last: web-2)"),
           "a port reserved twice: geard's message");
        snprintf(json, sizeof json, fmt, ",\"matchport\":true", 8080);
        ok(plan(json, one_host, 1, &next, &nrm, msg) < 0 &&
           strstr(msg, "the internal and shared ports are not the same for an instance web-1 on link web-web"),
           "MatchPort over a bumped port: geard's message");
        snprintf(json, sizeof json, fmt, ",\"nonlocal\":true", 8080);
        ok(plan(json, one_host, 1, &next, &nrm, msg) < 0 &&
           strstr(msg, "a local host IP is already bound to non-local link web-web"),
           "NonLocal over a loopback address: geard's message");
}

static void parse_fails(const char *json, const char *want, const char *what)
{
        struct deployment d;
        struct gear_err e = {0};
        int r = deploy_parse(json, strlen(json), &d, &e);

        ok(r < 0 && e.code == GEAR_EXIT_USAGE && strstr(e.msg, want), what);
        if (r < 0 && !strstr(e.msg, want))
                printf("# got: %s\n", e.msg);
        if (r == 0)
                deployment_done(&d);
}

static void test_parse(void)
{
        struct deployment d;

        ok(parse("{\"CONTAINERS\":[{\"nAmE\":\"web\",\"image\":\"img\",\"Count\":1}],\"idPREFIX\":\"x\"}", &d) == 0 &&
           d.ncontainers == 1 && !strcmp(d.containers[0].name, "web") && d.containers[0].count == 1 &&
           !strcmp(d.id_prefix, "x"), "keys match case-insensitively, as Go's encoding/json");
        deployment_done(&d);
        ok(parse("{\"Containers\":null,\"Instances\":[]}", &d) == 0 && !d.ncontainers, "null leaves a field empty");
        deployment_done(&d);
        parse_fails("{\"Containers\":[],\"Hosts\":[]}", "unknown field 'Hosts' in the deployment",
                    "an unknown top-level field");
        parse_fails("{\"Containers\":[{\"Name\":\"web\",\"Image\":\"i\",\"Cuont\":2}]}",
                    "unknown field 'Cuont' in container 'web'", "an unknown field of a container");
        parse_fails("{\"Containers\":[{\"Name\":\"../x\",\"Image\":\"i\"}]}", "invalid Name '../x'", "an invalid name");
        parse_fails("{\"Containers\":[{\"Name\":\"web\",\"Image\":\"-x y\"}]}", "invalid Image '-x y'",
                    "an invalid image");
        parse_fails("{\"Containers\":[{\"Name\":\"web\"}]}", "missing Image in container 'web'", "no image");
        parse_fails("{\"Containers\":[{\"Name\":\"web\",\"Image\":\"i\",\"PublicPorts\":[{\"Internal\":70000}]}]}",
                    "invalid Internal", "a port out of range");
        parse_fails("{\"Containers\":[{\"Name\":\"web\",\"Image\":\"i\",\"Count\":-1}]}", "invalid Count",
                    "a negative count");
        parse_fails("{\"Containers\":[{\"Name\":\"w\",\"Image\":\"i\"},{\"Name\":\"w\",\"Image\":\"j\"}]}",
                    "container 'w' given twice", "a container twice");
        parse_fails("{\"Containers\":[], \"containers\":[]}", "given twice", "a field twice in two cases");
        parse_fails("{\"Instances\":[{\"Id\":\"a/b\"}]}", "invalid Id", "an invalid instance id");
        parse_fails("[1]", "the deployment is not an object", "not an object");
        parse_fails("{\"Containers\":", "invalid JSON", "truncated JSON");
        parse_fails("{\"Containers\":[{\"Name\":\"web\",\"Image\":\"i\",\"Environment\":{\"Variables\":"
                    "[{\"Name\":\"A B\",\"Value\":\"x\"}]}}]}", "invalid variable 'A B'", "an invalid variable name");
}

int main(void)
{
        test_prepare();
        test_external();
        test_remove_missing();
        test_errors();
        test_interlink();
        test_mongo();
        test_simple();
        test_ordering();
        test_reservation();
        test_parse();
        printf("1..%d\n", count);
        return failed != 0;
}
