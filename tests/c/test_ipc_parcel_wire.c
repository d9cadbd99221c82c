/*
 * test_ipc_parcel_wire.c - the parcel's private transport interface
 * (src/ipc_internal.h). Those functions are hidden in libipc_capi.so, so
 * this test compiles src/ipc_parcel.c into itself (tests/c/CMakeLists.txt).
 *
 * Map:
 *   1. helpers
 *   2. reading a parcel out
 *   3. rebuilding it from the wire
 *   4. hostile descriptions
 *   5. remote-object slots
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "ipc_error_code.h"
#include "ipc_internal.h"
#include "ipc_transport.h"
#include "testlib.h"

/* ---- 1. helpers --------------------------------------------------------- */

static bool fd_is_open(int fd) {
    return fcntl(fd, F_GETFD) >= 0;
}

static void same_file(int a, int b) {
    struct stat sa, sb;
    CHECK_EQ(fstat(a, &sa), 0);
    CHECK_EQ(fstat(b, &sb), 0);
    CHECK_EQ(sa.st_ino, sb.st_ino);
    CHECK_EQ(sa.st_dev, sb.st_dev);
}

/* 24 bytes: int32 7, an fd slot at 4, string "ab" at 12, an fd slot at 16. */
static OHIPCParcel *sample_parcel(int fd_a, int fd_b) {
    OHIPCParcel *p = OH_IPCParcel_Create();
    CHECK(p != NULL);
    CHECK_EQ(OH_IPCParcel_WriteInt32(p, 7), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, fd_a), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteString(p, "ab"), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(p, fd_b), OH_IPC_SUCCESS);
    return p;
}

/* A well-formed description to corrupt: bytes, two FD entries, two fds. */
struct wire {
    uint8_t data[24];
    struct parcel_object objs[2];
    int fds[2];
};

static void sample_wire(struct wire *w) {
    static const uint32_t fd_kind = PARCEL_OBJECT_FD;
    memset(w, 0, sizeof *w);
    memcpy(w->data + 4, &fd_kind, 4);
    memcpy(w->data + 16, &fd_kind, 4);
    w->objs[0] = (struct parcel_object){.kind = PARCEL_OBJECT_FD, .offset = 4, .fd = -1};
    w->objs[1] = (struct parcel_object){.kind = PARCEL_OBJECT_FD, .offset = 16, .fd = -1};
    CHECK_EQ(pipe2(w->fds, O_CLOEXEC), 0);
}

static int build(const struct wire *w, size_t size, size_t nobjs, size_t nfds,
                 OHIPCParcel **ret) {
    return parcel_from_wire(w->data, size, w->objs, nobjs, w->fds, nfds, ret);
}

/* A rejected description leaves *ret alone and the fds with the caller. */
static void rejected(const struct wire *w, size_t size, size_t nobjs, size_t nfds) {
    OHIPCParcel *p = (OHIPCParcel *)w;
    CHECK_EQ(build(w, size, nobjs, nfds, &p), -EINVAL);
    CHECK(p == (OHIPCParcel *)w);
    CHECK(fd_is_open(w->fds[0]) && fd_is_open(w->fds[1]));
}

/* ---- 2. reading a parcel out -------------------------------------------- */

TEST(data_and_objects_describe_the_parcel) {
    int pfd[2];
    CHECK_EQ(pipe2(pfd, O_CLOEXEC), 0);
    OHIPCParcel *p = sample_parcel(pfd[0], pfd[1]);
    size_t size, n;
    const uint8_t *data = parcel_data(p, &size);
    const struct parcel_object *objs = parcel_objects(p, &n);
    CHECK_EQ(size, 24);
    CHECK_EQ(n, 2);
    CHECK_EQ(objs[0].kind, PARCEL_OBJECT_FD);
    CHECK_EQ(objs[0].offset, 4);
    CHECK_EQ(objs[1].offset, 16);
    CHECK(objs[0].ptr == NULL);
    same_file(objs[0].fd, pfd[0]);
    same_file(objs[1].fd, pfd[1]);
    CHECK(fcntl(objs[0].fd, F_GETFD) & FD_CLOEXEC);
    uint32_t tag;
    memcpy(&tag, data + 16, 4);
    CHECK_EQ(tag, PARCEL_OBJECT_FD);
    CHECK_STREQ((const char *)data + 12, "ab");
    OH_IPCParcel_Destroy(p);
    close(pfd[0]);
    close(pfd[1]);
}

