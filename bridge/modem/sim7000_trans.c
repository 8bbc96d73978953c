/* SIM7000 transparent mode (AT+CIPMODE=1, single link): the model for the
 * engine in trans.c. Manual 8.2.23 (CIPMODE), 8.2.24 (CIPCCFG), app note 2.2.
 * Why the CIPCCFG values: docs/modems.md, "Transparent mode". */
#include <stdio.h>
#include <string.h>

#include "at_cmd.h"
#include "sim7000.h"

static const struct at_script_row rows[] = {
	MODEM_SYNC_ROWS,
	{ .cmd = "AT+CMEE=1", .timeout_ms = 2000, .tries = 2, .retry_delay_ms = 500 },
	{ .build = trans_build_ifc, .label = "AT+IFC", .timeout_ms = 2000, .tries = 2, .retry_delay_ms = 500 },
	MODEM_ATTACH_ROWS(MODEM_INFO_ROWS_SIM7000),
	{ .cmd = "AT+CIPSHUT", .expect = "SHUT OK", .timeout_ms = 65000, .tries = 2,
	  .retry_delay_ms = 1000 },
	{ .cmd = "AT+CIPMUX=0", .timeout_ms = 2000 },
	{ .cmd = "AT+CIPRXGET=0", .timeout_ms = 2000 },
	{ .cmd = "AT+CIPMODE=1", .timeout_ms = 2000 },
	/* retries 5 (default), wait 1 x 100 ms for more serial input before a
	 * short packet goes out, full 1460-byte packets, escape on, output at
	 * once (Rxmode 0; RxSize 1460 and Rxtimer 50 are the defaults) */
	{ .cmd = "AT+CIPCCFG=5,1,1460,1,0,1460,50", .timeout_ms = 2000 },
	{ .build = sim7000_build_cstt, .label = "AT+CSTT", .timeout_ms = 5000 },
	{ .cmd = "AT+CIICR", .timeout_ms = 85000 },
	{ .cmd = "AT+CIFSR", .final = sim7000_cifsr_final, .timeout_ms = 5000, .capture = sim7000_capture_ip },
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


const struct trans_model sim7000_trans = {
	.name = "sim7000 transparent",
	.bringup = &bringup,
	.open_cmd = open_cmd,
	.open_final = open_final,
	.close_cmd = "AT+CIPCLOSE",
	.ifc_off = "AT+IFC=0,0",
	.classify = classify,
	.markers = markers,
	.restarts = restarts,
	.resolve_cmd = sim7000_cdnsgip_cmd,
	.resolve_line = sim7000_cdnsgip_line,
};
