/*
 * Country to continent, for databases that have no continent (the
 * ip-location-db layout) and MaxMind records that lack one.
 *
 * Every officially assigned ISO 3166-1 alpha-2 code (249) is listed
 * once, plus XK (Kosovo), which GeoIP databases use although ISO has
 * not assigned it.  Countries that span two continents are placed as
 * GeoNames places them, which is also what MaxMind's databases say, so
 * that a rule on `continents` reads the same with either layout: Russia
 * and Cyprus in Europe, Turkey, Georgia, Armenia, Azerbaijan and
 * Kazakhstan in Asia, Egypt in Africa, Timor-Leste in Oceania.
 *
 * Each list is sorted and holds codes three bytes apart; a lookup scans
 * about 750 bytes, which costs far less than the database lookup it
 * follows, and needs no initialisation, so any thread may call it.
 */
#include "geo/geo.h"

struct continent {
  const char code[3];
  const char *countries;
};

static const struct continent continents[] = {
    {"AF", "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM "
           "GN GQ GW KE KM LR LS LY MA MG ML MR MU MW MZ NA NE NG RE RW "
           "SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW"},
    {"AN", "AQ BV GS HM TF"},
    {"AS", "AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO "
           "JP KG KH KP KR KW KZ LA LB LK MM MN MO MV MY NP OM PH PK PS "
           "QA SA SG SY TH TJ TM TR TW UZ VN YE"},
    {"EU", "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG "
           "GI GR HR HU IE IM IS IT JE LI LT LU LV MC MD ME MK MT NL NO "
           "PL PT RO RS RU SE SI SJ SK SM UA VA XK"},
    {"NA", "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN "
           "HT JM KN KY LC MF MQ MS MX NI PA PM PR SV SX TC TT US VC VG "
           "VI"},
    {"OC", "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK "
           "TL TO TV UM VU WF WS"},
    {"SA", "AR BO BR CL CO EC FK GF GY PE PY SR UY VE"},
};

static char upper(char c) {
  return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

const char *geo_continent_of(const char *country) {
  const char *p;
  char a, b;
  size_t i;

  if (country == NULL || country[0] == '\0' || country[1] == '\0' ||
      country[2] != '\0')
    return "--";
  a = upper(country[0]);
  b = upper(country[1]);

  for (i = 0; i < sizeof(continents) / sizeof(continents[0]); i++)
    for (p = continents[i].countries; p[0] != '\0'; p += p[2] ? 3 : 2)
      if (p[0] == a && p[1] == b)
        return continents[i].code;
  return "--";
}
