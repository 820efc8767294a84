/* template_bench: rendering a ~600-byte CRM body with 9 placeholders from a
 * realistic lead document.
 *
 *   build/release/template_bench [repetitions]     wall-clock medians
 *   build/release/template_bench callgrind CASE N  run one case N times, for
 *     valgrind --tool=callgrind --toggle-collect=bench_case_loop \
 *       build/release/template_bench callgrind render 100000
 *     (instructions per op = the Ir total / N)
 *
 * Cases, all in the same run:
 *   render        hl_template_render only, values resolved once (what the
 *                 engine pays per template once a message is resolved);
 *   envelope      the default body ({{$event}}, {{$timestamp}}, {{$data}})
 *                 around the same data, render only;
 *   resolve       hl_template_resolve only (one hl_json_lookup_many pass);
 *   resolve+render  both, per delivery;
 *   cjson         for reference, what teams write today: cJSON_Parse of the
 *                 data, nine lookups, building the body object and
 *                 cJSON_PrintUnformatted (plus the frees).
 * Each figure is the median over the repetitions (default 7). The machine
 * is shared: compare rows of one run, or use the callgrind counts. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text/json_scan.h"
#include "text/template.h"

#include "bench_lead.h"

/* A HubSpot-style contact body (Wilow's example, grown to a realistic
 * size): 9 placeholders, ~600 bytes rendered. */
static const char body[] =
    "{\"properties\":{\"email\":\"{{email}}\",\"phone\":\"{{phone}}\","
    "\"firstname\":\"{{contact.first_name}}\",\"lastname\":\"{{contact.last_name}}\","
    "\"company\":\"{{company}}\",\"jobtitle\":\"{{contact.title}}\","
    "\"lead_source\":\"Website chat widget\",\"lifecyclestage\":\"lead\","
    "\"hs_lead_status\":\"NEW\",\"hubspot_owner_id\":\"31337\","
    "\"utm_source\":\"{{utm.source}}\",\"utm_campaign\":\"{{utm.campaign}}\","
    "\"notes\":\"Captured by the website assistant and qualified automatically. The visitor asked "
    "about pricing for 50 seats, SSO and SCIM; please follow up within one business day and log "
    "the call in the CRM.\",\"consent\":\"marketing emails: granted on the web form\","
    "\"score\":{{score}}}}";

enum { REPS_MAX = 101, OUT_BYTES = 4096 };

static hl_template_set *set;
static const hl_template *tmpl;
static const hl_template *envelope;
static hl_template_msg msg;
static hl_json_value values[16];
static char out_mem[OUT_BYTES];
static volatile size_t sink;

typedef void (*case_fn)(void);

static void one_render(void) {
  hl_buf b;
  hl_buf_init(&b, out_mem, sizeof(out_mem));
  hl_template_render(tmpl, values, &msg, &b);
  sink += b.len;
}

static void one_envelope(void) {
  hl_buf b;
  hl_buf_init(&b, out_mem, sizeof(out_mem));
  hl_template_render(envelope, values, &msg, &b);
  sink += b.len;
}

static void one_resolve(void) {
  hl_template_resolve(set, msg.data, values);
  sink += values[0].raw.len;
}

static void one_resolve_render(void) {
  hl_json_value v[16];
  hl_template_resolve(set, msg.data, v);
  hl_buf b;
  hl_buf_init(&b, out_mem, sizeof(out_mem));
  hl_template_render(tmpl, v, &msg, &b);
  sink += b.len;
}

static void one_cjson(void) {
  cJSON *root = cJSON_Parse(lead);
  const cJSON *contact = cJSON_GetObjectItem(root, "contact");
  const cJSON *utm = cJSON_GetObjectItem(root, "utm");
  cJSON *out = cJSON_CreateObject();
  cJSON *p = cJSON_AddObjectToObject(out, "properties");
  cJSON_AddStringToObject(p, "email", cJSON_GetObjectItem(root, "email")->valuestring);
  cJSON_AddStringToObject(p, "phone", cJSON_GetObjectItem(root, "phone")->valuestring);
  cJSON_AddStringToObject(p, "firstname", cJSON_GetObjectItem(contact, "first_name")->valuestring);
  cJSON_AddStringToObject(p, "lastname", cJSON_GetObjectItem(contact, "last_name")->valuestring);
  cJSON_AddStringToObject(p, "company", cJSON_GetObjectItem(root, "company")->valuestring);
  cJSON_AddStringToObject(p, "jobtitle", cJSON_GetObjectItem(contact, "title")->valuestring);
  cJSON_AddStringToObject(p, "lead_source", "Website chat widget");
  cJSON_AddStringToObject(p, "lifecyclestage", "lead");
  cJSON_AddStringToObject(p, "hs_lead_status", "NEW");
  cJSON_AddStringToObject(p, "hubspot_owner_id", "31337");
  cJSON_AddStringToObject(p, "utm_source", cJSON_GetObjectItem(utm, "source")->valuestring);
  cJSON_AddStringToObject(p, "utm_campaign", cJSON_GetObjectItem(utm, "campaign")->valuestring);
  cJSON_AddStringToObject(
      p, "notes",
      "Captured by the website assistant and qualified automatically. The visitor asked about "
      "pricing for 50 seats, SSO and SCIM; please follow up within one business day and log the "
      "call in the CRM.");
  cJSON_AddStringToObject(p, "consent", "marketing emails: granted on the web form");
  cJSON_AddNumberToObject(p, "score", cJSON_GetObjectItem(root, "score")->valuedouble);
  char *text = cJSON_PrintUnformatted(out);
  sink += strlen(text);
  cJSON_free(text);
  cJSON_Delete(out);
  cJSON_Delete(root);
}

