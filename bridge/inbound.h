/* Inbound port forwards (docs/architecture.md, "Inbound forwards"): the
 * module listens on a port; each connection it accepts is carried to a
 * target address through an ordinary kernel TCP socket of this host.
 *
 *   remote client --> module listener --> accepted link --> inbound.c
 *        --> connect(host:port) --> the target (this host or its LAN)
 *
 * Bytes go both ways with the outbound flows' rules: the module's window
 * is what the target buffer has room for, the target is read only while
 * the module takes more, and a stream that may have lost bytes ends with
 * RST toward the target (the module's side can only be closed).
 */
#ifndef ATB_INBOUND_H
#define ATB_INBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bridge;

#define INBOUND_FORWARDS_MAX 4

struct inbound_forward {
	uint16_t module_port;
	uint32_t host; /* network byte order */
	uint16_t port;
	char spec[40]; /* "tcp:2222:127.0.0.1:2222", for status and logs */
};

struct inbound_config {
	struct inbound_forward fwd[INBOUND_FORWARDS_MAX];
	size_t n;
	/* Module links accepted connections may hold at once; 0: half of the
	 * links the module has, rounded down, so that outbound keeps at
	 * least half. */
	unsigned max_links;
};

struct inbound_fwd_stats {
	const char *spec;
	bool listening;
	unsigned active;            /* connections carried now */
	uint64_t accepted;          /* connections the module accepted */
	uint64_t refused_target;    /* the target refused or was unreachable */
	uint64_t refused_share;     /* over the inbound link share */
	uint64_t reset;             /* ended with loss (RST to the target) */
	uint64_t bytes_in, bytes_out; /* to the target, from the target */
};

struct inbound;

struct inbound *inbound_new(struct bridge *b, const struct inbound_config *cfg);
void inbound_free(struct inbound *in);
/* The modem is known: the module is asked to listen on every port. */
void inbound_set_modem(struct inbound *in);
/* Module links held by accepted connections. */
unsigned inbound_links_held(const struct inbound *in);

size_t inbound_forwards(const struct inbound *in);
void inbound_get_stats(const struct inbound *in, size_t i, struct inbound_fwd_stats *out);

/* From the modem, through the bridge. */
void inbound_on_listening(struct inbound *in, uint16_t port, bool ok);
void inbound_on_accepted(struct inbound *in, int link, uint16_t port, uint32_t peer_ip, uint16_t peer_port);
/* The data link went down: every carried connection ends with RST. */
void inbound_link_down(struct inbound *in);

#endif
