/* tests/platform/fixture_posix.c - fixture.h for Linux, the BSDs and macOS:
 * handles made and driven with the OS's own calls, behind the back of the
 * platform under test, and a watchdog thread. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Sends never raise SIGPIPE: MSG_NOSIGNAL, or SO_NOSIGPIPE where send has
 * no such flag (macOS). */
#if defined(MSG_NOSIGNAL) && !defined(__APPLE__)
#define FX_NOSIGNAL MSG_NOSIGNAL
#else
#define FX_NOSIGNAL 0
#endif

static int prepare(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    int fdfl = fcntl(fd, F_GETFD);
    if (fl < 0 || fdfl < 0) return -1;
    if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) != 0)
        return -1;
#if defined(SO_NOSIGPIPE)
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one); /* fails on pipes: fine */
#endif
    return 0;
}

static void loopback(uint16_t port, struct sockaddr_in *a)
{
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

int fx_listen(IoHandle *h, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    loopback(0, &a);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0 || prepare(fd) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    *h = (IoHandle)fd;
    return 0;
}

int fx_socket(IoHandle *h, uint16_t port, void *addr, size_t *addrlen)
{
    if (*addrlen < sizeof(struct sockaddr_in)) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (prepare(fd) != 0) {
        close(fd);
        return -1;
    }
    struct sockaddr_in a;
    loopback(port, &a);
    memcpy(addr, &a, sizeof a);
    *addrlen = sizeof a;
    *h = (IoHandle)fd;
    return 0;
}

static int tcp_pair(IoHandle h[2])
{
    IoHandle l;
    uint16_t port;
    if (fx_listen(&l, &port) != 0) return -1;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    loopback(port, &a);
    /* A blocking connect to a listening loopback socket completes at once. */
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) != 0) {
        if (c >= 0) close(c);
        close((int)l);
        return -1;
    }
    int s = -1;
    for (int tries = 0; s < 0 && tries < 2000; tries++) { /* the listener is non-blocking */
        s = accept((int)l, NULL, NULL);
        if (s < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
        if (s < 0) fx_sleep_ms(1);
    }
    close((int)l);
    if (s < 0 || prepare(c) != 0 || prepare(s) != 0) {
        close(c);
        if (s >= 0) close(s);
        return -1;
    }
    h[0] = (IoHandle)c;
    h[1] = (IoHandle)s;
    return 0;
}

int fx_pair(int kind, IoHandle h[2])
{
    int fd[2];
    switch (kind) {
    case FX_TCP: return tcp_pair(h);
    case FX_SOCKETPAIR:
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, fd) != 0) return -1;
        break;
    case FX_PIPE:
        if (pipe(fd) != 0) return -1;
        break;
    default: return -1;
    }
    if (prepare(fd[0]) != 0 || prepare(fd[1]) != 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    h[0] = (IoHandle)fd[0];
    h[1] = (IoHandle)fd[1];
    return 0;
}

int fx_file(IoHandle *h)
{
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/vexrt-conformance-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    unlink(path); /* gone when closed */
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl >= 0) fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC);
    *h = (IoHandle)fd;
    return 0;
}

long fx_write(IoHandle h, const void *buf, size_t len)
{
    ssize_t r = send((int)h, buf, len, FX_NOSIGNAL);
    if (r < 0 && errno == ENOTSOCK) r = write((int)h, buf, len);
    if (r >= 0) return (long)r;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : -2;
}

long fx_read(IoHandle h, void *buf, size_t len)
{
    ssize_t r = read((int)h, buf, len);
    if (r >= 0) return (long)r;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : -2;
}

void fx_close(IoHandle h) { close((int)h); }

void fx_reset(IoHandle h)
{
    struct linger lg = {1, 0};
    setsockopt((int)h, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close((int)h);
}

/* Far above any descriptor this process can have open (Linux caps them at
 * nr_open, 2^20 by default; the BSDs lower still), and still an int. */
IoHandle fx_invalid_handle(void) { return (IoHandle)(INT_MAX - 7); }

void fx_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* --- Watchdog: one thread, a deadline on CLOCK_REALTIME (the condition
 * variable's default clock; a hang catcher needs no more). --- */

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cond = PTHREAD_COND_INITIALIZER;
static int wd_started;
static int wd_armed;
static struct timespec wd_deadline;
static unsigned wd_seconds;
static char wd_what[160];

static void *wd_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wd_lock);
    for (;;) {
        if (!wd_armed) {
            pthread_cond_wait(&wd_cond, &wd_lock);
            continue;
        }
        if (pthread_cond_timedwait(&wd_cond, &wd_lock, &wd_deadline) == ETIMEDOUT && wd_armed) {
            struct timespec nowt;
            clock_gettime(CLOCK_REALTIME, &nowt);
            if (nowt.tv_sec > wd_deadline.tv_sec ||
                (nowt.tv_sec == wd_deadline.tv_sec && nowt.tv_nsec >= wd_deadline.tv_nsec)) {
                fprintf(stderr, "[FAIL] %s : hung, still running after %u s (watchdog)\n", wd_what,
                        wd_seconds);
                fflush(stdout);
                fflush(stderr);
                _exit(2);
            }
        }
    }
    return NULL;
}

void fx_watchdog(unsigned seconds, const char *what)
{
    pthread_mutex_lock(&wd_lock);
    if (!wd_started && seconds) {
        pthread_t th;
        if (pthread_create(&th, NULL, wd_main, NULL) == 0) {
            pthread_detach(th);
            wd_started = 1;
        }
    }
    wd_armed = seconds != 0;
    wd_seconds = seconds;
    snprintf(wd_what, sizeof wd_what, "%s", what ? what : "");
    clock_gettime(CLOCK_REALTIME, &wd_deadline);
    wd_deadline.tv_sec += (time_t)seconds;
    pthread_cond_signal(&wd_cond);
    pthread_mutex_unlock(&wd_lock);
}

int fx_platforms(const char **names, int max)
{
    /* Every backend name the library may know, in this order; the ones this
     * build has and this machine can use are checked. */
    static const char *const all[] = {"epoll", "io_uring", "kqueue"};
    int n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0] && n < max; i++)
        if (vex_platform_with_backend(all[i])) names[n++] = all[i];
    return n;
}
