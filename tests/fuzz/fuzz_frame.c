/*
 * Decodes frames back to back until the input runs out or a frame is
 * refused, and checks the codec's promises on each frame it accepts:
 * re-encoding gives back exactly the input bytes (one encoding per
 * frame), the encoder's output decodes again, every shorter prefix asks
 * for more bytes, and DATA borrows its payload from the input.  The whole
 * input is also tried as an OPEN destination.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "tunnel/frame.h"
#include "tests/fuzz/fuzz.h"

static void check_prefixes(const uint8_t *p, size_t used) {
  static const size_t cut[] = {0, 1, 7, 8, 9};
  struct tunnel_frame g;
  size_t i, n;

  for (i = 0; i < sizeof(cut) / sizeof(cut[0]) && cut[i] < used; i++)
    CHECK(tunnel_frame_decode(p, cut[i], &g, &n, NULL) == SP_EINCOMPLETE);
  CHECK(tunnel_frame_decode(p, used - 1, &g, &n, NULL) == SP_EINCOMPLETE);
}

static void check_frame(const uint8_t *p, size_t used,
                        const struct tunnel_frame *f) {
  static uint8_t out[TUNNEL_FRAME_MAX], again[TUNNEL_FRAME_MAX];
  uint8_t hdr[TUNNEL_HEADER_SIZE];
  struct tunnel_frame g;
  size_t n, n2, u;

  CHECK(used >= TUNNEL_HEADER_SIZE && used <= TUNNEL_FRAME_MAX);
  CHECK(tunnel_frame_check(f) == TUNNEL_FAULT_NONE);
  CHECK(tunnel_frame_encode(f, out, sizeof(out), &n) == 0);
  CHECK(n == used && memcmp(out, p, n) == 0);
  CHECK(tunnel_frame_decode(out, n, &g, &u, NULL) == 0 && u == n);
  CHECK(tunnel_frame_encode(&g, again, sizeof(again), &n2) == 0);
  CHECK(n2 == n && memcmp(again, out, n) == 0);
  CHECK(tunnel_frame_encode(f, out, n - 1, &n2) == SP_ETOOBIG);
  check_prefixes(p, used);

  if (f->type == TUNNEL_DATA) {
    CHECK(f->u.data.p == p + TUNNEL_HEADER_SIZE);
    tunnel_frame_encode_data_header(hdr, f->stream, f->u.data.len,
                                    f->flags & TUNNEL_FLAG_FIN);
    CHECK(memcmp(hdr, p, sizeof(hdr)) == 0);
  }
}

/* A destination that splits must be rebuilt from its parts exactly. */
static void check_dest(const uint8_t *data, size_t size) {
  char host[TUNNEL_HOST_MAX + 1], back[TUNNEL_DEST_MAX + 16];
  uint16_t port;
  int v6, n;

  if (size > TUNNEL_DEST_MAX + 8 ||
      tunnel_frame_dest_split((const char *)data, size, host, sizeof(host),
                              &port) != 0)
    return;
  v6 = strchr(host, ':') != NULL;
  CHECK(strlen(host) <= TUNNEL_HOST_MAX && port != 0);
  n = snprintf(back, sizeof(back), "%s%s%s:%u", v6 ? "[" : "", host,
               v6 ? "]" : "", (unsigned)port);
  CHECK(n > 0 && (size_t)n == size && memcmp(back, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  enum tunnel_frame_fault fault;
  struct tunnel_frame f;
  size_t off = 0, used;
  int rc;

  check_dest(data, size);
  while (off < size) {
    rc = tunnel_frame_decode(data + off, size - off, &f, &used, &fault);
    if (rc == SP_EINCOMPLETE)
      CHECK(used == 0 && fault == TUNNEL_FAULT_NONE);
    if (rc == SP_EPROTO)
      CHECK(used == 0 && fault != TUNNEL_FAULT_NONE &&
            strcmp(tunnel_frame_fault_name(fault), "unknown") != 0);
    if (rc != 0) {
      CHECK(rc == SP_EINCOMPLETE || rc == SP_EPROTO);
      break;
    }
    check_frame(data + off, used, &f);
    off += used;
  }
  return 0;
}
