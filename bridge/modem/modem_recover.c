/* Recovery shared by the dialects: the wait before a bring-up is retried
 * (pppd's holdoff, doubling up to a bound), giving up after a number of
 * failures in a row (pppd's maxfail; 0 retries for ever like persist), and
 * the reboot request sent to a module that stopped answering.
 *
 * The escalation, from the cheapest step: a command timeout → resync probes
 * (at_chan.c) → every link ends and bring-up runs again → the bring-up is
 * preceded by the dialect's reboot request (AT+CFUN=1,1) → retries after
 * the holdoff, each failure doubling it.
 */
#include "modem_priv.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"

#define REBOOT_TIMEOUT_MS 10000 /* SIM7000 manual: CFUN max response time 10 s */

static double holdoff_min(const struct modem *m)
{
	return (m->cfg.holdoff_ms ? m->cfg.holdoff_ms : 1000) / 1000.0;
}

static double holdoff_max(const struct modem *m)
{
	double max = (m->cfg.holdoff_max_ms ? m->cfg.holdoff_max_ms : 30000) / 1000.0;
	return max < holdoff_min(m) ? holdoff_min(m) : max;
}

void modem_recover_init(struct modem *m)
{
	m->holdoff = holdoff_min(m);
	m->fails = 0;
	m->reboot_due = false;
}

double modem_recover_holdoff(const struct modem *m)
{
	return m->holdoff;
}

static const char *reboot_cmd(const struct modem *m)
{
	return m->dialect && m->dialect->reboots && m->module ? m->module->reboot_cmd : NULL;
}

double modem_recover_failed(struct modem *m, bool silent)
{
	double wait = m->holdoff;
	m->fails++;
	if (m->cfg.maxfail && m->fails >= m->cfg.maxfail) {
		log_err("the module could not be brought up %u times in a row "
		        "(maxfail); exiting", m->fails);
		exit(EXIT_FAILURE);
	}
	if (silent && reboot_cmd(m))
		m->reboot_due = true;
	m->holdoff = m->holdoff * 2 > holdoff_max(m) ? holdoff_max(m) : m->holdoff * 2;
	return wait;
}

void modem_recover_succeeded(struct modem *m)
{
	m->holdoff = holdoff_min(m);
	m->fails = 0;
	m->reboot_due = false;
}

void modem_recover_module_dead(struct modem *m)
{
	if (reboot_cmd(m))
		m->reboot_due = true;
}

void modem_recover_module_restarted(struct modem *m)
{
	m->reboot_due = false;
	m->recover_gen++; /* a request on the line no longer leads anywhere */
}

static void on_reboot_done(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line)
{
	(void)final_line;
	struct modem *m = ctx;
	if (res == AT_RES_CANCELLED || cmd->tag != m->recover_gen || !m->recover_then)
		return;
	void (*then)(struct modem *) = m->recover_then;
	m->recover_then = NULL;
	then(m);
}

void modem_recover_begin(struct modem *m, void (*then)(struct modem *m))
{
	struct at_cmd cmd = { 0 };
	m->recover_gen++;
	if (!m->reboot_due || !m->chan) {
		m->recover_then = NULL;
		then(m);
		return;
	}
	m->reboot_due = false;
	snprintf(cmd.text, sizeof(cmd.text), "%s", reboot_cmd(m));
	cmd.timeout_ms = REBOOT_TIMEOUT_MS;
	cmd.done = on_reboot_done;
	cmd.ctx = m;
	cmd.tag = m->recover_gen;
	m->recover_then = then;
	m->reboot_requests++;
	log_warn("the module stopped answering; asking it to restart (%s)", cmd.text);
	if (!at_chan_submit(m->chan, &cmd)) {
		m->recover_then = NULL;
		then(m);
	}
}
