/* SIM7000 transparent mode (AT+CIPMODE=1, single link): the model for the
 * engine in trans.c. Manual 8.2.23 (CIPMODE), 8.2.24 (CIPCCFG), app note 2.2.
 * Why the CIPCCFG values: docs/modems.md, "Transparent mode". */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "at_cmd.h"
#include "trans.h"

static bool build_ifc(void *ctx, char *out, size_t cap)
{
	struct modem *m = ctx;
	/* Set on every bring-up: a module that restarted has forgotten it. */
	snprintf(out, cap, "%s", m->cfg.flow_control == MODEM_FC_RTSCTS ? "AT+IFC=2,2" : "AT+IFC=0,0");
	return true;
}

static bool build_cstt(void *ctx, char *out, size_t cap)
{
	struct modem *m = ctx;
	return at_cmd_format(out, cap, "AT+CSTT=%q,%q,%q", m->cfg.apn, m->cfg.user, m->cfg.password);
}

static enum at_final cifsr_final(const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	struct in_addr a;
	return inet_pton(AF_INET, line, &a) == 1 ? AT_FINAL_OK : AT_NOT_FINAL;
}

static void capture_ip(void *ctx, const char *line)
{
	struct modem *m = ctx;
	snprintf(m->local_ip, sizeof(m->local_ip), "%s", line);
}

static const struct at_script_row rows[] = {
	{ .cmd = "AT", .timeout_ms = 1000, .tries = 10, .retry_delay_ms = 1000 },
	{ .cmd = "ATE0", .timeout_ms = 2000, .tries = 3, .retry_delay_ms = 500 },
	{ .cmd = "AT+CMEE=1", .timeout_ms = 2000, .tries = 2, .retry_delay_ms = 500 },
	{ .build = build_ifc, .timeout_ms = 2000, .tries = 2, .retry_delay_ms = 500 },
	MODEM_PIN_ROWS,
	{ .cmd = "AT+CGATT?", .expect = "+CGATT: 1", .timeout_ms = 5000, .tries = 60,
	  .retry_delay_ms = 1000 },
	MODEM_INFO_ROWS_SIM7000,
	{ .cmd = "AT+CIPSHUT", .expect = "SHUT OK", .timeout_ms = 65000, .tries = 2,
	  .retry_delay_ms = 1000 },
	{ .cmd = "AT+CIPMUX=0", .timeout_ms = 2000 },
	{ .cmd = "AT+CIPRXGET=0", .timeout_ms = 2000 },
	{ .cmd = "AT+CIPMODE=1", .timeout_ms = 2000 },
	/* retries 5 (default), wait 1 x 100 ms for more serial input before a
	 * short packet goes out, full 1460-byte packets, escape on, output at
	 * once (Rxmode 0; RxSize 1460 and Rxtimer 50 are the defaults) */
	{ .cmd = "AT+CIPCCFG=5,1,1460,1,0,1460,50", .timeout_ms = 2000 },
	{ .build = build_cstt, .timeout_ms = 5000 },
	{ .cmd = "AT+CIICR", .timeout_ms = 85000 },
	{ .cmd = "AT+CIFSR", .final = cifsr_final, .timeout_ms = 5000, .capture = capture_ip },
};

static const struct at_script bringup = {
	.name = "sim7000 transparent bring-up",
	.rows = rows,
	.n_rows = sizeof(rows) / sizeof(rows[0]),
};

static bool open_cmd(char *out, size_t cap, enum modem_proto proto, uint32_t ip, uint16_t port)
{
	return at_cmd_format(out, cap, "AT+CIPSTART=%q,\"%a\",%u", proto == MODEM_UDP ? "UDP" : "TCP",
	                     ip, (unsigned)port);
}

/* ALREADY CONNECT is the whole answer (no OK before it). */
static enum at_final open_final(const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	return !strcmp(line, "ALREADY CONNECT") ? AT_FINAL_ERROR : AT_NOT_FINAL;
}

static enum trans_line classify(const char *line)
{
	if (!strcmp(line, "CONNECT"))
		return TL_CONNECT;
	if (!strcmp(line, "CONNECT FAIL"))
		return TL_FAIL;
	if (!strcmp(line, "CLOSED"))
		return TL_CLOSED;
	if (!strncmp(line, "+PDP: DEACT", 11) || !strncmp(line, "+PDP:DEACT", 10))
		return TL_DOWN;
	if (!strcmp(line, "RDY"))
		return TL_REBOOT;
	return TL_NONE;
}

/* RDY: the module restarted under the link (its banner follows). */
/* manual 1.x: RDY, then +CFUN: <fun>, when the module has powered up at a
 * fixed rate */
static const char *const restarts[] = { "\r\nRDY\r\n\r\n+CFUN:", NULL };

static const char *const markers[] = { "\r\nCLOSED\r\n", "\r\n+PDP: DEACT\r\n", "\r\nRDY\r\n", NULL };

static bool resolve_cmd(char *out, size_t cap, const char *name)
{
	return at_cmd_format(out, cap, "AT+CDNSGIP=%h", name);
}

static const char *next_quoted(const char *p, char *out, size_t cap)
{
	while (*p == ',' || *p == ' ')
		p++;
	if (*p != '"')
		return NULL;
	const char *end = strchr(p + 1, '"');
	if (!end || (size_t)(end - p - 1) >= cap)
		return NULL;
	memcpy(out, p + 1, (size_t)(end - p - 1));
	out[end - p - 1] = '\0';
	return end + 1;
}

/* "+CDNSGIP: 1,"name","ip1"[,"ip2"]" or "+CDNSGIP: 0,<err>" */
static enum trans_dns resolve_line(const char *line, uint32_t *ips, size_t *n)
{
	if (strncmp(line, "+CDNSGIP:", 9))
		return TD_NONE;
	const char *p = line + 9;
	while (*p == ' ')
		p++;
	if (*p != '1')
		return TD_FAIL;
	char name[256], ip[64];
	p = next_quoted(p + 1, name, sizeof(name));
	while (p && *n < MODEM_RESOLVE_MAX && (p = next_quoted(p, ip, sizeof(ip)))) {
		struct in_addr a;
		if (inet_pton(AF_INET, ip, &a) == 1)
			ips[(*n)++] = a.s_addr;
	}
	return TD_DONE;
}

static const struct trans_model model = {
	.name = "sim7000 transparent",
	.bringup = &bringup,
	.open_cmd = open_cmd,
	.open_final = open_final,
	.close_cmd = "AT+CIPCLOSE",
	.classify = classify,
	.markers = markers,
	.restarts = restarts,
	.resolve_cmd = resolve_cmd,
	.resolve_line = resolve_line,
};

static bool create(struct modem *m)
{
	return trans_create(m, &model);
}

const struct modem_dialect sim7000_trans_dialect = {
	.name = "sim7000 transparent",
	.max_links = 1,
	.create = create,
	.destroy = trans_destroy,
	.attach = trans_attach,
	.hooks = &trans_hooks,
	.start = trans_start,
	.free_links = trans_free_links,
	.open = trans_open,
	.send = trans_send,
	.send_space = trans_send_space,
	.recv_window = trans_recv_window,
	.close = trans_close,
	.resolve = trans_resolve,
	.ping = trans_ping,
	.reconnect = trans_reconnect,
};
