/*
 * ipc_cparcel.h - parcels: the messages IPC requests and replies carry.
 *
 * Source- and ABI-compatible with the OpenHarmony SDK header of the same
 * name (IPCKit). Names and signatures are fixed by the SDK; the comments are
 * ours and describe the ohncp host runtime (behaviour.md §2.2, §6).
 *
 * Wire rules: every item starts 4-byte aligned; 8- and 16-bit integers take
 * 4 bytes; a string is its bytes, a NUL, and zero padding to a multiple of 4;
 * a buffer is its bytes padded the same way. A parcel holds at most 204,800
 * bytes of data. Reads never go past the end of the data: they fail and
 * leave the read position where it was. Return codes are OH_IPC_ErrorCode
 * values (ipc_error_code.h). A parcel is not safe to use from two threads at
 * once.
 *
 * Map:
 *   1. opaque types and the allocator
 *   2. life cycle and positions
 *   3. numbers
 *   4. strings and buffers
 *   5. remote objects and file descriptors
 *   6. whole parcels and interface tokens
 */
#ifndef OHNCP_IPC_CPARCEL_H
#define OHNCP_IPC_CPARCEL_H

#include "ohncp_api_level.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. opaque types and the allocator ---------------------------------- */

typedef struct OHIPCParcel OHIPCParcel OHNCP_SINCE_T(12);
/* A handle on a remote object that lives in another process. */
typedef struct OHIPCRemoteProxy OHIPCRemoteProxy OHNCP_SINCE_T(12);
/* A local object that answers requests (ipc_cremote_object.h). */
typedef struct OHIPCRemoteStub OHIPCRemoteStub OHNCP_SINCE_T(12);

/* Allocates `len` bytes for memory the API hands back to the caller (tokens,
 * descriptors, identities); the caller frees it the matching way. Returning
 * NULL makes the call fail with OH_IPC_MEM_ALLOCATOR_ERROR. */
typedef void *(*OH_IPC_MemAllocator)(int32_t len) OHNCP_SINCE_T(12);

/* ---- 2. life cycle and positions ------------------------------------------ */

/* A new empty parcel, or NULL if out of memory. */
OHIPCParcel *OH_IPCParcel_Create(void) OHNCP_SINCE(12);

/* Frees the parcel and closes the file descriptors it holds. NULL is a no-op. */
void OH_IPCParcel_Destroy(OHIPCParcel *parcel) OHNCP_SINCE(12);

/* Bytes of data in the parcel, padding included; -1 for NULL. */
int OH_IPCParcel_GetDataSize(const OHIPCParcel *parcel) OHNCP_SINCE(12);

/* Bytes that may still be written before the 204,800-byte limit; -1 for NULL. */
int OH_IPCParcel_GetWritableBytes(const OHIPCParcel *parcel) OHNCP_SINCE(12);

/* Bytes between the read position and the end of the data; -1 for NULL. */
int OH_IPCParcel_GetReadableBytes(const OHIPCParcel *parcel) OHNCP_SINCE(12);

/* Offset of the next read; -1 for NULL. */
int OH_IPCParcel_GetReadPosition(const OHIPCParcel *parcel) OHNCP_SINCE(12);

/* Offset of the next write (the end of the data); -1 for NULL. */
int OH_IPCParcel_GetWritePosition(const OHIPCParcel *parcel) OHNCP_SINCE(12);

/* Move the read position to any offset in [0, data size], so data can be
 * read again. OH_IPC_CHECK_PARAM_ERROR for NULL or a larger offset. */
int OH_IPCParcel_RewindReadPosition(OHIPCParcel *parcel, uint32_t newReadPos) OHNCP_SINCE(12);

/* Cut the data back to `newWritePos` bytes (in [0, data size]); later
 * writes go there. File descriptors in the cut part are closed, and a read
 * position past the new end moves to it. OH_IPC_CHECK_PARAM_ERROR for NULL
 * or a larger offset. */
