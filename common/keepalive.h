/*
 * TCP keepalive as both daemons use it, for a peer that vanishes without
 * a FIN (a laptop closed, a host powered off, a NAT that forgot the
 * connection): a probe after SP_KEEPIDLE_S of silence, then
 * SP_KEEPCNT of them SP_KEEPINTVL_S apart, so such a peer is noticed in
 * about two minutes and the kernel fails the socket with ETIMEDOUT.
 */
#ifndef SP_COMMON_KEEPALIVE_H
#define SP_COMMON_KEEPALIVE_H

#define SP_KEEPIDLE_S 60
#define SP_KEEPINTVL_S 10
#define SP_KEEPCNT 6

/* Turns keepalive on for the socket `fd` with the values above; 0 or
   -errno. */
int sp_tcp_keepalive(int fd);

#endif
