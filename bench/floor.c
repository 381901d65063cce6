/*
 * The kernel work of a jig git launch, without jig: what a launch of that shape costs
 * on this machine before any of jig's own code (reading the index and pins, the facts,
 * the plan, the saving process) is counted. bench/tools.sh times it beside the host's
 * git and the git shim, so its report separates the machine's floor from jig's share.
 *
 * Usage: floor LAYOUT[+wait] ROOTFS SCRATCH DATADIR -- PROGRAM ARGS...
 *   LAYOUT   overlay: jig's layout, as in src/runtime/mount.rs (scratch tmpfs, an upper
 *            layer holding the mountpoints and the written files, overlay over the image,
 *            then the binds)
 *            etc-overlay: a layout jig does not use, for comparison: the scratch tmpfs is
 *            the root, the image's directories are bound read-only into it and only /etc
 *            gets an overlay (the image's zone data is not copied in)
 *            LAYOUT+wait: the same in a child, cloned as jig's saving launch clones the
 *            tool (CLONE_VM | CLONE_VFORK with the namespaces), this process waiting
 *            for it and exiting with its status
 *   ROOTFS   the image's root (`jig which git` prints it)
 *   SCRATCH  an empty directory to mount the scratch tmpfs on
 *   DATADIR  a directory bound read-only, as jig binds its own data directory
 * It runs in the current directory, bound at its own path like a workspace, with $HOME's
 * .gitconfig copied in (as the git recipe stages it), the host's /etc/gitconfig and CA
 * bundle bound read-only when they exist, then no_new_privs, capability bounding set,
 * seccomp and Landlock as jig confines a tool, then execve. The same system calls in the
 * same order as jig's child (strace -f a shim to compare); error handling is minimal, as
 * a benchmark's is: any failure exits 99 with the call named.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The kernel's interfaces this needs, declared here: musl-gcc, which builds this the
 * way jig is built (static, musl), does not see the kernel's headers. */
#define READONLY 0x00000001 /* MOUNT_ATTR_RDONLY */
struct attr { uint64_t attr_set, attr_clr, propagation, userns_fd; }; /* struct mount_attr */
struct sock_filter { uint16_t code; uint8_t jt, jf; uint32_t k; };
struct sock_fprog { unsigned short len; struct sock_filter *filter; };
#define SECCOMP_SET_MODE_FILTER 1
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW 4
#define SECCOMP_RET_ALLOW 0x7fff0000U
#define BPF_LD_W_ABS 0x20 /* BPF_LD | BPF_W | BPF_ABS */
#define BPF_RET_K 0x06    /* BPF_RET | BPF_K */
#define LANDLOCK_CREATE_RULESET_VERSION 1

static void die(const char *what) { perror(what); exit(99); }

static void put(int dir, const char *path, const char *text, size_t len) {
  int fd = openat(dir, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) die(path);
  if (len && write(fd, text, len) != (ssize_t)len) die("write");
  close(fd);
}

static void dir(int at, const char *path, mode_t mode) {
  if (mkdirat(at, path, mode) && errno != EEXIST) die(path);
}

/* Every parent of PATH (absolute), then PATH itself, as directories under AT. */
static void dirs(int at, const char *path) {
  char p[4096];
  snprintf(p, sizeof p, "%s", path + 1);
  for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
    *s = 0;
    dir(at, p, 0755);
    *s = '/';
  }
  dir(at, p, 0755);
}

static size_t slurp(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, cap);
  close(fd);
  return n > 0 ? (size_t)n : 0;
}

static void bind(const char *from, const char *to, int readonly, int recursive) {
  if (mount(from, to, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL)) die(to);
  struct attr ro = {.attr_set = READONLY};
  if (readonly && syscall(SYS_mount_setattr, AT_FDCWD, to, 0, &ro, sizeof ro)) die(to);
}

static const char *devices[] = {"null", "zero", "full", "random", "urandom", "tty", 0};
static const char *links[][2] = {{"pts/ptmx", "dev/ptmx"},         {"/proc/self/fd", "dev/fd"},
                                 {"/proc/self/fd/0", "dev/stdin"}, {"/proc/self/fd/1", "dev/stdout"},
                                 {"/proc/self/fd/2", "dev/stderr"}, {0, 0}};

/* The mountpoints and files every launch makes: /dev, /proc, /tmp, home, workspace. */
static void skeleton(int at, const char *home, const char *cwd, const char *data) {
  dir(at, "proc", 0755), dir(at, "dev", 0755), dir(at, "dev/pts", 0755);
  dir(at, "dev/shm", 01777), dir(at, "tmp", 01777);
  dirs(at, home), dirs(at, cwd), dirs(at, data);
  for (int i = 0; devices[i]; i++) {
    char p[64];
    snprintf(p, sizeof p, "dev/%s", devices[i]);
    put(at, p, "", 0);
  }
  for (int i = 0; links[i][0]; i++)
    if (symlinkat(links[i][0], at, links[i][1])) die(links[i][1]);
}

