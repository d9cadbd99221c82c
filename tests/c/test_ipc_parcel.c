/*
 * test_ipc_parcel.c - OH_IPCParcel_* through libipc_capi.so (behaviour.md §6).
 *
 * Map:
 *   1. helpers
 *   2. life cycle and getters
 *   3. numbers
 *   4. strings and buffers
 *   5. errors: NULL arguments, reads past the end, the size limit
 *   6. positions and rewinds
 *   7. interface tokens
 *   8. file descriptors
 *   9. append
 *  10. remote objects
 */
#include <dirent.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>

#include "ipc_kit.h"
#include "testlib.h"

#define MAX_DATA 204800

/* ---- 1. helpers --------------------------------------------------------- */

/* Entries in /proc/self/fd; the directory's own fd is counted every time,
 * so differences between two calls are exact. */
static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static int alloc_calls;

static void *counting_alloc(int32_t len) {
    alloc_calls++;
    return malloc((size_t)len);
}

static void *failing_alloc(int32_t len) {
    (void)len;
    alloc_calls++;
    return NULL;
}

static OHIPCParcel *new_parcel(void) {
    OHIPCParcel *p = OH_IPCParcel_Create();
    CHECK(p != NULL);
    return p;
}

static void same_file(int a, int b) {
    struct stat sa, sb;
    CHECK_EQ(fstat(a, &sa), 0);
    CHECK_EQ(fstat(b, &sb), 0);
    CHECK_EQ(sa.st_ino, sb.st_ino);
    CHECK_EQ(sa.st_dev, sb.st_dev);
}

/* A pipe's read end, written to the parcel; the pipe stays the caller's. */
static void make_pipe(int fds[2]) {
    CHECK_EQ(pipe2(fds, O_CLOEXEC), 0);
}

/* ---- 2. life cycle and getters ------------------------------------------- */

TEST(create_gives_empty_parcel) {
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 0);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 0);
    CHECK_EQ(OH_IPCParcel_GetWritePosition(p), 0);
    CHECK_EQ(OH_IPCParcel_GetReadableBytes(p), 0);
    CHECK_EQ(OH_IPCParcel_GetWritableBytes(p), MAX_DATA);
    OH_IPCParcel_Destroy(p);
}

TEST(getters_return_minus_one_for_null) {
    CHECK_EQ(OH_IPCParcel_GetDataSize(NULL), -1);
    CHECK_EQ(OH_IPCParcel_GetWritableBytes(NULL), -1);
    CHECK_EQ(OH_IPCParcel_GetReadableBytes(NULL), -1);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(NULL), -1);
    CHECK_EQ(OH_IPCParcel_GetWritePosition(NULL), -1);
}

TEST(destroy_null_is_a_no_op) {
    OH_IPCParcel_Destroy(NULL);
}

TEST(getters_follow_writes_and_reads) {
    OHIPCParcel *p = new_parcel();
    int32_t v;
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 1), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt64(p, 2), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetWritePosition(p), 12);
    CHECK_EQ(OH_IPCParcel_GetWritableBytes(p), MAX_DATA - 12);
    CHECK_EQ(OH_IPCParcel_ReadInt32(p, &v), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 4);
    CHECK_EQ(OH_IPCParcel_GetReadableBytes(p), 8);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 12);
    OH_IPCParcel_Destroy(p);
}

/* ---- 3. numbers -------------------------------------------------------------- */

TEST(integers_round_trip) {
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteInt8(p, INT8_MIN), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt8(p, -1), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt16(p, INT16_MIN), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, INT32_MIN), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt64(p, INT64_MIN), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteUint8(p, UINT8_MAX), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteUint16(p, UINT16_MAX), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteUint32(p, UINT32_MAX), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteUint64(p, UINT64_MAX), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt64(p, INT64_MAX), OH_IPC_SUCCESS);

    int8_t i8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    CHECK_EQ(OH_IPCParcel_ReadInt8(p, &i8), OH_IPC_SUCCESS);
    CHECK_EQ(i8, INT8_MIN);
    CHECK_EQ(OH_IPCParcel_ReadInt8(p, &i8), OH_IPC_SUCCESS);
    CHECK_EQ(i8, -1);
    CHECK_EQ(OH_IPCParcel_ReadInt16(p, &i16), OH_IPC_SUCCESS);
    CHECK_EQ(i16, INT16_MIN);
    CHECK_EQ(OH_IPCParcel_ReadInt32(p, &i32), OH_IPC_SUCCESS);
    CHECK_EQ(i32, INT32_MIN);
    CHECK_EQ(OH_IPCParcel_ReadInt64(p, &i64), OH_IPC_SUCCESS);
    CHECK(i64 == INT64_MIN);
    CHECK_EQ(OH_IPCParcel_ReadUint8(p, &u8), OH_IPC_SUCCESS);
    CHECK_EQ(u8, UINT8_MAX);
    CHECK_EQ(OH_IPCParcel_ReadUint16(p, &u16), OH_IPC_SUCCESS);
    CHECK_EQ(u16, UINT16_MAX);
    CHECK_EQ(OH_IPCParcel_ReadUint32(p, &u32), OH_IPC_SUCCESS);
    CHECK_EQ(u32, UINT32_MAX);
    CHECK_EQ(OH_IPCParcel_ReadUint64(p, &u64), OH_IPC_SUCCESS);
    CHECK(u64 == UINT64_MAX);
    CHECK_EQ(OH_IPCParcel_ReadInt64(p, &i64), OH_IPC_SUCCESS);
    CHECK(i64 == INT64_MAX);
    CHECK_EQ(OH_IPCParcel_GetReadableBytes(p), 0);
    OH_IPCParcel_Destroy(p);
}

