/* The one place where outside values enter AT command strings. */
#ifndef ATB_AT_CMD_H
#define ATB_AT_CMD_H

#include <stdbool.h>
#include <stddef.h>

/* Formats an AT command into out (NUL-terminated, no line end).
 * Conversions:
 *   %u  unsigned int, printed as decimal digits
 *   %a  IPv4 address, uint32_t in network byte order, printed as a dotted quad
 *   %q  a string printed inside double quotes; refused when it contains '"',
 *       '\\', CR, LF or any byte outside printable ASCII (no way to smuggle a
 *       second command), or is longer than 64 bytes
 *   %Q  like %q for a secret (a PIN): a refused value is never shown
 *   %h  a host name: letters, digits, '-', '.', '_' only, 1..253 bytes,
 *       printed inside double quotes
 *   %%  a percent sign
 * Any other text in fmt is copied. Returns false (with one line on stderr
 * naming the bad value) when a value is refused or out is too small. */
bool at_cmd_format(char *out, size_t cap, const char *fmt, ...);

bool at_cmd_quoted_ok(const char *s);
bool at_cmd_hostname_ok(const char *s);

#endif
