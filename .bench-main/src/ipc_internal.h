/*
 * ipc_internal.h - declarations shared inside libipc_capi.so.
 *
 * Map:
 *   1. parcel limits and object slots
 *   2. what a transport reads from a parcel it sends
 *   3. building a parcel from what a transport received; big buffers
 *   4. remote-object slots (for the transport to use)
 */
#ifndef OHNCP_IPC_INTERNAL_H
#define OHNCP_IPC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ipc_cparcel.h"
#include "sys.h"

/* ---- 1. parcel limits and object slots ----------------------------------- */

/* Most bytes of data one parcel holds (behaviour.md §6). */
#define PARCEL_MAX_DATA 204800u

/* Bytes of a big buffer: what backs a parcel of more than 64 KiB, and what
 * a transport receives into (a message's object descriptions, at most
 * PARCEL_BUF_SIZE - PARCEL_MAX_DATA bytes, then its data). */
#define PARCEL_BUF_SIZE (PARCEL_MAX_DATA + 16384u)

/* Every out-of-band object (fd, stub, proxy) owns an 8-byte slot in the
 * data, 4-byte aligned: the first word is its kind, the second is 0 when
 * written locally and is left to the transport (a handle, say). The object
 * table, not the data, says where objects are: bytes that merely look like
 * a slot are never taken for one. */
#define PARCEL_OBJECT_SIZE 8u

enum parcel_object_kind {
    PARCEL_OBJECT_FD = 0x66640001u,    /* a file descriptor the parcel owns */
    PARCEL_OBJECT_STUB = 0x66640002u,  /* an OHIPCRemoteStub */
    PARCEL_OBJECT_PROXY = 0x66640003u, /* an OHIPCRemoteProxy */
};

/* One entry of a parcel's object table. Tables are sorted by offset and
 * slots never overlap. */
struct parcel_object {
    uint32_t kind;   /* enum parcel_object_kind */
    uint32_t offset; /* where the slot starts in the data */
    int fd;          /* PARCEL_OBJECT_FD: owned by the parcel; else -1 */
    void *ptr;       /* STUB/PROXY: the object (not owned); else NULL */
};

/* ---- 2. what a transport reads from a parcel it sends ---------------------- */

/* The whole data (not only the unread part) and its size in *ret_size.
 * Valid until the parcel changes. */
OHNCP_HIDDEN const uint8_t *parcel_data(const OHIPCParcel *p, size_t *ret_size);

/* The object table and its length in *ret_count. The fds stay owned by the
 * parcel; a transport passes them with SCM_RIGHTS in table order. Valid
 * until the parcel changes. */
OHNCP_HIDDEN const struct parcel_object *parcel_objects(const OHIPCParcel *p,
                                                        size_t *ret_count);

/* ---- 3. building a parcel from what a transport received ------------------ */

/* Build a parcel from received bytes, the sender's object table (kind and
 * offset of each entry; the fd fields are ignored) and the received fds,
 * which belong, in order, to the PARCEL_OBJECT_FD entries. STUB/PROXY
 * entries keep their ptr, and on success the parcel owns the reference the
 * transport took for each (on failure the transport still does).
 * Everything is treated as hostile: size at most PARCEL_MAX_DATA, known
 * kinds only, each slot 4-byte aligned, inside the data, after the one
 * before it without overlap, holding its kind in its first word, exactly
 * one fd per FD entry and none negative.
 * Returns 0 and the parcel in *ret, which then owns the fds; or -EINVAL
 * (bad description) / -ENOMEM, with *ret untouched and the fds still the
 * caller's to close. */
OHNCP_HIDDEN int parcel_from_wire(const uint8_t *data, size_t size,
                                  const struct parcel_object *objs, size_t nobjs,
                                  const int *fds, size_t nfds, OHIPCParcel **ret);

/* Build a parcel that takes over `buf`, a big buffer (parcel_buf_get)
 * whose first `size` bytes are received data with no objects. Returns 0
 * and the parcel in *ret, which then owns buf; or -EINVAL (too big) /
 * -ENOMEM, and buf stays the caller's. */
OHNCP_HIDDEN int parcel_adopt_wire(uint8_t *buf, size_t size, OHIPCParcel **ret);

/* A big buffer of PARCEL_BUF_SIZE bytes (contents undefined), from a small
 * process-wide cache or else malloc; NULL if out of memory. */
OHNCP_HIDDEN uint8_t *parcel_buf_get(void);

/* Give back a big buffer: parked in the cache if a slot is free, else
 * freed. NULL is ignored. */
OHNCP_HIDDEN void parcel_buf_put(uint8_t *buf);

/* ---- 4. remote-object slots (for the transport to use) -------------------- */

/* Append a STUB or PROXY slot holding `ptr`; the parcel takes a reference
 * to it (ipc_transport.h). Returns an OH_IPC_* code. */
OHNCP_HIDDEN int parcel_write_remote(OHIPCParcel *p, uint32_t kind, void *ptr);

/* The ptr of the `kind` slot at the read position, advancing past it; NULL
 * (position unchanged) if no such slot starts there. No new reference. */
OHNCP_HIDDEN void *parcel_read_remote(const OHIPCParcel *p, uint32_t kind);

/* Give `dst` the contents of `src` (what dst held is released) and free
 * src. */
OHNCP_HIDDEN void parcel_move(OHIPCParcel *dst, OHIPCParcel *src);

#endif /* OHNCP_IPC_INTERNAL_H */
