/* tests/kqueue/shim.c - kqueue() and kevent() on Linux, built on epoll,
 * eventfd and signalfd, so platform/bsd/kqueue.c can run here (make
 * check-kqueue). Test-only: a model of kqueue written from the FreeBSD and
 * macOS manuals, not the kernel's implementation; passing on it says the
 * backend is right about kqueue as modelled here, not on a real BSD or
 * macOS kernel.
 *
 * What is modelled: EVFILT_READ / EVFILT_WRITE on sockets, pipes and
 * terminals (one knote per descriptor and filter, folded into one epoll
 * registration per descriptor); EV_ADD (modifies and re-evaluates an
 * existing knote, like EPOLL_CTL_MOD), EV_DELETE (ENOENT if absent),
 * EV_ENABLE / EV_DISABLE; EV_CLEAR -> EPOLLET; EV_ONESHOT / EV_DISPATCH ->
 * EPOLLONESHOT, the knote deleted / disabled once retrieved and the other
 * knote of the descriptor re-armed; EV_EOF from EPOLLRDHUP / EPOLLHUP /
 * EPOLLERR; EV_RECEIPT and per-change EV_ERROR results (kevent then returns
 * at once, as FreeBSD's does); FreeBSD's EINVAL for the read filter on a
 * pipe's write end and the write filter on its read end; knotes dropped when
 * their descriptor is closed (noticed when the number comes back with
 * another file); EVFILT_USER with NOTE_TRIGGER and the NOTE_FF* controls ->
 * an eventfd; EVFILT_SIGNAL -> a signalfd (the signal must be blocked, as the
 * backend does); timeouts in nanoseconds through epoll_pwait2.
 *
 * What is not: vnode, process, timer and AIO filters (EV_ADD on a regular
 * file fails with EPERM here; a real kqueue accepts it), NOTE_LOWAT, the
 * byte counts in `data` (0, signals 1), the socket error in fflags (EIO
 * when EPOLLERR: reading SO_ERROR would clear it), a mix of EV_CLEAR and
 * non-EV_CLEAR knotes on one descriptor (EINVAL here), signals counted
 * per delivery, and fork (a kqueue is not inherited; this one is). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/event.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

/* epoll data: a descriptor (fd << 2 | TAG_FD) or a note (pointer | tag). */
#define TAG_FD 0u
#define TAG_USER 1u
#define TAG_SIG 2u
#define TAG_MASK 3u

enum { MODE_LEVEL = 0, MODE_CLEAR = 1, MODE_ONESHOT = 2 };

typedef struct {
    int used;
    int disabled;
    unsigned short flags; /* EV_CLEAR / EV_ONESHOT / EV_DISPATCH as added */
    void *udata;
} Knote;

typedef struct {
    Knote rd, wr;
    dev_t dev; /* the file the knotes belong to: a reused number is another file */
    ino_t ino;
    int in_epoll;
} FdNotes;

typedef struct UserNote {
    uintptr_t ident;
    int efd;
    int disabled;
    int in_epoll;
    unsigned short flags;
    unsigned int fflags; /* NOTE_FFLAGSMASK part */
    void *udata;
    struct UserNote *next;
} UserNote;

typedef struct SigNote {
    int signo;
    int sfd;
    void *udata;
    struct SigNote *next;
} SigNote;

#define PENDING_MAX 512

typedef struct {
    int epfd;
    pthread_mutex_t lock; /* protects everything below */
    FdNotes *fds;
    int nfds;
    UserNote *users;
    SigNote *sigs;
    /* Events taken from epoll that did not fit the caller's list (a
     * descriptor ready both ways gives two kevents). */
    struct kevent pending[PENDING_MAX];
    int npending;
} Kq;

/* Every kqueue made, by descriptor. A kqueue closed with close() is only
 * forgotten when kqueue() hands out its number again. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static Kq **registry;
static int registry_n;
static _Atomic int have_pwait2 = -1; /* probed once; racing probes agree */

