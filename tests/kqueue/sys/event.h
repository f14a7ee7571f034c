/* tests/kqueue/sys/event.h - declarations of kqueue(2) / kevent(2) for
 * building platform/bsd/kqueue.c where no <sys/event.h> exists (Linux).
 * Test-only, never installed. Written by the project from the FreeBSD 14
 * and macOS 13 kqueue(2) manual pages; values checked against both.
 *
 * Layout: FreeBSD >= 12's struct kevent (64-bit data, ext[4]), unless
 * __APPLE__ is defined, where it is macOS's struct kevent (intptr_t data, no
 * ext; macOS's kevent64_s is not declared: the backend does not use it).
 * The one value that differs between the two is EVFILT_USER (FreeBSD -11,
 * macOS -10). tests/kqueue/shim.c implements these calls on epoll, with the
 * layout declared here: a model of kqueue, not the kernel's. */
#ifndef VX_TEST_SYS_EVENT_H
#define VX_TEST_SYS_EVENT_H

#include <stdint.h>
#include <time.h> /* struct timespec */

struct kevent {
    uintptr_t ident;     /* identifier: a descriptor, signal number or user id */
    short filter;        /* EVFILT_* */
    unsigned short flags; /* EV_* actions and flags */
    unsigned int fflags; /* filter-specific flags (NOTE_*) */
#if defined(__APPLE__)
    intptr_t data;       /* filter-specific data */
    void *udata;         /* returned as given */
#else
    int64_t data;
    void *udata;
    uint64_t ext[4];     /* FreeBSD >= 12: extensions, zero here */
#endif
};

/* Fills a struct kevent (FreeBSD's macro also zeroes ext). */
#if defined(__APPLE__)
#define EV_SET(kevp, a, b, c, d, e, f)                                                  \
    do {                                                                                \
        struct kevent *ev_ = (kevp);                                                    \
        ev_->ident = (a);                                                               \
        ev_->filter = (short)(b);                                                       \
        ev_->flags = (unsigned short)(c);                                               \
        ev_->fflags = (unsigned int)(d);                                                \
        ev_->data = (e);                                                                \
        ev_->udata = (f);                                                               \
    } while (0)
#else
#define EV_SET(kevp, a, b, c, d, e, f)                                                  \
    do {                                                                                \
        struct kevent *ev_ = (kevp);                                                    \
        ev_->ident = (a);                                                               \
        ev_->filter = (short)(b);                                                       \
        ev_->flags = (unsigned short)(c);                                               \
        ev_->fflags = (unsigned int)(d);                                                \
        ev_->data = (e);                                                                \
        ev_->udata = (f);                                                               \
        ev_->ext[0] = ev_->ext[1] = ev_->ext[2] = ev_->ext[3] = 0;                      \
    } while (0)
#endif

/* Filters. */
#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_AIO (-3)
#define EVFILT_VNODE (-4)
#define EVFILT_PROC (-5)
#define EVFILT_SIGNAL (-6)
#define EVFILT_TIMER (-7)
#if defined(__APPLE__)
#define EVFILT_USER (-10)
#else
#define EVFILT_USER (-11)
#endif

/* Actions. */
#define EV_ADD 0x0001     /* add, or modify an existing knote (enables it) */
#define EV_DELETE 0x0002  /* remove */
#define EV_ENABLE 0x0004  /* report again */
#define EV_DISABLE 0x0008 /* keep, but do not report */
/* Flags. */
#define EV_ONESHOT 0x0010  /* report once, then delete */
#define EV_CLEAR 0x0020    /* reset the state after each retrieval */
#define EV_RECEIPT 0x0040  /* report each change's result (EV_ERROR, data 0 or errno) */
#define EV_DISPATCH 0x0080 /* disable after each retrieval */
/* Returned. */
#define EV_ERROR 0x4000 /* data holds an errno value */
#define EV_EOF 0x8000   /* end of file / hang-up; sockets: fflags holds the error */

/* EVFILT_USER fflags. */
#define NOTE_FFNOP 0x00000000u
#define NOTE_FFAND 0x40000000u
#define NOTE_FFOR 0x80000000u
#define NOTE_FFCOPY 0xc0000000u
#define NOTE_FFCTRLMASK 0xc0000000u
#define NOTE_FFLAGSMASK 0x00ffffffu
#define NOTE_TRIGGER 0x01000000u /* fire the user event */

/* Returns a new kqueue descriptor, or -1 with errno. */
int kqueue(void);
/* Applies nchanges changes, then waits at most *timeout (NULL: forever) for
 * up to nevents events; returns their count, or -1 with errno. */
int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
           int nevents, const struct timespec *timeout);

#endif /* VX_TEST_SYS_EVENT_H */
