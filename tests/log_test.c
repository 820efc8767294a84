/* Tests for base/log: lines are well-formed JSON or text, one per write. */
#include "base/log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

static char *capture(hl_log_format format, void (*emit)(void)) {
  char path[512];
  snprintf(path, sizeof(path), "%s/log.txt", hl_test_tmpdir());
  FILE *f = fopen(path, "w+");
  ASSERT_TRUE(f != NULL);
  hl_log_configure(HL_LOG_INFO, format, fileno(f));
  emit();
  hl_log_configure(HL_LOG_INFO, HL_LOG_JSON, 2);
  fclose(f);
  return hl_test_read_file(path, NULL);
}

static void emit_fields(void) {
  HL_LOG(HL_LOG_WARN, "endpoint disabled", HL_F_STR("endpoint", "crm \"main\"\n"),
         HL_F_INT("status", 410), HL_F_UINT("attempt", 3), HL_F_BOOL("final", true));
  HL_LOG(HL_LOG_DEBUG, "not shown");
  HL_LOG(HL_LOG_INFO, "no fields");
}

TEST(json_lines_parse_and_carry_fields) {
  char *out = capture(HL_LOG_JSON, emit_fields);
  char *nl = strchr(out, '\n');
  ASSERT_TRUE(nl != NULL);
  *nl = '\0';
  cJSON *j = cJSON_Parse(out);
  ASSERT_TRUE(j != NULL);
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "level")->valuestring, "warn");
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "msg")->valuestring, "endpoint disabled");
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "endpoint")->valuestring, "crm \"main\"\n");
  ASSERT_EQ(cJSON_GetObjectItem(j, "status")->valueint, 410);
  ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(j, "final")));
  cJSON_Delete(j);
  /* The debug line is filtered; the field-less line is still valid JSON. */
  char *second = nl + 1;
  ASSERT_TRUE(strstr(second, "not shown") == NULL);
  j = cJSON_Parse(second);
  ASSERT_TRUE(j != NULL);
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "msg")->valuestring, "no fields");
  cJSON_Delete(j);
  free(out);
}

TEST(text_lines_cannot_be_forged) {
  char *out = capture(HL_LOG_TEXT, emit_fields);
  /* The newline inside the value must not start a new line. */
  int lines = 0;
  for (char *p = out; *p != '\0'; p++) {
    lines += *p == '\n';
  }
  ASSERT_EQ(lines, 2);
  ASSERT_TRUE(strstr(out, "warn endpoint disabled endpoint=\"crm 'main'?\" status=410") != NULL);
  free(out);
}

static void emit_huge(void) {
  static char big[10000];
  memset(big, 'x', sizeof(big) - 1);
  HL_LOG(HL_LOG_ERROR, "huge", HL_F_STR("detail", big));
}

TEST(overlong_lines_stay_well_formed) {
  char *out = capture(HL_LOG_JSON, emit_huge);
  cJSON *j = cJSON_Parse(out);
  ASSERT_TRUE(j != NULL);
  ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(j, "truncated")));
  ASSERT_TRUE(cJSON_GetObjectItem(j, "detail") == NULL);
  cJSON_Delete(j);
  free(out);
}