/* 8- and 16-bit values are 32-bit words on the wire: signed ones are
 * sign-extended, unsigned ones zero-extended. */
TEST(small_integers_widen_to_32_bits) {
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteInt8(p, -5), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt16(p, -300), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteUint8(p, 200), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteUint16(p, 60000), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt8(p, -1), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 20);

    int32_t i32;
    uint32_t u32;
    uint8_t u8;
    CHECK_EQ(OH_IPCParcel_ReadInt32(p, &i32), OH_IPC_SUCCESS);
    CHECK_EQ(i32, -5);
    CHECK_EQ(OH_IPCParcel_ReadInt32(p, &i32), OH_IPC_SUCCESS);
    CHECK_EQ(i32, -300);
    CHECK_EQ(OH_IPCParcel_ReadUint32(p, &u32), OH_IPC_SUCCESS);
    CHECK_EQ(u32, 200);
    CHECK_EQ(OH_IPCParcel_ReadUint32(p, &u32), OH_IPC_SUCCESS);
    CHECK_EQ(u32, 60000);
    CHECK_EQ(OH_IPCParcel_ReadUint8(p, &u8), OH_IPC_SUCCESS);
    CHECK_EQ(u8, 255);
    OH_IPCParcel_Destroy(p);
}

TEST(floats_round_trip_bit_for_bit) {
    static const float fs[] = {0.0f, -0.0f, 1.5f, -3.25e-20f, FLT_MIN / 4, FLT_MAX, INFINITY, NAN};
    static const double ds[] = {0.0, -0.0, -1e300, DBL_MIN / 8, DBL_MAX, -INFINITY, NAN};
    OHIPCParcel *p = new_parcel();
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++)
        CHECK_EQ(OH_IPCParcel_WriteFloat(p, fs[i]), OH_IPC_SUCCESS);
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
        CHECK_EQ(OH_IPCParcel_WriteDouble(p, ds[i]), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 8 * 4 + 7 * 8);
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        float f;
        CHECK_EQ(OH_IPCParcel_ReadFloat(p, &f), OH_IPC_SUCCESS);
        CHECK(memcmp(&f, &fs[i], sizeof f) == 0);
    }
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        double d;
        CHECK_EQ(OH_IPCParcel_ReadDouble(p, &d), OH_IPC_SUCCESS);
        CHECK(memcmp(&d, &ds[i], sizeof d) == 0);
    }
    OH_IPCParcel_Destroy(p);
}

/* Each item's exact cost in bytes (behaviour.md §6). */
TEST(data_size_follows_alignment_rules) {
    OHIPCParcel *p = new_parcel();
    int size = 0;
#define GROWS_BY(call, n)                                                     \
    do {                                                                      \
        CHECK_EQ((call), OH_IPC_SUCCESS);                                     \
        size += (n);                                                          \
        CHECK_EQ(OH_IPCParcel_GetDataSize(p), size);                          \
        CHECK_EQ(OH_IPCParcel_GetWritePosition(p), size);                     \
    } while (0)
    GROWS_BY(OH_IPCParcel_WriteInt8(p, 1), 4);
    GROWS_BY(OH_IPCParcel_WriteUint8(p, 1), 4);
    GROWS_BY(OH_IPCParcel_WriteInt16(p, 1), 4);
    GROWS_BY(OH_IPCParcel_WriteUint16(p, 1), 4);
    GROWS_BY(OH_IPCParcel_WriteInt32(p, 1), 4);
    GROWS_BY(OH_IPCParcel_WriteUint32(p, 1), 4);
    GROWS_BY(OH_IPCParcel_WriteFloat(p, 1), 4);
    GROWS_BY(OH_IPCParcel_WriteInt64(p, 1), 8);
    GROWS_BY(OH_IPCParcel_WriteUint64(p, 1), 8);
    GROWS_BY(OH_IPCParcel_WriteDouble(p, 1), 8);
    GROWS_BY(OH_IPCParcel_WriteString(p, ""), 4);
    GROWS_BY(OH_IPCParcel_WriteString(p, "abc"), 4);
    GROWS_BY(OH_IPCParcel_WriteString(p, "abcd"), 8);
    GROWS_BY(OH_IPCParcel_WriteString(p, "abcdefg"), 8);
    GROWS_BY(OH_IPCParcel_WriteInterfaceToken(p, "a.b"), 4);
    static const uint8_t bytes[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const int padded[10] = {0, 4, 4, 4, 4, 8, 8, 8, 8, 12};
    for (int len = 1; len <= 9; len++) /* 0 is refused: zero_length_buffers */
        GROWS_BY(OH_IPCParcel_WriteBuffer(p, bytes, len), padded[len]);
#undef GROWS_BY
    OH_IPCParcel_Destroy(p);
}

/* ---- 4. strings and buffers ------------------------------------------------- */

TEST(strings_round_trip) {
    static const char *strs[] = {"", "a", "ab", "abc", "abcd", "abcde", "héllo wörld", "x\ty\n"};
    size_t n = sizeof strs / sizeof strs[0];
    OHIPCParcel *p = new_parcel();
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(OH_IPCParcel_WriteString(p, strs[i]), OH_IPC_SUCCESS);
        CHECK_EQ(OH_IPCParcel_WriteInt32(p, (int32_t)i), OH_IPC_SUCCESS);
    }
    for (size_t i = 0; i < n; i++) {
        int32_t marker;
        CHECK_STREQ(OH_IPCParcel_ReadString(p), strs[i]);
        CHECK_EQ(OH_IPCParcel_ReadInt32(p, &marker), OH_IPC_SUCCESS);
        CHECK_EQ(marker, i);
    }
    CHECK(OH_IPCParcel_ReadString(p) == NULL);
    OH_IPCParcel_Destroy(p);
}

