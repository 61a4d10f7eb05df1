/*
 * One stream at the connector: an OPEN from the relay, checked against
 * the allowlist, resolved, dialled and spliced to its destination (see
 * the top of stream.c).  agent.c hands each stream callback of the mux
 * to the function of the same name here; `ms` is the mux's stream and
 * is only borrowed.
 */
#ifndef SP_CONNECTOR_STREAM_H
#define SP_CONNECTOR_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "tunnel/frame.h"
#include "tunnel/mux.h"

struct agent_tunnel;

/* Applies the allowlist to the OPEN (`open` borrowed for the call) and
 * answers it, now or once the dial is over. */
void stream_open(struct agent_tunnel *t, struct mux_stream *ms,
                 const struct tunnel_frame_open *open);

void stream_on_data(struct mux_stream *ms, const struct mux_piece *pieces,
                    size_t n);
void stream_on_fin(struct mux_stream *ms);
void stream_on_writable(struct mux_stream *ms);
void stream_on_reset(struct mux_stream *ms, uint32_t code);
void stream_on_closed(struct mux_stream *ms);

/* The tunnel's TLS write queue has drained: its streams may read their
 * destinations again. */
void stream_resume_all(struct agent_tunnel *t);

/* The agent is stopping: ends every stream still on `t`'s list (those
 * the mux already let go of included). */
void stream_stop_all(struct agent_tunnel *t);

/* sizeof(struct stream), without its strings, for docs and tests. */
size_t stream_struct_size(void);

#endif
