/* The smallest server the benchmark's cases allow: the CEILING for any WSGI server.
 *
 * `trivial_responder unix:/path/app.sock|tcp:127.0.0.1:PORT WORKERS LOGFILE BACKLOG`
 *
 * WORKERS forked processes block in accept(2) on one listening socket; each connection
 * gets one request read (a uwsgi packet: 4-byte header + vars; or an HTTP head up to
 * CRLFCRLF), a fixed 13-byte "Hello, World!" response in one write, one log line
 * written to LOGFILE (request logging stays on, as in the production settings), and
 * close. No epoll, no Python, no parsing: per request only the syscalls every server
 * must make (accept, read, write, write of the log line, close). Run by
 * `bench/serve.py --ceiling` (compiled with cc into the run's temporary directory).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char RESP[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    "Connection: close\r\n\r\nHello, World!";

static int complete(const char *b, size_t n, int uwsgi) {
    if (uwsgi)
        return n >= 4 && n >= 4 + (size_t)((unsigned char)b[1] | (unsigned char)b[2] << 8);
    return n >= 4 && memmem(b, n, "\r\n\r\n", 4) != NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s unix:PATH|tcp:HOST:PORT WORKERS LOGFILE BACKLOG\n", argv[0]);
        return 2;
    }
    int uwsgi = strncmp(argv[1], "unix:", 5) == 0, one = 1, ls;
    if (uwsgi) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        strncpy(a.sun_path, argv[1] + 5, sizeof a.sun_path - 1);
        ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        unlink(a.sun_path);
        if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0) {
            perror("bind");
            return 1;
        }
        chmod(a.sun_path, 0660);
    } else {
        char *host = argv[1] + 4, *colon = strrchr(host, ':');
        if (!colon) return 2;
        *colon = 0;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(colon + 1))};
        inet_pton(AF_INET, host, &a.sin_addr);
        ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(ls, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* inherited by accept */
        if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0) {
            perror("bind");
            return 1;
        }
    }
    if (listen(ls, atoi(argv[4])) != 0) {
        perror("listen");
        return 1;
    }
    int logfd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int workers = atoi(argv[2]);
    signal(SIGPIPE, SIG_IGN);
    for (int w = 0; w < workers; w++) {
        if (fork() == 0) {
            char buf[16384], line[128];
            unsigned long n_req = 0;
            for (;;) {
                int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0) continue;
                size_t got = 0;
                ssize_t r;
                while (got < sizeof buf && (r = read(c, buf + got, sizeof buf - got)) > 0) {
                    got += (size_t)r;
                    if (complete(buf, got, uwsgi)) break;
                }
                if (complete(buf, got, uwsgi)) {
                    (void)!write(c, RESP, sizeof RESP - 1);
                    int len = snprintf(line, sizeof line, "[pid: %d|req: %lu] GET / => 13 bytes\n",
                                       (int)getpid(), ++n_req);
                    (void)!write(logfd, line, (size_t)len);
                }
                close(c);
            }
        }
    }
    while (wait(NULL) > 0) {
    }
    return 0;
}
