/*
 * ipc_transport.h - remote objects and connections inside libipc_capi.so.
 *
 * Map:
 *   1. the wire format (one AF_UNIX SOCK_SEQPACKET socket per connection)
 *   2. objects: stubs, proxies, death recipients
 *   3. connections and the engine (ipc_conn.c)
 *
 * Object model. A stub lives in one process and is counted: one reference
 * for its owner's handle (dropped by OH_IPCRemoteStub_Destroy), one per
 * parcel holding it, one per connection that exported it. A proxy is one
 * shared, counted node per (connection, remote id) in this process, or a
 * local node that wraps a stub of this process; OH_IPCParcel_ReadRemoteProxy
 * and OH_IPCRemoteProxy_Destroy add and drop references to it.
 *
 * Counting across processes: a sender counts each time it puts a stub of
 * its own into a message (export count); the receiver counts each receipt
 * on its node and, when the node's last local reference goes, sends
 * RELEASE(id, receipts). The sender subtracts; at zero the export entry
 * and its stub reference go. A dead connection releases everything.
 */
#ifndef OHNCP_IPC_TRANSPORT_H
#define OHNCP_IPC_TRANSPORT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc_cremote_object.h"
#include "ipc_error_code.h"
#include "ipc_internal.h"

/* ---- 1. the wire format ---------------------------------------------------- */

#define IPC_MAGIC 0x4f495043u /* "OIPC" */
#define IPC_MAX_OBJECTS 1024u /* per message */
#define IPC_MAX_FDS 250u      /* per message (SCM_MAX_FD is 253) */

enum ipc_msg_type {
    IPC_MSG_REQUEST = 1,  /* target: export id at the receiver; code: request code */
    IPC_MSG_REPLY = 2,    /* seq: the request's; code: the status */
    IPC_MSG_RELEASE = 3,  /* target: export id; code: receipts to subtract */
    IPC_MSG_DESC_QUERY = 4, /* target: export id; the reply carries the descriptor */
    IPC_MSG_HELLO = 5,    /* first message of a child: its root stub, once */
};

#define IPC_FLAG_ONEWAY 1u

/* Request codes a stub may see, on either side of the wire: 1..0xFFFFFF. */
static inline bool ipc_code_valid(uint32_t code) { return code >= 1 && code <= 0xFFFFFFu; }

struct ipc_wire_hdr {
    uint32_t magic;
    uint16_t type;
    uint16_t flags;
    uint32_t seq;
    uint32_t target;
    int32_t code;
    uint32_t data_len;
    uint32_t nobjs;
};

/* Who holds the object a wire entry names. */
enum ipc_owner { IPC_OWNER_SENDER = 1, IPC_OWNER_RECEIVER = 2 };

struct ipc_wire_obj {
    uint32_t kind;   /* PARCEL_OBJECT_* */
    uint32_t offset; /* of its slot in the data */
    uint32_t owner;  /* enum ipc_owner; 0 for fds */
    uint32_t id;     /* export id at the owner; 0 for fds */
};

/* Message = header, nobjs wire objects, data_len bytes; the fds of the FD
 * objects travel, in order, as SCM_RIGHTS. */

/* ---- 2. objects -------------------------------------------------------------- */

struct ipc_conn;

struct OHIPCRemoteStub {
    int refs; /* atomic */
    char *descriptor;
    OH_OnRemoteRequestCallback on_request;
    OH_OnRemoteDestroyCallback on_destroy;
    void *user;
    struct OHIPCRemoteStub *next_held; /* ipc_stub_hold: on this thread's list */
};

struct ipc_death_link {
    OHIPCDeathRecipient *recipient;
    struct ipc_death_link *next;
};

struct OHIPCRemoteProxy {
    int refs; /* atomic */
    struct ipc_conn *conn;  /* NULL for a local node */
    uint32_t remote_id;     /* export id at the peer */
    uint32_t receipts;      /* times received; sent back in RELEASE */
    OHIPCRemoteStub *local; /* local node: the stub it calls directly */
    bool dead;              /* guarded by the connection's lock */
    struct ipc_death_link *deaths; /* guarded by the connection's lock */
    struct OHIPCRemoteProxy *next_import; /* the connection's import list */
};

struct OHIPCDeathRecipient {
    int refs; /* atomic: the owner's handle, plus one per registration */
    OH_OnDeathRecipientCallback on_death;
    OH_OnDeathRecipientDestroyCallback on_destroy;
    void *user;
};

OHNCP_HIDDEN void ipc_stub_ref(OHIPCRemoteStub *stub);
OHNCP_HIDDEN void ipc_stub_unref(OHIPCRemoteStub *stub);
/* Between these two, a stub whose last reference this thread drops is
 * destroyed (its destroy callback run) only at the outermost release: a
 * thread that handles a received message under the connection's receive
 * lock must not run application code there. They nest. */
OHNCP_HIDDEN void ipc_stub_hold(void);
OHNCP_HIDDEN void ipc_stub_release_held(void);
OHNCP_HIDDEN void ipc_proxy_ref(OHIPCRemoteProxy *proxy);
OHNCP_HIDDEN void ipc_proxy_unref(OHIPCRemoteProxy *proxy);
OHNCP_HIDDEN void ipc_recipient_unref(OHIPCDeathRecipient *r);
/* A local node for `stub` (one new reference), or NULL. */
OHNCP_HIDDEN OHIPCRemoteProxy *ipc_proxy_local(OHIPCRemoteStub *stub);
/* Status a stub callback's return becomes (behaviour.md §6). */
OHNCP_HIDDEN int ipc_map_status(int rc);

/* ---- 3. connections and the engine -------------------------------------------- */

/* Who is calling, for OH_IPCSkeleton_* inside a request callback. */
struct ipc_calling {
    bool active;
    bool local;
    pid_t pid;
    uid_t uid;
};
OHNCP_HIDDEN const struct ipc_calling *ipc_current_calling(void);
OHNCP_HIDDEN void ipc_set_calling(const struct ipc_calling *c);

/* Send a request from `proxy` (remote node): sync waits for the reply and
 * moves it into `reply`. Returns an OH_IPC_* code or a mapped status. */
OHNCP_HIDDEN int ipc_conn_send_request(OHIPCRemoteProxy *proxy, uint32_t code,
                                       const OHIPCParcel *data, OHIPCParcel *reply,
                                       bool oneway);
/* The descriptor of the remote object (malloc'd), or NULL. */
OHNCP_HIDDEN char *ipc_conn_query_descriptor(OHIPCRemoteProxy *proxy);
/* Called by ipc_proxy_unref when a remote node's last reference goes. */
OHNCP_HIDDEN void ipc_conn_forget_import(OHIPCRemoteProxy *proxy);
/* Fire (on a worker) the death recipients of a dead proxy. */
OHNCP_HIDDEN void ipc_queue_death(OHIPCRemoteProxy *proxy, OHIPCDeathRecipient *r);
OHNCP_HIDDEN void ipc_conn_lock(struct ipc_conn *c);
OHNCP_HIDDEN void ipc_conn_unlock(struct ipc_conn *c);
OHNCP_HIDDEN int ipc_engine_set_max_workers(int n);
OHNCP_HIDDEN void ipc_engine_join(void);
OHNCP_HIDDEN void ipc_engine_stop_join(void);

#endif /* OHNCP_IPC_TRANSPORT_H */
