/*
 * The multiplexer's stream table: stream ids to streams, open addressing
 * with linear probing, at most half full so probe runs stay short.  It
 * grows by doubling and shrinks by half when under an eighth full, so a
 * tunnel that once held 10,000 streams does not keep their slots.
 * Removal moves later members of a probe run back instead of leaving
 * tombstones, so lookups cost the same after any history of removals.
 */
#include "tunnel/mux_int.h"

#include <stdlib.h>

#include "common/err.h"

#define TABLE_MIN 16

/* Fibonacci hashing: the top bits of id times 2^32 / phi. */
static uint32_t table_home(const struct mux_table *t, uint32_t id) {
  return (uint32_t)(id * 2654435769u) >> (32 - t->bits);
}

struct mux_stream *mux_table_find(const struct mux_table *t, uint32_t id) {
  uint32_t i, mask = t->cap - 1;

  if (t->cap == 0)
    return NULL;
  for (i = table_home(t, id); t->slots[i] != NULL; i = (i + 1) & mask)
    if (t->slots[i]->id == id)
      return t->slots[i];
  return NULL;
}

static void table_place(struct mux_table *t, struct mux_stream *s) {
  uint32_t i, mask = t->cap - 1;

  for (i = table_home(t, s->id); t->slots[i] != NULL; i = (i + 1) & mask)
    ;
  t->slots[i] = s;
}

static int table_resize(struct mux_table *t, uint32_t cap) {
  struct mux_table old = *t;
  uint32_t i;

  t->slots = calloc(cap, sizeof(*t->slots));
  if (t->slots == NULL) {
    *t = old;
    return SP_ENOMEM;
  }
  t->cap = cap;
  for (t->bits = 0; (1u << t->bits) < cap; t->bits++)
    ;
  for (i = 0; i < old.cap; i++)
    if (old.slots[i] != NULL)
      table_place(t, old.slots[i]);
  free(old.slots);
  return 0;
}

int mux_table_insert(struct mux_table *t, struct mux_stream *s) {
  int rc;

  if ((t->count + 1) * 2 > t->cap) {
    if (t->cap > UINT32_MAX / 4)
      return SP_ENOMEM;
    rc = table_resize(t, t->cap == 0 ? TABLE_MIN : t->cap * 2);
    if (rc != 0)
      return rc;
  }
  table_place(t, s);
  t->count++;
  return 0;
}

/*
 * Removes `s` and moves later members of its probe run back into the
 * hole, so lookups never need tombstones.  A member may move back when its
 * home slot is not between the hole and where it sits.
 */
void mux_table_remove(struct mux_table *t, struct mux_stream *s) {
  uint32_t hole, j, home, mask = t->cap - 1;

  for (hole = table_home(t, s->id); t->slots[hole] != s;)
    hole = (hole + 1) & mask;
  t->slots[hole] = NULL;
  t->count--;
  for (j = (hole + 1) & mask; t->slots[j] != NULL; j = (j + 1) & mask) {
    home = table_home(t, t->slots[j]->id);
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      t->slots[hole] = t->slots[j];
      t->slots[j] = NULL;
      hole = j;
    }
  }

  /* Shrinking is best effort: a failed allocation keeps the big table. */
  if (t->cap > TABLE_MIN && t->count * 8 < t->cap)
    table_resize(t, t->cap / 2);
}

void mux_table_free(struct mux_table *t) {
  free(t->slots);
  t->slots = NULL;
  t->cap = t->bits = t->count = 0;
}
