#include "control_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	enum ctl_cmd cmd;
	bool json_ok;
} commands[] = {
	{"status", CTL_STATUS, true},
	{"flows", CTL_FLOWS, true},
	{"metrics", CTL_METRICS, false},
	{"reconnect", CTL_RECONNECT, true},
};

bool ctl_parse_request(const char *line, size_t len, struct ctl_request *req, char *err,
                       size_t errlen)
{
	const char *sp;
	size_t cmdlen;

	if (len > CTL_REQUEST_MAX) {
		snprintf(err, errlen, "request longer than %d bytes", CTL_REQUEST_MAX);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch < 0x20 || ch > 0x7e) {
			snprintf(err, errlen, "byte 0x%02x at position %zu is not allowed (printable ASCII only)",
			         ch, i);
			return false;
		}
	}
	sp = memchr(line, ' ', len);
	cmdlen = sp ? (size_t)(sp - line) : len;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strlen(commands[i].name) != cmdlen || memcmp(commands[i].name, line, cmdlen))
			continue;
		req->cmd = commands[i].cmd;
		req->json = false;
		if (!sp)
			return true;
		if (commands[i].json_ok && len - cmdlen == 5 && !memcmp(sp, " json", 5)) {
			req->json = true;
			return true;
		}
		snprintf(err, errlen, "'%.*s' after '%s' is not understood (%s)", (int)(len - cmdlen - 1),
		         sp + 1, commands[i].name, commands[i].json_ok ? "only 'json' may follow" :
		         "nothing may follow");
		return false;
	}
	snprintf(err, errlen, "unknown request '%.*s' (status, flows, metrics, reconnect)", (int)len, line);
	return false;
}

void sbuf_init(struct sbuf *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max;
}

