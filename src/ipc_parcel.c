/*
 * ipc_parcel.c - OH_IPCParcel_*: parcels as byte buffers plus a table of
 * out-of-band objects (behaviour.md §6; private interface in ipc_internal.h).
 *
 * Map:
 *   1. the parcel and its invariants
 *   2. small helpers
 *   3. data: growing, reserving at the end, taking at the read position
 *   4. the object table
 *   5. life cycle and positions
 *   6. numbers
 *   7. strings, buffers and interface tokens
 *   8. file descriptors and remote objects
 *   9. append
 *  10. the transport interface
 *  11. the cache of big data buffers
 */
#include "ipc_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ipc_error_code.h"
#include "ipc_transport.h"

/* ---- 1. the parcel and its invariants ------------------------------------ */

/* First allocation; small messages never reallocate. */
#define PARCEL_MIN_CAP 64u

/* A parcel that needs more than this many bytes of data gets a whole big
 * buffer (PARCEL_BUF_SIZE bytes, section 11) at once instead of growing
 * further by realloc. Big buffers are recycled, so a stream of large
 * parcels neither copies on growth nor makes the heap shrink and grow (and
 * fault pages in) on every message. */
#define PARCEL_BIG_CAP 65536u

/* Invariants: read_pos <= size <= cap <= PARCEL_MAX_DATA; data is never
 * NULL (so a zero-length read still yields a valid pointer); objs is sorted
 * by offset and every slot lies wholly inside [0, size) without overlap;
 * the fd of every FD entry is open, close-on-exec and owned by the parcel.
 * The write position is always `size`: rewinding it cuts the data.
 * Bytes of data past `size` are undefined (a recycled buffer holds what an
 * earlier parcel left there): every write zeroes the alignment gap before
 * its item and the padding after it, so no byte in [0, size) is stale. When
 * `big` is set, data is a big buffer (PARCEL_BUF_SIZE bytes, section 11)
 * and cap is PARCEL_MAX_DATA. */
struct OHIPCParcel {
    uint8_t *data;
    size_t size;     /* bytes of data, and the write position */
    size_t cap;      /* bytes usable at data */
    size_t read_pos; /* offset of the next read */
    bool big;        /* data came from parcel_buf_get */
    struct parcel_object *objs;
    size_t nobjs;
    size_t objs_cap;
};

/* ---- 2. small helpers ------------------------------------------------------ */

static size_t align4(size_t n) {
    return (n + 3u) & ~(size_t)3u;
}

/* The SDK's read functions take a const parcel yet must move its read
 * position. Every parcel is a heap object made by parcel_alloc, never a
 * const-defined object, so writing through this cast is well defined. */
static OHIPCParcel *mutable_parcel(const OHIPCParcel *p) {
    return (OHIPCParcel *)p;
}

/* A close-on-exec duplicate of fd, numbered 3 or above so it can never be
 * mistaken for stdio; -errno on failure (-EBADF: fd is not open). */
static int dup_cloexec(int fd) {
    int r = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    return r < 0 ? -errno : r;
}

static void close_fds(const int *fds, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            sys_close(fds[i]);
}

/* ---- 3. data: growing, reserving at the end, taking at the read position --- */

/* Make room for `need` (<= PARCEL_MAX_DATA) bytes. Capacity doubles, so
 * filling a parcel item by item copies O(size) bytes in all; past
 * PARCEL_BIG_CAP it jumps to a big buffer, the most a parcel can hold. */
static int parcel_grow(OHIPCParcel *p, size_t need) {
    if (need <= p->cap)
        return 0;
    size_t cap = p->cap * 2;
    if (cap < need)
        cap = need;
    if (cap > PARCEL_BIG_CAP) {
        uint8_t *data = parcel_buf_get();
        if (data == NULL)
            return -ENOMEM;
        memcpy(data, p->data, p->size);
        free(p->data); /* not big: a big parcel never needs to grow */
        p->data = data;
        p->cap = PARCEL_MAX_DATA;
        p->big = true;
        return 0;
    }
    uint8_t *data = realloc(p->data, cap);
    if (data == NULL)
        return -ENOMEM;
    p->data = data;
    p->cap = cap;
    return 0;
}