/* bench_case_loop is the only function callgrind collects in (see the top
 * of the file). */
__attribute__((noinline)) void bench_case_loop(case_fn fn, size_t iters);
__attribute__((noinline)) void bench_case_loop(case_fn fn, size_t iters) {
  for (size_t i = 0; i < iters; i++) {
    fn();
  }
}

static double measure(case_fn fn, size_t iters, int reps) {
  double t[REPS_MAX];
  bench_case_loop(fn, iters / 10 + 1); /* warm up */
  for (int r = 0; r < reps; r++) {
    double t0 = now_ns();
    bench_case_loop(fn, iters);
    t[r] = (now_ns() - t0) / (double)iters;
  }
  return median(t, reps);
}

static void setup(void) {
  set = hl_template_set_new();
  hl_err err;
  if (set == NULL ||
      hl_template_compile(set, HL_TEMPLATE_JSON, HL_SPAN_LIT(body), &tmpl, &err) != 0 ||
      hl_template_compile(set, HL_TEMPLATE_JSON, hl_template_default_body(), &envelope, &err) !=
          0) {
    fprintf(stderr, "template_bench: compile failed: %s\n", err.msg);
    exit(1);
  }
  msg = (hl_template_msg){HL_SPAN_LIT("msg_2tQ9Lq0b7"), HL_SPAN_LIT("lead.created"),
                          HL_SPAN_LIT("acme"), HL_SPAN_LIT(lead), 1772893800000ull};
  if (hl_template_set_values_n(set) != 9 || hl_template_resolve(set, msg.data, values) != 0) {
    fprintf(stderr, "template_bench: resolve failed\n");
    exit(1);
  }
  hl_buf b;
  hl_buf_init(&b, out_mem, sizeof(out_mem));
  if (hl_template_render(tmpl, values, &msg, &b) != 0 ||
      hl_json_validate(hl_buf_span(&b), HL_JSON_DEPTH_MAX, NULL) != 0) {
    fprintf(stderr, "template_bench: render failed\n");
    exit(1);
  }
}

static const struct {
  const char *name;
  case_fn fn;
  size_t iters;
} cases[] = {
    {"render", one_render, 2000000},
    {"envelope", one_envelope, 2000000},
    {"resolve", one_resolve, 500000},
    {"resolve+render", one_resolve_render, 500000},
    {"cjson", one_cjson, 50000},
};

int main(int argc, char **argv) {
  setup();
  const size_t n_cases = sizeof(cases) / sizeof(cases[0]);
  if (argc == 4 && strcmp(argv[1], "callgrind") == 0) {
    for (size_t i = 0; i < n_cases; i++) {
      if (strcmp(argv[2], cases[i].name) == 0) {
        bench_case_loop(cases[i].fn, strtoull(argv[3], NULL, 10));
        return 0;
      }
    }
    fprintf(stderr, "template_bench: unknown case %s\n", argv[2]);
    return 2;
  }
  int reps = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 7;
  if (reps < 1 || reps > REPS_MAX) {
    reps = 7;
  }
  hl_buf b;
  hl_buf_init(&b, out_mem, sizeof(out_mem));
  hl_template_render(tmpl, values, &msg, &b);
  printf("template_bench: body %zu bytes rendered, %zu placeholders, data %zu bytes, "
         "median of %d (shared machine)\n",
         b.len, hl_template_placeholders(tmpl), sizeof(lead) - 1, reps);
  double ns[5];
  for (size_t i = 0; i < n_cases; i++) {
    ns[i] = measure(cases[i].fn, cases[i].iters, reps);
    printf("  %-16s %9.1f ns/op  %8.2f M/s\n", cases[i].name, ns[i], 1e3 / ns[i]);
  }
  printf("  cjson / resolve+render: %.1fx\n", ns[4] / ns[3]);
  return 0;
}