TEST(long_strings_round_trip) {
    size_t lens[] = {1000, 65535, 65536, MAX_DATA - 1};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        char *s = malloc(lens[k] + 1);
        CHECK(s != NULL);
        for (size_t i = 0; i < lens[k]; i++)
            s[i] = (char)('a' + i % 26);
        s[lens[k]] = '\0';
        OHIPCParcel *p = new_parcel();
        CHECK_EQ(OH_IPCParcel_WriteString(p, s), OH_IPC_SUCCESS);
        CHECK_EQ(OH_IPCParcel_GetDataSize(p), (lens[k] + 1 + 3) / 4 * 4);
        CHECK_STREQ(OH_IPCParcel_ReadString(p), s);
        OH_IPCParcel_Destroy(p);
        free(s);
    }
}

/* ReadString/ReadBuffer hand out pointers into the parcel, not copies. */
TEST(reads_point_into_the_parcel) {
    static const uint8_t bytes[3] = {7, 8, 9};
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteString(p, "hello"), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteBuffer(p, bytes, 3), OH_IPC_SUCCESS);
    const char *s1 = OH_IPCParcel_ReadString(p);
    const uint8_t *b1 = OH_IPCParcel_ReadBuffer(p, 3);
    CHECK(s1 != NULL && b1 != NULL);
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(p, 0), OH_IPC_SUCCESS);
    CHECK(OH_IPCParcel_ReadString(p) == s1);
    CHECK(OH_IPCParcel_ReadBuffer(p, 3) == b1);
    CHECK((const uint8_t *)s1 + 8 == b1);
    OH_IPCParcel_Destroy(p);
}

/* Every length 1..9 leaves a different amount of padding; a marker after
 * each buffer shows that ReadBuffer skipped exactly what WriteBuffer added. */
TEST(buffers_pad_symmetrically) {
    uint8_t bytes[9];
    for (int i = 0; i < 9; i++)
        bytes[i] = (uint8_t)(0xA0 + i);
    OHIPCParcel *p = new_parcel();
    for (int len = 1; len <= 9; len++) {
        CHECK_EQ(OH_IPCParcel_WriteBuffer(p, bytes, len), OH_IPC_SUCCESS);
        CHECK_EQ(OH_IPCParcel_WriteInt32(p, 1000 + len), OH_IPC_SUCCESS);
    }
    for (int len = 1; len <= 9; len++) {
        int32_t marker;
        const uint8_t *b = OH_IPCParcel_ReadBuffer(p, len);
        CHECK(b != NULL);
        CHECK(memcmp(b, bytes, (size_t)len) == 0);
        CHECK_EQ(OH_IPCParcel_GetReadPosition(p) % 4, 0);
        CHECK_EQ(OH_IPCParcel_ReadInt32(p, &marker), OH_IPC_SUCCESS);
        CHECK_EQ(marker, 1000 + len);
    }
    CHECK_EQ(OH_IPCParcel_GetReadableBytes(p), 0);
    OH_IPCParcel_Destroy(p);
}

/* Padding is zeroed: nothing from earlier memory travels in it. */
TEST(padding_is_zero) {
    static const uint8_t one = 0xFF;
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteBuffer(p, &one, 1), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteString(p, "ab"), OH_IPC_SUCCESS);
    const uint8_t *all = OH_IPCParcel_ReadBuffer(p, 8);
    CHECK(all != NULL);
    static const uint8_t want[8] = {0xFF, 0, 0, 0, 'a', 'b', 0, 0};
    CHECK(memcmp(all, want, 8) == 0);
    OH_IPCParcel_Destroy(p);
}

/* Large parcels reuse memory that earlier parcels filled: here with 0xFF,
 * in as many parcels as are alive at once below. Whatever the history of
 * the memory, every byte of a parcel's data is one that was written or a
 * zero of padding, an alignment gap or the free half of an fd slot. */
