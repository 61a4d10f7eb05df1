/*
 * Reads the input as DIR/connector.yaml and checks the loader's
 * promises: 0 or SP_ECONFIG with a message; and settings that load are
 * ones the connector can use and write again: the endpoint splits into
 * the host and port it dials, and the text statedir_conf_format writes
 * for them loads back as the very same settings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "connector/statedir.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char text[4096];
  struct statedir_conf c, back;
  char err[256] = "", host[STATEDIR_HOST_MAX + 1], port[STATEDIR_PORT_MAX];
  int rc, n;

  rc = statedir_conf_parse((const char *)data, size, "connector.yaml", &c, err,
                           sizeof(err));
  if (rc != 0) {
    CHECK(rc == SP_ECONFIG && err[0] != '\0');
    return 0;
  }
  CHECK(statedir_split_addr(c.relay, host, port) == 0);
  CHECK(strcmp(host, c.relay_host) == 0 && strcmp(port, c.relay_port) == 0);
  n = statedir_conf_format(&c, text, sizeof(text));
  CHECK(n > 0);
  CHECK(statedir_conf_parse(text, (size_t)n, "again", &back, err,
                            sizeof(err)) == 0);
  CHECK(memcmp(&c, &back, sizeof(c)) == 0);
  return 0;
}