static void kq_free(Kq *k)
{
    while (k->users) {
        UserNote *u = k->users;
        k->users = u->next;
        close(u->efd);
        free(u);
    }
    while (k->sigs) {
        SigNote *s = k->sigs;
        k->sigs = s->next;
        close(s->sfd);
        free(s);
    }
    free(k->fds);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

static Kq *kq_find(int fd)
{
    pthread_mutex_lock(&registry_lock);
    Kq *k = fd >= 0 && fd < registry_n ? registry[fd] : NULL;
    pthread_mutex_unlock(&registry_lock);
    return k;
}

int kqueue(void)
{
    int epfd = epoll_create1(0);
    if (epfd < 0) return -1;
    Kq *k = calloc(1, sizeof *k);
    if (!k) {
        close(epfd);
        errno = ENOMEM;
        return -1;
    }
    k->epfd = epfd;
    pthread_mutex_init(&k->lock, NULL);
    pthread_mutex_lock(&registry_lock);
    if (epfd >= registry_n) {
        int n = epfd + 64;
        Kq **r = realloc(registry, sizeof *r * (size_t)n);
        if (!r) {
            pthread_mutex_unlock(&registry_lock);
            kq_free(k);
            close(epfd);
            errno = ENOMEM;
            return -1;
        }
        memset(r + registry_n, 0, sizeof *r * (size_t)(n - registry_n));
        registry = r;
        registry_n = n;
    }
    Kq *old = registry[epfd]; /* a kqueue closed earlier under this number */
    registry[epfd] = k;
    pthread_mutex_unlock(&registry_lock);
    if (old) kq_free(old);
    return epfd;
}

/* --- Descriptor knotes --- */

static FdNotes *fd_notes(Kq *k, int fd, int create)
{
    if (fd < k->nfds) return &k->fds[fd];
    if (!create) return NULL;
    int n = fd + 64;
    FdNotes *f = realloc(k->fds, sizeof *f * (size_t)n);
    if (!f) return NULL;
    memset(f + k->nfds, 0, sizeof *f * (size_t)(n - k->nfds));
    k->fds = f;
    k->nfds = n;
    return &k->fds[fd];
}

static int mode_of(unsigned short flags)
{
    if (flags & (EV_ONESHOT | EV_DISPATCH)) return MODE_ONESHOT;
    return (flags & EV_CLEAR) ? MODE_CLEAR : MODE_LEVEL;
}

/* Brings fd's epoll registration in line with its knotes. */
static int fd_sync(Kq *k, int fd, FdNotes *f)
{
    uint32_t ev = 0;
    int mode = -1;
    const Knote *ks[2] = {&f->rd, &f->wr};
    for (int i = 0; i < 2; i++) {
        if (!ks[i]->used) continue;
        int m = mode_of(ks[i]->flags);
        if (m == MODE_ONESHOT || mode == MODE_ONESHOT)
            mode = MODE_ONESHOT;
        else if (mode >= 0 && m != mode)
            return EINVAL; /* EV_CLEAR mixed with level-triggered: not modelled */
        else
            mode = m;
        if (ks[i]->disabled) continue;
        ev |= i == 0 ? (EPOLLIN | EPOLLRDHUP) : EPOLLOUT;
    }
    if (ev == 0) {
        if (f->in_epoll) epoll_ctl(k->epfd, EPOLL_CTL_DEL, fd, NULL);
        f->in_epoll = 0;
        return 0;
    }
    if (mode == MODE_CLEAR) ev |= EPOLLET;
    if (mode == MODE_ONESHOT) ev |= EPOLLONESHOT;
    struct epoll_event e = {.events = ev, .data.u64 = ((uint64_t)fd << 2) | TAG_FD};
    /* MOD re-evaluates readiness, as re-adding a knote does. The entry may
     * be gone (the file was closed) or not there yet. */
    if (epoll_ctl(k->epfd, EPOLL_CTL_MOD, fd, &e) == 0 ||
        (errno == ENOENT && epoll_ctl(k->epfd, EPOLL_CTL_ADD, fd, &e) == 0)) {
        f->in_epoll = 1;
        return 0;
    }
    return errno;
}

static int fd_change(Kq *k, const struct kevent *c)
{
    int fd = (int)c->ident;
    struct stat st;
    if ((intptr_t)c->ident < 0 || (uintptr_t)fd != c->ident || fstat(fd, &st) != 0) return EBADF;
    FdNotes *f = fd_notes(k, fd, c->flags & EV_ADD);
    if (f && (f->rd.used || f->wr.used) && (f->dev != st.st_dev || f->ino != st.st_ino)) {
        /* The descriptor was closed and its number reused: close() dropped
         * the old knotes (and epoll its registration). */
        memset(f, 0, sizeof *f);
    }
    Knote *kn = !f ? NULL : c->filter == EVFILT_READ ? &f->rd : &f->wr;
    if (!kn) return (c->flags & EV_ADD) ? ENOMEM : ENOENT;
    if (c->flags & EV_DELETE) {
        if (!kn->used) return ENOENT;
        memset(kn, 0, sizeof *kn);
        return fd_sync(k, fd, f);
    }
    if (c->flags & EV_ADD) {
        if (S_ISFIFO(st.st_mode)) {
            /* FreeBSD's pipes refuse the filter of the other direction. */
            int acc = fcntl(fd, F_GETFL) & O_ACCMODE;
            if ((c->filter == EVFILT_READ && acc == O_WRONLY) ||
                (c->filter == EVFILT_WRITE && acc == O_RDONLY))
                return EINVAL;
        }
        Knote saved = *kn;
        kn->used = 1;
        kn->disabled = (c->flags & EV_DISABLE) != 0;
        kn->flags = c->flags & (EV_CLEAR | EV_ONESHOT | EV_DISPATCH);
        kn->udata = c->udata;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        int rc = fd_sync(k, fd, f);
        if (rc) {
            *kn = saved;
            (void)fd_sync(k, fd, f);
        }
        return rc;
    }
    if (!kn->used) return ENOENT;
    if (c->flags & EV_ENABLE) kn->disabled = 0;
    if (c->flags & EV_DISABLE) kn->disabled = 1;
    return fd_sync(k, fd, f);
}

/* --- EVFILT_USER --- */

static UserNote *user_find(Kq *k, uintptr_t ident)
{
    for (UserNote *u = k->users; u; u = u->next)
        if (u->ident == ident) return u;
    return NULL;
}

static void user_sync(Kq *k, UserNote *u)
{
    /* Level-triggered on the eventfd: a triggered note is reported until a
     * retrieval with EV_CLEAR drains it. A disabled one leaves epoll. */
    if (u->disabled && u->in_epoll) {
        epoll_ctl(k->epfd, EPOLL_CTL_DEL, u->efd, NULL);
        u->in_epoll = 0;
    } else if (!u->disabled && !u->in_epoll) {
        struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint64_t)(uintptr_t)u | TAG_USER};
        if (epoll_ctl(k->epfd, EPOLL_CTL_ADD, u->efd, &e) == 0) u->in_epoll = 1;
    }
}

