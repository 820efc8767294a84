/* ring_layout: geometry, header validation, names, owners, futexes (see
 * ring_layout.h). */
#include "ring/ring_layout.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/span.h"
#include "ring/crc32c.h"

static uint64_t round_up(uint64_t v, uint64_t to) {
  return (v + to - 1) / to * to;
}

int hl_ring_geometry_compute(uint32_t lane_count, uint64_t lane_bytes, hl_ring_geometry *g,
                             hl_err *err) {
  if (lane_count == 0 || lane_count > HL_RING_LANES_MAX) {
    return hl_err_fail(err, -EINVAL, "ring lanes: %u is not between 1 and %d", lane_count,
                       HL_RING_LANES_MAX);
  }
  if (lane_bytes < HL_RING_LANE_BYTES_MIN || lane_bytes > HL_RING_LANE_BYTES_MAX ||
      (lane_bytes & (lane_bytes - 1)) != 0) {
    return hl_err_fail(err, -EINVAL,
                       "ring lane bytes: %llu is not a power of two between %u and %u",
                       (unsigned long long)lane_bytes, (unsigned)HL_RING_LANE_BYTES_MIN,
                       (unsigned)HL_RING_LANE_BYTES_MAX);
  }
  g->lane_count = lane_count;
  g->lane_bytes = lane_bytes;
  g->lanes_offset = HL_RING_PAGE_BYTES;
  g->data_offset =
      round_up(g->lanes_offset + (uint64_t)lane_count * sizeof(hl_ring_lane), HL_RING_PAGE_BYTES);
  g->segment_bytes = g->data_offset + (uint64_t)lane_count * lane_bytes;
  return 0;
}

void hl_ring_header_init(hl_ring_header *h, const hl_ring_geometry *g) {
  h->layout_version = HL_RING_LAYOUT_VERSION;
  h->header_bytes = sizeof(hl_ring_header);
  h->lane_ctl_bytes = sizeof(hl_ring_lane);
  h->lane_count = g->lane_count;
  h->lane_bytes = g->lane_bytes;
  h->lanes_offset = g->lanes_offset;
  h->data_offset = g->data_offset;
  h->segment_bytes = g->segment_bytes;
  h->created_ms = hl_clock_wall_ms();
  h->record_bytes_max = HL_RING_RECORD_BYTES_MAX;
  atomic_store_explicit(&h->magic, HL_RING_MAGIC, memory_order_release);
}

int hl_ring_header_check(const hl_ring_header *h, size_t mapped_bytes, const char *name,
                         hl_ring_geometry *g, hl_err *err) {
  if (mapped_bytes < sizeof(hl_ring_header)) {
    return hl_err_fail(err, -EPROTO, "ring '%s': %zu bytes is too small to be a hookline ring",
                       name, mapped_bytes);
  }
  uint64_t magic = atomic_load_explicit(&((hl_ring_header *)h)->magic, memory_order_acquire);
  if (magic == 0) {
    return hl_err_fail(err, -EAGAIN, "ring '%s': not initialised yet (the engine is creating it)",
                       name);
  }
  if (magic != HL_RING_MAGIC) {
    return hl_err_fail(err, -EPROTO, "ring '%s': not a hookline ring (bad magic number)", name);
  }
  if (h->layout_version != HL_RING_LAYOUT_VERSION) {
    return hl_err_fail(err, -EPROTONOSUPPORT,
                       "ring '%s': layout version %u, but this build speaks version %u; run the "
                       "engine and libhookline from the same release, or remove the ring when "
                       "the engine is stopped",
                       name, h->layout_version, HL_RING_LAYOUT_VERSION);
  }
  if (h->header_bytes != sizeof(hl_ring_header) || h->lane_ctl_bytes != sizeof(hl_ring_lane) ||
      h->record_bytes_max != HL_RING_RECORD_BYTES_MAX) {
    return hl_err_fail(err, -EPROTO,
                       "ring '%s': header sizes (%u, %u, %u) differ from this build's", name,
                       h->header_bytes, h->lane_ctl_bytes, h->record_bytes_max);
  }
  hl_ring_geometry want;
  hl_err why;
  if (hl_ring_geometry_compute(h->lane_count, h->lane_bytes, &want, &why) != 0) {
    return hl_err_fail(err, -EPROTO, "ring '%s': corrupted header (%s)", name, why.msg);
  }
  if (h->lanes_offset != want.lanes_offset || h->data_offset != want.data_offset ||
      h->segment_bytes != want.segment_bytes) {
    return hl_err_fail(err, -EPROTO, "ring '%s': corrupted header (offsets do not match sizes)",
                       name);
  }
  if (want.segment_bytes > mapped_bytes) {
    return hl_err_fail(err, -EPROTO, "ring '%s': header says %llu bytes but the segment has %zu",
                       name, (unsigned long long)want.segment_bytes, mapped_bytes);
  }
  *g = want;
  return 0;
}