TEST(large_parcel_padding_is_zero_in_reused_memory) {
    enum { BIG = 204800, PART = 70001 };
    uint8_t *ff = malloc(BIG), *ab = malloc(PART), *want = calloc(1, BIG);
    CHECK(ff != NULL && ab != NULL && want != NULL);
    memset(ff, 0xFF, BIG);
    memset(ab, 0xAB, PART);
    OHIPCParcel *dirty[8];
    for (int i = 0; i < 8; i++) {
        dirty[i] = new_parcel();
        CHECK_EQ(OH_IPCParcel_WriteBuffer(dirty[i], ff, BIG), OH_IPC_SUCCESS);
    }
    for (int i = 0; i < 8; i++)
        OH_IPCParcel_Destroy(dirty[i]);
    int fds[2];
    make_pipe(fds);
    for (int round = 0; round < 8; round++) {
        OHIPCParcel *p = new_parcel();
        size_t n = 0;
        /* an int, then an item whose growth moves the parcel to big memory */
        CHECK_EQ(OH_IPCParcel_WriteInt32(p, -1), OH_IPC_SUCCESS);
        memset(want, 0xFF, 4);
        n = 4;
        CHECK_EQ(OH_IPCParcel_WriteBuffer(p, ab, PART), OH_IPC_SUCCESS);
        memset(want + n, 0xAB, PART);
        n += PART + 3; /* 70001 pads to 70004 */
        CHECK_EQ(OH_IPCParcel_WriteBuffer(p, ff, 1), OH_IPC_SUCCESS);
        want[n] = 0xFF;
        n += 4;
        CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, fds[1]), OH_IPC_SUCCESS);
        size_t fd_slot = n;
        n += 8;
        CHECK_EQ(OH_IPCParcel_WriteString(p, "abcde"), OH_IPC_SUCCESS);
        memcpy(want + n, "abcde", 6);
        n += 8;
        /* an unaligned cut: the next write starts aligned, the gap is zero */
        CHECK_EQ(OH_IPCParcel_RewindWritePosition(p, (uint32_t)(n - 7)), OH_IPC_SUCCESS);
        memset(want + n - 7, 0, 7);
        CHECK_EQ(OH_IPCParcel_WriteInt32(p, -1), OH_IPC_SUCCESS);
        n -= 4;
        memset(want + n, 0xFF, 4);
        n += 4;
        CHECK_EQ(OH_IPCParcel_GetDataSize(p), (int)n);
        const uint8_t *all = OH_IPCParcel_ReadBuffer(p, (int32_t)n);
        CHECK(all != NULL);
        uint32_t slot[2];
        memcpy(slot, all + fd_slot, sizeof slot);
        CHECK(slot[0] != 0); /* the slot's kind, whatever its value */
        CHECK_EQ(slot[1], 0u);
        memcpy(want + fd_slot, all + fd_slot, 4);
        CHECK(memcmp(all, want, n) == 0);
        /* the same when the whole limit is used */
        CHECK_EQ(OH_IPCParcel_RewindWritePosition(p, 0), OH_IPC_SUCCESS);
        CHECK_EQ(OH_IPCParcel_WriteBuffer(p, ab, 5), OH_IPC_SUCCESS);
        CHECK_EQ(OH_IPCParcel_WriteBuffer(p, ff, BIG - 12), OH_IPC_SUCCESS);
        CHECK_EQ(OH_IPCParcel_WriteUint8(p, 1), OH_IPC_SUCCESS);
        CHECK_EQ(OH_IPCParcel_GetDataSize(p), BIG);
        CHECK_EQ(OH_IPCParcel_RewindReadPosition(p, 0), OH_IPC_SUCCESS);
        all = OH_IPCParcel_ReadBuffer(p, BIG);
        CHECK(all != NULL);
        static const uint8_t head[8] = {0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0, 0, 0};
        static const uint8_t tail[4] = {1, 0, 0, 0};
        CHECK(memcmp(all, head, 8) == 0);
        CHECK(memcmp(all + 8, ff, BIG - 12) == 0);
        CHECK(memcmp(all + BIG - 4, tail, 4) == 0);
        OH_IPCParcel_Destroy(p);
    }
    close(fds[0]);
    close(fds[1]);
    free(ff);
    free(ab);
    free(want);
}

/* Refused as on the device: nothing written, nothing read. */
TEST(zero_length_buffers) {
    static const uint8_t bytes[1] = {0};
    OHIPCParcel *p = new_parcel();
    CHECK(OH_IPCParcel_ReadBuffer(p, 0) == NULL);
    CHECK_EQ(OH_IPCParcel_WriteBuffer(p, bytes, 0), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 0);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 0);
    OH_IPCParcel_Destroy(p);
}

/* ---- 5. errors: NULL arguments, reads past the end, the size limit -------- */