static void user_free(Kq *k, UserNote *u)
{
    for (UserNote **pp = &k->users; *pp; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = u->next;
            break;
        }
    }
    close(u->efd); /* leaves epoll with it */
    free(u);
}

static int user_change(Kq *k, const struct kevent *c)
{
    UserNote *u = user_find(k, c->ident);
    if (c->flags & EV_DELETE) {
        if (!u) return ENOENT;
        user_free(k, u);
        return 0;
    }
    if (!u) {
        if (!(c->flags & EV_ADD)) return ENOENT;
        u = calloc(1, sizeof *u);
        if (!u) return ENOMEM;
        u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (u->efd < 0) {
            int e = errno;
            free(u);
            return e;
        }
        u->ident = c->ident;
        u->next = k->users;
        k->users = u;
    }
    if (c->flags & EV_ADD) {
        u->flags = c->flags & (EV_CLEAR | EV_ONESHOT | EV_DISPATCH);
        u->udata = c->udata;
        u->disabled = 0;
    }
    if (c->flags & EV_ENABLE) u->disabled = 0;
    if (c->flags & EV_DISABLE) u->disabled = 1;
    unsigned int ff = c->fflags & NOTE_FFLAGSMASK;
    switch (c->fflags & NOTE_FFCTRLMASK) {
    case NOTE_FFAND: u->fflags &= ff; break;
    case NOTE_FFOR: u->fflags |= ff; break;
    case NOTE_FFCOPY: u->fflags = ff; break;
    default: break;
    }
    if (c->fflags & NOTE_TRIGGER) {
        uint64_t one = 1;
        if (write(u->efd, &one, sizeof one) < 0 && errno != EAGAIN) return errno;
    }
    user_sync(k, u);
    return 0;
}

/* --- EVFILT_SIGNAL --- */

