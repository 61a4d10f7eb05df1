/*
 * The load generator and the resource of tests/bench/bench_front.py.
 *
 *   bench_front_load serve
 *   bench_front_load conn --proxy PORT [--user U --pass P] --dest H:P
 *                         [-n N] [-c C] [--max-secs S] [--timeout S]
 *   bench_front_load bulk --proxy PORT [--user U --pass P] --dest H:P
 *                         [--mib N] [--secs S]
 *
 * serve runs two resources on free 127.0.0.1 ports and prints
 * "greet PORT" and "source PORT" on stdout.  greet sends "hello\n" as
 * soon as it accepts and then reads until the peer closes; source sends
 * bytes until the peer closes.  It stops on SIGTERM or when its stdin
 * (a pipe from the script) reaches end of file.
 *
 * conn makes N SOCKS5 requests through the proxy on 127.0.0.1:PORT, C at
 * a time on one epoll loop, each one: connect, greeting, RFC 1929 user
 * and password when --user is given (else "no authentication"), CONNECT
 * to the destination as a domain name, then wait for the first byte of
 * the resource's greeting and close.  A request's latency runs from just
 * before connect() to that first byte.  After --max-secs no new request
 * starts (the run reports those that ran); after --timeout those still
 * open count as failures.  It prints one line:
 *   conn ok= fail= secs= rate= p50_us= p90_us= p99_us= max_us= cpu_us=
 * where cpu_us is this process's own CPU per request (user + system).
 *
 * bulk makes one request to a source resource and reads for --mib MiB or
 * --secs seconds, whichever ends first, and prints
 *   bulk bytes= secs= mbps= cpu_s=
 * MB is 10^6 bytes.  Python does the rest: this program exists because a
 * Python client spends several times the CPU per request that the
 * proxies under test do, on a machine with two cores.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GREETING "hello\n"
#define SOURCE_CHUNK (256 * 1024)
#define MSG_MAX 600

/* ---- Shared ------------------------------------------------------------ */

struct opts {
  int proxy;
  const char *user, *pass, *dest;
  long n, c;
  double timeout, max_secs, secs;
  long mib;
};

static double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage ru;

  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a;

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static void die(const char *what) {
  fprintf(stderr, "bench_front_load: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* The greeting the client sends first: one method offered. */
static size_t msg_greeting(const struct opts *o, uint8_t *m) {
  m[0] = 5;
  m[1] = 1;
  m[2] = o->user != NULL ? 2 : 0;
  return 3;
}

static size_t msg_auth(const struct opts *o, uint8_t *m) {
  size_t ul = strlen(o->user), pl = strlen(o->pass);

  m[0] = 1;
  m[1] = (uint8_t)ul;
  memcpy(m + 2, o->user, ul);
  m[2 + ul] = (uint8_t)pl;
  memcpy(m + 3 + ul, o->pass, pl);
  return 3 + ul + pl;
}

/* CONNECT to "host:port" as a domain name (ATYP 3). */
static size_t msg_request(const struct opts *o, uint8_t *m) {
  const char *colon = strrchr(o->dest, ':');
  size_t hl = (size_t)(colon - o->dest);
  long port = strtol(colon + 1, NULL, 10);

  m[0] = 5;
  m[1] = 1;
  m[2] = 0;
  m[3] = 3;
  m[4] = (uint8_t)hl;
  memcpy(m + 5, o->dest, hl);
  m[5 + hl] = (uint8_t)(port >> 8);
  m[6 + hl] = (uint8_t)port;
  return 7 + hl;
}

/* The length of a SOCKS5 reply whose first `n` bytes are in `r`, or 0
 * while that is not known yet. */
static size_t reply_len(const uint8_t *r, size_t n) {
  if (n < 5)
    return 0;
  if (r[3] == 1)
    return 4 + 4 + 2;
  if (r[3] == 4)
    return 4 + 16 + 2;
  return 5 + (size_t)r[4] + 2;
}

/* ---- serve ------------------------------------------------------------- */

enum { K_STDIN, K_GREET_LISTEN, K_SOURCE_LISTEN, K_GREET, K_SOURCE };

static uint64_t tag(int kind, int fd) {
  return ((uint64_t)kind << 32) | (uint32_t)fd;
}

static int listen_any(int *port) {
  struct sockaddr_in a = loopback(0);
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      listen(fd, 4096) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0)
    die("listen");
  *port = ntohs(a.sin_port);
  return fd;
}

static void watch(int ep, int kind, int fd, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.u64 = tag(kind, fd)};

  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
    die("epoll_ctl");
}