TEST(null_parcel_is_a_param_error) {
    alloc_calls = 0;
    static const uint8_t bytes[1] = {0};
    int fds[2];
    make_pipe(fds);
    CHECK_EQ(OH_IPCParcel_WriteInt8(NULL, 1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteInt16(NULL, 1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteInt32(NULL, 1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteInt64(NULL, 1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteUint8(NULL, 1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteUint16(NULL, 1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteUint32(NULL, 1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteUint64(NULL, 1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteFloat(NULL, 1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteDouble(NULL, 1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteString(NULL, "a"), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteBuffer(NULL, bytes, 1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteInterfaceToken(NULL, "a"), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(NULL, fds[0]), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(NULL, 0), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_RewindWritePosition(NULL, 0), OH_IPC_CHECK_PARAM_ERROR);

    int8_t i8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    float f;
    double d;
    char *tok = NULL;
    CHECK_EQ(OH_IPCParcel_ReadInt8(NULL, &i8), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadInt16(NULL, &i16), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadInt32(NULL, &i32), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadInt64(NULL, &i64), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadUint8(NULL, &u8), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadUint16(NULL, &u16), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadUint32(NULL, &u32), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadUint64(NULL, &u64), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadFloat(NULL, &f), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadDouble(NULL, &d), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(NULL, &i32), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadInterfaceToken(NULL, &tok, &i32, counting_alloc),
             OH_IPC_CHECK_PARAM_ERROR);
    CHECK(OH_IPCParcel_ReadString(NULL) == NULL);
    CHECK(OH_IPCParcel_ReadBuffer(NULL, 0) == NULL);
    CHECK(OH_IPCParcel_ReadRemoteStub(NULL) == NULL);
    CHECK(OH_IPCParcel_ReadRemoteProxy(NULL) == NULL);
    CHECK_EQ(alloc_calls, 0);
}

/* NULL output pointers, NULL inputs and negative lengths, on a parcel
 * that has data to read; nothing moves. */
TEST(null_and_negative_arguments_are_param_errors) {
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteInt64(p, 1), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteString(p, "tok"), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_ReadInt8(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadInt16(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadInt32(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadInt64(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadUint8(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadUint16(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadUint32(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadUint64(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadFloat(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadDouble(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK(OH_IPCParcel_ReadBuffer(p, -1) == NULL);
    CHECK_EQ(OH_IPCParcel_WriteString(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteInterfaceToken(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteBuffer(p, NULL, 1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteBuffer(p, (const uint8_t *)"x", -1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, -1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 0);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 12);
    OH_IPCParcel_Destroy(p);
}

/* Every read on an empty parcel fails with a read error, and so does every
 * read that needs more bytes than are left; the position never moves. */
TEST(reads_past_the_end_fail_and_keep_position) {
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 42), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt8(p, 7), OH_IPC_SUCCESS);
    int32_t i32;
    CHECK_EQ(OH_IPCParcel_ReadInt32(p, &i32), OH_IPC_SUCCESS);
    /* 4 bytes left: the 8-byte reads and a 5-byte buffer must fail. */
    int64_t i64 = 99;
    uint64_t u64 = 99;
    double d = 99;
    CHECK_EQ(OH_IPCParcel_ReadInt64(p, &i64), OH_IPC_PARCEL_READ_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadUint64(p, &u64), OH_IPC_PARCEL_READ_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadDouble(p, &d), OH_IPC_PARCEL_READ_ERROR);
    CHECK(i64 == 99 && u64 == 99 && d == 99);
    CHECK(OH_IPCParcel_ReadBuffer(p, 5) == NULL);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 4);
    CHECK_EQ(OH_IPCParcel_ReadInt8(p, &(int8_t){0}), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 8);

    int8_t i8;
    int16_t i16;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    float f;
    CHECK_EQ(OH_IPCParcel_ReadInt8(p, &i8), OH_IPC_PARCEL_READ_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadInt16(p, &i16), OH_IPC_PARCEL_READ_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadInt32(p, &i32), OH_IPC_PARCEL_READ_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadUint8(p, &u8), OH_IPC_PARCEL_READ_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadUint16(p, &u16), OH_IPC_PARCEL_READ_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadUint32(p, &u32), OH_IPC_PARCEL_READ_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadFloat(p, &f), OH_IPC_PARCEL_READ_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(p, &i32), OH_IPC_PARCEL_READ_ERROR);
    CHECK(OH_IPCParcel_ReadString(p) == NULL);
    CHECK(OH_IPCParcel_ReadBuffer(p, 1) == NULL);
    CHECK(OH_IPCParcel_ReadBuffer(p, 0) == NULL); /* refused, as on the device */
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 8);
    OH_IPCParcel_Destroy(p);
}

/* A string needs its NUL inside the data; bytes without one are not read. */
TEST(string_without_nul_is_not_read) {
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteBuffer(p, (const uint8_t *)"abcd", 4), OH_IPC_SUCCESS);
    CHECK(OH_IPCParcel_ReadString(p) == NULL);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 0);
    OH_IPCParcel_Destroy(p);
}

/* 204,800 bytes fit exactly; one more byte of anything does not, and a
 * failed write changes nothing. */
TEST(size_limit_is_204800_bytes) {
    uint8_t *big = calloc(MAX_DATA + 1, 1);
    CHECK(big != NULL);
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteBuffer(p, big, MAX_DATA + 1), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 0);
    CHECK_EQ(OH_IPCParcel_WriteBuffer(p, big, MAX_DATA - 3), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), MAX_DATA);
    CHECK_EQ(OH_IPCParcel_GetWritableBytes(p), 0);
    CHECK_EQ(OH_IPCParcel_WriteInt8(p, 1), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteInt16(p, 1), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 1), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteInt64(p, 1), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteUint8(p, 1), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteUint16(p, 1), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteUint32(p, 1), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteUint64(p, 1), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteFloat(p, 1), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteDouble(p, 1), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteString(p, ""), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteInterfaceToken(p, "t"), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteBuffer(p, big, 1), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteBuffer(p, big, 0), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), MAX_DATA);

    /* Four bytes left: a 32-bit value fits, a 64-bit one does not. */
    CHECK_EQ(OH_IPCParcel_RewindWritePosition(p, MAX_DATA - 4), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt64(p, 1), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteDouble(p, 1), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteString(p, "abcd"), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), MAX_DATA - 4);
    CHECK_EQ(OH_IPCParcel_WriteString(p, "abc"), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), MAX_DATA);
    OH_IPCParcel_Destroy(p);
    free(big);
}

TEST(string_over_the_limit_fails) {
    char *s = malloc(MAX_DATA + 1);
    CHECK(s != NULL);
    memset(s, 'x', MAX_DATA);
    s[MAX_DATA] = '\0';
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteString(p, s), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteInterfaceToken(p, s), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 0);
    s[MAX_DATA - 1] = '\0';
    CHECK_EQ(OH_IPCParcel_WriteString(p, s), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), MAX_DATA);
    OH_IPCParcel_Destroy(p);
    free(s);
}

/* ---- 6. positions and rewinds ------------------------------------------------- */

TEST(rewind_read_position) {
    OHIPCParcel *p = new_parcel();
    int32_t v;
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 11), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 22), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(p, 9), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(p, UINT32_MAX), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 0);
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(p, 4), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_ReadInt32(p, &v), OH_IPC_SUCCESS);
    CHECK_EQ(v, 22);
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(p, 0), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_ReadInt32(p, &v), OH_IPC_SUCCESS);
    CHECK_EQ(v, 11);
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(p, 8), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetReadableBytes(p), 0);
    CHECK_EQ(OH_IPCParcel_ReadInt32(p, &v), OH_IPC_PARCEL_READ_ERROR);
    OH_IPCParcel_Destroy(p);
}

/* Rewinding the write position cuts the data there; later writes follow. */
TEST(rewind_write_position_cuts_the_data) {
    OHIPCParcel *p = new_parcel();
    int32_t v;
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 1), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 2), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 3), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_RewindWritePosition(p, 13), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 12);
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(p, 12), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_RewindWritePosition(p, 4), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 4);
    CHECK_EQ(OH_IPCParcel_GetWritePosition(p), 4);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 4); /* moved back to the new end */
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 9), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_ReadInt32(p, &v), OH_IPC_SUCCESS);
    CHECK_EQ(v, 9);
    CHECK_EQ(OH_IPCParcel_RewindWritePosition(p, 0), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 0);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 0);
    OH_IPCParcel_Destroy(p);
}

