/* make_seeds.c - writes well-formed START messages (in the input format of
 * fuzz_request.c) into the directory argv[1]: the fuzzer's first corpus. */
#include "proto.h"

#include <stdio.h>
#include <string.h>

static int write_seed(const char *dir, const char *name, int nfds, struct proto_start h,
                      const char *payload, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    unsigned char n = (unsigned char)nfds;
    int ok = fwrite(&n, 1, 1, f) == 1 && fwrite(&h, sizeof h, 1, f) == 1 &&
             fwrite(payload, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    static const char p[] = "libx.so\0Main\0hello\0in\0out\0A=1\0PATH=/bin\0b:Native_x1";
    struct proto_start h = {.type = PROTO_START, .slot = 7, .gen = 1, .std_mask = 7, .nfds = 2,
                            .nenv = 2, .lib_len = 8, .sym_len = 5, .params_len = 6,
                            .names_len = 7, .env_len = 14, .pname_len = 12,
                            .payload_len = sizeof p, .rlim_mask = 1u << 7};
    h.rlim[7].cur = h.rlim[7].max = 1024;
    int rc = write_seed(argv[1], "args", 2 + 3 + 2, h, p, sizeof p);
    struct proto_start ipc = h;
    ipc.flags = PROTO_F_IPC | PROTO_F_MEMFD | PROTO_F_ISOLATED;
    ipc.std_mask = 1;
    rc |= write_seed(argv[1], "ipc-memfd", 2 + 1 + 1 + 1 + 2, ipc, p, sizeof p);
    static const char q[] = "l\0\0\0b:n";
    struct proto_start none = {.type = PROTO_START, .lib_len = 2, .sym_len = 1, .params_len = 1,
                               .pname_len = 4, .payload_len = sizeof q};
    rc |= write_seed(argv[1], "bare", 2, none, q, sizeof q);
    return rc == 0 ? 0 : 1;
}