static void accept_all(int ep, int lfd, int kind) {
  int fd;

  while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
    if (kind == K_GREET) {
      send(fd, GREETING, strlen(GREETING), MSG_NOSIGNAL);
      watch(ep, K_GREET, fd, EPOLLIN);
    } else {
      watch(ep, K_SOURCE, fd, EPOLLIN | EPOLLOUT);
    }
  }
}

/* Reads and drops; closes on end of file or error. */
static void drain(int fd) {
  static char sink[65536];
  ssize_t n;

  while ((n = recv(fd, sink, sizeof(sink), 0)) > 0)
    ;
  if (n == 0 || (errno != EAGAIN && errno != EINTR))
    close(fd);
}

static void pump(int fd, const char *chunk) {
  ssize_t n;

  while ((n = send(fd, chunk, SOURCE_CHUNK, MSG_NOSIGNAL)) > 0)
    ;
  if (errno != EAGAIN && errno != EINTR)
    close(fd);
}

static int run_serve(void) {
  static char chunk[SOURCE_CHUNK];
  struct epoll_event evs[256];
  int ep = epoll_create1(0), gport, sport, gl, sl;
  struct epoll_event in = {.events = EPOLLIN, .data.u64 = tag(K_STDIN, 0)};

  for (size_t i = 0; i < sizeof(chunk); i++)
    chunk[i] = (char)(i * 131 + (i >> 8));
  gl = listen_any(&gport);
  sl = listen_any(&sport);
  watch(ep, K_GREET_LISTEN, gl, EPOLLIN);
  watch(ep, K_SOURCE_LISTEN, sl, EPOLLIN);
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &in); /* fails harmlessly on a file */
  printf("greet %d\nsource %d\n", gport, sport);
  fflush(stdout);

  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);

    for (int i = 0; i < n; i++) {
      int kind = (int)(evs[i].data.u64 >> 32);
      int fd = (int)(uint32_t)evs[i].data.u64;
      char b[64];

      if (kind == K_STDIN && read(0, b, sizeof(b)) <= 0)
        return 0;
      if (kind == K_GREET_LISTEN || kind == K_SOURCE_LISTEN)
        accept_all(ep, fd, kind == K_GREET_LISTEN ? K_GREET : K_SOURCE);
      if (kind == K_GREET)
        drain(fd);
      if (kind == K_SOURCE && (evs[i].events & (EPOLLERR | EPOLLHUP)))
        close(fd);
      else if (kind == K_SOURCE && (evs[i].events & EPOLLOUT))
        pump(fd, chunk);
      else if (kind == K_SOURCE)
        drain(fd);
    }
  }
}

/* ---- conn -------------------------------------------------------------- */

/*
 * One request slot.  States: CONNECTING until the socket is writable,
 * then METHOD (greeting sent, waiting for the chosen method), AUTH
 * (user and password sent), REPLY (CONNECT sent), DATA (waiting for the
 * resource's first byte).  A slot that finishes starts the next request.
 */
enum slot_state { S_IDLE, S_CONNECTING, S_METHOD, S_AUTH, S_REPLY, S_DATA };

struct slot {
  int fd;
  enum slot_state state;
  double t0;
  uint8_t in[MSG_MAX];
  size_t in_len;
};

struct load {
  const struct opts *o;
  int ep;
  long started, ok, failed;
  double t_begin;
  double *lat_us;
  struct slot *slots;
};

static int send_msg(struct slot *s, const uint8_t *m, size_t n) {
  return send(s->fd, m, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

static void slot_start(struct load *l, struct slot *s, long idx) {
  struct sockaddr_in a = loopback(l->o->proxy);
  struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)idx};
  int one = 1;

  s->state = S_IDLE;
  if (l->started >= l->o->n ||
      (l->o->max_secs > 0 && now_s() - l->t_begin > l->o->max_secs))
    return;
  l->started++;
  s->in_len = 0;
  s->t0 = now_s();
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (s->fd < 0) {
    l->failed++;
    return;
  }
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if ((connect(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0 &&
       errno != EINPROGRESS) ||
      epoll_ctl(l->ep, EPOLL_CTL_ADD, s->fd, &ev) != 0) {
    close(s->fd);
    l->failed++;
    return;
  }
  s->state = S_CONNECTING;
}

/* Ends the slot's request, counted as a success or a failure, and
 * starts the next one in its place. */
static void slot_end(struct load *l, struct slot *s, long idx, int ok) {
  if (ok)
    l->lat_us[l->ok++] = (now_s() - s->t0) * 1e6;
  else
    l->failed++;
  close(s->fd);
  slot_start(l, s, idx);
}

static int on_connected(struct load *l, struct slot *s, long idx) {
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)idx};
  uint8_t m[MSG_MAX];
  int err = 0;
  socklen_t len = sizeof(err);

  if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
    return -1;
  if (send_msg(s, m, msg_greeting(l->o, m)) != 0)
    return -1;
  s->state = S_METHOD;
  return epoll_ctl(l->ep, EPOLL_CTL_MOD, s->fd, &ev);
}

