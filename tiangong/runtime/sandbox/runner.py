"""`SandboxRunner`: the platform's `CodeRunner`. User code runs under bubblewrap, one fresh
sandbox per run, and never outside one.

Per run:

- `bwrap` builds a new root from read-only binds (see `bwrap.py`), with every namespace
  unshared (no network at all: the net namespace has only its own loopback), uid 65534, no
  capabilities, no further user namespaces, a seccomp deny-list, a new session and an empty
  environment. `/work` (the working directory) and `/tmp` are small tmpfs mounts that vanish
  with the run.
- Inside, the harness (`harness.py`) sets the rlimits before any user code runs: CPU seconds,
  address space and data size (memory), processes (RLIMIT_NPROC, counted per user namespace so
  it bounds this sandbox alone), file size, open files, no core dumps.
- The runner enforces a wall-clock timeout and caps stdout, stderr and the result at
  `max_output_bytes` each; either kills the whole sandbox (`killpg` on bwrap's session; with
  `--die-with-parent` and the PID namespace, every process inside dies with it).
- Inputs go in as JSON on stdin; the result comes back as one JSON line on a dedicated pipe,
  so nothing the code prints can be mistaken for its result.

Running as root: the kernel never applies RLIMIT_NPROC to uid 0, and inside bwrap's user
namespace uid 65534 is still host uid 0. So when the runner is root it starts bwrap as an
unprivileged host uid (`host_uid`, default 65534). Interpreter prefixes that uid cannot reach
(pyenv under /root, say) are first bind-mounted onto a mountpoint in the runner's support
directory, inside a private mount namespace of the launching child only; the host's mounts are
untouched. `host_uid=None` keeps bwrap as root (the process limit is then not enforced).

If bwrap is missing or does not produce a working, isolated sandbox (checked once by a probe
that verifies uid, capabilities, hostname, network and a read-only root), `run` raises
`SandboxUnavailable`: code is never run unsandboxed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import math
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tiangong.errors import ValidationFailed
from tiangong.runtime.sandbox import seccomp
from tiangong.runtime.sandbox.bwrap import (
    SANDBOX_GID,
    SANDBOX_HOSTNAME,
    SANDBOX_UID,
    SANDBOX_USER,
    SUPPORT_MOUNT,
    WORK_DIR,
    Bind,
    BwrapFeatures,
    SandboxSpec,
    build_command,
    etc_binds,
    interpreter_prefix,
    needs_bind,
    root_layout,
)
from tiangong.runtime.sandbox.errors import SandboxUnavailable, UnsupportedLanguage
from tiangong.runtime.sandbox.harness import JS_HARNESS, PYTHON_HARNESS
from tiangong.runtime.tools.context import CodeResult

logger = logging.getLogger(__name__)

PYTHON = "python"
JAVASCRIPT = "javascript"
LANGUAGE_ALIASES: dict[str, str] = {
    "python": PYTHON,
    "python3": PYTHON,
    "py": PYTHON,
    "javascript": JAVASCRIPT,
    "js": JAVASCRIPT,
    "node": JAVASCRIPT,
    "nodejs": JAVASCRIPT,
}

MIB = 1024 * 1024
MIN_MEMORY_MB = 16
MAX_MEMORY_MB = 64 * 1024
MAX_TIMEOUT_S = 3600.0
# Address space beyond `memory_mb` for mappings that are not data: the interpreter, shared
# libraries, thread stacks' guard pages; V8 also reserves large virtual ranges up front.
PYTHON_AS_HEADROOM_MB = 64
NODE_AS_HEADROOM_MB = 4096
NODE_DATA_HEADROOM_MB = 64
KILL_GRACE_S = 5.0
PROBE_RETRY_S = 30.0
PROBE_TIMEOUT_S = 20.0
PROBE_MARKER = "tiangong-sandbox-probe-ok"

# Linux mount(2)/unshare(2) constants for staging interpreter prefixes (root only).
_CLONE_NEWNS = 0x00020000
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_SLAVE = 1 << 19

_PROBE_SCRIPT = r"""
import os, socket, sys
problems = []
if os.getuid() != %(uid)d or os.getgid() != %(gid)d:
    problems.append("uid/gid %%d/%%d" %% (os.getuid(), os.getgid()))
