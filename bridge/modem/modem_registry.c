/* The module registry (modem_registry.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "modem_registry.h"
#include "n11v2.h"
#include "sim7000.h"
#include "trans.h"

static const char *const sim7000_ident[] = { "SIM7000", "SIMCOM", NULL };

static const struct modem_module sim7000 = {
	.name = "sim7000",
	.title = "SIM7000",
	.ident = sim7000_ident,
	.multi = &sim7000_multi,
	.trans = &sim7000_trans,
	/* manual 3.2.19: "AT+CFUN=1,1 can be used to reset module purposely" */
	.reboot_cmd = "AT+CFUN=1,1",
};

static const char *const n11v2_ident[] = { "N11", "NEOWAY", NULL };

static const struct modem_module n11v2 = {
	.name = "n11v2",
	.title = "Neoway N11V2",
	.ident = n11v2_ident,
	.multi = &n11v2_multi,
	.trans = &n11v2_trans,
	/* manual 3.11: <rst> 1 restarts before setting the function level; the
	 * only other documented restart (AT&W) writes the settings to flash. */
	.reboot_cmd = "AT+CFUN=1,1",
};

/* In the order model = auto tries them. */
const struct modem_module *const modem_modules[] = { &sim7000, &n11v2 };
const size_t modem_n_modules = sizeof(modem_modules) / sizeof(modem_modules[0]);

const struct modem_module *modem_module_of(const char *name)
{
	for (size_t i = 0; name && i < modem_n_modules; i++)
		if (!strcmp(modem_modules[i]->name, name))
			return modem_modules[i];
	return NULL;
}

const struct modem_module *modem_module_identify(const char *line)
{
	for (size_t i = 0; i < modem_n_modules; i++)
		for (const char *const *p = modem_modules[i]->ident; *p; p++)
			if (strcasestr(line, *p))
				return modem_modules[i];
	return NULL;
}

const char *modem_modules_list(void)
{
	static char buf[256];
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < modem_n_modules && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s (%s)", i ? ", " : "",
		                      modem_modules[i]->title, modem_modules[i]->name);
	return buf;
}
