"""hookline: hand events to a hookline engine on this machine.

    import hookline
    with hookline.Producer(ring="hookline") as p:
        p.send("lead.created", {"email": "a@b.c"}, id="lead_42")

A thin binding over libhookline (the C producer library) using only the
standard library's ctypes. Every failure raises a hookline.Error subclass
carrying the library's reason, e.g.

    hookline.InvalidMessage: event: byte 4 (0x20) is not allowed; use
    letters, digits and _ . : -

Finding libhookline: $HOOKLINE_LIB (a path to the .so), then this package's
directory, then the path recorded when `cmake --install` put the package
next to the library, then the system loader (libhookline.so.1).

Threads: a Producer owns one lane of the ring; its methods take a lock, so
one Producer may be shared by threads, but one Producer per thread is faster.
"""

import ctypes
import errno
import json
import os
import threading

__all__ = [
    "Producer",
    "Error",
    "InvalidMessage",
    "RingFull",
    "RingUnavailable",
    "version",
]

_SONAME = "libhookline.so.1"
_ERROR_BYTES = 256


class Error(Exception):
    """A libhookline failure: .errno is the (positive) errno, .reason the
    library's sentence, str() both."""

    def __init__(self, code, reason):
        self.errno = code
        self.reason = reason
        super().__init__(reason or os.strerror(code))


class InvalidMessage(Error, ValueError):
    """The message was rejected before anything was written (EINVAL, EMSGSIZE)."""


class RingFull(Error):
    """The engine did not catch up within the timeout (EAGAIN): retry later."""


class RingUnavailable(Error):
    """The ring cannot be used: missing, no permission, other version, ..."""


def _error_class(code):
    if code in (errno.EINVAL, errno.EMSGSIZE):
        return InvalidMessage
    if code == errno.EAGAIN:
        return RingFull
    return RingUnavailable


class _Message(ctypes.Structure):
    _fields_ = [
        ("event", ctypes.c_char_p),
        ("id", ctypes.c_char_p),
        ("endpoint", ctypes.c_char_p),
        ("tenant", ctypes.c_char_p),
        ("data", ctypes.c_char_p),
        ("data_len", ctypes.c_size_t),
        ("timestamp_ms", ctypes.c_uint64),
    ]


class _Options(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("open_timeout_ms", ctypes.c_int32)]


class _ErrorDetail(ctypes.Structure):
    _fields_ = [("msg", ctypes.c_char * _ERROR_BYTES)]


def _candidates():
    env = os.environ.get("HOOKLINE_LIB")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, _SONAME)
    try:
        from . import _paths  # written by the install step

        yield _paths.INSTALLED_LIBRARY
    except ImportError:
        pass
    yield _SONAME


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path + " (missing)")
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
            continue
        _declare(lib)
        return lib
    raise ImportError("hookline: cannot load libhookline; set HOOKLINE_LIB. Tried: " +
                      "; ".join(tried))


def _declare(lib):
    c_int, c_size_t, c_void_p = ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p
    err_p = ctypes.POINTER(_ErrorDetail)
    lib.hl_producer_open.argtypes = [ctypes.POINTER(c_void_p), ctypes.c_char_p,
                                     ctypes.POINTER(_Options), err_p]
    lib.hl_producer_open.restype = c_int
    lib.hl_produce.argtypes = [c_void_p, ctypes.POINTER(_Message), c_int, err_p]
    lib.hl_produce.restype = c_int
    lib.hl_produce_batch.argtypes = [c_void_p, ctypes.POINTER(_Message), c_size_t,
                                     ctypes.POINTER(c_size_t), c_int, err_p]
    lib.hl_produce_batch.restype = c_int
    lib.hl_producer_close.argtypes = [c_void_p]
    lib.hl_producer_close.restype = None
    lib.hl_strerror.argtypes = [c_int]
    lib.hl_strerror.restype = ctypes.c_char_p
    lib.hl_version.argtypes = []
    lib.hl_version.restype = ctypes.c_char_p


_lib = None
_lib_lock = threading.Lock()


def _library():
    global _lib
    with _lib_lock:
        if _lib is None:
            _lib = _load()
        return _lib


def version():
    """The libhookline version string, e.g. '0.1.0'."""
    return _library().hl_version().decode()