uint32_t hl_ring_record_crc(const hl_ring_record *r, const void *payload, size_t len) {
  hl_ring_record h = *r;
  h.crc = 0;
  uint64_t head[2];
  memcpy(head, &h, sizeof(head));
  return hl_crc32c_x3(head, payload, len);
}

/* --- names ---------------------------------------------------------------- */

int hl_ring_name_check(const char *name, hl_err *err) {
  if (name == NULL || name[0] == '\0') {
    return hl_err_fail(err, -EINVAL, "ring name: empty");
  }
  size_t n = strnlen(name, HL_RING_NAME_BYTES_MAX);
  if (n == HL_RING_NAME_BYTES_MAX) {
    return hl_err_fail(err, -ENAMETOOLONG, "ring name: longer than %d bytes",
                       HL_RING_NAME_BYTES_MAX - 1);
  }
  if (strchr(name, '/') != NULL) {
    return 0; /* a file path: the file system judges it */
  }
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return hl_err_fail(err, -EINVAL,
                         "ring name: byte %zu is not allowed (use letters, digits, '.', '_', "
                         "'-', or a path containing '/')",
                         i);
    }
  }
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
    return hl_err_fail(err, -EINVAL, "ring name: '.' and '..' are not names");
  }
  return 0;
}

void hl_ring_segment_path(const char *name, char *out, size_t cap) {
  if (strchr(name, '/') != NULL) {
    snprintf(out, cap, "%s", name);
  } else {
    snprintf(out, cap, "/dev/shm/%s", name);
  }
}

static int open_raw(const char *name, int flags, mode_t mode) {
  if (strchr(name, '/') != NULL) {
    return open(name, flags | O_CLOEXEC | O_NOFOLLOW, mode);
  }
  char shm[HL_RING_NAME_BYTES_MAX + 2];
  snprintf(shm, sizeof(shm), "/%s", name);
  return shm_open(shm, flags, mode);
}

static int open_failed(const char *name, int e, hl_err *err) {
  char path[HL_RING_NAME_BYTES_MAX + 16];
  hl_ring_segment_path(name, path, sizeof(path));
  if (e == ENOENT) {
    return hl_err_fail(err, -ENOENT,
                       "ring '%s' not found (%s): is the engine running (hookline run --ring "
                       "%s)?",
                       name, path, name);
  }
  if (e == EACCES || e == EPERM) {
    struct stat st;
    if (stat(path, &st) == 0) {
      return hl_err_fail(err, -EACCES,
                         "ring '%s': permission denied (%s is mode %04o, owner uid %u gid %u); "
                         "run as that user or a member of that group, and have the engine "
                         "create the ring with mode 0660",
                         name, path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
                         (unsigned)st.st_gid);
    }
    return hl_err_fail(err, -EACCES, "ring '%s': permission denied opening %s", name, path);
  }
  return hl_err_fail(err, -e, "ring '%s': cannot open %s: %s", name, path, strerror(e));
}

