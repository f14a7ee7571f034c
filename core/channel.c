/* core/channel.c - bounded channel: a locked ring plus two notifications
 * (see vexrt/channel.h). The lock covers a few loads and stores; wake-ups go
 * through the notifications after it is released, so a waiter of another
 * runtime is queued on its own runtime (notify.c). No OS calls. */
#include "rt.h"
#include "vexrt/channel.h"
#include "vexrt/notify.h"

struct VexChannel {
    VxLock lock;          /* head, len, closed */
    VxSys sys;            /* a copy: the channel may outlive the runtime */
    size_t cap, head, len;
    bool closed;
    VexNotify *readable;  /* signalled when a value arrives (or on close) */
    VexNotify *writable;  /* signalled when a slot frees up (or on close) */
    void **slots;
};

VexChannel *vex_channel_create(Runtime *rt, size_t capacity)
{
    if (!rt || capacity == 0 || capacity > ((size_t)1 << 30)) return NULL;
    VexChannel *ch = (VexChannel *)vx_mem_alloc(&rt->sys, sizeof *ch, _Alignof(VexChannel));
    if (!ch) return NULL;
    vx_zero(ch, sizeof *ch);
    ch->sys = rt->sys;
    vx_lock_init(&ch->lock);
    ch->cap = capacity;
    ch->slots = (void **)vx_mem_alloc(&rt->sys, capacity * sizeof(void *), _Alignof(void *));
    ch->readable = vex_notify_create(rt);
    ch->writable = vex_notify_create(rt);
    if (!ch->slots || !ch->readable || !ch->writable) {
        vex_channel_destroy(ch);
        return NULL;
    }
    return ch;
}

int vex_channel_destroy(VexChannel *ch)
{
    if (!ch) return 0;
    if ((ch->readable && vx_notify_has_waiter(ch->readable)) ||
        (ch->writable && vx_notify_has_waiter(ch->writable)))
        return VEX_EBUSY; /* a task still awaits one side */
    vex_notify_destroy(ch->readable);
    vex_notify_destroy(ch->writable);
    vx_mem_free(&ch->sys, ch->slots, ch->cap * sizeof(void *), _Alignof(void *));
    vx_mem_free(&ch->sys, ch, sizeof *ch, _Alignof(VexChannel));
    return 0;
}

static int send_from(VexChannel *ch, void *value, WorkerContext *ctx)
{
    vx_lock(&ch->lock, &ch->sys);
    int rc = 0;
    if (ch->closed)
        rc = VEX_EPIPE;
    else if (ch->len == ch->cap)
        rc = VEX_EAGAIN;
    else
        ch->slots[(ch->head + ch->len++) % ch->cap] = value;
    vx_unlock(&ch->lock, &ch->sys);
    if (rc == 0) worker_notify_signal(ctx, ch->readable);
    return rc;
}

static int recv_from(VexChannel *ch, void **value, WorkerContext *ctx)
{
    vx_lock(&ch->lock, &ch->sys);
    int rc = 0;
    if (ch->len) {
        *value = ch->slots[ch->head];
        ch->head = (ch->head + 1) % ch->cap;
        ch->len--;
    } else {
        rc = ch->closed ? VEX_EPIPE : VEX_EAGAIN;
    }
    vx_unlock(&ch->lock, &ch->sys);
    if (rc == 0) worker_notify_signal(ctx, ch->writable);
    return rc;
}

int vex_channel_send(VexChannel *ch, void *value)
{
    if (!ch) return VEX_EINVAL;
    return send_from(ch, value, NULL);
}

int vex_channel_recv(VexChannel *ch, void **value)
{
    if (!ch || !value) return VEX_EINVAL;
    return recv_from(ch, value, NULL);
}

int worker_channel_send(WorkerContext *ctx, VexChannel *ch, void *value)
{
    if (!ch) return VEX_EINVAL;
    return send_from(ch, value, ctx);
}

int worker_channel_recv(WorkerContext *ctx, VexChannel *ch, void **value)
{
    if (!ch || !value) return VEX_EINVAL;
    return recv_from(ch, value, ctx);
}

int worker_await_channel_recv(WorkerContext *ctx, VexChannel *ch)
{
    return worker_await_notify(ctx, ch ? ch->readable : NULL);
}

int worker_await_channel_send(WorkerContext *ctx, VexChannel *ch)
{
    return worker_await_notify(ctx, ch ? ch->writable : NULL);
}

int vex_channel_close(VexChannel *ch)
{
    if (!ch) return VEX_EINVAL;
    vx_lock(&ch->lock, &ch->sys);
    bool was = ch->closed;
    ch->closed = true;
    vx_unlock(&ch->lock, &ch->sys);
    if (!was) {
        vex_notify_signal(ch->readable);
        vex_notify_signal(ch->writable);
    }
    return 0;
}