static int sig_change(Kq *k, const struct kevent *c)
{
    int signo = (int)c->ident;
    SigNote **pp = &k->sigs;
    while (*pp && (*pp)->signo != signo) pp = &(*pp)->next;
    SigNote *s = *pp;
    if (c->flags & EV_DELETE) {
        if (!s) return ENOENT;
        *pp = s->next;
        close(s->sfd);
        free(s);
        return 0;
    }
    if (!(c->flags & EV_ADD)) return s ? 0 : ENOENT;
    if (s) {
        s->udata = c->udata;
        return 0;
    }
    sigset_t set;
    sigemptyset(&set);
    if (signo <= 0 || sigaddset(&set, signo) != 0) return EINVAL;
    s = calloc(1, sizeof *s);
    if (!s) return ENOMEM;
    /* Readable while the signal is pending; never read here, so the signal
     * stays pending for the program (kqueue does not consume it either).
     * Edge-triggered: EVFILT_SIGNAL reports each delivery once. */
    s->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->sfd < 0) {
        int e = errno;
        free(s);
        return e;
    }
    struct epoll_event e = {.events = EPOLLIN | EPOLLET,
                            .data.u64 = (uint64_t)(uintptr_t)s | TAG_SIG};
    if (epoll_ctl(k->epfd, EPOLL_CTL_ADD, s->sfd, &e) != 0) {
        int err = errno;
        close(s->sfd);
        free(s);
        return err;
    }
    s->signo = signo;
    s->udata = c->udata;
    s->next = k->sigs;
    k->sigs = s;
    return 0;
}

static int apply_change(Kq *k, const struct kevent *c)
{
    switch (c->filter) {
    case EVFILT_READ:
    case EVFILT_WRITE: return fd_change(k, c);
    case EVFILT_USER: return user_change(k, c);
    case EVFILT_SIGNAL: return sig_change(k, c);
    default: return EINVAL; /* not modelled */
    }
}

/* --- Retrieval --- */

static void put(struct kevent *out, int *n, int max, Kq *k, uintptr_t ident, short filter,
                unsigned short flags, unsigned int fflags, int64_t data, void *udata)
{
    struct kevent *e;
    if (*n < max)
        e = &out[(*n)++];
    else if (k->npending < PENDING_MAX)
        e = &k->pending[k->npending++];
    else
        return; /* cannot happen: at most one extra per epoll event taken */
    EV_SET(e, ident, filter, flags, fflags, data, udata);
}

/* Turns one epoll event into kevents, applying EV_ONESHOT / EV_DISPATCH. */
static void deliver(Kq *k, const struct epoll_event *ev, struct kevent *out, int *n, int max)
{
    uint64_t d = ev->data.u64;
    uint32_t e = ev->events;
    if ((d & TAG_MASK) == TAG_USER) {
        UserNote *u = (UserNote *)(uintptr_t)(d & ~(uint64_t)TAG_MASK);
        UserNote *live = k->users;
        while (live && live != u) live = live->next;
        if (!live || u->disabled) return; /* deleted or disabled meanwhile */
        if (u->flags & EV_CLEAR) {
            uint64_t v;
            /* Drained before the event is handed out: a trigger racing with
             * this retrieval is folded into it, as kqueue would. */
            if (read(u->efd, &v, sizeof v) != (ssize_t)sizeof v) return; /* nothing after all */
        }
        put(out, n, max, k, u->ident, EVFILT_USER, u->flags, u->fflags, 0, u->udata);
        if (u->flags & EV_ONESHOT) {
            user_free(k, u);
        } else if (u->flags & EV_DISPATCH) {
            u->disabled = 1;
            user_sync(k, u);
        }
        return;
    }
    if ((d & TAG_MASK) == TAG_SIG) {
        SigNote *s = (SigNote *)(uintptr_t)(d & ~(uint64_t)TAG_MASK);
        SigNote *live = k->sigs;
        while (live && live != s) live = live->next;
        if (!live) return;
        put(out, n, max, k, (uintptr_t)s->signo, EVFILT_SIGNAL, EV_CLEAR, 0, 1, s->udata);
        return;
    }
    int fd = (int)(d >> 2);
    FdNotes *f = fd_notes(k, fd, 0);
    if (!f) return;
    int fired = 0;
    if (f->rd.used && !f->rd.disabled && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        unsigned short fl = f->rd.flags;
        unsigned int ff = 0;
        if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) fl |= EV_EOF;
        if (e & EPOLLERR) ff = EIO;
        put(out, n, max, k, (uintptr_t)fd, EVFILT_READ, fl, ff, 0, f->rd.udata);
        fired |= 1;
    }
    if (f->wr.used && !f->wr.disabled && (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))) {
        unsigned short fl = f->wr.flags;
        unsigned int ff = 0;
        if (e & (EPOLLHUP | EPOLLERR)) fl |= EV_EOF;
        if (e & EPOLLERR) ff = EIO;
        put(out, n, max, k, (uintptr_t)fd, EVFILT_WRITE, fl, ff, 0, f->wr.udata);
        fired |= 2;
    }
    Knote *ks[2] = {&f->rd, &f->wr};
    int oneshot = 0;
    for (int i = 0; i < 2; i++) {
        if (ks[i]->used && mode_of(ks[i]->flags) == MODE_ONESHOT) oneshot = 1;
        if (!(fired & (1 << i))) continue;
        if (ks[i]->flags & EV_ONESHOT)
            memset(ks[i], 0, sizeof *ks[i]);
        else if (ks[i]->flags & EV_DISPATCH)
            ks[i]->disabled = 1;
    }
    /* EPOLLONESHOT disarmed the whole descriptor: re-arm what is left. */
    if (oneshot) (void)fd_sync(k, fd, f);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int wait_epoll(int epfd, struct epoll_event *evs, int max, const struct timespec *timeout)
{
    if (have_pwait2 < 0) {
        struct timespec zero = {0, 0};
        struct epoll_event dummy;
        int tmp = epoll_create1(EPOLL_CLOEXEC);
        have_pwait2 = tmp >= 0 && syscall(SYS_epoll_pwait2, tmp, &dummy, 1, &zero, NULL, 0) >= 0;
        if (tmp >= 0) close(tmp);
    }
    if (have_pwait2) return (int)syscall(SYS_epoll_pwait2, epfd, evs, max, timeout, NULL, 0);
    int ms = -1;
    if (timeout) {
        uint64_t ns = (uint64_t)timeout->tv_sec * 1000000000u + (uint64_t)timeout->tv_nsec;
        uint64_t m = (ns + 999999u) / 1000000u; /* round up: never early */
        ms = m > 86400000u ? 86400000 : (int)m;
    }
    return epoll_wait(epfd, evs, max, ms);
}