/* After a rewind to an odd offset the next item still starts aligned. */
TEST(write_after_unaligned_rewind_is_aligned) {
    OHIPCParcel *p = new_parcel();
    int32_t v;
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 1), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 2), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_RewindWritePosition(p, 5), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 5);
    CHECK_EQ(OH_IPCParcel_GetWritableBytes(p), MAX_DATA - 8);
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 3), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 12);
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(p, 8), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_ReadInt32(p, &v), OH_IPC_SUCCESS);
    CHECK_EQ(v, 3);
    OH_IPCParcel_Destroy(p);
}

/* ---- 7. interface tokens ----------------------------------------------------- */

TEST(interface_token_round_trip) {
    alloc_calls = 0;
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteInterfaceToken(p, "ohos.test.IFoo"), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInterfaceToken(p, ""), OH_IPC_SUCCESS);
    char *tok = NULL;
    int32_t len = 0;
    CHECK_EQ(OH_IPCParcel_ReadInterfaceToken(p, &tok, &len, counting_alloc), OH_IPC_SUCCESS);
    CHECK_STREQ(tok, "ohos.test.IFoo");
    CHECK_EQ(len, 15); /* the NUL counts */
    free(tok);
    CHECK_EQ(OH_IPCParcel_ReadInterfaceToken(p, &tok, &len, counting_alloc), OH_IPC_SUCCESS);
    CHECK_STREQ(tok, "");
    CHECK_EQ(len, 1);
    free(tok);
    CHECK_EQ(alloc_calls, 2);
    OH_IPCParcel_Destroy(p);
}

/* A token written with WriteString reads back as a token, and vice versa:
 * both are plain strings on the wire. */
TEST(interface_token_is_a_string) {
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteInterfaceToken(p, "iface"), OH_IPC_SUCCESS);
    CHECK_STREQ(OH_IPCParcel_ReadString(p), "iface");
    OH_IPCParcel_Destroy(p);
}

TEST(interface_token_errors) {
    alloc_calls = 0;
    OHIPCParcel *p = new_parcel();
    char *tok = (char *)"untouched";
    int32_t len = -7;
    /* Nothing to read: no allocation happens. */
    CHECK_EQ(OH_IPCParcel_ReadInterfaceToken(p, &tok, &len, counting_alloc),
             OH_IPC_PARCEL_READ_ERROR);
    CHECK_EQ(alloc_calls, 0);
    CHECK_EQ(OH_IPCParcel_WriteInterfaceToken(p, "iface"), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_ReadInterfaceToken(p, NULL, &len, counting_alloc),
             OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadInterfaceToken(p, &tok, NULL, counting_alloc),
             OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadInterfaceToken(p, &tok, &len, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_ReadInterfaceToken(p, &tok, &len, failing_alloc),
             OH_IPC_MEM_ALLOCATOR_ERROR);
    CHECK_EQ(alloc_calls, 1);
    CHECK_STREQ(tok, "untouched");
    CHECK_EQ(len, -7);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 0);
    CHECK_EQ(OH_IPCParcel_ReadInterfaceToken(p, &tok, &len, counting_alloc), OH_IPC_SUCCESS);
    CHECK_STREQ(tok, "iface");
    free(tok);
    OH_IPCParcel_Destroy(p);
}

/* ---- 8. file descriptors ------------------------------------------------------ */

TEST(fd_round_trip_gives_a_new_fd_to_the_same_file) {
    int pfd[2];
    make_pipe(pfd);
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, pfd[1]), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 8);
    CHECK(fcntl(pfd[1], F_GETFD) >= 0); /* the writer keeps its fd */

    int32_t got = -1;
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(p, &got), OH_IPC_SUCCESS);
    CHECK(got >= 3 && got != pfd[1]);
    CHECK(fcntl(got, F_GETFD) & FD_CLOEXEC);
    same_file(got, pfd[1]);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 8);

    /* The new fd works on its own, even after the parcel is gone. */
    OH_IPCParcel_Destroy(p);
    CHECK_EQ(write(got, "ok", 2), 2);
    char buf[2];
    CHECK_EQ(read(pfd[0], buf, 2), 2);
    CHECK(memcmp(buf, "ok", 2) == 0);
    close(got);
    close(pfd[0]);
    close(pfd[1]);
}

/* The parcel holds its own copy: closing the writer's fd right after the
 * write does not break the read. */