/* Consumes `n` bytes from the front of the slot's input. */
static void consume(struct slot *s, size_t n) {
  memmove(s->in, s->in + n, s->in_len - n);
  s->in_len -= n;
}

/* Moves the slot on with what it has read: 1 when the request is done,
 * 0 to wait for more, -1 on a failure. */
static int advance(struct load *l, struct slot *s) {
  uint8_t m[MSG_MAX];
  size_t need;

  for (;;) {
    switch (s->state) {
    case S_METHOD:
      if (s->in_len < 2)
        return 0;
      if (s->in[0] != 5 || s->in[1] != (l->o->user != NULL ? 2 : 0))
        return -1;
      consume(s, 2);
      s->state = l->o->user != NULL ? S_AUTH : S_REPLY;
      if (send_msg(s, m,
                   l->o->user != NULL ? msg_auth(l->o, m)
                                      : msg_request(l->o, m)) != 0)
        return -1;
      break;
    case S_AUTH:
      if (s->in_len < 2)
        return 0;
      if (s->in[0] != 1 || s->in[1] != 0)
        return -1;
      consume(s, 2);
      s->state = S_REPLY;
      if (send_msg(s, m, msg_request(l->o, m)) != 0)
        return -1;
      break;
    case S_REPLY:
      need = reply_len(s->in, s->in_len);
      if (need == 0 || s->in_len < need)
        return 0;
      if (s->in[0] != 5 || s->in[1] != 0)
        return -1;
      consume(s, need);
      s->state = S_DATA;
      break;
    case S_DATA:
      return s->in_len > 0 ? 1 : 0;
    default:
      return -1;
    }
  }
}

static void on_event(struct load *l, long idx, uint32_t events) {
  struct slot *s = &l->slots[idx];
  ssize_t n;
  int rc;

  if (s->state == S_CONNECTING) {
    if (on_connected(l, s, idx) != 0)
      slot_end(l, s, idx, 0);
    return;
  }
  n = recv(s->fd, s->in + s->in_len, sizeof(s->in) - s->in_len, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0) {
    slot_end(l, s, idx, 0);
    return;
  }
  s->in_len += (size_t)n;
  rc = advance(l, s);
  if (rc != 0)
    slot_end(l, s, idx, rc > 0);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values. */
static double pct(const double *v, long n, double p) {
  long i = (long)(p / 100.0 * (double)n + 0.999999) - 1;

  if (n == 0)
    return 0;
  return v[i < 0 ? 0 : (i >= n ? n - 1 : i)];
}

static int run_conn(const struct opts *o) {
  struct load l = {.o = o, .ep = epoll_create1(0), .t_begin = now_s()};
  struct epoll_event evs[256];
  double t0 = l.t_begin, c0 = cpu_s(), secs;

  l.lat_us = calloc((size_t)o->n, sizeof(double));
  l.slots = calloc((size_t)o->c, sizeof(struct slot));
  if (l.lat_us == NULL || l.slots == NULL || l.ep < 0)
    die("set-up");
  for (long i = 0; i < o->c; i++)
    slot_start(&l, &l.slots[i], i);
  while (l.ok + l.failed < l.started) {
    int n = epoll_wait(l.ep, evs, 256, 100);

    for (int i = 0; i < n; i++)
      on_event(&l, (long)evs[i].data.u64, evs[i].events);
    if (now_s() - t0 > o->timeout) {
      l.failed = l.started - l.ok; /* abandon what is still open */
      break;
    }
  }
  secs = now_s() - t0;
  qsort(l.lat_us, (size_t)l.ok, sizeof(double), cmp_double);
  printf("conn ok=%ld fail=%ld secs=%.3f rate=%.1f p50_us=%.0f "
         "p90_us=%.0f p99_us=%.0f max_us=%.0f cpu_us=%.1f\n",
         l.ok, l.failed, secs, (double)l.ok / secs, pct(l.lat_us, l.ok, 50),
         pct(l.lat_us, l.ok, 90), pct(l.lat_us, l.ok, 99),
         pct(l.lat_us, l.ok, 100),
         (cpu_s() - c0) / (double)(l.started > 0 ? l.started : 1) * 1e6);
  return l.failed == 0 ? 0 : 1;
}

/* ---- bulk -------------------------------------------------------------- */

static void recv_exact(int fd, uint8_t *b, size_t n) {
  size_t got = 0;

  while (got < n) {
    ssize_t r = recv(fd, b + got, n - got, 0);

    if (r <= 0)
      die("socks5 handshake");
    got += (size_t)r;
  }
}

static void send_all(int fd, const uint8_t *b, size_t n) {
  if (send(fd, b, n, MSG_NOSIGNAL) != (ssize_t)n)
    die("socks5 handshake");
}

/* A blocking SOCKS5 exchange; exits on any refusal. */
static int socks_connect(const struct opts *o) {
  struct sockaddr_in a = loopback(o->proxy);
  uint8_t m[MSG_MAX], r[MSG_MAX];
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
    die("connect to the proxy");
  send_all(fd, m, msg_greeting(o, m));
  recv_exact(fd, r, 2);
  if (o->user != NULL) {
    send_all(fd, m, msg_auth(o, m));
    recv_exact(fd, r, 2);
    if (r[1] != 0)
      die("authentication refused");
  }
  send_all(fd, m, msg_request(o, m));
  recv_exact(fd, r, 5);
  if (r[1] != 0) {
    errno = ECONNREFUSED;
    die("CONNECT refused");
  }
  recv_exact(fd, r + 5, reply_len(r, 5) - 5);
  return fd;
}

static int run_bulk(const struct opts *o) {
  static uint8_t buf[1 << 20];
  uint64_t want = (uint64_t)o->mib << 20, got = 0;
  int fd = socks_connect(o);
  double t0 = now_s(), c0 = cpu_s(), secs;

  while (got < want) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);

    if (n <= 0)
      break;
    got += (uint64_t)n;
    if (now_s() - t0 > o->secs)
      break;
  }
  secs = now_s() - t0;
  close(fd);
  printf("bulk bytes=%llu secs=%.3f mbps=%.1f cpu_s=%.3f\n",
         (unsigned long long)got, secs, (double)got / secs / 1e6, cpu_s() - c0);
  return got > 0 ? 0 : 1;
}

