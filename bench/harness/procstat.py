"""What the harness reads about a process from /proc: CPU time (user+sys of
every thread, /proc/<pid>/stat fields 14 and 15, in clock ticks), resident
memory now (VmRSS), at its peak (VmHWM), and its private anonymous part now
(RssAnon: the heap, without mapped files and shared memory such as
hookline's ring) from /proc/<pid>/status."""
import os

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """user+sys seconds of process |pid| (all its threads); None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after
    # the last ')'. Fields from there start at field 3 (state).
    rest = text[text.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) * TICK_S


def mem_kib(pid):
    """{'rss': VmRSS, 'hwm': VmHWM, 'anon': RssAnon} in KiB, or None if the
    process is gone."""
    out = {}
    keys = {"VmRSS:": "rss", "VmHWM:": "hwm", "RssAnon:": "anon"}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k = keys.get(line.split(":", 1)[0] + ":")
                if k:
                    out[k] = int(line.split()[1])
    except OSError:
        return None
    return out


def tree_pids(pid):
    """|pid| and its descendants (for contenders that are a process tree)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                text = f.read()
        except OSError:
            continue
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out