TEST(writer_may_close_its_fd_after_writing) {
    int pfd[2];
    make_pipe(pfd);
    struct stat st;
    CHECK_EQ(fstat(pfd[0], &st), 0);
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, pfd[0]), OH_IPC_SUCCESS);
    close(pfd[0]);
    int32_t got;
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(p, &got), OH_IPC_SUCCESS);
    struct stat st2;
    CHECK_EQ(fstat(got, &st2), 0);
    CHECK_EQ(st.st_ino, st2.st_ino);
    close(got);
    close(pfd[1]);
    OH_IPCParcel_Destroy(p);
}

TEST(each_fd_read_is_a_new_fd) {
    int pfd[2];
    make_pipe(pfd);
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, pfd[0]), OH_IPC_SUCCESS);
    int32_t a, b;
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(p, &a), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(p, 0), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(p, &b), OH_IPC_SUCCESS);
    CHECK(a != b);
    same_file(a, b);
    close(a);
    close(b);
    OH_IPCParcel_Destroy(p);
    close(pfd[0]);
    close(pfd[1]);
}

TEST(fd_write_errors) {
    int pfd[2];
    make_pipe(pfd);
    int closed = pfd[0];
    close(closed);
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, -1), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, closed), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 0);

    /* A full parcel refuses the fd and keeps no copy of it. */
    uint8_t *big = calloc(MAX_DATA, 1);
    CHECK(big != NULL);
    CHECK_EQ(OH_IPCParcel_WriteBuffer(p, big, MAX_DATA - 4), OH_IPC_SUCCESS);
    int before = count_fds();
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, pfd[1]), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(count_fds(), before);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), MAX_DATA - 4);
    free(big);
    OH_IPCParcel_Destroy(p);
    close(pfd[1]);
}

/* Only a slot written by WriteFileDescriptor yields an fd: not plain data,
 * and not the middle of an fd slot. */
TEST(fd_read_needs_an_fd_there) {
    int pfd[2];
    make_pipe(pfd);
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, pfd[0]), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 0), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, pfd[0]), OH_IPC_SUCCESS);
    int32_t got = -1;
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(p, &got), OH_IPC_PARCEL_READ_ERROR);
    CHECK_EQ(got, -1);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 0);
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(p, 12), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(p, &got), OH_IPC_PARCEL_READ_ERROR);
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(p, 8), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(p, &got), OH_IPC_SUCCESS);
    close(got);
    OH_IPCParcel_Destroy(p);
    close(pfd[0]);
    close(pfd[1]);
}

TEST(destroy_closes_stored_fds) {
    int pfd[2];
    make_pipe(pfd);
    int before = count_fds();
    OHIPCParcel *p = new_parcel();
    for (int i = 0; i < 3; i++)
        CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, pfd[i % 2]), OH_IPC_SUCCESS);
    CHECK_EQ(count_fds(), before + 3);
    OH_IPCParcel_Destroy(p);
    CHECK_EQ(count_fds(), before);
    close(pfd[0]);
    close(pfd[1]);
}

/* Cutting the data with a write rewind closes the fds in the cut part,
 * including one whose slot is only partly cut. */
TEST(rewind_write_closes_cut_fds) {
    int pfd[2];
    make_pipe(pfd);
    int before = count_fds();
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, pfd[0]), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, pfd[1]), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, pfd[1]), OH_IPC_SUCCESS);
    CHECK_EQ(count_fds(), before + 3);
    CHECK_EQ(OH_IPCParcel_RewindWritePosition(p, 20), OH_IPC_SUCCESS);
    CHECK_EQ(count_fds(), before + 2);
    CHECK_EQ(OH_IPCParcel_RewindWritePosition(p, 8), OH_IPC_SUCCESS);
    CHECK_EQ(count_fds(), before + 1);
    int32_t got;
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(p, &got), OH_IPC_SUCCESS);
    same_file(got, pfd[0]);
    close(got);
    OH_IPCParcel_Destroy(p);
    CHECK_EQ(count_fds(), before);
    close(pfd[0]);
    close(pfd[1]);
}

/* ---- 9. append ---------------------------------------------------------------- */

TEST(append_copies_data_and_fds) {
    int pfd[2];
    make_pipe(pfd);
    int before = count_fds();
    OHIPCParcel *src = new_parcel();
    OHIPCParcel *dst = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteInt8(dst, -3), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteString(dst, "xy"), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt64(src, 77), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(src, pfd[0]), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteString(src, "tail"), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_Append(dst, src), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(dst), 8 + 8 + 8 + 8);
    CHECK_EQ(count_fds(), before + 2); /* one in each parcel */
    OH_IPCParcel_Destroy(src);
    CHECK_EQ(count_fds(), before + 1);

    int8_t i8;
    int64_t i64;
    int32_t got;
    CHECK_EQ(OH_IPCParcel_ReadInt8(dst, &i8), OH_IPC_SUCCESS);
    CHECK_EQ(i8, -3);
    CHECK_STREQ(OH_IPCParcel_ReadString(dst), "xy");
    CHECK_EQ(OH_IPCParcel_ReadInt64(dst, &i64), OH_IPC_SUCCESS);
    CHECK_EQ(i64, 77);
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(dst, &got), OH_IPC_SUCCESS);
    same_file(got, pfd[0]);
    close(got);
    CHECK_STREQ(OH_IPCParcel_ReadString(dst), "tail");
    OH_IPCParcel_Destroy(dst);
    CHECK_EQ(count_fds(), before);
    close(pfd[0]);
    close(pfd[1]);
}

/* Append copies the source's whole data, whatever its read position, and
 * leaves the source as it was. */