int OH_IPCParcel_RewindWritePosition(OHIPCParcel *parcel, uint32_t newWritePos) OHNCP_SINCE(12);

/* ---- 3. numbers ----------------------------------------------------------- */

/* Writes return OH_IPC_SUCCESS, OH_IPC_CHECK_PARAM_ERROR (parcel NULL) or
 * OH_IPC_PARCEL_WRITE_ERROR (limit reached, out of memory; nothing written).
 * Reads return OH_IPC_SUCCESS, OH_IPC_CHECK_PARAM_ERROR (a NULL pointer) or
 * OH_IPC_PARCEL_READ_ERROR (too few bytes left; *value untouched). Values
 * are in host byte order; 8- and 16-bit values are widened to 32 bits. */
int OH_IPCParcel_WriteInt8(OHIPCParcel *parcel, int8_t value) OHNCP_SINCE(12);
int OH_IPCParcel_ReadInt8(const OHIPCParcel *parcel, int8_t *value) OHNCP_SINCE(12);
int OH_IPCParcel_WriteInt16(OHIPCParcel *parcel, int16_t value) OHNCP_SINCE(12);
int OH_IPCParcel_ReadInt16(const OHIPCParcel *parcel, int16_t *value) OHNCP_SINCE(12);
int OH_IPCParcel_WriteInt32(OHIPCParcel *parcel, int32_t value) OHNCP_SINCE(12);
int OH_IPCParcel_ReadInt32(const OHIPCParcel *parcel, int32_t *value) OHNCP_SINCE(12);
int OH_IPCParcel_WriteInt64(OHIPCParcel *parcel, int64_t value) OHNCP_SINCE(12);
int OH_IPCParcel_ReadInt64(const OHIPCParcel *parcel, int64_t *value) OHNCP_SINCE(12);
int OH_IPCParcel_WriteUint8(OHIPCParcel *parcel, uint8_t value) OHNCP_SINCE(26);
int OH_IPCParcel_ReadUint8(const OHIPCParcel *parcel, uint8_t *value) OHNCP_SINCE(26);
int OH_IPCParcel_WriteUint16(OHIPCParcel *parcel, uint16_t value) OHNCP_SINCE(26);
int OH_IPCParcel_ReadUint16(const OHIPCParcel *parcel, uint16_t *value) OHNCP_SINCE(26);
int OH_IPCParcel_WriteUint32(OHIPCParcel *parcel, uint32_t value) OHNCP_SINCE(26);
int OH_IPCParcel_ReadUint32(const OHIPCParcel *parcel, uint32_t *value) OHNCP_SINCE(26);
int OH_IPCParcel_WriteUint64(OHIPCParcel *parcel, uint64_t value) OHNCP_SINCE(26);
int OH_IPCParcel_ReadUint64(const OHIPCParcel *parcel, uint64_t *value) OHNCP_SINCE(26);
int OH_IPCParcel_WriteFloat(OHIPCParcel *parcel, float value) OHNCP_SINCE(12);
int OH_IPCParcel_ReadFloat(const OHIPCParcel *parcel, float *value) OHNCP_SINCE(12);
int OH_IPCParcel_WriteDouble(OHIPCParcel *parcel, double value) OHNCP_SINCE(12);
int OH_IPCParcel_ReadDouble(const OHIPCParcel *parcel, double *value) OHNCP_SINCE(12);

/* ---- 4. strings and buffers ----------------------------------------------- */

/* Write `str` with its NUL. Codes as for the number writes; a NULL str is
 * OH_IPC_CHECK_PARAM_ERROR. */
int OH_IPCParcel_WriteString(OHIPCParcel *parcel, const char *str) OHNCP_SINCE(12);

/* The string at the read position, or NULL (NULL parcel, or no NUL before
 * the end of the data). The pointer is into the parcel: valid until the
 * parcel is written to or destroyed. */
const char *OH_IPCParcel_ReadString(const OHIPCParcel *parcel) OHNCP_SINCE(12);

