/*
 * The relay's small web API on listen.https, next to CONNECT:
 *
 *   GET  /             the login page (relay/login_page.c)
 *   POST /v1/login     user, password, otp (form or JSON) -> 200
 *                      {"token","expires"}, 401, or 429 when locked out
 *   POST /v1/logout    revokes the token sent as `token` (form or JSON)
 *                      or as the password of Proxy-Authorization
 *   GET  /healthz      200 "ok" once the relay is ready
 *
 * Passwords are hashed on libuv's thread pool, so a login never stalls
 * the loop.  Every answer closes the connection.
 */
#ifndef SP_RELAY_API_H
#define SP_RELAY_API_H

#include <stddef.h>
#include <stdint.h>

struct relay_session;

/* The head is parsed (not CONNECT); `p`/`n` are bytes after it. */
void api_request(struct relay_session *s, const uint8_t *p, size_t n);

/* The login page's HTML, naming the proxy ports of `l` (malloc'd). */
struct relay_listen;
int api_login_page_build(const struct relay_listen *l, char **page,
                         size_t *len);

#endif
