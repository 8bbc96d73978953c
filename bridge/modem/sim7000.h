/* Private to the SIM7000 multi-link files: sim7000.c (the model for
 * mlink.c) and sim7000_query.c (resolver and ping). */
#ifndef ATB_SIM7000_H
#define ATB_SIM7000_H

#include <stdbool.h>
#include <stddef.h>

#include "mlink.h"
#include "trans.h"

/* How "+CIPRXGET: 2,<id>,<a>,<b>" reads (docs/modems.md): the app note's
 * example (a = bytes that follow, b = bytes left) or the manual's format
 * line (a = <reqlength>, b = <cnflength> that follow). Learned from the
 * first header that tells them apart (mlink_rx.reading). */
enum { RXGET_UNKNOWN = 0, RXGET_APPNOTE, RXGET_MANUAL };

int sim7000_rxget_decode(int reading, size_t asked, size_t hint, bool dgram, const unsigned v[3],
                         size_t *len, size_t *rest, bool *rest_known);

/* Bring-up rows both link modes share: AT+CSTT, and AT+CIFSR's bare
 * address line. */
bool sim7000_build_cstt(void *ctx, char *out, size_t cap);
enum at_final sim7000_cifsr_final(const struct at_cmd *cmd, const char *line);
void sim7000_capture_ip(void *ctx, const char *line);
/* The resolver, both link modes: AT+CDNSGIP="<name>" and its result line
 * "+CDNSGIP: 1,"name","ip1"[,"ip2"]" or "+CDNSGIP: 0,<err>". */
bool sim7000_cdnsgip_cmd(char *out, size_t cap, const char *name);
enum trans_dns sim7000_cdnsgip_line(const char *line, uint32_t *ips, size_t *n);
/* The next "..." field after p (commas, spaces before it): copied to out,
 * the text after it returned; NULL when there is none. */
const char *sim7000_next_quoted(const char *p, char *out, size_t cap);

extern const struct mlink_queries sim7000_queries;
extern const struct mlink_model sim7000_multi;

extern const struct trans_model sim7000_trans; /* sim7000_trans.c */

#endif