/* What the launch needs, read on the host before it (as jig reads it). */
static int overlay, wait_mode, has_gitconfig, has_ca;
static const char *rootfs, *scratch, *data, *home, *ca = "/etc/ssl/certs/ca-certificates.crt";
static char cwd[4096], passwd[4096], group[2048], gitconfig[8192], zone[8192], resolv[512], hosts[512];
static size_t npw, ngr, ngc, nzone, nres, nhosts;
static uid_t uid;
static gid_t gid;
static char **program;

static int launch(void *unused);

int main(int argc, char **argv) {
  if (argc < 7 || strcmp(argv[5], "--")) {
    fprintf(stderr, "usage: floor overlay|etc-overlay[+wait] ROOTFS SCRATCH DATADIR -- PROGRAM ARGS...\n");
    return 2;
  }
  /* LAYOUT+wait: the launch runs in a child as jig's saving launch does (clone with
   * CLONE_VM | CLONE_VFORK and the namespaces), and this process waits for it. */
  char *plus = strstr(argv[1], "+wait");
  wait_mode = plus != NULL;
  if (plus) *plus = 0;
  overlay = !strcmp(argv[1], "overlay");
  rootfs = argv[2], scratch = argv[3], data = argv[4], program = argv + 6;
  home = getenv("HOME");
  char p[8192];
  if (!home || !getcwd(cwd, sizeof cwd)) die("HOME or cwd");
  uid = getuid();
  gid = getgid();

  /* What jig reads on the host: the image's passwd and group (with the caller added),
   * resolv.conf and hosts, the zone file, the home file it stages. */
  snprintf(p, sizeof p, "%s/etc/passwd", rootfs);
  npw = slurp(p, passwd, sizeof passwd - 256);
  npw += snprintf(passwd + npw, 256, "user:x:%d:%d::%s:/bin/sh\n", uid, gid, home);
  snprintf(p, sizeof p, "%s/etc/group", rootfs);
  ngr = slurp(p, group, sizeof group - 64);
  ngr += snprintf(group + ngr, 64, "user:x:%d:\n", gid);
  snprintf(p, sizeof p, "%s/.gitconfig", home);
  ngc = slurp(p, gitconfig, sizeof gitconfig);
  nzone = slurp("/etc/localtime", zone, sizeof zone);
  nres = slurp("/etc/resolv.conf", resolv, sizeof resolv);
  nhosts = slurp("/etc/hosts", hosts, sizeof hosts);
  has_gitconfig = access("/etc/gitconfig", R_OK) == 0;
  has_ca = access(ca, R_OK) == 0;

  if (!wait_mode) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS)) die("unshare");
    return launch(NULL);
  }
  static char stack[1 << 16] __attribute__((aligned(16)));
  pid_t pid = clone(launch, stack + sizeof stack,
                    CLONE_VM | CLONE_VFORK | CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, NULL);
  if (pid < 0) die("clone");
  int status;
  if (waitpid(pid, &status, 0) < 0) die("waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* In the new user and mount namespaces: the caller's ids mapped to themselves, the
 * root, the binds, the confinement, then the program. */
static int launch(void *unused) {
  (void)unused;
  char p[8192], host[512];
  int n = snprintf(host, sizeof host, "%d %d 1\n", uid, uid);
  int fd = open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, host, n) != n) die("uid_map");
  close(fd);
  fd = open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "deny\n", 5) != 5) die("setgroups");
  close(fd);
  n = snprintf(host, sizeof host, "%d %d 1\n", gid, gid);
  fd = open("/proc/self/gid_map", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, host, n) != n) die("gid_map");
  close(fd);

  if (mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700")) die("tmpfs");
  umask(0);
  if (overlay) {
    snprintf(p, sizeof p, "%s/upper", scratch), mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/work", scratch), mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/root", scratch), mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/upper", scratch);
    int up = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (up < 0) die("upper");
    skeleton(up, home, cwd, data);
    dir(up, "etc", 0755), dir(up, "etc/ssl", 0755), dir(up, "etc/ssl/certs", 0755);
    put(up, "etc/passwd", passwd, npw), put(up, "etc/group", group, ngr);
    put(up, "etc/resolv.conf", resolv, nres), put(up, "etc/hosts", hosts, nhosts);
    dirs(up, "/usr/share/zoneinfo/Etc");
    put(up, "usr/share/zoneinfo/Etc/UTC", zone, nzone);
    put(up, "etc/timezone", "Etc/UTC\n", 8);
    snprintf(p, sizeof p, "%s/.gitconfig", home + 1);
    put(up, p, gitconfig, ngc);
    if (has_gitconfig) put(up, "etc/gitconfig", "", 0);
    if (has_ca) put(up, ca + 1, "", 0);
    if (symlinkat("/usr/share/zoneinfo/Etc/UTC", up, "etc/localtime")) die("localtime");
    close(up);
    char opts[8192];
    snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work,userxattr", rootfs, scratch,
             scratch);
    snprintf(p, sizeof p, "%s/root", scratch);
    if (mount("overlay", p, "overlay", MS_NOSUID, opts)) die("overlay");
    if (chdir(p)) die("chdir root");
  } else {
    int root = open(scratch, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) die("scratch");
    if (chdir(scratch)) die("chdir scratch");
    /* The image's top level: symbolic links copied, directories made and (when not
     * empty, /etc aside) bound read-only after the skeleton is in place. */
    const char *top[] = {"bin", "lib", "lib64", "sbin", "usr", "var", "opt", 0};
    char target[4096];
    for (int i = 0; top[i]; i++) {
      snprintf(p, sizeof p, "%s/%s", rootfs, top[i]);
      ssize_t len = readlink(p, target, sizeof target - 1);
      if (len > 0) {
        target[len] = 0;
        if (symlinkat(target, root, top[i])) die(top[i]);
      } else if (access(p, F_OK) == 0) {
        dir(root, top[i], 0755);
      }
    }
    skeleton(root, home, cwd, data);
    snprintf(p, sizeof p, "%s/.gitconfig", home + 1);
    put(root, p, gitconfig, ngc);
    dir(root, ".etc", 0700), dir(root, ".etc/upper", 0755), dir(root, ".etc/work", 0755);
    dir(root, "etc", 0755);
    int up = openat(root, ".etc/upper", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (up < 0) die("etc upper");
    dir(up, "ssl", 0755), dir(up, "ssl/certs", 0755);
    put(up, "passwd", passwd, npw), put(up, "group", group, ngr);
    put(up, "resolv.conf", resolv, nres), put(up, "hosts", hosts, nhosts);
    put(up, "localtime", zone, nzone), put(up, "timezone", "Etc/UTC\n", 8);
    if (has_gitconfig) put(up, "gitconfig", "", 0);
    if (has_ca) put(up, "ssl/certs/ca-certificates.crt", "", 0);
    close(up);
    close(root);
    char opts[8192];
    snprintf(opts, sizeof opts, "lowerdir=%s/etc,upperdir=.etc/upper,workdir=.etc/work,userxattr", rootfs);
    if (mount("overlay", "etc", "overlay", MS_NOSUID, opts)) die("etc overlay");
    for (int i = 0; top[i]; i++) {
      struct stat st;
      snprintf(p, sizeof p, "%s/%s", rootfs, top[i]);
      if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) bind(p, top[i], 1, 0);
    }
  }
  if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
            "newinstance,ptmxmode=0666,mode=0620"))
    die("devpts");
  bind("/proc", "proc", 0, 1);
  for (int i = 0; devices[i]; i++) {
    char from[64];
    snprintf(from, sizeof from, "/dev/%s", devices[i]);
    bind(from, from + 1, 0, 0);
  }
  if (has_gitconfig) bind("/etc/gitconfig", "etc/gitconfig", 1, 0);
  bind(cwd, cwd + 1, 0, 1);
  bind(data, data + 1, 1, 0);
  if (has_ca) bind(ca, ca + 1, 1, 0);
  if (mount(".", "/", NULL, MS_MOVE, NULL)) die("move");
  if (chroot(".")) die("chroot");
  if (chdir(cwd)) die("chdir workspace");

  /* Confinement as jig applies it: no new privileges, the bounding set, a seccomp
   * filter (here one that allows everything, of about jig's length), Landlock scopes. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) die("no_new_privs");
  prctl(PR_CAPBSET_DROP, 21 /* CAP_SYS_ADMIN */), prctl(PR_CAPBSET_DROP, 18 /* CAP_SYS_CHROOT */);
  struct sock_filter allow[14];
  for (int i = 0; i < 13; i++) allow[i] = (struct sock_filter){BPF_LD_W_ABS, 0, 0, 0};
  allow[13] = (struct sock_filter){BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW};
  struct sock_fprog prog = {.len = 14, .filter = allow};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog))
    die("seccomp");
  long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi >= 6) {
    struct {
      uint64_t fs, net, scoped;
    } attr = {0, 0, 3 /* abstract unix sockets, signals */};
    int rs = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (rs < 0 || syscall(SYS_landlock_restrict_self, rs, 0)) die("landlock");
    close(rs);
  }
  execv(program[0], program);
  die(program[0]);
  return 99;
}