/* ---- 3. rebuilding it from the wire ---------------------------------------- */

/* What a transport does: send data + table + fds, rebuild on the other side. */
TEST(round_trip_through_the_wire_interface) {
    int pfd[2];
    CHECK_EQ(pipe2(pfd, O_CLOEXEC), 0);
    OHIPCParcel *p = sample_parcel(pfd[0], pfd[1]);
    size_t size, n;
    const uint8_t *data = parcel_data(p, &size);
    const struct parcel_object *objs = parcel_objects(p, &n);
    int fds[2] = {fcntl(objs[0].fd, F_DUPFD_CLOEXEC, 3), fcntl(objs[1].fd, F_DUPFD_CLOEXEC, 3)};
    OHIPCParcel *q = NULL;
    CHECK_EQ(parcel_from_wire(data, size, objs, n, fds, 2, &q), 0);
    OH_IPCParcel_Destroy(p);

    int32_t v, a, b;
    CHECK_EQ(OH_IPCParcel_GetDataSize(q), 24);
    CHECK_EQ(OH_IPCParcel_ReadInt32(q, &v), OH_IPC_SUCCESS);
    CHECK_EQ(v, 7);
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(q, &a), OH_IPC_SUCCESS);
    CHECK_STREQ(OH_IPCParcel_ReadString(q), "ab");
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(q, &b), OH_IPC_SUCCESS);
    same_file(a, pfd[0]);
    same_file(b, pfd[1]);
    close(a);
    close(b);
    OH_IPCParcel_Destroy(q); /* closes fds[0] and fds[1] */
    CHECK(!fd_is_open(fds[0]) && !fd_is_open(fds[1]));
    close(pfd[0]);
    close(pfd[1]);
}

TEST(empty_wire_parcel) {
    OHIPCParcel *q = NULL;
    CHECK_EQ(parcel_from_wire(NULL, 0, NULL, 0, NULL, 0, &q), 0);
    CHECK_EQ(OH_IPCParcel_GetDataSize(q), 0);
    CHECK(OH_IPCParcel_ReadBuffer(q, 0) == NULL); /* len 0: refused, as on the device */
    OH_IPCParcel_Destroy(q);
}

/* Bytes that look like an fd slot but are not in the table give no fd. */
TEST(lookalike_slot_is_not_an_object) {
    struct wire w;
    sample_wire(&w);
    OHIPCParcel *q = NULL;
    CHECK_EQ(build(&w, 24, 0, 0, &q), 0);
    int32_t fd;
    CHECK_EQ(OH_IPCParcel_RewindReadPosition(q, 4), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(q, &fd), OH_IPC_PARCEL_READ_ERROR);
    OH_IPCParcel_Destroy(q);
    close(w.fds[0]);
    close(w.fds[1]);
}

/* A received parcel that ends unpadded still reads, and later writes
 * start aligned. */
TEST(unaligned_wire_size) {
    uint8_t data[6] = {'a', 'b', 'c', 0, 'x', 0};
    OHIPCParcel *q = NULL;
    CHECK_EQ(parcel_from_wire(data, sizeof data, NULL, 0, NULL, 0, &q), 0);
    CHECK_STREQ(OH_IPCParcel_ReadString(q), "abc");
    CHECK_STREQ(OH_IPCParcel_ReadString(q), "x");
    CHECK_EQ(OH_IPCParcel_GetReadPosition(q), 6);
    CHECK_EQ(OH_IPCParcel_WriteInt32(q, 1), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(q), 12);
    OH_IPCParcel_Destroy(q);
}

