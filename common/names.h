#ifndef SP_COMMON_NAMES_H
#define SP_COMMON_NAMES_H

/*
 * The one rule for every name Sallyport stores or sends (users, groups,
 * resources, rules, connectors, devices, tags): 1 to 64 characters from
 * [A-Za-z0-9._@-], the first a letter or digit.  It keeps logs, audit
 * lines, store keys and file names free of quoting surprises.  NULL is
 * not a valid name.
 */
int sp_name_valid(const char *s);

#endif
