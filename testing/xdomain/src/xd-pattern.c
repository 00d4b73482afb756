/* xd-pattern SEED BYTES: writes BYTES deterministic bytes to stdout (xorshift),
 * the same in every domain, for byte-exact transfer checks. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: xd-pattern SEED BYTES\n");
        return 2;
    }
    uint64_t x = strtoull(argv[1], NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
    unsigned long long n = strtoull(argv[2], NULL, 0);
    unsigned char buf[65536];
    while (n) {
        size_t k = n < sizeof buf ? n : sizeof buf;
        for (size_t i = 0; i < k; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            buf[i] = (unsigned char)(x >> 24);
        }
        if (fwrite(buf, 1, k, stdout) != k)
            return 1;
        n -= k;
    }
    return 0;
}
