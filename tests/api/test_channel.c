/* test_channel - the bounded channel: values delivered once and in order
 * between tasks and threads, full/empty/closed answers, and awaiting room or
 * data. */
#include "support/support.h"
#include "vexrt/channel.h"
#include "vexrt/task.h"

TestSuite(channel, .timeout = 60);

Test(channel, full_empty_and_closed_answers)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    cr_assert_null(vex_channel_create(rt, 0));
    cr_assert_null(vex_channel_create(NULL, 4));
    VexChannel *ch = vex_channel_create(rt, 2);
    void *v = NULL;
    CHECK_INT(vex_channel_recv(ch, &v), VEX_EAGAIN);
    CHECK_OK(vex_channel_send(ch, (void *)1));
    CHECK_OK(vex_channel_send(ch, (void *)2));
    CHECK_INT(vex_channel_send(ch, (void *)3), VEX_EAGAIN);
    CHECK_OK(vex_channel_recv(ch, &v));
    CHECK_EQ((uintptr_t)v, 1);
    CHECK_OK(vex_channel_close(ch));
    CHECK_INT(vex_channel_send(ch, (void *)4), VEX_EPIPE);
    CHECK_OK(vex_channel_recv(ch, &v)); /* queued values drain after close */
    CHECK_EQ((uintptr_t)v, 2);
    CHECK_INT(vex_channel_recv(ch, &v), VEX_EPIPE);
    CHECK_OK(vex_channel_close(ch));
    CHECK_OK(vex_channel_destroy(ch));
    CHECK_OK(runtime_destroy(rt));
}

enum { ITEMS = 100000 };

typedef struct {
    VexChannel *ch;
    uintptr_t next;
    int done;
} End;

static CoroStatus producer(WorkerContext *ctx, void *data)
{
    End *p = data;
    while (p->next <= ITEMS) {
        int rc = worker_channel_send(ctx, p->ch, (void *)p->next);
        if (rc == VEX_EAGAIN) {
            worker_await_channel_send(ctx, p->ch);
            return CORO_STATUS_YIELDED;
        }
        cr_assert(rc == 0);
        p->next++;
    }
    vex_channel_close(p->ch);
    return CORO_STATUS_DONE;
}

static CoroStatus consumer(WorkerContext *ctx, void *data)
{
    End *c = data;
    for (;;) {
        void *v;
        int rc = worker_channel_recv(ctx, c->ch, &v);
        if (rc == VEX_EAGAIN) {
            worker_await_channel_recv(ctx, c->ch);
            return CORO_STATUS_YIELDED;
        }
        if (rc == VEX_EPIPE) {
            c->done = 1;
            return CORO_STATUS_DONE;
        }
        cr_assert((uintptr_t)v == c->next, "got %zu, want %zu", (size_t)(uintptr_t)v,
                  (size_t)c->next);
        c->next++;
    }
}

static void pipe_through(size_t capacity, int workers)
{
    CountingAlloc ca;
    counting_alloc_init(&ca);
    Runtime *rt = test_runtime(workers, &ca, NULL);
    VexChannel *ch = vex_channel_create(rt, capacity);
    End p = {ch, 1, 0}, c = {ch, 1, 0};
    CHECK_OK(runtime_spawn_global(rt, consumer, &c));
    CHECK_OK(runtime_spawn_global(rt, producer, &p));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_EQ(c.next, ITEMS + 1);
    CHECK_INT(c.done, 1);
    CHECK_OK(vex_channel_destroy(ch));
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
}

Test(channel, one_slot_between_tasks) { pipe_through(1, 2); }
Test(channel, many_slots_between_tasks) { pipe_through(64, 2); }
Test(channel, one_slot_on_one_worker) { pipe_through(1, 1); }

static void *thread_producer(void *arg)
{
    VexChannel *ch = arg;
    for (uintptr_t i = 1; i <= ITEMS;) {
        int rc = vex_channel_send(ch, (void *)i);
        if (rc == VEX_EAGAIN) {
            sched_yield();
            continue;
        }
        cr_assert(rc == 0);
        i++;
    }
    vex_channel_close(ch);
    return NULL;
}

Test(channel, from_a_foreign_thread_to_a_task)
{
    Runtime *rt = test_runtime(2, NULL, NULL);
    VexChannel *ch = vex_channel_create(rt, 8);
    End c = {ch, 1, 0};
    CHECK_OK(runtime_spawn_global(rt, consumer, &c));
    runtime_enable_auto_shutdown(rt, true);
    pthread_t th;
    pthread_create(&th, NULL, thread_producer, ch);
    CHECK_OK(runtime_run(rt));
    pthread_join(th, NULL);
    CHECK_EQ(c.next, ITEMS + 1);
    CHECK_OK(vex_channel_destroy(ch));
    CHECK_OK(runtime_destroy(rt));
}
