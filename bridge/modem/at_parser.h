/* Byte-level parser for the module's side of the AT channel.
 *
 * It turns an arbitrary split byte stream into three kinds of events:
 * CRLF-terminated lines (empty lines skipped), the bare "> " send prompt and
 * binary payloads whose length a preceding line announced. Which lines
 * announce a payload is not known here: on_line returns the number of raw
 * bytes that follow the line (0 for an ordinary line), and inline_payload
 * does the same for data that starts after a comma inside a line, so the
 * dialect decides and the parser stays dialect-neutral.
 */
#ifndef ATB_AT_PARSER_H
#define ATB_AT_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AT_LINE_MAX 1024    /* longer lines are garbage */
#define AT_PAYLOAD_MAX 4096 /* largest payload a line may announce */

struct at_parser_ops {
	/* A complete line without its terminator, NUL-terminated. Returns how
	 * many payload bytes follow it (0: none). */
	size_t (*on_line)(void *ctx, const char *line, size_t len);
	void (*on_prompt)(void *ctx);
	/* The whole payload announced by the previous line. */
	void (*on_payload)(void *ctx, const uint8_t *data, size_t len);
	/* Optional, for payloads that start inside a line (N11V2
	 * "+TCPREAD:<n>,<len>,<data>"): called with the line so far each time a
	 * ',' ends it. A non-zero answer ends the line there (on_line gets it,
	 * its answer is ignored) and that many raw bytes follow. */
	size_t (*inline_payload)(void *ctx, const char *line, size_t len);
};

struct at_parser {
	const struct at_parser_ops *ops;
	void *ctx;
	bool in_payload;
	/* A send command waits for its prompt: a '>' at the start of a line is
	 * the prompt even without the space (N11V2 sends a bare ">"). */
	bool prompt_armed;
	bool skip_space; /* the space of "> " after an armed prompt */
	bool discarding; /* inside an over-long or garbled line */
	size_t len;
	size_t payload_len, payload_want;
	uint64_t garbage_lines;
	char line[AT_LINE_MAX + 1];
	uint8_t payload[AT_PAYLOAD_MAX];
};

void at_parser_init(struct at_parser *p, const struct at_parser_ops *ops, void *ctx);
void at_parser_reset(struct at_parser *p);
void at_parser_feed(struct at_parser *p, const uint8_t *buf, size_t len);

#endif
