/* The modules atbridge knows: one entry each. Everything that names a
 * module reads this table: the model choice (modem.c), model = auto
 * (modem_probe.c), status (modem_info.c). Adding a module is one entry
 * here plus its table files (docs/adding-a-module.md). */
#ifndef ATB_MODEM_REGISTRY_H
#define ATB_MODEM_REGISTRY_H

#include <stddef.h>

#include "modem.h"

struct mlink_model;
struct trans_model;

struct modem_module {
	const char *name;          /* as in --model and status: "sim7000" */
	const char *title;         /* for people: "SIM7000" */
	/* model = auto: a module whose ATI or AT+CGMM answer holds one of
	 * these (case-insensitive) is this one. NULL-terminated. */
	const char *const *ident;
	const struct mlink_model *multi;  /* link = multi (mlink.h) */
	const struct trans_model *trans;  /* link = transparent (trans.h) */
	/* Asks a module that stopped answering to restart (NULL: none). */
	const char *reboot_cmd;
};

extern const struct modem_module *const modem_modules[];
extern const size_t modem_n_modules;

/* The module of a name (modem_config.model), or NULL. */
const struct modem_module *modem_module_of(const char *name);
/* The module an identification line names, or NULL. */
const struct modem_module *modem_module_identify(const char *line);
/* "SIM7000 (sim7000), Neoway N11V2 (n11v2)": for messages. */
const char *modem_modules_list(void);

#endif