/* ---- main -------------------------------------------------------------- */

static int usage(void) {
  fprintf(stderr,
          "usage: bench_front_load serve\n"
          "       bench_front_load conn --proxy PORT [--user U --pass P] "
          "--dest HOST:PORT [-n N] [-c C] [--max-secs S] "
          "[--timeout S]\n"
          "       bench_front_load bulk --proxy PORT [--user U --pass P] "
          "--dest HOST:PORT [--mib N] [--secs S]\n");
  return 2;
}

static int parse(int argc, char **argv, struct opts *o) {
  *o = (struct opts){.n = 1, .c = 1, .timeout = 60, .secs = 10, .mib = 512};
  for (int i = 2; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];

    if (strcmp(k, "--proxy") == 0)
      o->proxy = atoi(v);
    else if (strcmp(k, "--user") == 0)
      o->user = v;
    else if (strcmp(k, "--pass") == 0)
      o->pass = v;
    else if (strcmp(k, "--dest") == 0)
      o->dest = v;
    else if (strcmp(k, "-n") == 0)
      o->n = atol(v);
    else if (strcmp(k, "-c") == 0)
      o->c = atol(v);
    else if (strcmp(k, "--max-secs") == 0)
      o->max_secs = atof(v);
    else if (strcmp(k, "--timeout") == 0)
      o->timeout = atof(v);
    else if (strcmp(k, "--secs") == 0)
      o->secs = atof(v);
    else if (strcmp(k, "--mib") == 0)
      o->mib = atol(v);
    else
      return -1;
  }
  if ((argc % 2) != 0 || o->proxy <= 0 || o->dest == NULL ||
      strrchr(o->dest, ':') == NULL || strlen(o->dest) > 255 || o->n < 1 ||
      o->c < 1 || (o->user != NULL) != (o->pass != NULL) ||
      (o->user != NULL && (strlen(o->user) > 255 || strlen(o->pass) > 255)))
    return -1;
  if (o->c > o->n)
    o->c = o->n;
  return 0;
}

int main(int argc, char **argv) {
  struct opts o;

  signal(SIGPIPE, SIG_IGN);
  if (argc == 2 && strcmp(argv[1], "serve") == 0)
    return run_serve();
  if (argc < 2 || parse(argc, argv, &o) != 0)
    return usage();
  if (strcmp(argv[1], "conn") == 0)
    return run_conn(&o);
  if (strcmp(argv[1], "bulk") == 0)
    return run_bulk(&o);
  return usage();
}