int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
           int nevents, const struct timespec *timeout)
{
    Kq *k = kq_find(kq);
    if (!k) {
        errno = EBADF;
        return -1;
    }
    if (nchanges < 0 || nevents < 0 || (nchanges && !changelist) || (nevents && !eventlist) ||
        (timeout && (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000L))) {
        errno = EINVAL;
        return -1;
    }
    int n = 0;
    pthread_mutex_lock(&k->lock);
    for (int i = 0; i < nchanges; i++) {
        const struct kevent *c = &changelist[i];
        int err = apply_change(k, c);
        if (err || (c->flags & EV_RECEIPT)) {
            if (n < nevents) {
                struct kevent *r = &eventlist[n++];
                *r = *c;
                r->flags = EV_ERROR;
                r->data = err;
            } else if (err) {
                pthread_mutex_unlock(&k->lock);
                errno = err;
                return -1;
            }
        }
    }
    /* Results of changes are returned without waiting (FreeBSD). */
    if (n > 0 || nevents == 0) {
        pthread_mutex_unlock(&k->lock);
        return n;
    }
    if (k->npending) {
        int m = k->npending < nevents ? k->npending : nevents;
        memcpy(eventlist, k->pending, sizeof *eventlist * (size_t)m);
        memmove(k->pending, k->pending + m, sizeof *k->pending * (size_t)(k->npending - m));
        k->npending -= m;
        pthread_mutex_unlock(&k->lock);
        return m;
    }
    pthread_mutex_unlock(&k->lock);

    struct epoll_event evs[256];
    int cap = nevents < 256 ? nevents : 256;
    struct timespec left, *tp = NULL;
    uint64_t deadline = 0;
    if (timeout) {
        left = *timeout;
        tp = &left;
        deadline = now_ns() + (uint64_t)timeout->tv_sec * 1000000000u + (uint64_t)timeout->tv_nsec;
    }
    for (;;) {
        int r = wait_epoll(k->epfd, evs, cap, tp);
        if (r < 0) return -1; /* errno from epoll: EINTR, EBADF */
        pthread_mutex_lock(&k->lock);
        for (int i = 0; i < r; i++) deliver(k, &evs[i], eventlist, &n, nevents);
        pthread_mutex_unlock(&k->lock);
        if (n > 0 || r == 0) return n;
        /* Only events of knotes deleted or disabled meanwhile: a kernel
         * would not have woken, so wait for the time left. */
        if (tp) {
            uint64_t now = now_ns();
            if (now >= deadline) return 0;
            left.tv_sec = (time_t)((deadline - now) / 1000000000u);
            left.tv_nsec = (long)((deadline - now) % 1000000000u);
        }
    }
}
