/* test_examples - runs example programs as a user would and checks what
 * they do: examples/host_loop.c (a host poll() loop serving its own UDP
 * socket and stdin while it hosts the runtime's TCP echo server and timer)
 * on each Linux backend. The examples are built with the tests, into
 * VX_EXAMPLES_DIR (the build folder's examples/, from the Makefile: a TSan
 * or ASan run runs the example built the same way); the test runs from the
 * repository's top directory. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/io_support.h"

/* Starts the example with stdin and stdout on pipes; reads its first line. */
static pid_t start(const char *backend, int *in_w, FILE **out, char *first, size_t n)
{
    int in[2], o[2];
    cr_assert(pipe(in) == 0 && pipe(o) == 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(o[1], 1);
        close(in[1]);
        close(o[0]);
        setenv("VEXRT_BACKEND", backend, 1);
        execl(VX_EXAMPLES_DIR "/host_loop", "host_loop", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    *in_w = in[1];
    *out = fdopen(o[0], "r");
    cr_assert(fgets(first, (int)n, *out), "the example printed its ports");
    return pid;
}

IO_TEST(examples, host_loop_serves_its_own_loop_and_the_runtime, .timeout = 60)
{
    if (strcmp(b->name, "epoll") != 0 && strcmp(b->name, "io_uring") != 0) return;
    cr_assert(access(VX_EXAMPLES_DIR "/host_loop", X_OK) == 0, VX_EXAMPLES_DIR "/host_loop is built");
    int in_w;
    FILE *out;
    char line[256];
    pid_t pid = start(b->name, &in_w, &out, line, sizeof line);
    unsigned tcp = 0, udp = 0;
    char be[32] = "";
    cr_assert(sscanf(line, "host_loop on %31s tcp echo (runtime) 127.0.0.1:%u, udp echo (host) 127.0.0.1:%u",
                     be, &tcp, &udp) == 3, "first line: %s", line);
    cr_assert(strncmp(be, b->name, strlen(b->name)) == 0, "backend %s, want %s", be, b->name);

    /* The runtime's TCP echo, a few round trips. */
    int c = io_connect((uint16_t)tcp);
    for (int i = 0; i < 20; i++) {
        char msg[16], back[16];
        int len = snprintf(msg, sizeof msg, "ping %d", i);
        cr_assert(send(c, msg, (size_t)len, 0) == len);
        ssize_t got = 0;
        while (got < len) {
            ssize_t k = recv(c, back + got, (size_t)(len - got), 0);
            cr_assert(k > 0, "the echo answered");
            got += k;
        }
        cr_assert(memcmp(msg, back, (size_t)len) == 0);
    }
    close(c);

    /* The host's own UDP echo, served while the runtime is hosted. */
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a;
    io_addr((uint16_t)udp, &a);
    struct timeval tv = {5, 0};
    setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert(sendto(u, "dgram", 5, 0, (struct sockaddr *)&a, sizeof a) == 5);
    char d[16];
    cr_assert(recv(u, d, sizeof d, 0) == 5 && memcmp(d, "dgram", 5) == 0, "the host echoed");
    close(u);

    /* Its stdin (the runtime's ticks may come in between), then quit. */
    cr_assert(write(in_w, "hello\n", 6) == 6);
    bool host_answered = false, stopped = false;
    while (!host_answered && fgets(line, sizeof line, out))
        if (!strncmp(line, "host: 6 bytes", 13)) host_answered = true;
    cr_assert(write(in_w, "quit\n", 5) == 5);
    while (fgets(line, sizeof line, out))
        if (!strncmp(line, "host_loop: stopped", 18)) stopped = true;
    int status;
    cr_assert(waitpid(pid, &status, 0) == pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
    cr_assert(host_answered && stopped);
    fclose(out);
    close(in_w);
}