/* Write `len` bytes from `buffer`, padded to 4. OH_IPC_CHECK_PARAM_ERROR for
 * a NULL pointer or negative len; OH_IPC_PARCEL_WRITE_ERROR past the limit. */
int OH_IPCParcel_WriteBuffer(OHIPCParcel *parcel, const uint8_t *buffer, int32_t len) OHNCP_SINCE(12);

/* Pointer to the next `len` bytes, then skip them and the padding
 * WriteBuffer added. NULL for a NULL parcel, negative len or too few bytes
 * left. The pointer is into the parcel, valid as for ReadString. */
const uint8_t *OH_IPCParcel_ReadBuffer(const OHIPCParcel *parcel, int32_t len) OHNCP_SINCE(12);

/* ---- 5. remote objects and file descriptors ------------------------------- */

/* Put a stub in the parcel; the receiving process reads it as a proxy that
 * reaches the stub. OH_IPC_CHECK_PARAM_ERROR for NULL arguments. */
int OH_IPCParcel_WriteRemoteStub(OHIPCParcel *parcel, const OHIPCRemoteStub *stub) OHNCP_SINCE(12);

/* The stub at the read position, or NULL. */
OHIPCRemoteStub *OH_IPCParcel_ReadRemoteStub(const OHIPCParcel *parcel) OHNCP_SINCE(12);

/* Put a proxy in the parcel; the receiver gets a proxy to the same object. */
int OH_IPCParcel_WriteRemoteProxy(OHIPCParcel *parcel, const OHIPCRemoteProxy *proxy) OHNCP_SINCE(12);

/* The proxy at the read position, or NULL. The caller owns it. */
OHIPCRemoteProxy *OH_IPCParcel_ReadRemoteProxy(const OHIPCParcel *parcel) OHNCP_SINCE(12);

/* Put a duplicate of `fd` in the parcel; the caller keeps `fd` and still has
 * to close it. OH_IPC_CHECK_PARAM_ERROR for NULL, a negative or a closed fd;
 * OH_IPC_PARCEL_WRITE_ERROR past the limit or when out of fds. */
int OH_IPCParcel_WriteFileDescriptor(OHIPCParcel *parcel, int32_t fd) OHNCP_SINCE(12);

/* A new close-on-exec fd for the file written at the read position; the
 * caller owns it. OH_IPC_PARCEL_READ_ERROR if no fd was written there or no
 * fd is free. */
int OH_IPCParcel_ReadFileDescriptor(const OHIPCParcel *parcel, int32_t *fd) OHNCP_SINCE(12);

/* ---- 6. whole parcels and interface tokens -------------------------------- */

/* Copy all of `data` (bytes and objects; fds are duplicated) to the end of
 * `parcel`. OH_IPC_CHECK_PARAM_ERROR for NULL; OH_IPC_PARCEL_WRITE_ERROR
 * past the limit, with `parcel` unchanged. */
int OH_IPCParcel_Append(OHIPCParcel *parcel, const OHIPCParcel *data) OHNCP_SINCE(12);

/* Write the interface name a stub checks before it trusts a request;
 * stored as a string. */
int OH_IPCParcel_WriteInterfaceToken(OHIPCParcel *parcel, const char *token) OHNCP_SINCE(12);

/* Read a token into memory from `allocator`; *len counts the NUL.
 * OH_IPC_CHECK_PARAM_ERROR for any NULL argument, OH_IPC_PARCEL_READ_ERROR
 * if there is no string, OH_IPC_MEM_ALLOCATOR_ERROR if the allocator returns
 * NULL. On failure *token and *len are untouched and nothing was allocated. */
int OH_IPCParcel_ReadInterfaceToken(const OHIPCParcel *parcel, char **token, int32_t *len,
                                    OH_IPC_MemAllocator allocator) OHNCP_SINCE(12);

#ifdef __cplusplus
}
#endif

#endif /* OHNCP_IPC_CPARCEL_H */