def _raise(rc, detail):
    code = -rc
    reason = detail.msg.decode("utf-8", "replace")
    if not reason:
        reason = _library().hl_strerror(rc).decode()
    raise _error_class(code)(code, reason)


def _name(value, field):
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = value.encode("ascii")
        except UnicodeEncodeError:
            raise InvalidMessage(errno.EINVAL, "%s: only letters, digits and _ . : - are "
                                 "allowed" % field) from None
    if not isinstance(value, bytes):
        raise InvalidMessage(errno.EINVAL, "%s: expected a string, got %s" %
                             (field, type(value).__name__))
    # C strings end at a NUL: one inside would silently cut the field.
    if b"\0" in value:
        raise InvalidMessage(errno.EINVAL, "%s: contains a NUL byte" % field)
    return value


def _data(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raise InvalidMessage(errno.EINVAL, "data: expected a dict or JSON object text, got %s" %
                         type(value).__name__)


def _fill(msg, keep, event, data, id, endpoint, tenant, timestamp_ms):
    fields = (_name(event, "event"), _name(id, "id"), _name(endpoint, "endpoint"),
              _name(tenant, "tenant"), _data(data))
    keep.extend(fields)  # the C side points into these bytes
    msg.event, msg.id, msg.endpoint, msg.tenant = fields[:4]
    msg.data = fields[4]
    msg.data_len = len(fields[4])
    msg.timestamp_ms = int(timestamp_ms or 0)


class Producer:
    """One producer handle on a ring (default "hookline"; a name with '/' is
    a file path). open_timeout_ms: how long to wait for a free lane."""

    def __init__(self, ring="hookline", open_timeout_ms=0):
        lib = _library()
        self._lock = threading.Lock()
        self._h = ctypes.c_void_p()
        opts = _Options(ctypes.sizeof(_Options), int(open_timeout_ms))
        detail = _ErrorDetail()
        rc = lib.hl_producer_open(ctypes.byref(self._h), _name(ring, "ring"),
                                  ctypes.byref(opts), ctypes.byref(detail))
        if rc != 0:
            self._h = None
            _raise(rc, detail)

    def send(self, event, data, id=None, endpoint=None, tenant=None, timeout_ms=5000,
             timestamp_ms=None):
        """Produce one message. data: a dict (serialised compactly) or the
        raw JSON object as str/bytes (kept byte for byte). Raises
        InvalidMessage, RingFull (after timeout_ms), or RingUnavailable."""
        msg, keep = _Message(), []
        _fill(msg, keep, event, data, id, endpoint, tenant, timestamp_ms)
        detail = _ErrorDetail()
        with self._lock:
            self._check_open()
            rc = _library().hl_produce(self._h, ctypes.byref(msg), int(timeout_ms),
                                       ctypes.byref(detail))
        if rc != 0:
            _raise(rc, detail)

    def send_batch(self, messages, timeout_ms=5000):
        """Produce several messages: an iterable of dicts with the keys of
        send() ("event", "data", "id", ...). All are validated before any
        is written. Returns how many were written."""
        items = list(messages)
        arr = (_Message * max(len(items), 1))()
        keep = []
        for i, m in enumerate(items):
            try:
                _fill(arr[i], keep, m.get("event"), m.get("data"), m.get("id"),
                      m.get("endpoint"), m.get("tenant"), m.get("timestamp_ms"))
            except InvalidMessage as e:
                raise InvalidMessage(e.errno, "message %d: %s" % (i, e.reason)) from None
        written = ctypes.c_size_t(0)
        detail = _ErrorDetail()
        with self._lock:
            self._check_open()
            rc = _library().hl_produce_batch(self._h, arr, len(items), ctypes.byref(written),
                                             int(timeout_ms), ctypes.byref(detail))
        if rc != 0:
            _raise(rc, detail)
        return written.value

    def close(self):
        """Give the lane back. Idempotent."""
        with self._lock:
            if self._h:
                _library().hl_producer_close(self._h)
                self._h = None

    def _check_open(self):
        if not self._h:
            raise RingUnavailable(errno.EBADF, "producer is closed")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        h = getattr(self, "_h", None)
        if h and _lib is not None:
            _lib.hl_producer_close(h)
            self._h = None