if socket.gethostname() != %(hostname)r:
    problems.append("hostname " + socket.gethostname())
status = dict(
    line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line
)
for key in ("CapEff", "CapPrm", "CapBnd"):
    if int(status[key].strip(), 16) != 0:
        problems.append(key + " " + status[key].strip())
if status["NoNewPrivs"].strip() != "1":
    problems.append("no_new_privs not set")
interfaces = [
    line.split(":", 1)[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:]
]
if interfaces != ["lo"]:
    problems.append("interfaces " + ",".join(interfaces))
if problems:
    sys.exit("; ".join(problems))
try:
    open("/probe-write-test", "w")
    problems.append("/ is writable")
except OSError:
    pass
with open(%(work)r + "/probe", "w") as handle:
    handle.write("ok")
if set(os.environ) - {"PATH", "HOME", "LANG", "TMPDIR", "USER", "PWD", "LC_CTYPE"}:
    problems.append("environment " + ",".join(sorted(os.environ)))
if problems:
    sys.exit("; ".join(problems))
print(%(marker)r)
"""


@dataclass(frozen=True)
class _Interpreter:
    executable: str
    prefix: str | None  # None when it lives in /usr (already bound)


@dataclass(frozen=True)
class _Launch:
    """How the runner starts bwrap: as whom, and what to stage first (root only)."""

    drop_to: tuple[int, int] | None
    stage: tuple[tuple[str, str], ...]  # (host source, support-dir mountpoint)


@dataclass
class _Capture:
    name: str
    limit: int
    data: bytearray
    total: int = 0
    overflow: bool = False


@dataclass
class _ProbeState:
    ok: bool
    reason: str
    at: float


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no libc symbols in this process
        return None


_LIBC = _libc()


def _stage_mounts(stage: tuple[tuple[str, str], ...]) -> None:
    """In the forked child, before exec: a private mount namespace with the prefixes bound
    onto mountpoints the unprivileged uid can traverse. Nothing propagates to the host."""
    if _LIBC is None:
        raise OSError("libc is not available for mount staging")
    if _LIBC.unshare(_CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    if _LIBC.mount(b"none", b"/", None, _MS_REC | _MS_SLAVE, None) != 0:
        raise OSError(ctypes.get_errno(), "making / a slave mount failed")
    for source, target in stage:
        if _LIBC.mount(source.encode(), target.encode(), None, _MS_BIND | _MS_REC, None) != 0:
            raise OSError(ctypes.get_errno(), f"bind {source} -> {target} failed")


def _make_preexec(launch: _Launch) -> Callable[[], None]:
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if launch.stage:
            _stage_mounts(launch.stage)
        if launch.drop_to is not None:
            uid, gid = launch.drop_to
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)

    return preexec


def _reachable(path: str, uid: int, gid: int) -> bool:
    """Whether `uid`/`gid` (no supplementary groups, no capabilities) can open `path`."""
    real = os.path.realpath(path)
    parts = real.split("/")
    for index in range(1, len(parts) + 1):
        current = "/".join(parts[:index]) or "/"
        try:
            info = os.stat(current)
        except OSError:
            return False
        need = stat.S_IXOTH
        if current == real and stat.S_ISDIR(info.st_mode):
            need |= stat.S_IROTH
        elif current == real:
            need = stat.S_IROTH
        if info.st_uid == uid:
            need <<= 6
        elif info.st_gid == gid:
            need <<= 3
        if info.st_mode & need != need:
            return False
    return True


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class SandboxRunner:
    """Runs Python (and JavaScript via Node) in a bubblewrap sandbox. See the module doc.

    `run(language, code, inputs=..., timeout_s=..., memory_mb=...)` returns a `CodeResult`;
    the user's failures (exceptions, timeouts, limits) are `ok=False` results. It raises
    `SandboxUnavailable` when there is no working sandbox, `UnsupportedLanguage` for unknown
    or uninstalled languages and `ValidationFailed` for bad limits or non-JSON inputs.
    """

    def __init__(
        self,
        *,
        bwrap_path: str | None = None,
        python_path: str | None = None,
        node_path: str | None = None,
        default_timeout_s: float = 10.0,
        default_memory_mb: int = 256,
        max_output_bytes: int = 1 << 20,
        max_processes: int = 64,
        max_open_files: int = 256,
        tmpfs_mb: int = 32,
        max_concurrent: int | None = None,
        host_uid: int | None = SANDBOX_UID,
        host_gid: int | None = None,
        use_seccomp: bool = True,
        max_error_chars: int = 8000,
    ) -> None:
        self._bwrap_path = bwrap_path
        self._python_path = python_path
        self._node_path = node_path
        self.default_timeout_s = float(default_timeout_s)
        self.default_memory_mb = int(default_memory_mb)
        self.max_output_bytes = int(max_output_bytes)
        self.max_processes = int(max_processes)
        self.max_open_files = int(max_open_files)
        self.tmpfs_mb = int(tmpfs_mb)
        self.max_error_chars = int(max_error_chars)
        self._use_seccomp = use_seccomp
        self._host_uid = host_uid
        self._host_gid = host_gid if host_gid is not None else host_uid
        self._semaphore = asyncio.Semaphore(max_concurrent) if max_concurrent else None
        self._probe: _ProbeState | None = None
        self._probe_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._support_dir: str | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._setup: _Setup | None = None

    # ----------------------------------------------------------------- availability

    def available(self) -> bool:
        """Whether a working sandbox can be had (probes once; a failure is retried later)."""
        state = self._probe
        if state is not None and (state.ok or time.monotonic() - state.at < PROBE_RETRY_S):
            return state.ok
        self._probe = self._probe_sync()
        return self._probe.ok

    @property
    def support_dir(self) -> str | None:
        """The host directory with the harness and generated /etc files (None until set up)."""
        return self._support_dir

    @property
    def unavailable_reason(self) -> str | None:
        """Why the last probe failed, or None."""
        return None if self._probe is None or self._probe.ok else self._probe.reason

    @property
    def process_limit_enforced(self) -> bool:
        """False only when bwrap runs as host root, where the kernel ignores RLIMIT_NPROC."""
        setup = self._setup
        if setup is None:
            return os.geteuid() != 0 or self._host_uid is not None
        return os.geteuid() != 0 or setup.launch.drop_to is not None

    async def ensure_available(self) -> None:
        """Raise `SandboxUnavailable` unless a working sandbox can be had."""
        state = self._probe
        fresh = state is not None and (state.ok or time.monotonic() - state.at < PROBE_RETRY_S)
        if not fresh:
            loop = asyncio.get_running_loop()
            if self._probe_lock is None or self._probe_lock[0] is not loop:
                self._probe_lock = (loop, asyncio.Lock())
            async with self._probe_lock[1]:
                state = self._probe
                if state is None or not (state.ok or time.monotonic() - state.at < PROBE_RETRY_S):
                    self._probe = await self._probe_async()
        assert self._probe is not None
        if not self._probe.ok:
            raise SandboxUnavailable(
                "Code execution is unavailable: no working bubblewrap sandbox "
                f"({self._probe.reason}). Code is never run outside the sandbox.",
                details={"reason": self._probe.reason},
            )

    def _probe_command(self, setup: _Setup) -> list[str]:
        script = _PROBE_SCRIPT % {
            "uid": SANDBOX_UID,
            "gid": SANDBOX_GID,
            "hostname": SANDBOX_HOSTNAME,
            "work": WORK_DIR,
            "marker": PROBE_MARKER,
        }
        spec = setup.spec(seccomp_fd=None)
        return build_command(spec, [setup.python.executable, "-I", "-S", "-B", "-c", script])

    def _probe_verdict(self, code: int | None, stdout: bytes, stderr: bytes) -> _ProbeState:
        now = time.monotonic()
        if code == 0 and PROBE_MARKER in stdout.decode(errors="replace"):
            return _ProbeState(True, "", now)
        detail = (stderr.decode(errors="replace").strip() or f"exit code {code}")[-500:]
        logger.warning("sandbox probe failed: %s", detail)
        return _ProbeState(False, detail, now)

    def _probe_sync(self) -> _ProbeState:
        try:
            setup = self._ensure_setup()
            completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
                self._probe_command(setup),
                capture_output=True,
                timeout=PROBE_TIMEOUT_S,
                env=setup.host_env,
                preexec_fn=setup.preexec,  # noqa: PLW1509
                start_new_session=True,
                check=False,
            )
        except (OSError, subprocess.SubprocessError, SandboxUnavailable) as exc:
            return self._probe_failure(exc)
        return self._probe_verdict(completed.returncode, completed.stdout, completed.stderr)

    async def _probe_async(self) -> _ProbeState:
        try:
            setup = self._ensure_setup()
            process = await asyncio.create_subprocess_exec(
                *self._probe_command(setup),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=setup.host_env,
                preexec_fn=setup.preexec,
                start_new_session=True,
            )
        except (OSError, subprocess.SubprocessError, SandboxUnavailable) as exc:
            return self._probe_failure(exc)
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                stdout, stderr = await process.communicate()
        except TimeoutError:
            _kill_group(process.pid)
            await process.wait()
            return self._probe_failure(TimeoutError("the probe timed out"))
        return self._probe_verdict(process.returncode, stdout, stderr)

    def _probe_failure(self, exc: BaseException) -> _ProbeState:
        reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        logger.warning("sandbox probe failed: %s", reason)
        return _ProbeState(False, reason, time.monotonic())

    # ----------------------------------------------------------------- setup

    def _ensure_setup(self) -> _Setup:
        setup = self._setup
        if setup is not None and not os.path.isfile(
            os.path.join(setup.support_dir, "harness", "harness.py")
        ):
            # Something (a /tmp cleaner, say) removed the support directory: start over.
            logger.warning("sandbox support directory %s vanished; recreating", setup.support_dir)
            self._support_dir = None
            setup = None
        if setup is None:
            setup = self._setup = _Setup.create(self)
        return setup

    def close(self) -> None:
        """Remove the support directory. The runner is unusable afterwards."""
        if self._finalizer is not None:
            self._finalizer()
        self._setup = None
        self._probe = None

    # ----------------------------------------------------------------- running

    async def run(
        self,
        language: str,
        code: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
        memory_mb: int | None = None,
    ) -> CodeResult:
        lang = self._language(language)
        timeout = self.default_timeout_s if timeout_s is None else float(timeout_s)
        memory = self.default_memory_mb if memory_mb is None else int(memory_mb)
        if not (0 < timeout <= MAX_TIMEOUT_S) or math.isnan(timeout):
            raise ValidationFailed(f"timeout_s must be in (0, {MAX_TIMEOUT_S:g}]")
        if not MIN_MEMORY_MB <= memory <= MAX_MEMORY_MB:
            raise ValidationFailed(f"memory_mb must be in [{MIN_MEMORY_MB}, {MAX_MEMORY_MB}]")
        try:
            envelope = json.dumps(
                {"code": code, "inputs": dict(inputs or {})}, ensure_ascii=False
            ).encode()
        except (TypeError, ValueError) as exc:
            raise ValidationFailed(f"inputs must be JSON data: {exc}") from exc
        await self.ensure_available()
        setup = self._ensure_setup()
        if lang == JAVASCRIPT and setup.node is None:
            raise UnsupportedLanguage("JavaScript is not available here: Node.js is not installed")
        if self._semaphore is None:
            return await self._execute(setup, lang, envelope, timeout, memory)
        async with self._semaphore:
            return await self._execute(setup, lang, envelope, timeout, memory)

    def _language(self, language: str) -> str:
        lang = LANGUAGE_ALIASES.get(language.strip().lower())
        if lang is None:
            known = ", ".join(sorted({PYTHON, JAVASCRIPT}))
            raise UnsupportedLanguage(f"Unsupported language {language!r}; use one of: {known}")
        return lang

    def _limits(self, lang: str, timeout: float, memory_mb: int) -> dict[str, list[int]]:
        cpu = math.ceil(timeout) + 1
        if lang == JAVASCRIPT:
            # V8's heap is capped at memory_mb (--max-old-space-size); Node's own runtime
            # needs ~50 MB of data before any user code, so the process limit adds that.
            data_mb = memory_mb + NODE_DATA_HEADROOM_MB
            address_mb = data_mb + NODE_AS_HEADROOM_MB
        else:
            data_mb = memory_mb
            address_mb = memory_mb + PYTHON_AS_HEADROOM_MB
        file_size = self.tmpfs_mb * MIB
        return {
            "RLIMIT_CPU": [cpu, cpu + 1],
            "RLIMIT_AS": [address_mb * MIB] * 2,
            "RLIMIT_DATA": [data_mb * MIB] * 2,
            "RLIMIT_NPROC": [self.max_processes] * 2,
            "RLIMIT_FSIZE": [file_size] * 2,
            "RLIMIT_NOFILE": [self.max_open_files] * 2,
            "RLIMIT_CORE": [0, 0],
        }

    def build_run_command(
        self,
        language: str,
        *,
        result_fd: int = 3,
        seccomp_fd: int | None = 4,
        timeout_s: float | None = None,
        memory_mb: int | None = None,
    ) -> list[str]:
        """The exact argv a run uses (for inspection, docs and tests)."""
        setup = self._ensure_setup()
        lang = self._language(language)
        timeout = self.default_timeout_s if timeout_s is None else timeout_s
        memory = self.default_memory_mb if memory_mb is None else memory_mb
        return self._command(setup, lang, result_fd, seccomp_fd, timeout, memory)

    def _command(
        self,
        setup: _Setup,
        lang: str,
        result_fd: int,
        seccomp_fd: int | None,
        timeout: float,
        memory_mb: int,
    ) -> list[str]:
        config: dict[str, Any] = {
            "language": lang,
            "result_fd": result_fd,
            "limits": self._limits(lang, timeout, memory_mb),
            "max_error_chars": self.max_error_chars,
        }
        if lang == JAVASCRIPT and setup.node is not None:
            heap = memory_mb
            config["node"] = setup.node.executable
            config["node_args"] = [f"--max-old-space-size={heap}", "--disable-proto=delete"]
        harness = f"{SUPPORT_MOUNT}/harness.py"
        command = [setup.python.executable, "-I", "-S", "-B", "-X", "utf8", harness]
        command.append(json.dumps(config, separators=(",", ":")))
        return build_command(setup.spec(seccomp_fd=seccomp_fd), command)

    async def _execute(
        self, setup: _Setup, lang: str, envelope: bytes, wall_s: float, memory_mb: int
    ) -> CodeResult:
        timeout = wall_s
        loop = asyncio.get_running_loop()
        result_read, result_write = os.pipe()
        seccomp_read: int | None = None
        if setup.seccomp_program is not None:
            seccomp_read, seccomp_write = os.pipe()
            try:
                os.write(seccomp_write, setup.seccomp_program)
            finally:
                os.close(seccomp_write)
        pass_fds = (result_write,) if seccomp_read is None else (result_write, seccomp_read)
        argv = self._command(setup, lang, result_write, seccomp_read, timeout, memory_mb)
        started = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=pass_fds,
                env=setup.host_env,
                preexec_fn=setup.preexec,
                start_new_session=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            os.close(result_read)
            self._probe = None  # re-check before the next run
            raise SandboxUnavailable(
                f"Code execution is unavailable: the sandbox could not be started ({exc}). "
                "Code is never run outside the sandbox."
            ) from exc
        finally:
            os.close(result_write)
            if seccomp_read is not None:
                os.close(seccomp_read)

        result_stream = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(result_stream),
            os.fdopen(result_read, "rb", buffering=0),
        )
        captures = {
            "stdout": _Capture("stdout", self.max_output_bytes, bytearray()),
            "stderr": _Capture("stderr", self.max_output_bytes, bytearray()),
            "result": _Capture("result", self.max_output_bytes, bytearray()),
        }

        def overflow() -> None:
            _kill_group(process.pid)

        assert process.stdout is not None and process.stderr is not None
        tasks = [
            asyncio.ensure_future(_feed(process, envelope)),
            asyncio.ensure_future(_drain(process.stdout, captures["stdout"], overflow)),
            asyncio.ensure_future(_drain(process.stderr, captures["stderr"], overflow)),
            asyncio.ensure_future(_drain(result_stream, captures["result"], overflow)),
            asyncio.ensure_future(process.wait()),
        ]
        everything = asyncio.gather(*tasks, return_exceptions=True)
        timed_out = False
        try:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(everything)
            except TimeoutError:
                timed_out = True
                _kill_group(process.pid)
                try:
                    async with asyncio.timeout(KILL_GRACE_S):
                        await asyncio.shield(everything)
                except TimeoutError:
                    logger.error("sandbox pipes still open %.1fs after kill", KILL_GRACE_S)
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            _kill_group(process.pid)
            for task in tasks:
                task.cancel()
            raise
        finally:
            transport.close()
            if process.returncode is None:
                _kill_group(process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        duration_ms = (time.monotonic() - started) * 1000.0
        return self._outcome(
            process.returncode, captures, timed_out, timeout, memory_mb, duration_ms
        )

    def _outcome(
        self,
        returncode: int | None,
        captures: dict[str, _Capture],
        timed_out: bool,
        timeout: float,
        memory_mb: int,
        duration_ms: float,
    ) -> CodeResult:
        stdout = captures["stdout"].data.decode("utf-8", errors="replace")
        stderr = captures["stderr"].data.decode("utf-8", errors="replace")
        exit_code = returncode if returncode is not None and returncode >= 0 else None

        def failed(error: str) -> CodeResult:
            return CodeResult(
                ok=False,
                result=None,
                stdout=stdout,
                stderr=stderr,
                error=error,
                exit_code=exit_code,
                duration_ms=duration_ms,
            )

        if timed_out:
            return failed(f"Timed out after {timeout:g} s (wall clock); the run was stopped.")
        for capture in captures.values():
            if capture.overflow:
                what = "result" if capture.name == "result" else f"output on {capture.name}"
                return failed(
                    f"Output limit exceeded: the {what} passed {capture.limit} bytes; "
                    f"it was truncated and the run was stopped."
                )
        envelope = _parse_envelope(bytes(captures["result"].data))
        if envelope is not None:
            if envelope.get("ok") is True:
                return CodeResult(
                    ok=True,
                    result=envelope.get("result"),
                    stdout=stdout,
                    stderr=stderr,
                    error=None,
                    exit_code=exit_code,
                    duration_ms=duration_ms,
                )
            return failed(str(envelope.get("error") or "The code failed."))
        return failed(self._explain_exit(returncode, stderr, timeout, memory_mb))

    def _explain_exit(self, returncode: int | None, stderr: str, timeout: float, mb: int) -> str:
        if returncode is None or returncode < 0:
            return "The sandbox was stopped before the code finished."
        if returncode > 128:
            number = returncode - 128
            name = _signal_name(number)
            if number == signal.SIGXCPU:
                return f"CPU time limit exceeded ({math.ceil(timeout) + 1} s); the run was killed."
            if "heap out of memory" in stderr or "Allocation failed" in stderr:
                return f"Memory limit exceeded ({mb} MB); the run was killed."
            if number == signal.SIGXFSZ:
                return f"File size limit exceeded ({self.tmpfs_mb} MB); the run was killed."
            return f"The code was killed by {name} before it finished."
        tail = stderr.strip().splitlines()[-1:] if stderr.strip() else []
        hint = f": {tail[0][:500]}" if tail else ""
        return f"The code exited with status {returncode} before returning a result{hint}"


def _parse_envelope(data: bytes) -> dict[str, Any] | None:
    text = data.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    try:
        value = json.loads(text.splitlines()[0])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


async def _feed(process: asyncio.subprocess.Process, payload: bytes) -> None:
    stdin = process.stdin
    if stdin is None:
        return
    try:
        stdin.write(payload)
        await stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.close()


async def _drain(
    stream: asyncio.StreamReader, capture: _Capture, overflow: Callable[[], None]
) -> None:
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            return
        room = capture.limit - len(capture.data)
        if room > 0:
            capture.data += chunk[:room]
        capture.total += len(chunk)
        if capture.total > capture.limit and not capture.overflow:
            capture.overflow = True
            overflow()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@dataclass
class _Setup:
    """What the runner resolved once: binaries, the support dir, the launch plan."""

    bwrap: str
    features: BwrapFeatures
    python: _Interpreter
    node: _Interpreter | None
    support_dir: str
    binds: tuple[Bind, ...]
    symlinks: tuple[tuple[str, str], ...]
    env: dict[str, str]
    host_env: dict[str, str]
    launch: _Launch
    seccomp_program: bytes | None
    tmpfs_bytes: int

    def spec(self, *, seccomp_fd: int | None) -> SandboxSpec:
        return SandboxSpec(
            bwrap=self.bwrap,
            binds=self.binds,
            symlinks=self.symlinks,
            env=self.env,
            features=self.features,
            tmpfs_bytes=self.tmpfs_bytes,
            seccomp_fd=seccomp_fd,
        )

    @property
    def preexec(self) -> Callable[[], None] | None:
        if self.launch.drop_to is None and not self.launch.stage:
            return None
        return _make_preexec(self.launch)

    @classmethod
    def create(cls, runner: SandboxRunner) -> _Setup:
        bwrap = _find_bwrap(runner._bwrap_path)
        features = _bwrap_features(bwrap)
        python = _find_python(runner._python_path)
        node = _find_node(runner._node_path)
        drop_to: tuple[int, int] | None = None
        if os.geteuid() == 0 and runner._host_uid is not None:
            assert runner._host_gid is not None
            drop_to = (runner._host_uid, runner._host_gid)
        elif os.geteuid() == 0:
            logger.warning(
                "sandbox: bwrap runs as host root (host_uid=None); RLIMIT_NPROC is not enforced"
            )
        support_dir = runner._support_dir or _make_support_dir()
        if runner._support_dir is None:
            runner._support_dir = support_dir
            runner._finalizer = weakref.finalize(
                runner, shutil.rmtree, support_dir, ignore_errors=True
            )
        layout_binds, symlinks = root_layout()
        binds: list[Bind] = list(layout_binds)
        binds += etc_binds(support_dir)
        stage: list[tuple[str, str]] = []
        path_entries: list[str] = []
        for index, interpreter in enumerate(i for i in (python, node) if i is not None):
            path_entries.append(os.path.dirname(interpreter.executable))
            if interpreter.prefix is None:
                continue
            source = interpreter.prefix
            if drop_to is not None and not _reachable(source, *drop_to):
                mountpoint = os.path.join(support_dir, "mnt", str(index))
                os.makedirs(mountpoint, mode=0o755, exist_ok=True)
                stage.append((source, mountpoint))
                source = mountpoint
            binds.append(Bind(source, interpreter.prefix))
        binds.append(Bind(os.path.join(support_dir, "harness"), SUPPORT_MOUNT))
        if drop_to is not None and not _reachable(support_dir, *drop_to):
            raise SandboxUnavailable(f"the support directory {support_dir} is not reachable")
        standard = ["/usr/local/bin", "/usr/bin", "/bin"]
        path = ":".join(dict.fromkeys([*(p for p in path_entries if p not in standard), *standard]))
        env = {
            "PATH": path,
            "HOME": WORK_DIR,
            "TMPDIR": "/tmp",  # noqa: S108 - the sandbox's own tmpfs
            "LANG": "C.UTF-8",
            "USER": SANDBOX_USER,
        }
        # bwrap itself gets a minimal environment too: the sandbox's PID 1 is a bwrap
        # process, and its /proc/1/environ must not show the platform's secrets.
        host_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        program = seccomp.build_filter() if runner._use_seccomp and features.seccomp else None
        return cls(
            bwrap=bwrap,
            features=features,
            python=python,
            node=node,
            support_dir=support_dir,
            binds=tuple(binds),
            symlinks=tuple(symlinks),
            env=env,
            host_env=host_env,
            launch=_Launch(drop_to=drop_to, stage=tuple(stage)),
            seccomp_program=program,
            tmpfs_bytes=runner.tmpfs_mb * MIB,
        )


def _find_bwrap(configured: str | None) -> str:
    path = configured if configured is not None else shutil.which("bwrap")
    if not path:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise SandboxUnavailable(f"bubblewrap not found at {path}")
    return os.path.realpath(path)


def _bwrap_features(bwrap: str) -> BwrapFeatures:
    try:
        completed = subprocess.run(  # noqa: S603 - fixed argv
            [bwrap, "--help"], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxUnavailable(f"bubblewrap at {bwrap} does not run: {exc}") from exc
    text = (completed.stdout + completed.stderr).decode(errors="replace")
    if "--unshare-user" not in text:
        raise SandboxUnavailable(f"{bwrap} does not look like bubblewrap")
    return BwrapFeatures.from_help(text)


def _find_python(configured: str | None) -> _Interpreter:
    if configured is not None:
        executable = os.path.realpath(configured)
        prefix = interpreter_prefix(executable)
    else:
        prefix = os.path.realpath(sys.base_prefix)
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        candidates = [
            os.path.realpath(sys.executable),
            os.path.join(prefix, "bin", version),
            os.path.join(prefix, "bin", "python3"),
        ]
        executable = next(
            (c for c in candidates if c.startswith(prefix + "/") and os.access(c, os.X_OK)),
            "",
        )
        if not executable:
            raise SandboxUnavailable(f"no Python interpreter found under {prefix}")
    if not os.access(executable, os.X_OK):
        raise SandboxUnavailable(f"Python interpreter {executable} is not executable")
    return _Interpreter(executable, prefix if needs_bind(prefix) else None)


def _find_node(configured: str | None) -> _Interpreter | None:
    path = configured if configured is not None else shutil.which("node")
    if not path or not os.access(path, os.X_OK):
        return None
    executable = os.path.realpath(path)
    prefix = interpreter_prefix(executable)
    return _Interpreter(executable, prefix if needs_bind(prefix) else None)


SUPPORT_PREFIX = "tiangong-sandbox-"
OWNER_FILE = "owner.pid"


def _remove_stale_support_dirs() -> None:
    """Support dirs whose owning process is gone (killed before its cleanup could run)."""
    parent = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(parent) if n.startswith(SUPPORT_PREFIX)]
    except OSError:
        return
    for name in names:
        path = os.path.join(parent, name)
        try:
            with open(os.path.join(path, OWNER_FILE), encoding="ascii") as handle:
                owner = int(handle.read().strip())
            if os.stat(path).st_uid != os.geteuid():
                continue
        except (OSError, ValueError):
            continue
        if owner != os.getpid() and not os.path.exists(f"/proc/{owner}"):
            shutil.rmtree(path, ignore_errors=True)


def _make_support_dir() -> str:
    """Harness scripts and generated /etc files, readable by the sandbox's host uid."""
    _remove_stale_support_dirs()
    base = tempfile.mkdtemp(prefix=SUPPORT_PREFIX)
    os.chmod(base, 0o755)  # noqa: S103 - read-only support files for the unprivileged uid
    files = {
        "harness/harness.py": PYTHON_HARNESS,
        "harness/harness.js": JS_HARNESS,
        "etc/passwd": (
            "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
            f"{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_GID}:{SANDBOX_USER}:{WORK_DIR}:"
            "/usr/sbin/nologin\n"
        ),
        "etc/group": f"root:x:0:\n{SANDBOX_USER}:x:{SANDBOX_GID}:\n",
        "etc/hosts": f"127.0.0.1 localhost {SANDBOX_HOSTNAME}\n::1 localhost\n",
        "etc/hostname": f"{SANDBOX_HOSTNAME}\n",
        "etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
        OWNER_FILE: f"{os.getpid()}\n",
    }
    for relative, content in files.items():
        path = os.path.join(base, relative)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        os.chmod(os.path.dirname(path), 0o755)  # noqa: S103
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(path, 0o644)
    os.makedirs(os.path.join(base, "mnt"), mode=0o755, exist_ok=True)
    return base