/* Claim `len` bytes plus padding to 4 at the end of the data, starting
 * 4-aligned even if a rewind left the size unaligned. The gap before the
 * start and the padding after the `len` bytes are zeroed here; the caller
 * must write all `len` bytes, so that no stale bytes travel. Returns 0 and
 * the start in *ret_off, or -EMSGSIZE (over the limit) / -ENOMEM with the
 * parcel unchanged. */
static int parcel_reserve(OHIPCParcel *p, size_t len, size_t *ret_off) {
    /* PARCEL_MAX_DATA is a multiple of 4, so start <= PARCEL_MAX_DATA and
     * len <= PARCEL_MAX_DATA - start implies the padded end fits too. */
    size_t start = align4(p->size);
    if (len > PARCEL_MAX_DATA - start)
        return -EMSGSIZE;
    size_t end = start + align4(len);
    int r = parcel_grow(p, end);
    if (r < 0)
        return r;
    memset(p->data + p->size, 0, start - p->size);
    memset(p->data + start + len, 0, end - (start + len));
    p->size = end;
    *ret_off = start;
    return 0;
}

/* Point *ret at `len` bytes at the read position and move past them and
 * their padding, the padding only as far as the data goes (a received
 * parcel may end unpadded). -ENODATA, position unchanged, if fewer than
 * `len` bytes remain. */
static int parcel_take(const OHIPCParcel *p, size_t len, const uint8_t **ret) {
    OHIPCParcel *m = mutable_parcel(p);
    size_t left = m->size - m->read_pos;
    if (len > left)
        return -ENODATA;
    size_t step = align4(len);
    *ret = m->data + m->read_pos;
    m->read_pos += step < left ? step : left;
    return 0;
}

