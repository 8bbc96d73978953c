/* The link-owner table: which component owns each module link, so that a
 * modem event for a link goes straight to its owner (a TCP flow in flow.c,
 * a UDP flow in uflow.c) without any component routing another's events.
 *
 * A slot is claimed right after modem_open() returned the link id and
 * released when the modem says the id is free again (connect failure,
 * closed, data link down) or when the owner is freed first.
 */
#ifndef ATB_LINKS_H
#define ATB_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for any dialect's link ids (modem.h: MODEM_LINKS_MAX), with margin. */
#define LINKS_MAX 16

/* What an owner does with its link's events; owner is the pointer given to
 * links_claim(). connected(!ok) and closed() arrive after the slot was
 * released: the id may be claimed again from inside them. */
struct link_ops {
	const char *kind; /* "tcp", "udp": for logs */
	void (*connected)(void *owner, int link, bool ok);
	void (*data)(void *owner, int link, const uint8_t *buf, size_t len);
	void (*sent)(void *owner, int link, size_t len, bool ok);
	void (*closed)(void *owner, int link, bool lost);
};

struct link_slot {
	const struct link_ops *ops; /* NULL: nobody owns the link */
	void *owner;
};

struct link_table {
	struct link_slot slot[LINKS_MAX];
};

/* Records owner for link. False (nothing recorded) when the id is out of
 * range or already owned: the modem gave out a link it had not freed. */
bool links_claim(struct link_table *lt, int link, const struct link_ops *ops, void *owner);
/* Frees the slot if owner still holds it. */
void links_release(struct link_table *lt, int link, const void *owner);
/* The slot of link ({NULL, NULL} when free or out of range). */
struct link_slot links_get(const struct link_table *lt, int link);
/* The slot of link, freed in the same step. */
struct link_slot links_take(struct link_table *lt, int link);
void links_clear(struct link_table *lt);
/* Links held by owners of this kind (ops). */
unsigned links_count(const struct link_table *lt, const struct link_ops *ops);

#endif
