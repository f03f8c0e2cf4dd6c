#!/usr/bin/env python3
# bench/tree-check.py [--final] [--age-temps] [--store SYSROOT]... [--ignore-id ID]...
#
# Compares the trees under $GEAR_SYSROOT (the container tree, the unit
# directory, the image tree) and the directory stores given (each a sysroot
# whose var/lib/gear is the store) with what gear-fsck, gear-ports check and
# gear-clean --dry-run report: every file must be valid data or reported by
# one of them, and they must exit as documented. Prints one line per
# inconsistency ("inconsistent: ...") and exits 1 when there is one.
#
#   --age-temps  first backdate the mtime of every temporary file nobody
#                holds, as if the minute gear-clean waits for had passed
#   --final      after a repair: the tools must report nothing at all
#   --ignore-id  a container that some process is still installing or
#                deleting (load tests): its unit may be half written
#
# Valid data: a unit that is a hard link to one of its versions, with its
# versions, idle flag and port links (each listed by the unit) and its link
# in the unit directory; environment files (0600); targets, slices, locks;
# objects and images that gear-fsck passes; public/ contents whose SHA-256
# is their name; the gear-fs units in the unit directory. Reports accepted
# after a kill: stale temporary files and directories (fsck, clean), port
# links of containers that do not exist or do not list them (gone,
# mismatch), access and keys of containers that do not exist.
import fcntl
import hashlib
import os
import re
import stat
import subprocess
import sys
import time

HEX = re.compile(r"^[0-9a-f]+$")
TMP = ".gear-tmp."
bad = []


def inconsistent(msg):
    bad.append(msg)


def run(args, root, ok=(0,)):
    env = dict(os.environ, GEAR_SYSROOT=root)
    p = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.decode("utf-8", "surrogateescape")
    if p.returncode not in ok:
        inconsistent("%s exited %d (documented: %s): %s" % (" ".join(args), p.returncode,
                     "/".join(map(str, ok)), p.stderr.decode("utf-8", "replace").strip()[:300]))
    return [l.split("\t") for l in out.splitlines() if l]


def held(path):
    """a temporary file some process holds (flock) is in use, not stale"""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def lexists(p):
    return os.path.lexists(p)


def age_temps(top):
    old = time.time() - 3600
    for d, dirs, files in os.walk(top):
        if d.endswith("/storage") or "/storage/" in d:
            dirs[:] = []
            continue
        for f in files + [x for x in dirs if x.startswith(TMP)]:
            p = os.path.join(d, f)
            if f.startswith(TMP) and not os.path.islink(p) and not held(p):
                try:
                    os.utime(p, (old, old), follow_symlinks=False)
                except OSError:
                    pass


