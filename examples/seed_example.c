/* The seed README's example, unchanged: ten tasks count down with 100 ms
 * timer awaits on four workers; auto-shutdown ends the run. */
#include "runtime.h"

typedef struct {
    int id;
    int countdown;
} TaskData;

static CoroStatus my_task(WorkerContext* ctx, void* data) {
    TaskData* td = (TaskData*)data;

    printf("Task %d: countdown %d\n", td->id, td->countdown);

    if (td->countdown-- <= 0) {
        free(td);
        return CORO_STATUS_DONE;
    }

    // Async delay (100ms)
    worker_await_after(ctx, 100);
    return CORO_STATUS_RUNNING;
}

int main(void) {
    // Create runtime with 4 worker threads
    Runtime* rt = runtime_create(4);
    runtime_enable_auto_shutdown(rt, true);

    // Spawn tasks
    for (int i = 0; i < 10; ++i) {
        TaskData* td = malloc(sizeof(TaskData));
        td->id = i;
        td->countdown = 5;
        runtime_spawn_global(rt, my_task, td);
    }

    // Run until all tasks complete
    runtime_run(rt);

    // Cleanup
    runtime_destroy(rt);
    return 0;
}
