#include "links.h"

#include <string.h>

static bool in_range(int link)
{
	return link >= 0 && link < LINKS_MAX;
}

bool links_claim(struct link_table *lt, int link, const struct link_ops *ops, void *owner)
{
	if (!in_range(link) || lt->slot[link].ops)
		return false;
	lt->slot[link] = (struct link_slot){.ops = ops, .owner = owner};
	return true;
}

void links_release(struct link_table *lt, int link, const void *owner)
{
	if (in_range(link) && lt->slot[link].owner == owner)
		lt->slot[link] = (struct link_slot){0};
}

struct link_slot links_get(const struct link_table *lt, int link)
{
	return in_range(link) ? lt->slot[link] : (struct link_slot){0};
}

struct link_slot links_take(struct link_table *lt, int link)
{
	struct link_slot s = links_get(lt, link);

	if (in_range(link))
		lt->slot[link] = (struct link_slot){0};
	return s;
}

void links_clear(struct link_table *lt)
{
	memset(lt, 0, sizeof(*lt));
}

unsigned links_count(const struct link_table *lt, const struct link_ops *ops)
{
	unsigned n = 0;

	for (int i = 0; i < LINKS_MAX; i++)
		n += lt->slot[i].ops == ops;
	return n;
}