/* put_bytes/get_bytes: the public write/read of one item, as OH_IPC_* codes. */
static int put_bytes(OHIPCParcel *p, const void *src, size_t len) {
    size_t off;
    if (p == NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    if (parcel_reserve(p, len, &off) < 0)
        return OH_IPC_PARCEL_WRITE_ERROR;
    memcpy(p->data + off, src, len);
    return OH_IPC_SUCCESS;
}

static int get_bytes(const OHIPCParcel *p, void *dst, size_t len) {
    const uint8_t *src;
    if (p == NULL || dst == NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    if (parcel_take(p, len, &src) < 0)
        return OH_IPC_PARCEL_READ_ERROR;
    memcpy(dst, src, len);
    return OH_IPC_SUCCESS;
}

/* ---- 4. the object table ----------------------------------------------------- */

/* Make room for `more` entries, so the pushes that follow cannot fail.
 * Counts stay small (at most PARCEL_MAX_DATA / PARCEL_OBJECT_SIZE per
 * parcel), so the products below cannot overflow. */
static int objs_reserve(OHIPCParcel *p, size_t more) {
    if (more <= p->objs_cap - p->nobjs)
        return 0;
    size_t cap = p->objs_cap ? p->objs_cap * 2 : 4;
    if (cap < p->nobjs + more)
        cap = p->nobjs + more;
    struct parcel_object *objs = realloc(p->objs, cap * sizeof *objs);
    if (objs == NULL)
        return -ENOMEM;
    p->objs = objs;
    p->objs_cap = cap;
    return 0;
}

/* Each entry holds what it names: an fd, or a reference to a stub/proxy. */
static void object_release(struct parcel_object *o) {
    if (o->kind == PARCEL_OBJECT_FD)
        sys_close(o->fd);
    else if (o->kind == PARCEL_OBJECT_STUB)
        ipc_stub_unref(o->ptr);
    else if (o->kind == PARCEL_OBJECT_PROXY)
        ipc_proxy_unref(o->ptr);
}

static void object_ref(const struct parcel_object *o) {
    if (o->kind == PARCEL_OBJECT_STUB)
        ipc_stub_ref(o->ptr);
    else if (o->kind == PARCEL_OBJECT_PROXY)
        ipc_proxy_ref(o->ptr);
}

/* Drop, from the end, every entry whose slot does not lie wholly before `end`. */
static void objs_truncate(OHIPCParcel *p, size_t end) {
    while (p->nobjs > 0) {
        struct parcel_object *o = &p->objs[p->nobjs - 1];
        if ((size_t)o->offset + PARCEL_OBJECT_SIZE <= end)
            break;
        object_release(o);
        p->nobjs--;
    }
}

/* The `kind` entry whose slot starts exactly at the read position, or NULL.
 * Binary search: the table is sorted by offset. */
static const struct parcel_object *object_here(const OHIPCParcel *p, uint32_t kind) {
    size_t lo = 0, hi = p->nobjs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->objs[mid].offset < p->read_pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == p->nobjs || p->objs[lo].offset != p->read_pos || p->objs[lo].kind != kind)
        return NULL;
    return &p->objs[lo];
}

/* Append a slot for `o` (its offset is filled in here). On success the
 * parcel owns o.fd; on failure the caller still does. A new slot starts at
 * or after the end of the data, so the table stays sorted. */
static int put_object(OHIPCParcel *p, struct parcel_object o) {
    size_t off;
    uint32_t slot[PARCEL_OBJECT_SIZE / sizeof(uint32_t)] = {o.kind};
    if (objs_reserve(p, 1) < 0 || parcel_reserve(p, PARCEL_OBJECT_SIZE, &off) < 0)
        return OH_IPC_PARCEL_WRITE_ERROR;
    memcpy(p->data + off, slot, sizeof slot);
    o.offset = (uint32_t)off;
    p->objs[p->nobjs++] = o;
    return OH_IPC_SUCCESS;
}

/* ---- 5. life cycle and positions -------------------------------------------- */

/* An empty parcel with room for `cap` (<= PARCEL_MAX_DATA) bytes. */
static OHIPCParcel *parcel_alloc(size_t cap) {
    OHIPCParcel *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->cap = cap < PARCEL_MIN_CAP ? PARCEL_MIN_CAP : cap;
    p->big = p->cap > PARCEL_BIG_CAP;
    if (p->big)
        p->cap = PARCEL_MAX_DATA;
    p->data = p->big ? parcel_buf_get() : malloc(p->cap);
    if (p->data == NULL) {
        free(p);
        return NULL;
    }
    return p;
}

OHIPCParcel *OH_IPCParcel_Create(void) {
    return parcel_alloc(PARCEL_MIN_CAP);
}

void OH_IPCParcel_Destroy(OHIPCParcel *parcel) {
    if (parcel == NULL)
        return;
    objs_truncate(parcel, 0);
    free(parcel->objs);
    if (parcel->big)
        parcel_buf_put(parcel->data);
    else
        free(parcel->data);
    free(parcel);
}

/* Sizes are at most PARCEL_MAX_DATA, so every cast to int below is exact. */
int OH_IPCParcel_GetDataSize(const OHIPCParcel *parcel) {
    return parcel ? (int)parcel->size : -1;
}

int OH_IPCParcel_GetWritableBytes(const OHIPCParcel *parcel) {
    return parcel ? (int)(PARCEL_MAX_DATA - align4(parcel->size)) : -1;
}

int OH_IPCParcel_GetReadableBytes(const OHIPCParcel *parcel) {
    return parcel ? (int)(parcel->size - parcel->read_pos) : -1;
}

int OH_IPCParcel_GetReadPosition(const OHIPCParcel *parcel) {
    return parcel ? (int)parcel->read_pos : -1;
}

int OH_IPCParcel_GetWritePosition(const OHIPCParcel *parcel) {
    return parcel ? (int)parcel->size : -1;
}

int OH_IPCParcel_RewindReadPosition(OHIPCParcel *parcel, uint32_t newReadPos) {
    if (parcel == NULL || newReadPos > parcel->size)
        return OH_IPC_CHECK_PARAM_ERROR;
    parcel->read_pos = newReadPos;
    return OH_IPC_SUCCESS;
}

/* Cuts the data, as on the device: a write position inside the data would
 * otherwise leave stale items, and stale fd slots, after it. */
int OH_IPCParcel_RewindWritePosition(OHIPCParcel *parcel, uint32_t newWritePos) {
    if (parcel == NULL || newWritePos > parcel->size)
        return OH_IPC_CHECK_PARAM_ERROR;
    objs_truncate(parcel, newWritePos);
    parcel->size = newWritePos;
    if (parcel->read_pos > parcel->size)
        parcel->read_pos = parcel->size;
    return OH_IPC_SUCCESS;
}

/* ---- 6. numbers ------------------------------------------------------------- */

/* 8- and 16-bit values travel as 32 bits: signed ones sign-extended,
 * unsigned ones zero-extended; reads keep the low bits. */
static int put_i32(OHIPCParcel *p, int32_t v) {
    return put_bytes(p, &v, sizeof v);
}

static int put_u32(OHIPCParcel *p, uint32_t v) {
    return put_bytes(p, &v, sizeof v);
}

int OH_IPCParcel_WriteInt8(OHIPCParcel *parcel, int8_t value) {
    return put_i32(parcel, value);
}

int OH_IPCParcel_ReadInt8(const OHIPCParcel *parcel, int8_t *value) {
    int32_t w;
    int rc = value ? get_bytes(parcel, &w, sizeof w) : OH_IPC_CHECK_PARAM_ERROR;
    if (rc == OH_IPC_SUCCESS)
        *value = (int8_t)w;
    return rc;
}

int OH_IPCParcel_WriteInt16(OHIPCParcel *parcel, int16_t value) {
    return put_i32(parcel, value);
}

int OH_IPCParcel_ReadInt16(const OHIPCParcel *parcel, int16_t *value) {
    int32_t w;
    int rc = value ? get_bytes(parcel, &w, sizeof w) : OH_IPC_CHECK_PARAM_ERROR;
    if (rc == OH_IPC_SUCCESS)
        *value = (int16_t)w;
    return rc;
}

int OH_IPCParcel_WriteUint8(OHIPCParcel *parcel, uint8_t value) {
    return put_u32(parcel, value);
}

int OH_IPCParcel_ReadUint8(const OHIPCParcel *parcel, uint8_t *value) {
    uint32_t w;
    int rc = value ? get_bytes(parcel, &w, sizeof w) : OH_IPC_CHECK_PARAM_ERROR;
    if (rc == OH_IPC_SUCCESS)
        *value = (uint8_t)w;
    return rc;
}

int OH_IPCParcel_WriteUint16(OHIPCParcel *parcel, uint16_t value) {
    return put_u32(parcel, value);
}

int OH_IPCParcel_ReadUint16(const OHIPCParcel *parcel, uint16_t *value) {
    uint32_t w;
    int rc = value ? get_bytes(parcel, &w, sizeof w) : OH_IPC_CHECK_PARAM_ERROR;
    if (rc == OH_IPC_SUCCESS)
        *value = (uint16_t)w;
    return rc;
}

/* The rest are stored as they are, in host byte order (both ends of a
 * transport are the same machine). */
int OH_IPCParcel_WriteInt32(OHIPCParcel *parcel, int32_t value) {
    return put_bytes(parcel, &value, sizeof value);
}

int OH_IPCParcel_ReadInt32(const OHIPCParcel *parcel, int32_t *value) {
    return get_bytes(parcel, value, sizeof *value);
}

int OH_IPCParcel_WriteInt64(OHIPCParcel *parcel, int64_t value) {
    return put_bytes(parcel, &value, sizeof value);
}

int OH_IPCParcel_ReadInt64(const OHIPCParcel *parcel, int64_t *value) {
    return get_bytes(parcel, value, sizeof *value);
}

int OH_IPCParcel_WriteUint32(OHIPCParcel *parcel, uint32_t value) {
    return put_bytes(parcel, &value, sizeof value);
}

int OH_IPCParcel_ReadUint32(const OHIPCParcel *parcel, uint32_t *value) {
    return get_bytes(parcel, value, sizeof *value);
}

int OH_IPCParcel_WriteUint64(OHIPCParcel *parcel, uint64_t value) {
    return put_bytes(parcel, &value, sizeof value);
}

int OH_IPCParcel_ReadUint64(const OHIPCParcel *parcel, uint64_t *value) {
    return get_bytes(parcel, value, sizeof *value);
}

int OH_IPCParcel_WriteFloat(OHIPCParcel *parcel, float value) {
    return put_bytes(parcel, &value, sizeof value);
}

int OH_IPCParcel_ReadFloat(const OHIPCParcel *parcel, float *value) {
    return get_bytes(parcel, value, sizeof *value);
}

int OH_IPCParcel_WriteDouble(OHIPCParcel *parcel, double value) {
    return put_bytes(parcel, &value, sizeof value);
}

int OH_IPCParcel_ReadDouble(const OHIPCParcel *parcel, double *value) {
    return get_bytes(parcel, value, sizeof *value);
}

/* ---- 7. strings, buffers and interface tokens -------------------------------- */

/* Length, NUL included, of the string at the read position; 0 if no NUL
 * comes before the end of the data (never read past it, §6). */
static size_t string_here(const OHIPCParcel *p) {
    const uint8_t *start = p->data + p->read_pos;
    const uint8_t *nul = memchr(start, 0, p->size - p->read_pos);
    return nul ? (size_t)(nul - start) + 1 : 0;
}

int OH_IPCParcel_WriteString(OHIPCParcel *parcel, const char *str) {
    if (str == NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    return put_bytes(parcel, str, strlen(str) + 1);
}

const char *OH_IPCParcel_ReadString(const OHIPCParcel *parcel) {
    const uint8_t *s;
    if (parcel == NULL)
        return NULL;
    size_t n = string_here(parcel);
    if (n == 0 || parcel_take(parcel, n, &s) < 0)
        return NULL;
    return (const char *)s;
}

/* An empty buffer is refused, as on the device (len <= 0). */
int OH_IPCParcel_WriteBuffer(OHIPCParcel *parcel, const uint8_t *buffer, int32_t len) {
    if (buffer == NULL || len <= 0)
        return OH_IPC_CHECK_PARAM_ERROR;
    return put_bytes(parcel, buffer, (size_t)len);
}

/* Skips the padding WriteBuffer added, so a buffer read mirrors its write
 * (§6). */
const uint8_t *OH_IPCParcel_ReadBuffer(const OHIPCParcel *parcel, int32_t len) {
    const uint8_t *b;
    if (parcel == NULL || len <= 0 || parcel_take(parcel, (size_t)len, &b) < 0)
        return NULL;
    return b;
}

int OH_IPCParcel_WriteInterfaceToken(OHIPCParcel *parcel, const char *token) {
    return OH_IPCParcel_WriteString(parcel, token);
}

/* Allocates only after the string is known to be there, so a failed read
 * leaves the caller nothing to free. */
int OH_IPCParcel_ReadInterfaceToken(const OHIPCParcel *parcel, char **token, int32_t *len,
                                    OH_IPC_MemAllocator allocator) {
    const uint8_t *s;
    if (parcel == NULL || token == NULL || len == NULL || allocator == NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    size_t n = string_here(parcel);
    if (n == 0)
        return OH_IPC_PARCEL_READ_ERROR;
    char *copy = allocator((int32_t)n);
    if (copy == NULL)
        return OH_IPC_MEM_ALLOCATOR_ERROR;
    memcpy(copy, parcel->data + parcel->read_pos, n);
    (void)parcel_take(parcel, n, &s); /* cannot fail: string_here saw n bytes */
    *token = copy;
    *len = (int32_t)n;
    return OH_IPC_SUCCESS;
}

/* ---- 8. file descriptors and remote objects --------------------------------- */

/* The parcel keeps its own duplicate, so the writer's fd stays the writer's
 * and closing it early does not matter (§6). */
int OH_IPCParcel_WriteFileDescriptor(OHIPCParcel *parcel, int32_t fd) {
    if (parcel == NULL || fd < 0)
        return OH_IPC_CHECK_PARAM_ERROR;
    int copy = dup_cloexec(fd);
    if (copy < 0)
        return copy == -EBADF ? OH_IPC_CHECK_PARAM_ERROR : OH_IPC_PARCEL_WRITE_ERROR;
    struct parcel_object o = {.kind = PARCEL_OBJECT_FD, .fd = copy, .ptr = NULL};
    int rc = put_object(parcel, o);
    if (rc != OH_IPC_SUCCESS)
        sys_close(copy);
    return rc;
}

/* Each read makes a new duplicate the caller owns; the parcel keeps its
 * copy, so rewinding and reading again works and Destroy stays safe. The
 * position moves only once the duplicate exists. */
int OH_IPCParcel_ReadFileDescriptor(const OHIPCParcel *parcel, int32_t *fd) {
    if (parcel == NULL || fd == NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    const struct parcel_object *o = object_here(parcel, PARCEL_OBJECT_FD);
    if (o == NULL)
        return OH_IPC_PARCEL_READ_ERROR;
    int copy = dup_cloexec(o->fd);
    if (copy < 0)
        return OH_IPC_PARCEL_READ_ERROR;
    mutable_parcel(parcel)->read_pos += PARCEL_OBJECT_SIZE;
    *fd = copy;
    return OH_IPC_SUCCESS;
}

int OH_IPCParcel_WriteRemoteStub(OHIPCParcel *parcel, const OHIPCRemoteStub *stub) {
    return parcel_write_remote(parcel, PARCEL_OBJECT_STUB, (void *)stub);
}

/* A stub of this process: borrowed, valid while the parcel holds it. */
OHIPCRemoteStub *OH_IPCParcel_ReadRemoteStub(const OHIPCParcel *parcel) {
    return parcel_read_remote(parcel, PARCEL_OBJECT_STUB);
}

int OH_IPCParcel_WriteRemoteProxy(OHIPCParcel *parcel, const OHIPCRemoteProxy *proxy) {
    return parcel_write_remote(parcel, PARCEL_OBJECT_PROXY, (void *)proxy);
}

/* A new proxy reference the caller releases with OH_IPCRemoteProxy_Destroy.
 * A stub of this process read as a proxy gives a local proxy to it. */
OHIPCRemoteProxy *OH_IPCParcel_ReadRemoteProxy(const OHIPCParcel *parcel) {
    OHIPCRemoteProxy *proxy = parcel_read_remote(parcel, PARCEL_OBJECT_PROXY);
    if (proxy != NULL) {
        ipc_proxy_ref(proxy);
        return proxy;
    }
    OHIPCRemoteStub *stub = parcel_read_remote(parcel, PARCEL_OBJECT_STUB);
    return stub != NULL ? ipc_proxy_local(stub) : NULL;
}

/* ---- 9. append -------------------------------------------------------------- */

/* One new fd per FD entry of src (-1 for other kinds) into fds[0..n). On
 * failure nothing is left open. */
static int dup_object_fds(const OHIPCParcel *src, size_t n, int *fds) {
    for (size_t i = 0; i < n; i++) {
        fds[i] = -1;
        if (src->objs[i].kind != PARCEL_OBJECT_FD)
            continue;
        fds[i] = dup_cloexec(src->objs[i].fd);
        if (fds[i] < 0) {
            close_fds(fds, i);
            return fds[i];
        }
    }
    return 0;
}

/* Copy src's first n entries, shifted by `base`, with the fds from
 * dup_object_fds. dst has room (objs_reserve). dst may be src. */
static void append_objects(OHIPCParcel *dst, const OHIPCParcel *src, size_t n, const int *fds,
                           size_t base) {
    for (size_t i = 0; i < n; i++) {
        struct parcel_object o = src->objs[i];
        o.offset += (uint32_t)base;
        o.fd = fds[i];
        object_ref(&o);
        dst->objs[dst->nobjs++] = o;
    }
}

/* All fallible steps come before the first change to `parcel`, so a failed
 * Append leaves it as it was. `data` may be `parcel` itself: its size and
 * entry count are taken first, and the copies cannot overlap. */
int OH_IPCParcel_Append(OHIPCParcel *parcel, const OHIPCParcel *data) {
    if (parcel == NULL || data == NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    size_t n = data->size, nobjs = data->nobjs, off;
    int *fds = nobjs ? malloc(nobjs * sizeof *fds) : NULL;
    int rc = OH_IPC_PARCEL_WRITE_ERROR;
    if ((nobjs && fds == NULL) || objs_reserve(parcel, nobjs) < 0)
        goto out;
    if (dup_object_fds(data, nobjs, fds) < 0)
        goto out;
    if (parcel_reserve(parcel, n, &off) < 0) {
        close_fds(fds, nobjs);
        goto out;
    }
    memcpy(parcel->data + off, data->data, n);
    append_objects(parcel, data, nobjs, fds, off);
    rc = OH_IPC_SUCCESS;
out:
    free(fds);
    return rc;
}

/* ---- 10. the transport interface -------------------------------------------- */

const uint8_t *parcel_data(const OHIPCParcel *p, size_t *ret_size) {
    *ret_size = p->size;
    return p->data;
}

const struct parcel_object *parcel_objects(const OHIPCParcel *p, size_t *ret_count) {
    *ret_count = p->nobjs;
    return p->objs;
}

static bool known_kind(uint32_t kind) {
    return kind == PARCEL_OBJECT_FD || kind == PARCEL_OBJECT_STUB || kind == PARCEL_OBJECT_PROXY;
}

/* One received entry: known kind, aligned, not before `prev_end` (the end
 * of the previous slot, so sorted and disjoint), inside the data, and its
 * slot says the same kind. Offsets are compared without adding to them, so
 * a hostile offset near UINT32_MAX cannot wrap. */
static bool wire_object_ok(const uint8_t *data, size_t size, const struct parcel_object *o,
                           size_t prev_end) {
    uint32_t tag;
    if (!known_kind(o->kind) || o->offset % 4u != 0 || o->offset < prev_end)
        return false;
    if (o->offset > size || size - o->offset < PARCEL_OBJECT_SIZE)
        return false;
    memcpy(&tag, data + o->offset, sizeof tag);
    return tag == o->kind;
}

static int wire_check(const uint8_t *data, size_t size, const struct parcel_object *objs,
                      size_t nobjs, const int *fds, size_t nfds) {
    size_t prev_end = 0, used = 0;
    if (size > PARCEL_MAX_DATA || nobjs > size / PARCEL_OBJECT_SIZE)
        return -EINVAL;
    if ((size && data == NULL) || (nobjs && objs == NULL) || (nfds && fds == NULL))
        return -EINVAL;
    for (size_t i = 0; i < nobjs; i++) {
        if (!wire_object_ok(data, size, &objs[i], prev_end))
            return -EINVAL;
        prev_end = (size_t)objs[i].offset + PARCEL_OBJECT_SIZE;
        if (objs[i].kind == PARCEL_OBJECT_FD && (used == nfds || fds[used++] < 0))
            return -EINVAL;
    }
    return used == nfds ? 0 : -EINVAL;
}

int parcel_from_wire(const uint8_t *data, size_t size, const struct parcel_object *objs,
                     size_t nobjs, const int *fds, size_t nfds, OHIPCParcel **ret) {
    int r = wire_check(data, size, objs, nobjs, fds, nfds);
    if (r < 0)
        return r;
    OHIPCParcel *p = parcel_alloc(size);
    if (p == NULL || objs_reserve(p, nobjs) < 0) {
        OH_IPCParcel_Destroy(p);
        return -ENOMEM;
    }
    if (size)
        memcpy(p->data, data, size);
    p->size = size;
    for (size_t i = 0, used = 0; i < nobjs; i++) {
        struct parcel_object o = objs[i];
        bool is_fd = o.kind == PARCEL_OBJECT_FD;
        o.fd = is_fd ? fds[used++] : -1;
        o.ptr = is_fd ? NULL : o.ptr;
        p->objs[p->nobjs++] = o;
    }
    *ret = p;
    return 0;
}

int parcel_adopt_wire(uint8_t *buf, size_t size, OHIPCParcel **ret) {
    int r = wire_check(buf, size, NULL, 0, NULL, 0);
    if (r < 0)
        return r;
    OHIPCParcel *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    p->data = buf;
    p->size = size;
    p->cap = PARCEL_MAX_DATA;
    p->big = true;
    *ret = p;
    return 0;
}

int parcel_write_remote(OHIPCParcel *p, uint32_t kind, void *ptr) {
    if (p == NULL || ptr == NULL || (kind != PARCEL_OBJECT_STUB && kind != PARCEL_OBJECT_PROXY))
        return OH_IPC_CHECK_PARAM_ERROR;
    struct parcel_object o = {.kind = kind, .fd = -1, .ptr = ptr};
    int rc = put_object(p, o);
    if (rc == OH_IPC_SUCCESS)
        object_ref(&o); /* the parcel holds the object while it is in it */
    return rc;
}

void parcel_move(OHIPCParcel *dst, OHIPCParcel *src) {
    OHIPCParcel old = *dst;
    *dst = *src;
    *src = old;
    OH_IPCParcel_Destroy(src);
}

void *parcel_read_remote(const OHIPCParcel *p, uint32_t kind) {
    const struct parcel_object *o = p ? object_here(p, kind) : NULL;
    if (o == NULL)
        return NULL;
    mutable_parcel(p)->read_pos += PARCEL_OBJECT_SIZE;
    return o->ptr;
}

/* ---- 11. the cache of big data buffers --------------------------------------- */

/* Big buffers (PARCEL_BUF_SIZE bytes) back every parcel of more than
 * PARCEL_BIG_CAP bytes and every receive buffer of the transport. Freed
 * ones wait here, at most BIG_CACHE_SLOTS of them (under 1 MiB) for the
 * life of the process, so the next large message finds its memory mapped
 * already. Each slot is one atomic pointer: a buffer is taken by swapping
 * NULL in, so the taker owns it alone, and parked by swapping it into an
 * empty slot. No lock, hence nothing to repair after fork(): a buffer some
 * other thread held at the fork is merely absent from the child's cache.
 * Parked buffers stay reachable from this array (for LeakSanitizer). */
#define BIG_CACHE_SLOTS 4u

static uint8_t *big_cache[BIG_CACHE_SLOTS];

uint8_t *parcel_buf_get(void) {
    for (size_t i = 0; i < BIG_CACHE_SLOTS; i++) {
        if (__atomic_load_n(&big_cache[i], __ATOMIC_RELAXED) == NULL)
            continue;
        uint8_t *buf = __atomic_exchange_n(&big_cache[i], NULL, __ATOMIC_ACQUIRE);
        if (buf != NULL)
            return buf;
    }
    return malloc(PARCEL_BUF_SIZE);
}

void parcel_buf_put(uint8_t *buf) {
    if (buf == NULL)
        return;
    for (size_t i = 0; i < BIG_CACHE_SLOTS; i++) {
        uint8_t *empty = NULL;
        if (__atomic_load_n(&big_cache[i], __ATOMIC_RELAXED) == NULL &&
            __atomic_compare_exchange_n(&big_cache[i], &empty, buf, false, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED))
            return;
    }
    free(buf);
}
