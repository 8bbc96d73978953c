/* The control protocol between atbridgectl and the daemon, without any I/O:
 * request parsing, response framing and rendering (text, JSON, Prometheus).
 *
 * One request is one line of printable ASCII ending in '\n', at most
 * CTL_REQUEST_MAX bytes before the '\n':
 *     status | flows | metrics | reconnect     optionally followed by " json"
 * (metrics is Prometheus text only). One response follows each request: its
 * lines, then one empty line. A response whose first line starts with
 * "error: " is a refusal; the connection stays usable.
 */
#ifndef ATB_CONTROL_PROTO_H
#define ATB_CONTROL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_REQUEST_MAX 128
#define CTL_RESPONSE_MAX (4u << 20) /* a 4096-flow table fits many times */

enum ctl_cmd { CTL_STATUS, CTL_FLOWS, CTL_METRICS, CTL_RECONNECT };

struct ctl_request {
	enum ctl_cmd cmd;
	bool json;
};

/* Parses one request line (without its '\n'). Returns false with one line
 * (no newline) in err naming what is wrong; len may include any bytes. */
bool ctl_parse_request(const char *line, size_t len, struct ctl_request *req, char *err,
                       size_t errlen);

/* A bounded growing string. Once the bound is hit, further appends are
 * dropped and `overflow` is set. */
struct sbuf {
	char *buf;
	size_t len, cap, max;
	bool overflow;
};
void sbuf_init(struct sbuf *s, size_t max);
void sbuf_free(struct sbuf *s);
void sbuf_printf(struct sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What `status` shows. NULL strings and negative numbers are "unknown". */
/* One inbound forward (inbound.h). */
struct ctl_forward {
	const char *spec;        /* "tcp:2222:127.0.0.1:2222" */
	bool listening;
	unsigned active;
	unsigned long long accepted, refused_target, refused_share, reset;
};
#define CTL_FORWARDS_MAX 4

struct ctl_status {
	const char *version;
	const char *model, *firmware, *imei, *registration, *operator_name, *link_mode;
	int csq_rssi;            /* AT+CSQ <rssi> 0..31, 99 or -1: unknown */
	int csq_ber;             /* 0..7, 99 or -1: unknown */
	bool link_up;
	const char *ip;          /* the module's address, NULL when down */
	const char *tun, *netns; /* netns NULL: the daemon's own */
	double uptime_s, link_uptime_s; /* link_uptime_s < 0 when down */
	uint64_t bytes_up, bytes_down; /* payload to / from the module */
	unsigned flows_open, flows_queued, udp_flows_open;
	struct ctl_forward forwards[CTL_FORWARDS_MAX];
	size_t n_forwards;
};
void ctl_render_status(struct sbuf *s, const struct ctl_status *st, bool json);

struct ctl_flow_row {
	char client[24], destination[24]; /* "a.b.c.d:port" */
	const char *proto;                /* "tcp" */
	const char *state;
	int link;                         /* -1: none */
	uint64_t bytes_up, bytes_down;
	double age_s;
};
void ctl_render_flows(struct sbuf *s, const struct ctl_flow_row *rows, size_t n, bool json);

/* One Prometheus sample; name without the atbridge_ prefix. */
struct ctl_metric {
	const char *name, *help;
	bool counter;        /* else gauge */
	double value;
	/* NULL, or one label: label_name="label_value" (samples of one name
	 * come one after another; HELP and TYPE are written once). */
	const char *label_name, *label_value;
};
void ctl_render_metrics(struct sbuf *s, const struct ctl_metric *m, size_t n);

/* Terminates a response: makes sure the body ends in exactly one '\n'
 * and adds the empty line. */
void ctl_end_response(struct sbuf *s);

/* Client side: the length of the first complete response in buf (up to and
 * including its empty line), or 0 when more bytes are needed. */
size_t ctl_response_length(const char *buf, size_t len);

#endif
