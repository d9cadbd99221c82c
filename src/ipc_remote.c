/*
 * ipc_remote.c - OH_IPCRemoteStub_*, OH_IPCRemoteProxy_*, OH_IPCDeathRecipient_*.
 *
 * Map:
 *   1. reference counting of stubs, proxies and death recipients
 *   2. stubs
 *   3. proxies: SendRequest, descriptor, death recipients
 *
 * See ipc_transport.h for the object model. A remote proxy's count is
 * guarded by its connection's lock (a receipt may revive a node that is
 * being released); stubs, local proxies and recipients count atomically.
 */
#include "ipc_transport.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- 1. reference counting ------------------------------------------------------ */

void ipc_stub_ref(OHIPCRemoteStub *stub) { __atomic_add_fetch(&stub->refs, 1, __ATOMIC_RELAXED); }

static __thread int hold_depth;
static __thread OHIPCRemoteStub *held;

static void stub_destroy(OHIPCRemoteStub *stub) {
    if (stub->on_destroy != NULL)
        stub->on_destroy(stub->user); /* the last reference, local or remote */
    free(stub->descriptor);
    free(stub);
}

void ipc_stub_unref(OHIPCRemoteStub *stub) {
    if (__atomic_sub_fetch(&stub->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (hold_depth > 0) {
        stub->next_held = held;
        held = stub;
        return;
    }
    stub_destroy(stub);
}

void ipc_stub_hold(void) { hold_depth++; }

void ipc_stub_release_held(void) {
    if (--hold_depth > 0)
        return;
    while (held != NULL) {
        OHIPCRemoteStub *stub = held;
        held = stub->next_held;
        stub_destroy(stub);
    }
}

void ipc_proxy_ref(OHIPCRemoteProxy *p) {
    if (p->conn == NULL) {
        __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
        return;
    }
    ipc_conn_lock(p->conn);
    p->refs++;
    ipc_conn_unlock(p->conn);
}

static void free_deaths(struct ipc_death_link *l) {
    while (l != NULL) {
        struct ipc_death_link *next = l->next;
        ipc_recipient_unref(l->recipient);
        free(l);
        l = next;
    }
}

void ipc_proxy_unref(OHIPCRemoteProxy *p) {
    if (p->conn == NULL) {
        if (__atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
            return;
        free_deaths(p->deaths);
        ipc_stub_unref(p->local);
        free(p);
        return;
    }
    ipc_conn_lock(p->conn);
    if (--p->refs > 0) {
        ipc_conn_unlock(p->conn);
        return;
    }
    ipc_conn_forget_import(p); /* unlocks, tells the peer, frees the recipients */
    free(p);
}

void ipc_recipient_unref(OHIPCDeathRecipient *r) {
    if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (r->on_destroy != NULL)
        r->on_destroy(r->user);
    free(r);
}

OHIPCRemoteProxy *ipc_proxy_local(OHIPCRemoteStub *stub) {
    OHIPCRemoteProxy *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->refs = 1;
    p->local = stub;
    ipc_stub_ref(stub);
    return p;
}

/* behaviour.md §6: 0, an IPC code and user codes pass; anything else does not. */
int ipc_map_status(int rc) {
    if (rc == OH_IPC_SUCCESS || (rc >= OH_IPC_CHECK_PARAM_ERROR && rc <= OH_IPC_INNER_ERROR) ||
        (rc >= OH_IPC_USER_ERROR_CODE_MIN && rc <= OH_IPC_USER_ERROR_CODE_MAX))
        return rc;
    return OH_IPC_INVALID_USER_ERROR_CODE;
}

/* ---- 2. stubs ------------------------------------------------------------------------- */

OHIPCRemoteStub *OH_IPCRemoteStub_Create(const char *descriptor,
                                         OH_OnRemoteRequestCallback requestCallback,
                                         OH_OnRemoteDestroyCallback destroyCallback,
                                         void *userData) {
    if (descriptor == NULL || requestCallback == NULL)
        return NULL;
    OHIPCRemoteStub *stub = calloc(1, sizeof *stub);
    if (stub == NULL || (stub->descriptor = strdup(descriptor)) == NULL) {
        free(stub);
        return NULL;
    }
    stub->refs = 1; /* the owner's, dropped by OH_IPCRemoteStub_Destroy */
    stub->on_request = requestCallback;
    stub->on_destroy = destroyCallback;
    stub->user = userData;
    return stub;
}

void OH_IPCRemoteStub_Destroy(OHIPCRemoteStub *stub) {
    if (stub != NULL)
        ipc_stub_unref(stub);
}

/* ---- 3. proxies ------------------------------------------------------------------------ */

void OH_IPCRemoteProxy_Destroy(OHIPCRemoteProxy *proxy) {
    if (proxy != NULL)
        ipc_proxy_unref(proxy);
}

/* A request to a stub of this process runs right here, as the device does. */
static int send_local(OHIPCRemoteProxy *proxy, uint32_t code, const OHIPCParcel *data,
                      OHIPCParcel *reply) {
    struct ipc_calling saved = *ipc_current_calling();
    struct ipc_calling me = {true, true, getpid(), getuid()};
    ipc_set_calling(&me);
    OHIPCParcel *scratch = reply != NULL ? NULL : OH_IPCParcel_Create();
    int rc = proxy->local->on_request(code, data, reply != NULL ? reply : scratch,
                                      proxy->local->user);
    OH_IPCParcel_Destroy(scratch);
    ipc_set_calling(&saved);
    return ipc_map_status(rc);
}

int OH_IPCRemoteProxy_SendRequest(const OHIPCRemoteProxy *proxy, uint32_t code,
                                  const OHIPCParcel *data, OHIPCParcel *reply,
                                  const OH_IPC_MessageOption *option) {
    if (proxy == NULL || data == NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    if (!ipc_code_valid(code))
        return OH_IPC_CODE_OUT_OF_RANGE;
    if (option != NULL && option->reserved != NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    bool oneway = option != NULL && option->mode == OH_IPC_REQUEST_MODE_ASYNC;
    if (option != NULL && !oneway && option->mode != OH_IPC_REQUEST_MODE_SYNC)
        return OH_IPC_CHECK_PARAM_ERROR;
    if (!oneway && reply == NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    OHIPCRemoteProxy *p = (OHIPCRemoteProxy *)proxy;
    if (p->conn == NULL)
        return send_local(p, code, data, oneway ? NULL : reply);
    return ipc_conn_send_request(p, code, data, reply, oneway);
}

int OH_IPCRemoteProxy_GetInterfaceDescriptor(OHIPCRemoteProxy *proxy, char **descriptor,
                                             int32_t *len, OH_IPC_MemAllocator allocator) {
    if (proxy == NULL || descriptor == NULL || len == NULL || allocator == NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    char *own = proxy->conn == NULL ? strdup(proxy->local->descriptor)
                                    : ipc_conn_query_descriptor(proxy);
    if (own == NULL)
        return proxy->conn != NULL ? OH_IPC_DEAD_REMOTE_OBJECT : OH_IPC_INNER_ERROR;
    int32_t n = (int32_t)strlen(own) + 1;
    char *out = allocator(n);
    if (out != NULL)
        memcpy(out, own, (size_t)n);
    free(own);
    if (out == NULL)
        return OH_IPC_MEM_ALLOCATOR_ERROR;
    *descriptor = out;
    *len = n;
    return OH_IPC_SUCCESS;
}

OHIPCDeathRecipient *OH_IPCDeathRecipient_Create(OH_OnDeathRecipientCallback deathRecipientCallback,
                                                 OH_OnDeathRecipientDestroyCallback destroyCallback,
                                                 void *userData) {
    if (deathRecipientCallback == NULL)
        return NULL;
    OHIPCDeathRecipient *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->refs = 1;
    r->on_death = deathRecipientCallback;
    r->on_destroy = destroyCallback;
    r->user = userData;
    return r;
}

void OH_IPCDeathRecipient_Destroy(OHIPCDeathRecipient *recipient) {
    if (recipient != NULL)
        ipc_recipient_unref(recipient);
}

/* Lock for a proxy's death list: its connection's, or none for a local
 * node (whose list only its own holder changes, and which never dies). */
static void death_lock(OHIPCRemoteProxy *p) {
    if (p->conn != NULL)
        ipc_conn_lock(p->conn);
}
static void death_unlock(OHIPCRemoteProxy *p) {
    if (p->conn != NULL)
        ipc_conn_unlock(p->conn);
}

int OH_IPCRemoteProxy_AddDeathRecipient(OHIPCRemoteProxy *proxy, OHIPCDeathRecipient *recipient) {
    if (proxy == NULL || recipient == NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    struct ipc_death_link *l = malloc(sizeof *l);
    if (l == NULL)
        return OH_IPC_INNER_ERROR;
    __atomic_add_fetch(&recipient->refs, 1, __ATOMIC_RELAXED);
    l->recipient = recipient;
    death_lock(proxy);
    bool dead = proxy->dead;
    if (!dead) {
        l->next = proxy->deaths;
        proxy->deaths = l;
    } else {
        proxy->refs++; /* the death job's; only remote nodes die */
    }
    death_unlock(proxy);
    if (dead) { /* already dead: it is told at once, once */
        ipc_queue_death(proxy, recipient);
        free(l);
    }
    return OH_IPC_SUCCESS;
}

int OH_IPCRemoteProxy_RemoveDeathRecipient(OHIPCRemoteProxy *proxy,
                                           OHIPCDeathRecipient *recipient) {
    if (proxy == NULL || recipient == NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    struct ipc_death_link *found = NULL;
    death_lock(proxy);
    for (struct ipc_death_link **q = &proxy->deaths; *q != NULL; q = &(*q)->next) {
        if ((*q)->recipient == recipient) {
            found = *q;
            *q = found->next;
            break;
        }
    }
    death_unlock(proxy);
    if (found == NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    ipc_recipient_unref(found->recipient);
    free(found);
    return OH_IPC_SUCCESS;
}

int OH_IPCRemoteProxy_IsRemoteDead(const OHIPCRemoteProxy *proxy) {
    if (proxy == NULL)
        return 1;
    OHIPCRemoteProxy *p = (OHIPCRemoteProxy *)proxy;
    death_lock(p);
    int dead = p->dead;
    death_unlock(p);
    return dead;
}