/* A big receive buffer becomes a parcel without a copy; the parcel owns
 * it, reads it, writes after it, and gives it back to the cache. */
TEST(adopted_buffer_is_an_ordinary_parcel) {
    uint8_t *buf = parcel_buf_get();
    CHECK(buf != NULL);
    memset(buf, 0xEE, PARCEL_BUF_SIZE);
    const char msg[] = "adopted";
    memcpy(buf, msg, sizeof msg); /* 8 bytes: one string */
    OHIPCParcel *q = NULL;
    CHECK_EQ(parcel_adopt_wire(buf, PARCEL_MAX_DATA + 1, &q), -EINVAL);
    CHECK(q == NULL);
    CHECK_EQ(parcel_adopt_wire(buf, 7, &q), 0); /* unpadded, as a peer may send */
    size_t size;
    CHECK(parcel_data(q, &size) == buf);
    CHECK_EQ(size, 7u);
    CHECK_EQ(OH_IPCParcel_ReadString(q), NULL); /* its NUL is past the data */
    CHECK_EQ(OH_IPCParcel_WriteInt32(q, 5), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_GetDataSize(q), 12);
    CHECK_EQ(buf[7], 0); /* the gap, not the 0xEE that was there */
    CHECK_EQ(OH_IPCParcel_GetWritableBytes(q), (int)PARCEL_MAX_DATA - 12);
    static uint8_t fill[PARCEL_MAX_DATA - 12];
    CHECK_EQ(OH_IPCParcel_WriteBuffer(q, fill, (int32_t)sizeof fill), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCParcel_WriteInt32(q, 5), OH_IPC_PARCEL_WRITE_ERROR);
    OH_IPCParcel_Destroy(q);
    /* many buffers at once: the cache keeps a few, frees the rest */
    uint8_t *many[16];
    for (int i = 0; i < 16; i++) {
        many[i] = parcel_buf_get();
        CHECK(many[i] != NULL);
        memset(many[i], i, PARCEL_BUF_SIZE);
    }
    for (int i = 0; i < 16; i++)
        parcel_buf_put(many[i]);
    parcel_buf_put(NULL);
}

/* ---- 4. hostile descriptions ----------------------------------------------- */

TEST(rejects_bad_offsets) {
    struct wire w;
    sample_wire(&w);
    w.objs[1].offset = 18; /* unaligned */
    rejected(&w, 24, 2, 2);
    w.objs[1].offset = 20; /* slot runs past the end */
    rejected(&w, 24, 2, 2);
    w.objs[1].offset = 24; /* starts at the end */
    rejected(&w, 24, 2, 2);
    w.objs[1].offset = UINT32_MAX - 3; /* would wrap if added to */
    rejected(&w, 24, 2, 2);
    w.objs[1].offset = 8; /* overlaps the slot at 4 */
    rejected(&w, 24, 2, 2);
    w.objs[1].offset = 4; /* the same slot twice */
    rejected(&w, 24, 2, 2);
    w.objs[1].offset = 0; /* before the previous one */
    rejected(&w, 24, 2, 2);
    close(w.fds[0]);
    close(w.fds[1]);
}

TEST(rejects_bad_kinds) {
    struct wire w;
    sample_wire(&w);
    w.objs[0].kind = 0;
    rejected(&w, 24, 2, 2);
    w.objs[0].kind = PARCEL_OBJECT_STUB; /* the slot says FD */
    rejected(&w, 24, 2, 1);
    w.objs[0].kind = PARCEL_OBJECT_FD;
    w.data[16] ^= 1; /* slot no longer holds its kind */
    rejected(&w, 24, 2, 2);
    close(w.fds[0]);
    close(w.fds[1]);
}

