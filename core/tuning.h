/* core/tuning.h - every tuning constant of the core, each with the reason or
 * the measurement behind its value. Figures are from this project's 2-vCPU
 * machine (docs/platform.md, docs/timers.md) unless a source is named.
 * Structural sizes that are not tuning (a ring's slot count, the slab page)
 * stay with their structure. */
#ifndef VX_TUNING_H
#define VX_TUNING_H

/* --- Where a worker looks for work (sched.c) --- */

/* Ticks between fairness turns: the global queue first, timers and the
 * poller looked at (Go's schedtick % 61, Tokio's global_queue_interval). A
 * prime, so it does not beat with task periods. */
#define VX_GLOBAL_INTERVAL 61

/* Consecutive resumes from the LIFO slot before the ring gets a turn:
 * resumes are never preempted, so two tasks handing off to each other would
 * starve the rest (Tokio uses 3 as well). */
#define VX_MAX_LIFO_RUNS 3

/* Ticks between turns where the ring goes before woken tasks, so a stream of
 * wake-ups (timers, I/O) cannot starve spawned and yielding tasks. */
#define VX_WAKE_FAIRNESS 31

/* Resumes one runtime_step runs at most (vexrt/embed.h): a host loop gets
 * its turn back at least this often, however much work keeps coming. */
#define VX_STEP_BUDGET 1024

/* Resumes in a row allowed to a task whose operations complete at once (an
 * echo's send usually does) before it goes to the back of the queue: its
 * next resume then skips the queues and the state word. */
#define VX_IMMEDIATE_BUDGET 16

/* --- When a worker's own pushes wake a sleeping sibling (run_queue.c) ---
 * Waking one costs both a few microseconds of system time, and on a machine
 * whose cores are also wanted by the other end of the sockets the second
 * worker competes for a core instead of adding one. Tokio wakes a sibling
 * as soon as two tasks are queued; on tcp_echo that made the workers trade
 * every batch back and forth, at a context switch per dozen round trips. */

/* Queued tasks that call for a sibling at once. */
#define VX_NOTIFY_BACKLOG 64
/* Ticks between looks at a small backlog. */
#define VX_BACKLOG_CHECK 8
/* A small backlog this old (ns) gets a sibling: the tasks are long ones. */
#define VX_BACKLOG_NS 50000u
/* With I/O in play the poller hands a worker a batch (up to one task per
 * connection), each a syscall or two long: 64 echo round trips take a few
 * hundred microseconds. Waking a sibling for such a batch cost tcp_echo
 * (64 connections, 2 workers) 25% of its round trips and 5x the context
 * switches; so with I/O a sibling joins only for a backlog larger, or older,
 * than a batch. tcp_echo 64 B, io_uring: 0.97x -> 1.01x the raw io_uring
 * loop, CPU per round trip 9.06 -> 8.61 us (medians of 6 interleaved runs). */
#define VX_IO_NOTIFY_BACKLOG 256
#define VX_IO_BACKLOG_NS 500000u

/* --- Handing woken I/O tasks to a sibling (handback.c) --- */

/* A sibling with this many tasks queued is busy and gets nothing handed over.
 * Hand-back gathered connections that steals had spread over two io_uring
 * rings: the tcp_echo runs with 3000-4000 steals were the slow ones (72k and
 * 80k rt/s against 104-153k). */
#define VX_HANDBACK_QUEUED_MAX 8

/* --- Stalls: a worker stuck in one long resume (handback.c, park.c) --- */

/* A sleeping worker checks an awake one holding queued work this often (ns),
 * and takes its work if its tick has not moved (tokio#4941, #4730). */
#define VX_STALL_NS 2000000u
/* A shared poller (epoll, kqueue) unvisited this long (ns) is taken over by a
 * sleeper. Kept until someone else looks: giving it back at once made each
 * event wait the watch again (2,000 epoll round trips with the other worker
 * stuck: 4.1 s before, 0.06 s after). */
#define VX_IO_WATCH_NS 1000000u
/* An awake worker holding no work is checked this often (ns): Go's sysmon
 * ceiling. A runtime whose workers all sleep makes no such wake-ups. */
#define VX_WATCH_NS 10000000u

/* --- Spinning before sleeping (park.c) ---
 * Going to sleep and being woken costs two syscalls and two context switches
 * (tens of microseconds in a VM); under a trickle of work workers would do
 * little else. No pause instruction in the loop: in a VM, pause loops made
 * the hypervisor deschedule the vCPU (a 30 us spin became milliseconds). */

/* Checks for work before sleeping: some tens of microseconds. */
#define VX_SPIN_ROUNDS 1024
/* A timer due this soon (ns) is waited for awake, not with a futex timeout. */
#define VX_TIMER_SPIN_NS 50000u
/* ... but never longer than this many checks. */
#define VX_TIMER_SPIN_ROUNDS 4096

/* --- Timers (timer.c) --- */

/* Timers of an awake worker overdue by this much (ns) are fired by another
 * worker (Go's stealers run other Ps' timers): its owner is stuck in a long
 * resume or its vCPU is descheduled. Bounds lateness to ~200 us whenever
 * another worker is awake (timers: p99 225 us, max 1.45 ms). */
#define VX_TIMER_RESCUE_NS 200000u
/* The default wheel tick: 2^10 ns = 1.024 us (sub-millisecond lateness;
 * timer insert + cancel 14.4 ns median). */
#define VX_DEFAULT_TICK_SHIFT 10

/* --- Live-task credits (live.c) ---
 * A worker takes credits in batches from the shared live count, so spawns
 * and completions do not bounce one cache line between all workers. */
#define VX_CREDIT_BATCH 64
#define VX_CREDIT_MAX 256

/* --- The global queue (global_queue.c) --- */

/* Default bounded part, in entries (a batch of 513 tasks is one entry);
 * RuntimeConfig.global_queue_capacity overrides. */
#define VX_DEFAULT_GLOBAL_CAPACITY 4096

/* --- I/O (io_driver.c, pool.c) --- */

/* Poller events taken per wait: twice the 64 connections of the echo and
 * http benchmarks, so one wait takes a whole batch; the array lives in each
 * worker (3 KiB). Not tuned further by measurement. */
#define VX_EVENTS_MAX 128
/* Threads of the blocking pool: files on epoll and worker_await_blocking.
 * Not measured: chosen so that blocking jobs cannot take more threads than a
 * small machine has cores beside its workers; libuv's pool defaults to 4. */
#define VX_POOL_MAX 4

/* --- The futex mutex (lock.c) --- */

/* Spins before sleeping: the critical sections are a handful of loads and
 * stores, so a holder usually leaves within the spin. Not measured
 * separately; the locks are uncontended on every benchmark path. */
#define VX_LOCK_SPINS 64

#endif /* VX_TUNING_H */
