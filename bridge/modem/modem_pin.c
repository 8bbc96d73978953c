/* The SIM PIN in bring-up (MODEM_PIN_ROWS in modem_priv.h). The PIN never
 * reaches a message: the row is labelled "AT+CPIN=<pin>" and a refused value
 * is not shown (%Q). */
#include <stdio.h>
#include <string.h>

#include "at_cmd.h"
#include "modem_priv.h"
#include "log.h"

bool modem_pin_cpin_line(const char *line)
{
	return !strncmp(line, "+CPIN:", 6);
}

void modem_pin_capture(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const char *v = line + 6;
	while (*v == ' ')
		v++;
	m->sim_pin_needed = !strcmp(v, "SIM PIN");
	if (!strcmp(v, "READY"))
		m->pin_tried = false;
}

bool modem_pin_skip(void *ctx)
{
	struct modem *m = ctx;
	return !m->sim_pin_needed;
}

static bool pin_ok(const char *pin)
{
	size_t n = strspn(pin, "0123456789");
	return n >= 4 && n <= 8 && !pin[n];
}

bool modem_pin_build(void *ctx, char *out, size_t cap)
{
	struct modem *m = ctx;
	const char *pin = m->cfg.pin ? m->cfg.pin : "";
	if (!pin[0]) {
		log_err("the SIM asks for a PIN (+CPIN: SIM PIN) and none is "
		        "configured (pin)");
		return false;
	}
	if (m->pin_tried) {
		log_err("the SIM did not accept the configured PIN; not sending it "
		        "again (three wrong PINs lock the SIM; check pin, then restart)");
		return false;
	}
	if (!pin_ok(pin)) {
		log_err("the configured PIN is not 4 to 8 digits; not sent");
		return false;
	}
	m->pin_tried = true;
	return at_cmd_format(out, cap, "AT+CPIN=%Q", pin);
}
