/* bench_lead: what the JSON and template benchmarks share: the lead
 * document they both read (so that their figures compare), a monotonic
 * clock in nanoseconds, and the median of the repetitions. */
#ifndef HL_BENCH_LEAD_H
#define HL_BENCH_LEAD_H

#include <stdlib.h>
#include <time.h>

/* A ~675-byte lead as a lead platform would send it: contact, scoring,
 * a short transcript with escapes, tags and UTM fields. */
static const char lead[] =
    "{\"id\":\"lead_01HZX3K9Q2\",\"created_at\":\"2024-05-02T11:30:00Z\","
    "\"name\":\"Ann O'Neil\",\"email\":\"ann.oneil@example.com\",\"phone\":\"+1 555 010 0199\","
    "\"company\":\"Acme Analytics\",\"score\":87.5,\"vip\":true,\"referrer\":null,"
    "\"messages\":[{\"at\":\"2024-05-01T10:00:00Z\",\"text\":\"Hi, could you send "
    "\\\"pricing\\\" for 50 seats?\"},{\"at\":\"2024-05-02T09:12:00Z\",\"text\":\"Also: do you "
    "support SSO {SAML} and [SCIM]?\"},{\"at\":\"2024-05-02T11:29:00Z\",\"text\":\"Thanks! "
    "Z\\u00fcrich office.\"}],"
    "\"contact\":{\"first_name\":\"Ann\",\"last_name\":\"O'Neil\",\"title\":\"CTO\","
    "\"linkedin\":\"https://www.linkedin.com/in/annoneil\"},"
    "\"tags\":[\"hot\",\"b2b\",\"q3-campaign\",\"sso\"],"
    "\"utm\":{\"source\":\"google\",\"medium\":\"cpc\",\"campaign\":\"spring_sale\"}}";

static inline double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static inline double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(*v), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
