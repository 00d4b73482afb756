/* loadtime LIB [ROUNDS]: the time to load LIB, resolve a symbol and unload
 * it again (dlopen + dlsym + dlclose), averaged over ROUNDS (default 2000).
 * Loading includes the library's own dependencies (upstream's
 * libxentoollog and libxentoolcore). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    struct timespec a, b;
    int n = argc > 2 ? atoi(argv[2]) : 2000;
    if (argc < 2) {
        fprintf(stderr, "usage: loadtime LIB [ROUNDS]\n");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h || !dlsym(h, "xengnttab_open")) {
            fprintf(stderr, "loadtime: %s\n", dlerror());
            return 1;
        }
        dlclose(h);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n / 1e3);
    return 0;
}