void sbuf_free(struct sbuf *s)
{
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static bool sbuf_reserve(struct sbuf *s, size_t more)
{
	size_t want = s->len + more + 1, cap;
	char *nb;

	if (s->overflow || want > s->max + 1) {
		s->overflow = true;
		return false;
	}
	if (want <= s->cap)
		return true;
	cap = s->cap ? s->cap : 1024;
	while (cap < want)
		cap *= 2;
	nb = realloc(s->buf, cap);
	if (!nb) {
		s->overflow = true;
		return false;
	}
	s->buf = nb;
	s->cap = cap;
	return true;
}

void sbuf_printf(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sbuf_reserve(s, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	s->len += (size_t)n;
}

/* Appends a JSON string literal (quotes, escapes). NULL gives null. */
static void sbuf_json_str(struct sbuf *s, const char *v)
{
	if (!v) {
		sbuf_printf(s, "null");
		return;
	}
	sbuf_printf(s, "\"");
	for (; *v; v++) {
		unsigned char ch = (unsigned char)*v;

		if (ch == '"' || ch == '\\')
			sbuf_printf(s, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			sbuf_printf(s, "\\u%04x", ch);
		else
			sbuf_printf(s, "%c", ch);
	}
	sbuf_printf(s, "\"");
}

static const char *or_unknown(const char *v)
{
	return v && *v ? v : "unknown";
}

static void json_key_str(struct sbuf *s, const char *key, const char *v, bool comma)
{
	sbuf_printf(s, "\"%s\":", key);
	sbuf_json_str(s, v && *v ? v : NULL);
	if (comma)
		sbuf_printf(s, ",");
}

/* Text tables and values never contain control bytes: a hostile operator
 * name from the network cannot forge lines of the response. */
static void text_value(struct sbuf *s, const char *label, const char *v)
{
	sbuf_printf(s, "%-14s ", label);
	for (v = or_unknown(v); *v; v++)
		sbuf_printf(s, "%c", (unsigned char)*v < 0x20 || *v == 0x7f ? '?' : *v);
	sbuf_printf(s, "\n");
}

void ctl_render_status(struct sbuf *s, const struct ctl_status *st, bool json)
{
	bool csq_known = st->csq_rssi >= 0 && st->csq_rssi != 99;

	if (json) {
		sbuf_printf(s, "{");
		json_key_str(s, "version", st->version, true);
		json_key_str(s, "model", st->model, true);
		json_key_str(s, "firmware", st->firmware, true);
		json_key_str(s, "imei", st->imei, true);
		if (csq_known)
			sbuf_printf(s, "\"csq_rssi\":%d,\"rssi_dbm\":%d,", st->csq_rssi,
			            -113 + 2 * st->csq_rssi);
		else
			sbuf_printf(s, "\"csq_rssi\":null,\"rssi_dbm\":null,");
		json_key_str(s, "registration", st->registration, true);
		json_key_str(s, "operator", st->operator_name, true);
		sbuf_printf(s, "\"link_up\":%s,", st->link_up ? "true" : "false");
		json_key_str(s, "ip", st->ip, true);
		json_key_str(s, "link_mode", st->link_mode, true);
		json_key_str(s, "tun", st->tun, true);
		json_key_str(s, "netns", st->netns, true);
		sbuf_printf(s, "\"uptime_s\":%.0f,", st->uptime_s);
		if (st->link_uptime_s >= 0)
			sbuf_printf(s, "\"link_uptime_s\":%.0f,", st->link_uptime_s);
		else
			sbuf_printf(s, "\"link_uptime_s\":null,");
		sbuf_printf(s, "\"bytes_up\":%llu,\"bytes_down\":%llu,\"flows_open\":%u,"
		            "\"flows_queued\":%u,\"udp_flows_open\":%u,\"forwards\":[",
		            (unsigned long long)st->bytes_up, (unsigned long long)st->bytes_down,
		            st->flows_open, st->flows_queued, st->udp_flows_open);
		for (size_t i = 0; i < st->n_forwards; i++) {
			const struct ctl_forward *f = &st->forwards[i];

			sbuf_printf(s, "%s{", i ? "," : "");
			json_key_str(s, "forward", f->spec, true);
			sbuf_printf(s, "\"listening\":%s,\"active\":%u,\"accepted\":%llu,"
			            "\"refused_target\":%llu,\"refused_share\":%llu,\"reset\":%llu}",
			            f->listening ? "true" : "false", f->active, f->accepted,
			            f->refused_target, f->refused_share, f->reset);
		}
		sbuf_printf(s, "]}\n");
		return;
	}
	text_value(s, "version:", st->version);
	text_value(s, "model:", st->model);
	text_value(s, "firmware:", st->firmware);
	text_value(s, "imei:", st->imei);
	if (csq_known)
		sbuf_printf(s, "%-14s %d (%d dBm)\n", "signal:", st->csq_rssi, -113 + 2 * st->csq_rssi);
	else
		sbuf_printf(s, "%-14s unknown\n", "signal:");
	text_value(s, "registration:", st->registration);
	text_value(s, "operator:", st->operator_name);
	sbuf_printf(s, "%-14s %s\n", "data link:", st->link_up ? "up" : "down");
	text_value(s, "ip:", st->link_up ? st->ip : NULL);
	text_value(s, "link mode:", st->link_mode);
	sbuf_printf(s, "%-14s %s%s%s\n", "interface:", or_unknown(st->tun),
	            st->netns ? " in netns " : "", st->netns ? st->netns : "");
	sbuf_printf(s, "%-14s %.0f s\n", "uptime:", st->uptime_s);
	if (st->link_uptime_s >= 0)
		sbuf_printf(s, "%-14s %.0f s\n", "link uptime:", st->link_uptime_s);
	sbuf_printf(s, "%-14s %llu up, %llu down\n", "bytes:", (unsigned long long)st->bytes_up,
	            (unsigned long long)st->bytes_down);
	sbuf_printf(s, "%-14s %u tcp open, %u tcp queued, %u udp\n", "flows:", st->flows_open,
	            st->flows_queued, st->udp_flows_open);
	for (size_t i = 0; i < st->n_forwards; i++) {
		const struct ctl_forward *f = &st->forwards[i];

		sbuf_printf(s, "%-14s %s %s, %u open, %llu accepted, %llu target refused, "
		            "%llu over share, %llu reset\n", "forward:", or_unknown(f->spec),
		            f->listening ? "listening" : "not listening", f->active, f->accepted,
		            f->refused_target, f->refused_share, f->reset);
	}
}

void ctl_render_flows(struct sbuf *s, const struct ctl_flow_row *rows, size_t n, bool json)
{
	if (json) {
		sbuf_printf(s, "[");
		for (size_t i = 0; i < n; i++) {
			const struct ctl_flow_row *r = &rows[i];

			sbuf_printf(s, "%s{", i ? "," : "");
			json_key_str(s, "proto", r->proto, true);
			json_key_str(s, "client", r->client, true);
			json_key_str(s, "destination", r->destination, true);
			json_key_str(s, "state", r->state, true);
			if (r->link >= 0)
				sbuf_printf(s, "\"link\":%d,", r->link);
			else
				sbuf_printf(s, "\"link\":null,");
			sbuf_printf(s, "\"bytes_up\":%llu,\"bytes_down\":%llu,\"age_s\":%.1f}",
			            (unsigned long long)r->bytes_up, (unsigned long long)r->bytes_down,
			            r->age_s);
		}
		sbuf_printf(s, "]\n");
		return;
	}
	sbuf_printf(s, "%-5s %-21s %-21s %-11s %4s %12s %12s %9s\n", "PROTO", "CLIENT", "DESTINATION",
	            "STATE", "LINK", "BYTES_UP", "BYTES_DOWN", "AGE_S");
	for (size_t i = 0; i < n; i++) {
		const struct ctl_flow_row *r = &rows[i];
		char link[16] = "-";

		if (r->link >= 0)
			snprintf(link, sizeof(link), "%d", r->link);
		sbuf_printf(s, "%-5s %-21s %-21s %-11s %4s %12llu %12llu %9.1f\n", or_unknown(r->proto),
		            r->client, r->destination, or_unknown(r->state), link,
		            (unsigned long long)r->bytes_up, (unsigned long long)r->bytes_down, r->age_s);
	}
}

void ctl_render_metrics(struct sbuf *s, const struct ctl_metric *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *type = m[i].counter ? "counter" : "gauge";

		if (i == 0 || strcmp(m[i].name, m[i - 1].name))
			sbuf_printf(s, "# HELP atbridge_%s %s\n# TYPE atbridge_%s %s\n", m[i].name, m[i].help,
			            m[i].name, type);
		if (m[i].label_name)
			/* label values are forward specs: digits, dots, colons */
			sbuf_printf(s, "atbridge_%s{%s=\"%s\"} %.17g\n", m[i].name, m[i].label_name,
			            m[i].label_value, m[i].value);
		else
			sbuf_printf(s, "atbridge_%s %.17g\n", m[i].name, m[i].value);
	}
}

void ctl_end_response(struct sbuf *s)
{
	if (s->overflow) {
		/* Keep the framing even when the body did not fit. */
		s->overflow = false;
		s->len = 0;
		sbuf_printf(s, "error: response larger than %u bytes\n", CTL_RESPONSE_MAX);
	}
	while (s->len && s->buf[s->len - 1] == '\n')
		s->len--;
	sbuf_printf(s, "\n\n");
}

size_t ctl_response_length(const char *buf, size_t len)
{
	for (size_t i = 1; i < len; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\n')
			return i + 1;
	return 0;
}
