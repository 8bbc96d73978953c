/* Private to the N11V2 multi-link files: n11v2.c (the model for mlink.c)
 * and n11v2_query.c (resolver and ping). */
#ifndef ATB_N11V2_H
#define ATB_N11V2_H

#include "mlink.h"
#include "trans.h"

/* "+TCPSEND: 0,5", "+TCPSEND:0,5", "+ UDPREAD: 1,...": the text after
 * "+<name>:" and its spaces, or NULL. */
const char *n11v2_after_tag(const char *line, const char *name);

/* Bring-up rows both link modes share: AT+NETAPN, and the PPP link's
 * address from "+XIIC:    1,<ip>". */
bool n11v2_build_netapn(void *ctx, char *out, size_t cap);
bool n11v2_xiic_up(const char *line);
void n11v2_capture_ip(void *ctx, const char *line);

/* The resolver, both link modes: AT+DNS="<name>", then "+DNS:<ip>" lines
 * and "+DNS:OK" or "+DNS:ERROR". */
bool n11v2_dns_cmd(char *out, size_t cap, const char *name);
enum trans_dns n11v2_dns_line(const char *line, uint32_t *ips, size_t *n);

extern const struct mlink_queries n11v2_queries;
extern const struct mlink_model n11v2_multi;

extern const struct trans_model n11v2_trans; /* n11v2_trans.c */

#endif
