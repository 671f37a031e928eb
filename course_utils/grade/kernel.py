"""One learner kernel: started isolated, code run with timeouts, interrupted, and killed with
everything it started.

The kernel is ``python -m course_utils.grade._launcher`` (ipykernel, with the current interpreter)
started in a new session, so it leads its own process group, with RLIMIT_AS as the memory limit.
Its environment carries a random token; on shutdown every process of the group and every
process whose environment holds the token (a child that called setsid to escape the group) is
killed with SIGKILL, until none is left. Connections go over Unix sockets in the submission's
private folder (TCP on 127.0.0.1 when that path is too long for a socket name).

POSIX only (Linux; macOS without the token sweep, which reads /proc).
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import zmq
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.connect import write_connection_file

from .cases import GradingSetupError

MIN_JUPYTER_CLIENT = (8, 0)


def require_supported_jupyter_client(version=None):
    """Stop with a clear message on a jupyter_client older than 8 (Google Colab ships 7.4.9), whose
    blocking client returns coroutines where the grader expects messages."""
    if version is None:
        from importlib import metadata
        version = metadata.version("jupyter_client")
    parts = tuple(int(p) for p in re.findall(r"\d+", version)[:2])
    if parts < MIN_JUPYTER_CLIENT:
        raise GradingSetupError(
            f"the course's grader needs jupyter_client >= {'.'.join(map(str, MIN_JUPYTER_CLIENT))}, but "
            f"jupyter_client {version} is installed (Google Colab ships 7.4.9, so the grader does not run "
            f"inside Colab). Grade on your own machine or on Gradescope, in an environment made with "
            f"`pip install -r requirements.txt`.")

# environment variables a learner's code has no business reading (the instructor's credentials)
_PRIVATE_ENV = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|(^|_)KEY($|_)", re.IGNORECASE)
LOG_TAIL = 16_000          # characters of the kernel's own stdout/stderr kept (for start-up errors)


class KernelStartError(RuntimeError):
    """The kernel did not start; the message says why (with the end of its log)."""


@dataclass
class Run:
    """What happened when one piece of code ran in the kernel."""
    status: str = "ok"          # "ok", "error", "timeout" (still running), "died"
    ename: str = ""
    evalue: str = ""
    output_bytes: int = 0       # what the cell printed / displayed (counted, not kept)
    ask_exit: bool = False      # the code called exit() / quit(): the kernel stops after it
    seconds: float = 0.0
    msg_id: str = ""
    _idle: bool = False
    _reply_at: float | None = None


class Kernel:
    """A kernel process for one submission. Use as a context manager: leaving it kills everything."""

    def __init__(self, workdir, private_dir, memory_limit=0, gpu=False, rss_limit=0, threads=0):
        require_supported_jupyter_client()
        self.workdir = str(workdir)
        self.private_dir = str(private_dir)
        self.memory_limit = int(memory_limit or 0)
        self.rss_limit = int(rss_limit or 0)     # resident bytes past which the grader stops the kernel
        self.peak_rss = 0                        # the kernel's peak resident memory seen (bytes)
        self.stopped_for_memory = False          # the grader killed it for passing rss_limit
        self._rss_checked = 0.0
        self.gpu = gpu
        self.threads = int(threads or 0)         # OMP_NUM_THREADS of the kernel (0: the environment's)
        self.token = secrets.token_hex(16)
        self.process = None
        self.client = None
        self.killed_processes = 0     # processes other than the kernel that had to be killed
        self._killed = set()
        self._log = []
        self._log_size = 0
        self._log_lock = threading.Lock()
        self._poller = None

    # ------------------------------------------------------------------ start
    def environment(self):
        env = {k: v for k, v in os.environ.items() if not _PRIVATE_ENV.search(k)}
        env.update({
            "COURSE_GRADER_TOKEN": self.token,
            "COURSE_GRADER_MEMORY_LIMIT": str(self.memory_limit),
            "IPYTHONDIR": os.path.join(self.private_dir, "ipython"),   # no instructor start-up files
            "MALLOC_ARENA_MAX": "2",        # glibc's per-thread arenas would eat the address space
            "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "3"),
            "TF_ENABLE_ONEDNN_OPTS": env.get("TF_ENABLE_ONEDNN_OPTS", "0"),
        })
        if self.threads and "OMP_NUM_THREADS" not in env:   # an instructor's own setting wins
            env["OMP_NUM_THREADS"] = str(self.threads)
        for name in ("JPY_PARENT_PID", "JPY_SESSION_NAME", "PYDEVD_LOAD_VALUES_ASYNC"):
            env.pop(name, None)
        if not self.gpu:
            # CUDA maps tens of GiB of address space (no RLIMIT_AS could hold it), and grading
            # should not depend on which machine has a GPU
            env["CUDA_VISIBLE_DEVICES"] = ""
        return env

    def start(self, timeout=120.0):
        """Start the kernel and wait until it answers; KernelStartError if it cannot."""
        t0 = time.monotonic()
        connection = os.path.join(self.private_dir, "kernel.json")
        socket_base = os.path.join(self.private_dir, "k")
        if len(socket_base) <= 90:
            write_connection_file(fname=connection, transport="ipc", ip=socket_base)
        else:
            write_connection_file(fname=connection, transport="tcp", ip="127.0.0.1")
        command = [sys.executable, "-m", "course_utils.grade._launcher", "-f", connection,
                   "--HistoryManager.enabled=False", "--IPKernelApp.log_level=ERROR"]
        try:
            self.process = subprocess.Popen(
                command, cwd=self.workdir, env=self.environment(), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise KernelStartError(f"cannot start the kernel process ({' '.join(command)}): {exc}") from None
        threading.Thread(target=self._read_log, daemon=True).start()
        self.client = BlockingKernelClient()
        self.client.load_connection_file(connection)
        self.client.start_channels(hb=False)
        self._poller = zmq.Poller()
        self._poller.register(self.client.iopub_channel.socket, zmq.POLLIN)
        self._poller.register(self.client.shell_channel.socket, zmq.POLLIN)
        # ready = a kernel_info reply on the shell socket AND a message on iopub (the subscription
        # is live, so no output of the first cell can be lost)
        replied = published = False
        while not (replied and published):
            if time.monotonic() - t0 > timeout:
                raise KernelStartError(f"the kernel did not answer within {timeout:.0f} s."
                                       f"{self._log_excerpt()}")
            if self.process.poll() is not None:
                raise KernelStartError(f"the kernel process exited at start-up "
                                       f"({describe_exit(self.process.returncode)}).{self._log_excerpt()}")
            self.client.kernel_info()
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                for socket, _ in self._poller.poll(100):
                    if socket is self.client.shell_channel.socket:
                        self.client.shell_channel.get_msg(timeout=0)
                        replied = True
                    else:
                        self.client.iopub_channel.get_msg(timeout=0)
                        published = True
                if replied and published:
                    break
        return time.monotonic() - t0

    def _read_log(self):
        stream = self.process.stdout
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                return
            with self._log_lock:
                self._log.append(chunk)
                self._log_size += len(chunk)
                while self._log_size > 4 * LOG_TAIL and len(self._log) > 1:
                    self._log_size -= len(self._log.pop(0))

    def log_tail(self):
        with self._log_lock:
            text = b"".join(self._log).decode("utf-8", "replace")
        return text[-LOG_TAIL:]

    def _log_excerpt(self):
        tail = self.log_tail().strip()
        return f" The end of its log:\n{tail[-2000:]}" if tail else ""

    # ------------------------------------------------------------------ running code
    def alive(self):
        return self.process is not None and self.process.poll() is None

    def execute(self, code, timeout, silent=False):
        """Run ``code``; wait at most ``timeout`` seconds. A Run with status "timeout" is still
        running: ``interrupt`` it (and ``wait`` again) or ``kill`` the kernel."""
        run = Run()
        run.msg_id = self.client.execute(code, silent=silent, store_history=not silent,
                                         allow_stdin=False, stop_on_error=False)
        self.wait(run, timeout)
        return run

    def wait(self, run, timeout):
        """Wait for ``run`` to finish (iopub idle and the execute_reply); update it; return it."""
        t0 = time.monotonic()
        deadline = t0 + max(0.0, timeout)
        while True:
            now = time.monotonic()
            if run._reply_at is not None and (run._idle or now - run._reply_at > 1.0):
                break
            if not self.alive():
                # the last messages may still be in the sockets
                self._drain(run, 0)
                if not (run._reply_at is not None and run._idle):
                    run.status = "died"
                break
            if now >= deadline:
                run.status = "timeout"
                break
            self._drain(run, min(100, int((deadline - now) * 1000) + 1))
            self.watch_memory()
        self.watch_memory(force=True)
        run.seconds += time.monotonic() - t0
        if run.status == "timeout" and run._reply_at is not None:
            run.status = "ok" if not run.ename else "error"
        return run

    def _drain(self, run, wait_ms):
        shell, iopub = self.client.shell_channel, self.client.iopub_channel
        for socket, _ in self._poller.poll(wait_ms):
            channel = shell if socket is shell.socket else iopub
            while channel.msg_ready():
                msg = channel.get_msg(timeout=0)
                if msg.get("parent_header", {}).get("msg_id") != run.msg_id:
                    continue
                kind, content = msg["msg_type"], msg.get("content", {})
                if channel is shell:
                    run._reply_at = time.monotonic()
                    if content.get("status") == "error":
                        run.status = "error"
                        run.ename = run.ename or str(content.get("ename", ""))[:200]
                        run.evalue = run.evalue or str(content.get("evalue", ""))[:500]
                    elif content.get("status") == "aborted":
                        run.status, run.ename = "error", run.ename or "aborted"
                    if any(isinstance(p, dict) and p.get("source") == "ask_exit" for p in content.get("payload", [])):
                        run.ask_exit = True
                elif kind == "status" and content.get("execution_state") == "idle":
                    run._idle = True
                elif kind == "error":
                    run.status = "error"
                    run.ename = str(content.get("ename", ""))[:200]
                    run.evalue = str(content.get("evalue", ""))[:500]
                elif kind == "stream":
                    run.output_bytes += len(content.get("text", ""))
                elif kind in ("display_data", "execute_result", "update_display_data"):
                    run.output_bytes += sum(len(str(v)) for v in content.get("data", {}).values())

    def watch_memory(self, force=False):
        """Note the kernel's peak resident memory (at most every 0.2 s unless ``force``); past
        ``rss_limit``, kill the kernel before the system's out-of-memory killer picks a process."""
        now = time.monotonic()
        if not (force or now - self._rss_checked >= 0.2) or not self.alive():
            return
        self._rss_checked = now
        current, peak = resident_memory(self.process.pid)
        self.peak_rss = max(self.peak_rss, peak)
        if self.rss_limit and current > self.rss_limit:
            self.stopped_for_memory = True
            self.kill()

    def interrupt(self, run, grace=5.0):
        """SIGINT the kernel (KeyboardInterrupt in the cell); True if it finished within ``grace``."""
        if not self.alive():
            return False
        try:
            os.kill(self.process.pid, signal.SIGINT)
        except ProcessLookupError:
            return False
        run.status = "ok"
        self.wait(run, grace)
        return run.status not in ("timeout", "died")

    def exit_description(self):
        if self.process is None or self.process.poll() is None:
            return "still running"
        return describe_exit(self.process.returncode)

    # ------------------------------------------------------------------ stopping
    def kill(self):
        """Kill the kernel, its process group and every process carrying its token; wait for them."""
        if self.process is None:
            return 0
        killed = set()
        for attempt in range(20):
            found = set(_pids_with_token(self.token))
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if self.process.poll() is None:
                try:
                    self.process.kill()
                except ProcessLookupError:
                    pass
            for pid in found:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            killed |= found
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            if not _pids_with_token(self.token) and not _group_alive(self.process.pid):
                break
            time.sleep(0.05 * (attempt + 1))
        killed.discard(self.process.pid)
        self._killed |= killed
        self.killed_processes = len(self._killed)
        return self.killed_processes

    def close(self):
        try:
            self.kill()
        finally:
            if self.client is not None:
                try:
                    self.client.stop_channels()
                except Exception:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def resident_memory(pid):
    """(current, peak) resident memory of a process in bytes (VmRSS, VmHWM); (0, 0) if unknown."""
    values = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    values[line[:5]] = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0, 0
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def container_memory():
    """The memory this process may use, in bytes: the cgroup's limit (a container's, e.g.
    Gradescope's), else the machine's; 0 when unknown."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = open(path, encoding="ascii").read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            return int(text)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def describe_exit(returncode):
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit code {returncode}"


def _pids_with_token(token):
    """Live processes (not zombies) whose environment holds COURSE_GRADER_TOKEN=token (Linux)."""
    marker = f"COURSE_GRADER_TOKEN={token}".encode()
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    me = os.getpid()
    for name in entries:
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    found.append(int(name))
        except OSError:
            continue
    return found


def _group_alive(pgid):
    """True while a process other than a zombie is in process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if not os.path.isdir("/proc"):
        return True
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False