def sha256_file(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


class Reports:
    def __init__(self, sysroot, image_only=False):
        self.root = sysroot
        self.img = os.path.join(sysroot, "var/lib/gear")
        self.ctr = os.path.join(sysroot, "var/lib/containers")
        self.fsck = run(["gear-fsck", "-q"], sysroot, (0, 1))
        self.ports = [] if image_only else run(["gear-ports", "check"], sysroot, (0, 1))
        self.clean = run(["gear-clean", "--dry-run"], sysroot)
        self.stale = set()       # absolute paths fsck calls stale
        self.clean_paths = {}    # absolute path -> kind
        self.port_problems = {}  # port -> (id, problem)
        for l in self.fsck:
            if l[0] == "stale" and len(l) >= 2:
                self.stale.add(os.path.join(self.img, l[1]))
            else:
                inconsistent("gear-fsck reports %s" % " ".join(l))
        for l in self.ports:
            if len(l) >= 3 and l[2] in ("gone", "mismatch"):
                self.port_problems[int(l[0])] = (l[1], l[2])
            else:
                inconsistent("gear-ports check reports %s" % " ".join(l))
        for l in self.clean:
            if len(l) == 2 and l[0] in ("temp", "port", "access", "key", "unit", "install"):
                self.clean_paths[l[1]] = l[0]
            else:
                inconsistent("gear-clean --dry-run prints %s" % " ".join(l))

    def lines(self):
        return (["gear-fsck: " + " ".join(l) for l in self.fsck] +
                ["gear-ports check: " + " ".join(l) for l in self.ports] +
                ["gear-clean --dry-run: " + " ".join(l) for l in self.clean])

    def explained_temp(self, p):
        if held(p):
            return True
        return self.clean_paths.get(p) == "temp" or p in self.stale


def unit_meta(path):
    ports = set()
    cid = None
    try:
        with open(path, errors="surrogateescape") as f:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("X-PortMapping="):
                    try:
                        ports.add(int(line.split(":")[-1]))
                    except ValueError:
                        pass
                elif line.startswith("X-ContainerId="):
                    cid = line.split("=", 1)[1]
    except OSError:
        return None, set()
    return cid, ports


def check_container_tree(r, ignore):
    C = r.ctr
    if not os.path.isdir(C):
        return {}
    containers = {}  # id -> set of ports
    units = os.path.join(C, "units")
    for ab in sorted(os.listdir(units)) if os.path.isdir(units) else []:
        d = os.path.join(units, ab)
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if name == ".lock":
                continue
            if name.startswith(TMP):
                if not r.explained_temp(p):
                    inconsistent("unexplained temporary file %s" % p)
                continue
            m = re.match(r"^ctr-(.+)\.service$", name)
            if m:
                cid = m.group(1)
                st = os.lstat(p)
                vd = os.path.join(d, cid)
                inodes = set()
                if os.path.isdir(vd):
                    for v in os.listdir(vd):
                        if not v.startswith("."):
                            inodes.add(os.lstat(os.path.join(vd, v)).st_ino)
                if not stat.S_ISREG(st.st_mode) or st.st_ino not in inodes:
                    if cid not in ignore:
                        inconsistent("unit %s is not a hard link to one of its versions" % p)
                got, ports = unit_meta(p)
                if got != cid and cid not in ignore:
                    inconsistent("unit %s says X-ContainerId=%s" % (p, got))
                containers[cid] = ports
    for ab in sorted(os.listdir(units)) if os.path.isdir(units) else []:
        d = os.path.join(units, ab)
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if name == ".lock" or name.startswith(TMP) or re.match(r"^ctr-.+\.service$", name):
                continue
            m = re.match(r"^ctr-(.+)\.idle$", name)
            cid = m.group(1) if m else name
            if cid in containers or cid in ignore:
                continue
            if r.clean_paths.get(p) in ("unit", "install"):
                continue
            inconsistent("unexplained %s of container %s, which does not exist" %
                         ("idle flag" if m else "versions directory " + p, cid))
    # environment files: data in their own right (shared ones have no container)
    envd = os.path.join(C, "env/contents")
    for d, dirs, files in os.walk(envd):
        for f in files:
            p = os.path.join(d, f)
            if f.startswith(TMP):
                if not r.explained_temp(p):
                    inconsistent("unexplained temporary file %s" % p)
            elif stat.S_IMODE(os.lstat(p).st_mode) != 0o600:
                inconsistent("environment file %s has mode %o" % (p, stat.S_IMODE(os.lstat(p).st_mode)))
    # port links
    owners = {}
    pdir = os.path.join(C, "ports/interfaces/1")
    for d, dirs, files in os.walk(pdir):
        for f in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            p = os.path.join(d, f)
            if f.startswith(TMP):
                if not r.explained_temp(p):
                    inconsistent("unexplained temporary file %s" % p)
                continue
            try:
                port = int(f)
                target = os.readlink(p)
            except (ValueError, OSError):
                inconsistent("unexplained file %s among the port links" % p)
                continue
            m = re.match(r"^\.\./\.\./\.\./\.\./units/(..)/ctr-(.+)\.service$", target)
            cid = m.group(2) if m else None
            if cid in ignore:
                continue
            if cid in containers and port in containers[cid]:
                owners[port] = cid
                continue
            why = "gone" if cid not in containers else "mismatch"
            if r.port_problems.get(port) != (cid, why):
                inconsistent("port link %s -> %s (%s) not reported by gear-ports check" % (p, target, why))
            if why == "gone" and r.clean_paths.get(p) != "port":
                inconsistent("port link %s of a container that does not exist not reported by gear-clean" % p)
    for cid, ports in containers.items():
        if cid in ignore:
            continue
        for port in ports:
            if owners.get(port) != cid:
                inconsistent("container %s lists port %d, whose link is missing or not its own" % (cid, port))
    # anything else gear writes
    for top in ("targets", "slices"):
        for d, dirs, files in os.walk(os.path.join(C, top)):
            for f in files:
                p = os.path.join(d, f)
                if f.startswith(TMP) and not r.explained_temp(p):
                    inconsistent("unexplained temporary file %s" % p)
    for top in ("keys", "access"):
        for d, dirs, files in os.walk(os.path.join(C, top)):
            for f in files:
                p = os.path.join(d, f)
                if f.startswith(TMP) and not r.explained_temp(p):
                    inconsistent("unexplained temporary file %s" % p)
    known = {"units", "env", "ports", "keys", "access", "targets", "slices", "data", "storage", "git"}
    for name in os.listdir(C):
        if name not in known:
            inconsistent("unexplained %s in the container tree" % os.path.join(C, name))
    return containers


def check_unit_dir(r, containers, ignore):
    U = os.path.join(r.root, "etc/systemd/system")
    if not os.path.isdir(U):
        return
    for d, dirs, files in os.walk(U):
        for f in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            p = os.path.join(d, f)
            m = re.match(r"^ctr-(.+)\.service$", f)
            if f.startswith(TMP):
                if not r.explained_temp(p):
                    inconsistent("unexplained temporary file %s" % p)
            elif m:
                cid = m.group(1)
                if cid in ignore:
                    continue
                if not os.path.exists(p) and r.clean_paths.get(p) not in ("unit", "install"):
                    inconsistent("link %s to the unit of %s, which does not exist" % (p, cid))
            elif os.path.islink(p) and not os.path.exists(p):
                inconsistent("dangling link %s" % p)
    for cid in containers:
        if cid in ignore:
            continue
        if not lexists(os.path.join(U, "ctr-%s.service" % cid)):
            inconsistent("container %s exists but is not linked into the unit directory" % cid)


def check_image_tree(r, verify_public=True):
    I = r.img
    if not os.path.isdir(I):
        return
    for d, dirs, files in os.walk(I):
        rel = os.path.relpath(d, I)
        top = rel.split("/")[0]
        if top in ("mnt", "containers", "nfs", "private"):
            dirs[:] = []
            continue
        for x in list(dirs):
            if x.startswith(TMP):
                p = os.path.join(d, x)
                dirs.remove(x)
                if p not in r.stale and r.clean_paths.get(p) is None:
                    inconsistent("unexplained temporary directory %s" % p)
        for f in files:
            p = os.path.join(d, f)
            if f.startswith(TMP):
                if not r.explained_temp(p):
                    inconsistent("unexplained temporary file %s" % p)
                continue
            if top == "public":
                parts = rel.split("/")
                if rel == "public" and f in (".lock", ".fetch.lock"):
                    continue
                if len(parts) == 2 and len(parts[1]) == 2 and HEX.match(parts[1]):
                    if len(f) == 62 and HEX.match(f):
                        st = os.lstat(p)
                        if not stat.S_ISREG(st.st_mode):
                            inconsistent("%s is not a regular file" % p)
                        elif stat.S_IMODE(st.st_mode) != 0o400:
                            inconsistent("cached %s has mode %o" % (p, stat.S_IMODE(st.st_mode)))
                        elif verify_public and sha256_file(p) != parts[1] + f:
                            inconsistent("cached %s does not match its digest" % p)
                        continue
                    if re.match(r"^\.[0-9a-f]{62}\.lock$", f):
                        if held(p) or r.clean_paths.get(p) is not None or p in r.stale:
                            continue
                        inconsistent("unexplained fetch lock %s" % p)
                        continue
                inconsistent("unexplained file %s in the cache" % p)
            elif top == "objects":
                parts = rel.split("/")
                if rel == "objects" and f == ".lock":
                    continue
                if len(parts) >= 2 and parts[1] == ".corrupt":
                    continue
                if len(parts) == 2 and len(parts[1]) == 2 and len(f) == 62 and HEX.match(f):
                    continue  # gear-fsck read it: a corrupt one is reported above
                inconsistent("unexplained file %s in the store" % p)
            elif top == "images":
                continue  # gear-fsck reads every image (badimage otherwise)
            elif top == "build":
                inconsistent("unexplained file %s in build/" % p)
            elif rel == ".":
                inconsistent("unexplained file %s in the image tree" % p)


def main():
    args = sys.argv[1:]
    final = age = False
    stores, ignore = [], set()
    while args:
        a = args.pop(0)
        if a == "--final":
            final = True
        elif a == "--age-temps":
            age = True
        elif a == "--store":
            stores.append(args.pop(0))
        elif a == "--ignore-id":
            ignore.add(args.pop(0))
        else:
            print("usage: tree-check.py [--final] [--age-temps] [--store SYSROOT]... [--ignore-id ID]...",
                  file=sys.stderr)
            return 100
    root = os.environ["GEAR_SYSROOT"]
    if age:
        for t in [root] + stores:
            age_temps(t)
    r = Reports(root)
    containers = check_container_tree(r, ignore)
    check_unit_dir(r, containers, ignore)
    check_image_tree(r)
    left = r.lines()
    for s in stores:
        sr = Reports(s, image_only=True)
        check_image_tree(sr)
        left += sr.lines()
    if final:
        for l in left:
            inconsistent("after the repair, still reported: %s" % l)
    for b in bad:
        print("inconsistent: %s" % b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