TEST(rejects_fd_count_mismatch) {
    struct wire w;
    sample_wire(&w);
    rejected(&w, 24, 2, 1); /* one fd short */
    rejected(&w, 24, 1, 2); /* one fd left over */
    rejected(&w, 24, 0, 1);
    int saved = w.fds[1];
    w.fds[1] = -1;
    OHIPCParcel *p = NULL;
    CHECK_EQ(build(&w, 24, 2, 2, &p), -EINVAL);
    CHECK(p == NULL);
    w.fds[1] = saved;
    close(w.fds[0]);
    close(w.fds[1]);
}

TEST(rejects_bad_sizes_and_pointers) {
    struct wire w;
    sample_wire(&w);
    OHIPCParcel *p = NULL;
    rejected(&w, 3, 2, 2);               /* more objects than could fit */
    CHECK_EQ(parcel_from_wire(w.data, PARCEL_MAX_DATA + 4, NULL, 0, NULL, 0, &p), -EINVAL);
    CHECK_EQ(parcel_from_wire(NULL, 4, NULL, 0, NULL, 0, &p), -EINVAL);
    CHECK_EQ(parcel_from_wire(w.data, 24, NULL, 2, w.fds, 2, &p), -EINVAL);
    CHECK_EQ(parcel_from_wire(w.data, 24, w.objs, 2, NULL, 2, &p), -EINVAL);
    CHECK_EQ(parcel_from_wire(w.data, 24, w.objs, SIZE_MAX, w.fds, 2, &p), -EINVAL);
    CHECK(p == NULL);
    close(w.fds[0]);
    close(w.fds[1]);
}

/* ---- 5. remote-object slots --------------------------------------------------- */

static int no_request(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply, void *user) {
    (void)code, (void)data, (void)reply, (void)user;
    return 0;
}

TEST(remote_slots_round_trip) {
    OHIPCRemoteStub *stub = OH_IPCRemoteStub_Create("test.stub", no_request, NULL, NULL);
    OHIPCRemoteProxy *proxy = ipc_proxy_local(stub);
    OHIPCParcel *p = OH_IPCParcel_Create();
    CHECK(p != NULL && stub != NULL && proxy != NULL);
    CHECK_EQ(parcel_write_remote(p, PARCEL_OBJECT_STUB, stub), OH_IPC_SUCCESS);
    CHECK_EQ(parcel_write_remote(p, PARCEL_OBJECT_PROXY, proxy), OH_IPC_SUCCESS);
    CHECK_EQ(parcel_write_remote(p, PARCEL_OBJECT_FD, proxy), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(parcel_write_remote(p, PARCEL_OBJECT_STUB, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCParcel_GetDataSize(p), 16);
    CHECK(parcel_read_remote(p, PARCEL_OBJECT_PROXY) == NULL); /* a stub is here */
    CHECK_EQ(OH_IPCParcel_GetReadPosition(p), 0);
    CHECK(parcel_read_remote(p, PARCEL_OBJECT_STUB) == stub);
    CHECK(parcel_read_remote(p, PARCEL_OBJECT_PROXY) == proxy);
    CHECK(parcel_read_remote(p, PARCEL_OBJECT_PROXY) == NULL);

    /* Through the wire, a remote entry keeps the ptr (and the reference)
     * the transport put in. */
    size_t size, n;
    const uint8_t *data = parcel_data(p, &size);
    const struct parcel_object *objs = parcel_objects(p, &n);
    OHIPCParcel *q = NULL;
    ipc_stub_ref(stub);
    ipc_proxy_ref(proxy);
    CHECK_EQ(parcel_from_wire(data, size, objs, n, NULL, 0, &q), 0);
    CHECK(parcel_read_remote(q, PARCEL_OBJECT_STUB) == stub);
    OH_IPCParcel_Destroy(q);
    OH_IPCParcel_Destroy(p);
    CHECK_EQ(stub->refs, 2); /* ours and the local proxy's */
    CHECK_EQ(proxy->refs, 1);
    OH_IPCRemoteProxy_Destroy(proxy);
    OH_IPCRemoteStub_Destroy(stub);
}
