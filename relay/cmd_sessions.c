/* sallyport-relay sessions [--json] ; sessions kill ID|--user NAME */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/json.h"
#include "common/pack.h"
#include "common/timefmt.h"
#include "policy/connectors.h"
#include "policy/policy.h"
#include "relay/cli.h"

static const char usage[] =
    "usage: sallyport-relay sessions [--json]\n"
    "       sallyport-relay sessions kill ID | --user NAME\n"
    "\n"
    "Lists the running relay's client sessions: id, user, client address,\n"
    "destination, resource, rule, state, start and bytes each way.  kill\n"
    "asks the relay to close one session, or every session of a user,\n"
    "within a second (it also revokes nothing: use `token revoke` or\n"
    "`user disable` to keep them out).  Without a running relay the list\n"
    "is empty.\n";

static const char *const kinds[] = {"socks", "http", "https"};

static void print_one(const MDB_val *k, const MDB_val *v, int json,
                      int *count) {
  const uint8_t *key = k->mv_data;
  uint32_t sid = (uint32_t)key[0] << 24 | key[1] << 16 | key[2] << 8 | key[3];
  const char *user, *client, *device, *dest, *res, *rule, *state;
  char started[SP_TIME_MAX];
  uint64_t up, down;
  struct sp_rbuf r;
  struct sp_json j;
  uint8_t kind;

  sp_rbuf_init(&r, v->mv_data, v->mv_size);
  kind = sp_rbuf_u8(&r);
  user = sp_rbuf_str(&r, NULL);
  client = sp_rbuf_str(&r, NULL);
  device = sp_rbuf_str(&r, NULL);
  dest = sp_rbuf_str(&r, NULL);
  res = sp_rbuf_str(&r, NULL);
  rule = sp_rbuf_str(&r, NULL);
  state = sp_rbuf_str(&r, NULL);
  sp_time_format(started, (int64_t)sp_rbuf_u64(&r));
  up = sp_rbuf_u64(&r);
  down = sp_rbuf_u64(&r);
  if (r.err != 0 || kind > 2)
    return;
  if (!json) {
    printf("%-8u %-6s %-16s %-22s %-28s %-12s %-8s %-20s %llu/%llu\n", sid,
           kinds[kind], user[0] ? user : "-", client, dest[0] ? dest : "-",
           res[0] ? res : "-", state, started, (unsigned long long)up,
           (unsigned long long)down);
    return;
  }
  sp_json_begin(&j);
  sp_json_int(&j, "id", sid);
  sp_json_str(&j, "listener", kinds[kind]);
  sp_json_str(&j, "user", user[0] ? user : NULL);
  sp_json_str(&j, "client", client);
  sp_json_str(&j, "device", device[0] ? device : NULL);
  sp_json_str(&j, "dest", dest[0] ? dest : NULL);
  sp_json_str(&j, "resource", res[0] ? res : NULL);
  sp_json_str(&j, "rule", rule[0] ? rule : NULL);
  sp_json_str(&j, "state", state);
  sp_json_str(&j, "started", started);
  sp_json_int(&j, "bytes_up", (int64_t)up);
  sp_json_int(&j, "bytes_down", (int64_t)down);
  printf("%s%s", (*count)++ ? "," : "", sp_json_end(&j));
  sp_json_free(&j);
}

static int list(struct cli *c, int json) {
  struct store *s;
  MDB_txn *vtxn;
  MDB_cursor *cur;
  MDB_val k, v;
  int op = MDB_FIRST, count = 0, alive;

  if (cli_open_store(c, &s) != 0)
    return CLI_FAIL;
  printf(json ? "[" : "%-8s %-6s %-16s %-22s %-28s %-12s %-8s %-20s %s\n", "ID",
         "KIND", "USER", "CLIENT", "DEST", "RESOURCE", "STATE", "STARTED",
         "UP/DOWN");
  if (store_vbegin(s, MDB_RDONLY, &vtxn) == 0) {
    alive = time(NULL) - relay_heartbeat_get(s, vtxn) <= CONNECTORS_LIVE_STALE;
    if (alive && mdb_cursor_open(vtxn, s->sessions, &cur) == 0) {
      while (mdb_cursor_get(cur, &k, &v, op) == 0) {
        op = MDB_NEXT;
        if (k.mv_size == 4)
          print_one(&k, &v, json, &count);
      }
      mdb_cursor_close(cur);
    }
    mdb_txn_abort(vtxn);
  }
  if (json)
    printf("]\n");
  store_close(s);
  return CLI_OK;
}

static int kill_request(struct cli *c, const char *req) {
  struct store *s;
  MDB_txn *vtxn;
  uint8_t when[8] = {0};
  int rc;

  if (cli_open_store(c, &s) != 0)
    return CLI_FAIL;
  rc = store_vbegin(s, 0, &vtxn);
  if (rc == 0)
    rc = store_put(vtxn, s->kills, req, strlen(req), when, sizeof(when), 0);
  if (rc == 0)
    rc = store_err(mdb_txn_commit(vtxn));
  else
    mdb_txn_abort(vtxn);
  store_close(s);
  if (rc != 0)
    return cli_fail(c, "%s", sp_strerror(rc));
  printf("asked the relay to close %s\n", req);
  return CLI_OK;
}

int cmd_sessions(struct cli *c, int argc, char **argv) {
  char req[96];
  char *end;

  if (cli_wants_help(argc, argv)) {
    fputs(usage, stdout);
    return CLI_OK;
  }
  if (argc == 1 || (argc == 2 && strcmp(argv[1], "--json") == 0))
    return list(c, argc == 2);
  if (argc == 3 && strcmp(argv[1], "kill") == 0) {
    if (strtoul(argv[2], &end, 10) == 0 || *end != '\0')
      return cli_usage(c, "kill wants a session id or --user NAME");
    snprintf(req, sizeof(req), "sid:%s", argv[2]);
    return kill_request(c, req);
  }
  if (argc == 4 && strcmp(argv[1], "kill") == 0 &&
      strcmp(argv[2], "--user") == 0 && policy_name_valid(argv[3])) {
    snprintf(req, sizeof(req), "user:%s", argv[3]);
    return kill_request(c, req);
  }
  return cli_usage(c, "expected [--json], kill ID or kill --user NAME");
}
