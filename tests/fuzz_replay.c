/* fuzz_replay: runs a libFuzzer target over every file of its corpus, so
 * that ordinary ctest (and the sanitizer build) replays what fuzzing found.
 * Each input is placed right before a PROT_NONE page, so a read past its end
 * faults even without ASan. A target without a seed corpus is an error. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_one(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  size_t len = n > 0 ? (size_t)n : 0;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t pages = (len + page - 1) / page + 1;
  char *base = mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED || mprotect(base + (pages - 1) * page, page, PROT_NONE) != 0) {
    perror("mmap");
    exit(1);
  }
  char *data = base + (pages - 1) * page - len;
  if (len > 0 && fread(data, 1, len, f) != len) {
    perror(path);
    exit(1);
  }
  fclose(f);
  LLVMFuzzerTestOneInput((const uint8_t *)data, len);
  munmap(base, pages * page);
}

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize != NULL) {
    LLVMFuzzerInitialize(&argc, &argv);
  }
  size_t total = 0;
  for (int a = 1; a < argc; a++) {
    DIR *d = opendir(argv[a]);
    if (d == NULL) {
      fprintf(stderr, "fuzz_replay: no corpus at %s\n", argv[a]);
      return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.') {
        continue;
      }
      if (n == cap) {
        cap = cap ? cap * 2 : 64;
        names = realloc(names, cap * sizeof(*names));
      }
      names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
      char path[4096];
      snprintf(path, sizeof(path), "%s/%s", argv[a], names[i]);
      run_one(path);
      free(names[i]);
    }
    free(names);
    total += n;
  }
  if (total == 0) {
    fprintf(stderr, "fuzz_replay: empty corpus\n");
    return 1;
  }
  fprintf(stderr, "fuzz_replay: %zu inputs replayed\n", total);
  return 0;
}