TEST(append_takes_all_of_the_source) {
    OHIPCParcel *src = new_parcel();
    OHIPCParcel *dst = new_parcel();
    int32_t v;
    CHECK_EQ(OH_IPCParcel_WriteInt32(src, 5), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt32(src, 6), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_ReadInt32(src, &v), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_Append(dst, src), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(dst), 8);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(src), 4);
    CHECK_EQ(OH_IPCParcel_GetDataSize(src), 8);
    CHECK_EQ(OH_IPCParcel_ReadInt32(dst, &v), OH_IPC_SUCCESS);
    CHECK_EQ(v, 5);
    OH_IPCParcel_Destroy(src);
    OH_IPCParcel_Destroy(dst);
}

TEST(append_to_itself_doubles_it) {
    int pfd[2];
    make_pipe(pfd);
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 1), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, pfd[0]), OH_IPC_SUCCESS);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(OH_IPCParcel_Append(p, p), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 12 * 32);
    for (int i = 0; i < 32; i++) {
        int32_t v, got;
        CHECK_EQ(OH_IPCParcel_ReadInt32(p, &v), OH_IPC_SUCCESS);
        CHECK_EQ(v, 1);
        CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(p, &got), OH_IPC_SUCCESS);
        same_file(got, pfd[0]);
        close(got);
    }
    OH_IPCParcel_Destroy(p);
    close(pfd[0]);
    close(pfd[1]);
}

TEST(append_errors_leave_the_parcel_unchanged) {
    int pfd[2];
    make_pipe(pfd);
    OHIPCParcel *src = new_parcel();
    OHIPCParcel *dst = new_parcel();
    CHECK_EQ(OH_IPCParcel_Append(NULL, src), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_Append(dst, NULL), OH_IPC_CHECK_PARAM_ERROR);

    uint8_t *big = calloc(MAX_DATA, 1);
    CHECK(big != NULL);
    CHECK_EQ(OH_IPCParcel_WriteBuffer(dst, big, MAX_DATA - 8), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt32(src, 1), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(src, pfd[0]), OH_IPC_SUCCESS);
    int before = count_fds();
    CHECK_EQ(OH_IPCParcel_Append(dst, src), OH_IPC_PARCEL_WRITE_ERROR);
    CHECK_EQ(count_fds(), before);
    CHECK_EQ(OH_IPCParcel_GetDataSize(dst), MAX_DATA - 8);
    /* An empty source always fits. */
    OHIPCParcel *empty = new_parcel();
    CHECK_EQ(OH_IPCParcel_Append(dst, empty), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(dst), MAX_DATA - 8);
    OH_IPCParcel_Destroy(empty);
    OH_IPCParcel_Destroy(src);
    OH_IPCParcel_Destroy(dst);
    free(big);
    close(pfd[0]);
    close(pfd[1]);
}

/* ---- 10. remote objects ------------------------------------------------------- */

/* Until the IPC transport exists, only the argument checks are real. */
static int destroyed;
static void count_destroy(void *user) { (void)user, destroyed++; }
static int echo_code(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply, void *user) {
    (void)data, (void)user;
    return OH_IPCParcel_WriteUint32(reply, code);
}

TEST(remote_objects_in_parcels) {
    OHIPCRemoteStub *stub = OH_IPCRemoteStub_Create("test.echo", echo_code, count_destroy, NULL);
    CHECK(stub != NULL);
    OHIPCParcel *p = new_parcel();
    CHECK_EQ(OH_IPCParcel_WriteRemoteStub(NULL, stub), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteRemoteStub(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteRemoteProxy(p, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_WriteInt64(p, 0), OH_IPC_SUCCESS);
    CHECK(OH_IPCParcel_ReadRemoteStub(p) == NULL); /* an int64 is here */
    CHECK(OH_IPCParcel_ReadRemoteProxy(p) == NULL);
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 0);
    CHECK_EQ(OH_IPCParcel_WriteRemoteStub(p, stub), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 16);
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(p, 8), OH_IPC_SUCCESS);
    CHECK(OH_IPCParcel_ReadRemoteStub(p) == stub);
    /* the same slot read as a proxy: a local proxy that calls the stub */
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(p, 8), OH_IPC_SUCCESS);
    OHIPCRemoteProxy *proxy = OH_IPCParcel_ReadRemoteProxy(p);
    CHECK(proxy != NULL);
    OHIPCParcel *data = new_parcel(), *reply = new_parcel();
    CHECK_EQ(OH_IPCRemoteProxy_SendRequest(proxy, 77, data, reply, NULL), OH_IPC_SUCCESS);
    uint32_t got = 0;
    CHECK_EQ(OH_IPCParcel_ReadUint32(reply, &got), OH_IPC_SUCCESS);
    CHECK_EQ(got, 77);
    /* a proxy in a parcel, read back: the same object */
    CHECK_EQ(OH_IPCParcel_WriteRemoteProxy(data, proxy), OH_IPC_SUCCESS);
    OHIPCRemoteProxy *again = OH_IPCParcel_ReadRemoteProxy(data);
    CHECK(again == proxy);
    /* references: the owner, the parcels, the proxies; destroy runs last */
    OH_IPCRemoteStub_Destroy(stub);
    OH_IPCParcel_Destroy(p);
    OH_IPCRemoteProxy_Destroy(again);
    OH_IPCParcel_Destroy(data);
    CHECK_EQ(destroyed, 0);
    OH_IPCRemoteProxy_Destroy(proxy);
    CHECK_EQ(destroyed, 1);
    OH_IPCParcel_Destroy(reply);
}
