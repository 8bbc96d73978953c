/* --reading NAME=VALUE: where a manual's format line, its examples, or the
 * manual and the application note disagree, the simulator can answer in
 * either form. Value 0 of each row is the default; `alt` picks the last
 * value of every row of the model (docs/simulator.md, "Alternative readings"). */
#include "engine.h"

#include <stdio.h>
#include <string.h>

struct sim_readings RD;

struct reading {
	const char *name;
	enum sim_model_id model;
	int *var;
	const char *values[5];  /* NULL-terminated; [0] is the default */
	int alt;                /* the value `alt` selects */
};

static const struct reading rows[] = {
	{ "tcpack", SIM_MODEL_N11V2, &RD.tcpack, { "ok", "no-ok" }, 1 },
	{ "tcpclose", SIM_MODEL_N11V2, &RD.tcpclose, { "ok", "no-ok" }, 1 },
	{ "udpclose", SIM_MODEL_N11V2, &RD.udpclose, { "ok", "no-ok" }, 1 },
	{ "ipstatus", SIM_MODEL_N11V2, &RD.ipstatus, { "ok", "no-ok" }, 1 },
	{ "transclose", SIM_MODEL_N11V2, &RD.transclose, { "ok", "no-ok" }, 1 },
	{ "spacing", SIM_MODEL_N11V2, &RD.spacing, { "space", "format", "example", "none" }, 2 },
	{ "pingcount", SIM_MODEL_N11V2, &RD.pingcount, { "4", "5" }, 1 },
	{ "server", SIM_MODEL_N11V2, &RD.server, { "ok", "no-ok" }, 1 },
	{ "ciprxget", SIM_MODEL_SIM7000, &RD.ciprxget, { "appnote", "manual" }, 1 },
	{ "cipack", SIM_MODEL_SIM7000, &RD.cipack, { "manual", "appnote" }, 1 },
	{ "linkresult", SIM_MODEL_SIM7000, &RD.linkresult, { "appnote", "manual" }, 1 },
	{ "dataaccept", SIM_MODEL_SIM7000, &RD.dataaccept, { "appnote", "manual" }, 1 },
	{ "cdnsgip", SIM_MODEL_SIM7000, &RD.cdnsgip, { "appnote", "manual" }, 1 },
	{ "cipstatus", SIM_MODEL_SIM7000, &RD.cipstatus, { "plain", "padded" }, 1 },
	{ "cipping", SIM_MODEL_SIM7000, &RD.cipping, { "100ms", "ms" }, 1 },
};

static const char *model_name(enum sim_model_id m)
{
	return sim_model_of(m)->name;
}

static bool apply_one(enum sim_model_id m, const char *item, const char *whole)
{
	if (!strcmp(item, "alt")) {
		for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
			if (rows[i].model == m)
				*rows[i].var = rows[i].alt;
		return true;
	}
	const char *eq = strchr(item, '=');
	size_t k = eq ? (size_t)(eq - item) : strlen(item);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct reading *r = &rows[i];
		if (strlen(r->name) != k || strncmp(r->name, item, k))
			continue;
		if (r->model != m) {
			fprintf(stderr, "atbridge-sim: invalid value for --reading: '%s' (%s is a reading of --model %s)\n",
				whole, r->name, model_name(r->model));
			return false;
		}
		for (int v = 0; eq && r->values[v]; v++)
			if (!strcmp(eq + 1, r->values[v])) {
				*r->var = v;
				return true;
			}
		char list[64] = "";
		for (int v = 0; r->values[v]; v++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
				 v ? "|" : "", r->values[v]);
		fprintf(stderr, "atbridge-sim: invalid value for --reading: '%s' (expected %s=%s)\n",
			whole, r->name, list);
		return false;
	}
	fprintf(stderr, "atbridge-sim: invalid value for --reading: '%s' (unknown reading '%.*s'; see docs/simulator.md)\n",
		whole, (int)k, item);
	return false;
}

bool sim_reading_apply(enum sim_model_id m, const char *arg)
{
	char buf[256];
	if (strlen(arg) >= sizeof buf || !arg[0]) {
		fprintf(stderr, "atbridge-sim: invalid value for --reading: '%s' (expected NAME=VALUE[,...] or alt)\n", arg);
		return false;
	}
	snprintf(buf, sizeof buf, "%s", arg);
	char *save = NULL;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save))
		if (!apply_one(m, item, arg))
			return false;
	return true;
}
