/* route: the routing table — which targets a message goes to.
 *
 * An immutable snapshot of every endpoint (as targets), built by the store
 * thread on each reload and shared by the workers (reference-counted; a
 * worker swaps to a new table between loop iterations). Lookups: by event
 * name (an index of exact names, plus the targets whose patterns are
 * globs or that take every event), by endpoint id (explicit routing), and
 * by rowid (retries from the pending table). The caller still checks the
 * target's own filters (hl_target_wants) and its ownership. */
#ifndef HL_DELIVER_ROUTE_H
#define HL_DELIVER_ROUTE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "deliver/target.h"

typedef struct hl_route_table hl_route_table;

/* hl_route_build takes over one reference to each of the |n| targets. */
int hl_route_build(hl_target **targets, uint32_t n, int64_t generation, hl_route_table **out);

void hl_route_ref(hl_route_table *t);
void hl_route_unref(hl_route_table *t);

int64_t hl_route_generation(const hl_route_table *t);
uint32_t hl_route_size(const hl_route_table *t);
hl_target *hl_route_at(const hl_route_table *t, uint32_t i); /* by rowid order */

/* hl_route_candidates returns the targets whose event patterns may match
 * |event|: *exact (count *exact_n) and *wild (count *wild_n). */
void hl_route_candidates(const hl_route_table *t, hl_span event, hl_target *const **exact,
                         size_t *exact_n, hl_target *const **wild, size_t *wild_n);

hl_target *hl_route_by_id(const hl_route_table *t, hl_span id);
hl_target *hl_route_by_rowid(const hl_route_table *t, int64_t rowid);

#endif
