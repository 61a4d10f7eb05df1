/* The listener: what an accepted socket gets from it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/keepalive.h"
#include "relay/listen.h"

struct world {
  uv_loop_t loop;
  struct listener l;
  uv_tcp_t client;
  int accepted;
};

static void accept_cb(struct listener *l) {
  struct world *w = l->data;

  uv_tcp_init(&w->loop, &w->client);
  assert_int_equal(listener_accept(l, &w->client), 0);
  w->accepted = 1;
}

static int opt(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof(v);

  assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
  return v;
}

/* Options set on the listening socket alone reach every connection. */
static void test_accepted_socket_options(void **state) {
  struct world w;
  struct sockaddr_storage ss;
  int len = sizeof(ss), c;
  uv_os_fd_t fd;

  (void)state;
  memset(&w, 0, sizeof(w));
  uv_loop_init(&w.loop);
  assert_int_equal(
      listener_start(&w.l, &w.loop, "test", "127.0.0.1:0", accept_cb, &w), 0);
  assert_int_equal(uv_tcp_getsockname(&w.l.tcp, (struct sockaddr *)&ss, &len),
                   0);
  c = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(c >= 0);
  assert_int_equal(connect(c, (struct sockaddr *)&ss, (socklen_t)len), 0);
  while (!w.accepted)
    uv_run(&w.loop, UV_RUN_ONCE);

  assert_int_equal(uv_fileno((uv_handle_t *)&w.client, &fd), 0);
  assert_int_not_equal(opt(fd, IPPROTO_TCP, TCP_NODELAY), 0);
  assert_int_not_equal(opt(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
  assert_int_equal(opt(fd, IPPROTO_TCP, TCP_KEEPIDLE), SP_KEEPIDLE_S);
  assert_int_equal(opt(fd, IPPROTO_TCP, TCP_KEEPINTVL), SP_KEEPINTVL_S);
  assert_int_equal(opt(fd, IPPROTO_TCP, TCP_KEEPCNT), SP_KEEPCNT);

  close(c);
  uv_close((uv_handle_t *)&w.client, NULL);
  listener_stop(&w.l);
  uv_run(&w.loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&w.loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accepted_socket_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