int hl_ring_segment_open(const char *name, bool create, uint32_t mode, int *fd_out,
                         bool *created, hl_err *err) {
  int rc = hl_ring_name_check(name, err);
  if (rc != 0) {
    return rc;
  }
  *created = false;
  if ((mode & ~0777u) != 0) {
    return hl_err_fail(err, -EINVAL, "ring mode: %04o has bits beyond 0777", mode);
  }
  /* Open first; create only if absent. Two creators race on O_EXCL and the
   * loser opens what the winner made. */
  for (int attempt = 0; attempt < 8; attempt++) {
    int fd = open_raw(name, O_RDWR, 0);
    if (fd >= 0) {
      *fd_out = fd;
      return 0;
    }
    if (errno != ENOENT || !create) {
      return open_failed(name, errno, err);
    }
    fd = open_raw(name, O_RDWR | O_CREAT | O_EXCL, (mode_t)mode);
    if (fd >= 0) {
      /* The umask must not narrow the configured mode. */
      if (fchmod(fd, (mode_t)mode) != 0) {
        int e = errno;
        close(fd);
        return open_failed(name, e, err);
      }
      *fd_out = fd;
      *created = true;
      return 0;
    }
    if (errno != EEXIST) {
      return open_failed(name, errno, err);
    }
  }
  return hl_err_fail(err, -EBUSY, "ring '%s': appears and disappears while opening", name);
}

int hl_ring_segment_unlink(const char *name) {
  int rc;
  if (strchr(name, '/') != NULL) {
    rc = unlink(name);
  } else {
    char shm[HL_RING_NAME_BYTES_MAX + 2];
    snprintf(shm, sizeof(shm), "/%s", name);
    rc = shm_unlink(shm);
  }
  return rc == 0 ? 0 : -errno;
}

/* --- owners --------------------------------------------------------------- */

/* proc_start reads a process's start time (clock ticks since boot, field 22
 * of /proc/<pid>/stat) and its state letter. Returns false if unreadable. */
static bool proc_start(pid_t pid, uint64_t *start, char *state) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) {
    return false;
  }
  /* The command name (field 2) may hold spaces and parentheses: fields are
   * counted from the last ')'. */
  const char *p = memrchr(buf, ')', (size_t)n);
  if (p == NULL) {
    return false;
  }
  hl_span s = hl_span_make(p + 1, (size_t)(buf + n - (p + 1)));
  hl_span field;
  for (int i = 3; i <= 22; i++) {
    hl_span_skip(&s, 1); /* the space before the field */
    if (!hl_span_get_until(&s, ' ', &field)) {
      return false;
    }
    if (i == 3) {
      *state = field.len > 0 ? field.ptr[0] : '?';
    }
  }
  return hl_span_parse_u64(field, UINT64_MAX, start);
}

uint64_t hl_ring_owner_self(void) {
  pid_t pid = getpid();
  uint64_t start = 0;
  char state;
  if (!proc_start(pid, &start, &state)) {
    start = 0; /* no /proc: liveness falls back to kill(pid, 0) alone */
  }
  return (uint64_t)(uint32_t)pid | ((uint64_t)(uint32_t)start << 32);
}

bool hl_ring_owner_alive(uint64_t owner) {
  if (owner == HL_RING_OWNER_FREE || owner == HL_RING_OWNER_ENGINE) {
    return true;
  }
  pid_t pid = hl_ring_owner_pid(owner);
  if (pid <= 0) {
    return false;
  }
  if (kill(pid, 0) != 0 && errno == ESRCH) {
    return false;
  }
  /* EPERM means it exists under another user. Make sure it is the same
   * process and not a zombie (whose mappings are already gone). */
  uint64_t start;
  char state;
  if (!proc_start(pid, &start, &state)) {
    return true;
  }
  if (state == 'Z' || state == 'X') {
    return false;
  }
  uint32_t want = (uint32_t)(owner >> 32);
  return want == 0 || (uint32_t)start == want;
}

/* --- futexes -------------------------------------------------------------- */

int hl_ring_futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ms) {
  struct timespec ts, *tsp = NULL;
  if (timeout_ms >= 0) {
    ts.tv_sec = (time_t)(timeout_ms / 1000);
    ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
    tsp = &ts;
  }
  /* Not FUTEX_PRIVATE_FLAG: the word is shared with other processes. */
  long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, tsp, NULL, 0);
  if (rc == 0 || errno == EAGAIN) {
    return 0;
  }
  return -errno;
}

void hl_ring_futex_wake(_Atomic uint32_t *word) {
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}
