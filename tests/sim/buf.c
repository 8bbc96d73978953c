/* Growable byte buffer used for every queue in the simulator. Bounds are
 * enforced by the callers (rxbuf, tx buffer, output cap). */
#include "sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void grow(struct sim_buf *b, size_t need)
{
	if (b->len == 0)
		b->data = b->base;
	size_t head = (size_t)(b->data - b->base);
	if (head + b->len + need <= b->cap)
		return;
	if (head) {
		/* compact: consumed bytes at the front are reused */
		memmove(b->base, b->data, b->len);
		b->data = b->base;
		if (b->len + need <= b->cap)
			return;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + need)
		cap *= 2;
	unsigned char *p = realloc(b->base, cap);
	if (!p) {
		fprintf(stderr, "atbridge-sim: out of memory\n");
		abort();
	}
	b->base = b->data = p;
	b->cap = cap;
}

void sim_buf_add(struct sim_buf *b, const void *p, size_t n)
{
	if (!n)
		return;
	grow(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void sim_buf_addf(struct sim_buf *b, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof tmp)
		n = sizeof tmp - 1;
	sim_buf_add(b, tmp, (size_t)n);
}

void sim_buf_consume(struct sim_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		b->data = b->base;
		return;
	}
	b->data += n; /* O(1); the space is reclaimed by the next grow() */
	b->len -= n;
}

void sim_buf_free(struct sim_buf *b)
{
	free(b->base);
	b->base = b->data = NULL;
	b->len = b->cap = 0;
}

void sim_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}
