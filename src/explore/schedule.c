/* SPDX-License-Identifier: MIT */
/*
 * zonedev explore: the one-line schedule format, run-length items `T` or
 * `TxN` joined by dots (see explore.h), and its parser. The parser accepts
 * exactly what the formatter writes, plus the empty schedule (all defaults).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "explore/explore.h"

size_t zd_schedule_format(const int8_t *choices, size_t nr, char *buf, size_t n)
{
	size_t i = 0, len = 0, run;
	int w;

	if (n)
		buf[0] = '\0';
	while (i < nr) {
		for (run = 1; i + run < nr && choices[i + run] == choices[i]; run++)
			;
		if (run > 1)
			w = snprintf(len < n ? buf + len : NULL, len < n ? n - len : 0, "%s%dx%zu",
				     i ? "." : "", choices[i], run);
		else
			w = snprintf(len < n ? buf + len : NULL, len < n ? n - len : 0, "%s%d",
				     i ? "." : "", choices[i]);
		len += (size_t)w;
		i += run;
	}
	return len;
}

int zd_schedule_parse(const char *text, int8_t **choices, size_t *nr)
{
	size_t n = 0, cap = 16, run, k;
	int8_t *c = malloc(cap), *nc;
	const char *p = text;
	char *end;
	long t;
	unsigned long long r;

	if (!c)
		return -ENOMEM;
	while (*p) {
		if (*p < '0' || *p > '9')
			goto bad;
		t = strtol(p, &end, 10);
		if (t < 0 || t >= ZD_EXPLORE_MAX_THREADS)
			goto bad;
		p = end;
		run = 1;
		if (*p == 'x') {
			p++;
			if (*p < '1' || *p > '9')
				goto bad;
			r = strtoull(p, &end, 10);
			if (r == 0 || r > (1ull << 24))
				goto bad;
			run = (size_t)r;
			p = end;
		}
		if (n + run > cap) {
			while (n + run > cap)
				cap *= 2;
			nc = realloc(c, cap);
			if (!nc) {
				free(c);
				return -ENOMEM;
			}
			c = nc;
		}
		for (k = 0; k < run; k++)
			c[n++] = (int8_t)t;
		if (*p == '.') {
			p++;
			if (!*p)
				goto bad;
		} else if (*p) {
			goto bad;
		}
	}
	*choices = c;
	*nr = n;
	return 0;
bad:
	free(c);
	return -EINVAL;
}
