/* without-xentools PROG [ARGS...]: run PROG where libxentoollog.so.1 and
 * libxentoolcore.so.1 cannot be loaded (a private mount namespace with
 * /dev/null bound over them), to show that our library neither needs them
 * to load nor to work. Upstream links both, so this runs against ours only. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#if defined(__aarch64__)
#define MULTIARCH "aarch64-linux-gnu"
#else
#define MULTIARCH "x86_64-linux-gnu"
#endif
static const char *const hidden[] = {
    "/usr/lib/" MULTIARCH "/libxentoollog.so.1",
    "/usr/lib/" MULTIARCH "/libxentoolcore.so.1",
};

int main(int argc, char **argv)
{
    unsigned i;
    if (argc < 2) {
        fprintf(stderr, "usage: without-xentools PROG [ARGS...]\n");
        return 2;
    }
    if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
        fprintf(stderr, "without-xentools: private mount namespace: %s\n", strerror(errno));
        return 2;
    }
    for (i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        if (access(hidden[i], F_OK) != 0) {
            fprintf(stderr, "without-xentools: %s is not there to hide\n", hidden[i]);
            return 2;
        }
        if (mount("/dev/null", hidden[i], NULL, MS_BIND, NULL)) {
            fprintf(stderr, "without-xentools: hide %s: %s\n", hidden[i], strerror(errno));
            return 2;
        }
    }
    printf("# hidden: libxentoollog.so.1 libxentoolcore.so.1\n");
    fflush(stdout);
    execv(argv[1], argv + 1);
    fprintf(stderr, "without-xentools: exec %s: %s\n", argv[1], strerror(errno));
    return 2;
}
