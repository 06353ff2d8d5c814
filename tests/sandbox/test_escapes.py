"""The escape suite: each attack fails, and the sandbox still serves the next run.

Every test runs real attack code in the real sandbox, then `assert_still_serving`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tiangong
from tests.sandbox.conftest import MAX_OUTPUT, MAX_PROCESSES, assert_still_serving
from tiangong.runtime.sandbox import SandboxRunner

REPO_DIR = str(Path(tiangong.__file__).resolve().parents[1])
SECRET_ENV = "TIANGONG_SANDBOX_TEST_SECRET"


async def run_ok(
    runner: SandboxRunner,
    code: str,
    *,
    inputs: dict[str, Any] | None = None,
    timeout_s: float | None = None,
) -> Any:
    result = await runner.run("python", code, inputs=inputs, timeout_s=timeout_s)
    assert result.ok, result
    return result.result


def _sandbox_processes(runner: SandboxRunner) -> list[int]:
    """Host pids of anything still running from this runner's sandboxes."""
    support = runner.support_dir
    assert support is not None
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if support.encode() in cmdline or b"/sandbox/harness" in cmdline:
            found.append(int(entry))
    return found


def _sandbox_tree_size(runner: SandboxRunner) -> int:
    """How many host processes belong to this runner's live sandboxes (bwrap + descendants)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    members = set(_sandbox_processes(runner))
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in members and pid not in members:
                members.add(pid)
                grew = True
    return len(members)


async def assert_no_survivors(runner: SandboxRunner) -> None:
    for _ in range(50):
        if not _sandbox_processes(runner):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"sandbox processes survived: {_sandbox_processes(runner)}")


# ----------------------------------------------------------------- network


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


async def test_network_loopback_of_the_host_is_unreachable(
    runner: SandboxRunner, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    code = (
        "import socket\n"
        "def main(port):\n"
        "    outcomes = []\n"
        "    for host in ('127.0.0.1', 'localhost', '::1'):\n"
        "        try:\n"
        "            socket.create_connection((host, port), timeout=1).close()\n"
        "            outcomes.append('connected')\n"
        "        except OSError as exc:\n"
        "            outcomes.append(type(exc).__name__)\n"
        "    return outcomes\n"
    )
    outcomes = await run_ok(runner, code, inputs={"port": port})
    assert isinstance(outcomes, list) and "connected" not in outcomes
    with pytest.raises(BlockingIOError):
        listener.accept()
    await assert_still_serving(runner)


async def test_network_outside_is_unreachable(runner: SandboxRunner) -> None:
    code = (
        "import socket\n"
        "def attempt(fn):\n"
        "    try:\n"
        "        fn()\n"
        "        return 'reached'\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "def main():\n"
        "    tcp = lambda: socket.create_connection(('1.1.1.1', 53), timeout=2).close()\n"
        "    def udp():\n"
        "        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "        s.sendto(b'x', ('1.1.1.1', 53))\n"
        "    dns = lambda: socket.getaddrinfo('example.com', 443)\n"
        "    tcp6 = lambda: socket.create_connection(('2606:4700:4700::1111', 53), timeout=2)\n"
        "    interfaces = [l.split(':')[0].strip() for l in open('/proc/net/dev')][2:]\n"
        "    return [attempt(tcp), attempt(udp), attempt(dns), attempt(tcp6), interfaces]\n"
    )
    result = await run_ok(runner, code)
    assert isinstance(result, list)
    *attempts, interfaces = result
    assert "reached" not in attempts, attempts
    assert interfaces == ["lo"]
    await assert_still_serving(runner)


async def test_abstract_unix_socket_of_the_host_is_unreachable(runner: SandboxRunner) -> None:
    name = f"tiangong-test-{secrets.token_hex(6)}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind("\0" + name)
    server.listen(1)
    server.setblocking(False)
    try:
        code = (
            "import socket\n"
            "def main(name):\n"
            "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
            "    try:\n"
            "        s.connect('\\0' + name)\n"
            "        return 'connected'\n"
            "    except OSError as exc:\n"
            "        return type(exc).__name__\n"
        )
        assert await run_ok(runner, code, inputs={"name": name}) != "connected"
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()
    await assert_still_serving(runner)


# ----------------------------------------------------------------- writing outside /work

WRITE_PROBE = (
    "import os\n"
    "def main(path):\n"
    "    try:\n"
    "        os.makedirs(os.path.dirname(path), exist_ok=True)\n"
    "        with open(path, 'w') as f:\n"
    "            f.write('pwned')\n"
    "        return 'written'\n"
    "    except OSError as exc:\n"
    "        return type(exc).__name__\n"
)


@pytest.mark.parametrize(
    "path",
    [
        "/pwned",
        "/usr/pwned",
        "/usr/bin/pwned",
        "/etc/pwned",
        "/etc/passwd",
        "/bin/pwned",
        "/lib/pwned",
        "/sandbox/harness.py",
        "/sandbox/pwned",
        "/root/pwned",
        "/proc/pwned",
        "/dev/pwned",
        "/home/pwned",
        "/var/pwned",
    ],
)
async def test_cannot_write_outside_work(runner: SandboxRunner, path: str) -> None:
    assert await run_ok(runner, WRITE_PROBE, inputs={"path": path}) != "written"
    await assert_still_serving(runner)


async def test_cannot_write_into_the_interpreter(runner: SandboxRunner) -> None:
    target = Path(sys.base_prefix) / "lib" / "pwned.py"
    assert await run_ok(runner, WRITE_PROBE, inputs={"path": str(target)}) != "written"
    assert not target.exists()  # noqa: ASYNC240
    await assert_still_serving(runner)


async def test_writes_to_host_paths_stay_inside(runner: SandboxRunner, tmp_path: Path) -> None:
    """The sandbox's /tmp and /work are its own tmpfs: host paths written there stay inside."""
    token = secrets.token_hex(8)
    host_targets = [
        Path("/tmp") / f"escape-{token}",  # noqa: S108 - the point: the host's /tmp
        Path(REPO_DIR) / f"escape-{token}",
        tmp_path / f"escape-{token}",
    ]
    for target in host_targets:
        await runner.run("python", WRITE_PROBE, inputs={"path": str(target)})
        assert not target.exists(), target  # noqa: ASYNC240
    await assert_still_serving(runner)


async def test_disk_and_memory_filling_is_capped(runner: SandboxRunner) -> None:
    code = (
        "import os\n"
        "def fill(path):\n"
        "    chunk = b'x' * (1 << 20)\n"
        "    written = 0\n"
        "    try:\n"
        "        with open(path, 'wb') as f:\n"
        "            for _ in range(1024):\n"
        "                f.write(chunk)\n"
        "                written += 1\n"
        "    except OSError as exc:\n"
        "        return [written, type(exc).__name__]\n"
        "    return [written, 'no limit']\n"
        "def main():\n"
        "    return [fill('/work/big'), fill('/tmp/big'), fill('/dev/shm/big')]\n"
    )
    result = await run_ok(runner, code)
    assert isinstance(result, list)
    for written, outcome in result:
        assert outcome != "no limit"
        assert written <= 64
    await assert_still_serving(runner)


# ----------------------------------------------------------------- reading secrets


async def test_host_secrets_are_not_visible(runner: SandboxRunner) -> None:
    code = (
        "import os\n"
        "def attempt(path):\n"
        "    try:\n"
        "        if os.path.isdir(path):\n"
        "            return sorted(os.listdir(path))\n"
        "        with open(path) as f:\n"
        "            return f.read()\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "def main(paths):\n"
        "    return {p: attempt(p) for p in paths}\n"
    )
    paths = [
        "/etc/shadow",
        "/etc/gshadow",
        "/etc/sudoers",
        "/root/.bash_history",
        "/root/.ssh",
        "/root",
        "/home",
        "/var/lib",
        "/work",
        REPO_DIR,
        os.path.join(REPO_DIR, "pyproject.toml"),
        "/etc/passwd",
    ]
    seen = await run_ok(runner, code, inputs={"paths": paths})
    assert isinstance(seen, dict)
    for path in ("/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/root/.bash_history"):
        assert seen[path] == "FileNotFoundError", (path, seen[path])
    assert seen["/root/.ssh"] == "FileNotFoundError"
    assert seen["/root"] in (["pyenv"], [".pyenv"], "FileNotFoundError", [])
    assert seen["/home"] == "FileNotFoundError"
    assert seen["/var/lib"] == "FileNotFoundError"
    assert seen["/work"] == []
    assert seen[REPO_DIR] == "FileNotFoundError"
    assert seen[os.path.join(REPO_DIR, "pyproject.toml")] == "FileNotFoundError"
    passwd = seen["/etc/passwd"]
    assert isinstance(passwd, str)
    assert {line.split(":")[0] for line in passwd.splitlines()} == {"root", "sandbox"}
    await assert_still_serving(runner)


async def test_data_dir_secret_is_not_reachable(runner: SandboxRunner, tmp_path: Path) -> None:
    secret = secrets.token_hex(16)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "secret.txt").write_text(secret)
    code = (
        "import os\n"
        "def main(path, secret):\n"
        "    found = []\n"
        "    try:\n"
        "        open(path).read()\n"
        "        found.append('direct read')\n"
        "    except OSError:\n"
        "        pass\n"
        "    tops = ('/etc', '/work', '/tmp', '/sandbox', '/root', '/run', '/var', '/proc/1')\n"
        "    for top in tops:\n"
        "        for root, dirs, files in os.walk(top):\n"
        "            if root.startswith('/root/.pyenv'):\n"
        "                dirs[:] = []\n"
        "                continue\n"
        "            for name in files:\n"
        "                try:\n"
        "                    with open(os.path.join(root, name), 'rb') as f:\n"
        "                        if secret.encode() in f.read(1 << 20):\n"
        "                            found.append(os.path.join(root, name))\n"
        "                except OSError:\n"
        "                    pass\n"
        "    return found\n"
    )
    found = await run_ok(
        runner, code, inputs={"path": str(data_dir / "secret.txt"), "secret": secret}
    )
    assert found == []
    await assert_still_serving(runner)


async def test_parent_environment_is_not_visible(
    runner: SandboxRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = secrets.token_hex(16)
    monkeypatch.setenv(SECRET_ENV, secret)
    code = (
        "import os\n"
        "def main(secret, host_pid):\n"
        "    leaks = [k for k, v in os.environ.items() if secret in v or k == NAME]\n"
        "    for pid in [p for p in os.listdir('/proc') if p.isdigit()] + [str(host_pid)]:\n"
        "        for part in ('environ', 'cmdline'):\n"
        "            try:\n"
        "                with open(f'/proc/{pid}/{part}', 'rb') as f:\n"
        "                    if secret.encode() in f.read():\n"
        "                        leaks.append(f'/proc/{pid}/{part}')\n"
        "            except OSError:\n"
        "                pass\n"
        "    return [leaks, sorted(os.environ)]\n"
    ).replace("NAME", repr(SECRET_ENV))
    result = await run_ok(runner, code, inputs={"secret": secret, "host_pid": os.getpid()})
    assert isinstance(result, list)
    leaks, names = result
    assert leaks == []
    assert set(names) <= {"PATH", "HOME", "LANG", "TMPDIR", "USER", "PWD", "LC_CTYPE"}
    await assert_still_serving(runner)


# ----------------------------------------------------------------- process, memory, CPU bombs


async def test_process_count_is_bounded(runner: SandboxRunner) -> None:
    code = (
        "import os, time\n"
        "def main():\n"
        "    children = 0\n"
        "    error = None\n"
        "    for _ in range(500):\n"
        "        try:\n"
        "            pid = os.fork()\n"
        "        except OSError as exc:\n"
        "            error = type(exc).__name__\n"
        "            break\n"
        "        if pid == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "        children += 1\n"
        "    return [children, error]\n"
    )
    started = time.monotonic()
    children, error = await run_ok(runner, code, timeout_s=10)
    assert error == "BlockingIOError"
    assert children < MAX_PROCESSES
    # The harness exiting ends the PID namespace: the sleeping children die with it.
    assert time.monotonic() - started < 10
    await assert_no_survivors(runner)
    await assert_still_serving(runner)


async def test_fork_bomb(runner: SandboxRunner) -> None:
    code = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    started = time.monotonic()
    task = asyncio.ensure_future(runner.run("python", code, timeout_s=2))
    await asyncio.sleep(1.2)
    assert _sandbox_tree_size(runner) <= MAX_PROCESSES + 1
    result = await task
    elapsed = time.monotonic() - started
    assert not result.ok
    assert result.error is not None and "Timed out" in result.error
    assert elapsed < 2 + 3
    await assert_no_survivors(runner)
    await assert_still_serving(runner)


async def test_shell_fork_bomb(runner: SandboxRunner) -> None:
    code = (
        "import subprocess\n"
        "subprocess.run(['/bin/sh', '-c', 'b() { b | b & }; b; sleep 30'], timeout=30)\n"
    )
    started = time.monotonic()
    task = asyncio.ensure_future(runner.run("python", code, timeout_s=2))
    await asyncio.sleep(1.2)
    # Outer bwrap on the host, plus at most MAX_PROCESSES inside (RLIMIT_NPROC).
    assert _sandbox_tree_size(runner) <= MAX_PROCESSES + 1
    result = await task
    # Either the bomb holds the sandbox until the timeout, or the limit also stops `sleep` from
    # starting and the shell gives up early; both are contained.
    assert result.ok or (result.error is not None and "Timed out" in result.error)
    assert "Cannot fork" in result.stderr
    assert time.monotonic() - started < 2 + 3
    await assert_no_survivors(runner)
    await assert_still_serving(runner)


@pytest.mark.parametrize(
    "code",
    [
        "x = bytearray(8 * 1024 ** 3)\n",
        "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 ** 2))\n",
        "import numbers\ns = 'x'\nwhile True:\n    s = s * 2\n",
    ],
    ids=["one-big", "incremental", "string-doubling"],
)
async def test_memory_bomb(runner: SandboxRunner, code: str) -> None:
    started = time.monotonic()
    result = await runner.run("python", code, memory_mb=64, timeout_s=10)
    assert not result.ok
    assert result.error is not None and "MemoryError" in result.error, result
    assert time.monotonic() - started < 8
    await assert_still_serving(runner)


async def test_memory_bomb_in_threads_and_children(runner: SandboxRunner) -> None:
    code = (
        "import os, threading\n"
        "def hog():\n"
        "    blocks = []\n"
        "    try:\n"
        "        while True:\n"
        "            blocks.append(bytearray(8 * 1024 ** 2))\n"
        "    except MemoryError:\n"
        "        return\n"
        "pids = [os.fork() for _ in range(3)]\n"
        "if 0 in pids:\n"
        "    hog()\n"
        "    os._exit(0)\n"
        "threads = [threading.Thread(target=hog) for _ in range(4)]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "[os.waitpid(p, 0) for p in pids]\n"
        "print('survived')\n"
    )
    result = await runner.run("python", code, memory_mb=64, timeout_s=10)
    assert result.stdout in ("", "survived\n")
    await assert_no_survivors(runner)
    await assert_still_serving(runner)


async def test_js_memory_bomb(runner: SandboxRunner) -> None:
    code = "const a = [];\nwhile (true) a.push(new Array(1e6).fill(1.5));\n"
    result = await runner.run("javascript", code, memory_mb=128, timeout_s=10)
    assert not result.ok
    assert result.error is not None
    await assert_still_serving(runner)


async def test_infinite_loop_times_out(runner: SandboxRunner) -> None:
    started = time.monotonic()
    result = await runner.run("python", "while True:\n    pass\n", timeout_s=2)
    elapsed = time.monotonic() - started
    assert not result.ok
    assert result.error is not None and "Timed out after 2 s" in result.error
    assert 2 <= elapsed < 2 + 1.5
    await assert_no_survivors(runner)
    await assert_still_serving(runner)


async def test_sleeping_and_ignoring_signals_still_times_out(runner: SandboxRunner) -> None:
    code = (
        "import signal, time\n"
        "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):\n"
        "    signal.signal(s, signal.SIG_IGN)\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    result = await runner.run("python", code, timeout_s=1)
    assert not result.ok
    assert time.monotonic() - started < 1 + 1.5
    await assert_still_serving(runner)


async def test_cpu_spin_in_many_processes(runner: SandboxRunner) -> None:
    code = (
        "import os, resource\n"
        "print(resource.getrlimit(resource.RLIMIT_CPU), flush=True)\n"
        "for _ in range(3):\n"
        "    if os.fork() == 0:\n"
        "        break\n"
        "while True:\n"
        "    pass\n"
    )
    started = time.monotonic()
    result = await runner.run("python", code, timeout_s=2)
    assert not result.ok
    assert time.monotonic() - started < 2 + 1.5
    assert result.stdout.startswith("(3, 4)")
    await assert_no_survivors(runner)
    await assert_still_serving(runner)


async def test_js_infinite_loop_times_out(runner: SandboxRunner) -> None:
    started = time.monotonic()
    result = await runner.run("javascript", "while (true) {}\n", timeout_s=2)
    assert not result.ok
    assert result.error is not None and "Timed out" in result.error
    assert time.monotonic() - started < 2 + 1.5
    await assert_still_serving(runner)


@pytest.mark.parametrize(
    ("code", "stream"),
    [
        ("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", "stdout"),
        ("import os\nwhile True:\n    os.write(2, b'y' * 65536)\n", "stderr"),
        ("def main():\n    return 'z' * (4 * 1024 * 1024)\n", "result"),
    ],
)
async def test_huge_output_is_cut_off(runner: SandboxRunner, code: str, stream: str) -> None:
    started = time.monotonic()
    result = await runner.run("python", code, timeout_s=10)
    assert not result.ok
    assert result.error is not None and "Output limit exceeded" in result.error
    assert stream in result.error
    assert len(result.stdout) <= MAX_OUTPUT and len(result.stderr) <= MAX_OUTPUT
    if stream == "stdout":
        assert len(result.stdout) == MAX_OUTPUT
    assert time.monotonic() - started < 5
    await assert_no_survivors(runner)
    await assert_still_serving(runner)


# ----------------------------------------------------------------- ctypes, /proc, remounting

CTYPES_PROBE = (
    "import ctypes, ctypes.util, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "def call(name, *args):\n"
    "    rc = getattr(libc, name)(*args)\n"
    "    return [rc, os.strerror(ctypes.get_errno()) if rc == -1 else None]\n"
)


async def test_ctypes_privileged_calls_fail(runner: SandboxRunner) -> None:
    code = CTYPES_PROBE + (
        "def main():\n"
        "    MS_REMOUNT, MS_BIND, MS_RDONLY = 32, 4096, 1\n"
        "    CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x20000, 0x40000000\n"
        "    return {\n"
        "        'mount_tmpfs': call('mount', b'none', b'/work', b'tmpfs', 0, None),\n"
        "        'remount_rw': call('mount', None, b'/', None, MS_REMOUNT | MS_BIND, None),\n"
        "        'unshare_user': call('unshare', CLONE_NEWUSER),\n"
        "        'unshare_ns': call('unshare', CLONE_NEWNS),\n"
        "        'unshare_net': call('unshare', CLONE_NEWNET),\n"
        "        'setuid0': call('setuid', 0),\n"
        "        'setresuid0': call('setresuid', 0, 0, 0),\n"
        "        'setgid0': call('setgid', 0),\n"
        "        'ptrace_attach_1': call('ptrace', 16, 1, None, None),\n"
        "        'ptrace_traceme': call('ptrace', 0, 0, None, None),\n"
        "        'chroot': call('chroot', b'/tmp'),\n"
        "        'clone_newuser': call('syscall', 56, CLONE_NEWUSER | 17, 0, 0, 0, 0),\n"
        "        'sethostname': call('sethostname', b'evil', 4),\n"
        "        'mknod': call('mknod', b'/work/sda', 0o60600, os.makedev(8, 0)),\n"
        "        'still_uid': [os.getuid(), os.geteuid()],\n"
        "    }\n"
    )
    outcome = await run_ok(runner, code)
    assert isinstance(outcome, dict)
    assert outcome.pop("still_uid") == [65534, 65534]
    for name, (rc, error) in outcome.items():
        assert rc == -1, (name, rc, error)
        assert error, name
    await assert_still_serving(runner)


async def test_no_capabilities_and_no_new_privileges(runner: SandboxRunner) -> None:
    code = (
        "import subprocess\n"
        "def main():\n"
        "    status = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)\n"
        "    caps = {k: status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd',"
        " 'CapAmb')}\n"
        "    su = subprocess.run(['/usr/bin/su', '-c', 'id'], capture_output=True, text=True,"
        " stdin=subprocess.DEVNULL)\n"
        "    mount = subprocess.run(['/usr/bin/mount', '-o', 'remount,rw', '/'],"
        " capture_output=True, text=True)\n"
        "    return [caps, status['NoNewPrivs'].strip(), status['Seccomp'].strip(),"
        " su.returncode, mount.returncode]\n"
    )
    caps, no_new_privs, seccomp_mode, su_rc, mount_rc = await run_ok(runner, code)
    assert set(caps.values()) == {"0000000000000000"}
    assert no_new_privs == "1"
    assert seccomp_mode == "2"
    assert su_rc != 0
    assert mount_rc != 0
    await assert_still_serving(runner)


async def test_remount_attempts_fail(runner: SandboxRunner) -> None:
    code = CTYPES_PROBE + (
        "import subprocess, sys\n"
        "def main(prefix):\n"
        "    MS_REMOUNT, MS_BIND = 32, 4096\n"
        "    out = {}\n"
        "    for target in ('/', '/usr', '/etc', '/sandbox', prefix):\n"
        "        out['ctypes ' + target] = call('mount', None, target.encode(), None,"
        " MS_REMOUNT | MS_BIND, None)[0]\n"
        "        cmd = subprocess.run(['mount', '-o', 'remount,rw', target],"
        " capture_output=True)\n"
        "        out['mount ' + target] = cmd.returncode\n"
        "    cmd = subprocess.run(['mount', '-t', 'tmpfs', 'none', '/usr'], capture_output=True)\n"
        "    out['mount tmpfs /usr'] = cmd.returncode\n"
        "    cmd = subprocess.run(['umount', '-l', '/usr'], capture_output=True)\n"
        "    out['umount /usr'] = cmd.returncode\n"
        "    try:\n"
        "        open('/usr/pwned', 'w')\n"
        "        out['write after'] = 0\n"
        "    except OSError:\n"
        "        out['write after'] = -1\n"
        "    return out\n"
    )
    outcome = await run_ok(runner, code, inputs={"prefix": sys.base_prefix})
    assert isinstance(outcome, dict)
    for name, rc in outcome.items():
        assert rc != 0, name
    await assert_still_serving(runner)


async def test_chroot_escape_fails(runner: SandboxRunner) -> None:
    code = (
        "import os\n"
        "def main():\n"
        "    os.makedirs('/work/jail', exist_ok=True)\n"
        "    try:\n"
        "        os.chroot('/work/jail')\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "    for _ in range(64):\n"
        "        os.chdir('..')\n"
        "    os.chroot('.')\n"
        "    return sorted(os.listdir('/'))\n"
    )
    assert await run_ok(runner, code) == "PermissionError"
    await assert_still_serving(runner)


async def test_proc_tricks(runner: SandboxRunner, tmp_path: Path) -> None:
    code = (
        "import os\n"
        "def attempt(fn):\n"
        "    try:\n"
        "        return fn()\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "def write(path):\n"
        "    with open(path, 'w') as f:\n"
        "        f.write('1')\n"
        "    return 'written'\n"
        "def main(host_pid):\n"
        "    return {\n"
        "        'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),\n"
        "        'root1': attempt(lambda: sorted(os.listdir('/proc/1/root'))),\n"
        "        'self_root': sorted(os.listdir('/proc/self/root')),\n"
        "        'shadow_via_root': attempt(lambda: open('/proc/1/root/etc/shadow').read()),\n"
        "        'host_environ': attempt(lambda: open(f'/proc/{host_pid}/environ').read()),\n"
        "        'mountinfo': open('/proc/self/mountinfo').read(),\n"
        "        'sysrq': attempt(lambda: write('/proc/sysrq-trigger')),\n"
        "        'core_pattern': attempt(lambda: write('/proc/sys/kernel/core_pattern')),\n"
        "        'mem_of_1': attempt(lambda: open('/proc/1/mem', 'rb').read(1)),\n"
        "        'sys': attempt(lambda: os.listdir('/sys')),\n"
        "        'kcore': attempt(lambda: open('/proc/kcore', 'rb').read(1)),\n"
        "        'init_environ': attempt(lambda: open('/proc/1/environ').read()),\n"
        "        'init_cmdline': open('/proc/1/cmdline').read(),\n"
        "        'self_pid': os.getpid(),\n"
        "    }\n"
    )
    seen = await run_ok(runner, code, inputs={"host_pid": os.getpid()})
    assert isinstance(seen, dict)
    # A private PID namespace: a handful of small pids, none of them the host's.
    assert max(seen["pids"]) < 100
    assert os.getpid() not in seen["pids"] or os.getpid() < 100
    assert seen["root1"] == seen["self_root"] or seen["root1"] == "PermissionError"
    assert seen["shadow_via_root"] in ("FileNotFoundError", "PermissionError")
    assert seen["host_environ"] in ("FileNotFoundError", "PermissionError")
    mountinfo = seen["mountinfo"]
    for host_path in (REPO_DIR, "/home", "/var/lib", str(tmp_path), "/etc/shadow"):
        assert host_path not in mountinfo, host_path
    assert " / / " not in mountinfo.replace("/newroot / ", "")  # the host root is not mounted
    assert seen["sysrq"] != "written"
    assert seen["core_pattern"] != "written"
    # PID 1 is the harness's init, undumpable: no ptrace, no /proc/1/mem.
    assert seen["mem_of_1"] == "PermissionError"
    assert seen["init_environ"] == "PermissionError"
    assert seen["init_cmdline"].startswith(sys.base_prefix) or seen["init_cmdline"] == ""
    assert seen["self_pid"] != 1
    assert seen["sys"] == "FileNotFoundError"
    assert seen["kcore"] in ("PermissionError", "FileNotFoundError")
    await assert_still_serving(runner)


@pytest.fixture
def host_sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A host process, as the sandbox's host uid when root (the closest possible target)."""

    def as_sandbox_uid() -> None:
        if os.geteuid() == 0:
            os.setgid(65534)
            os.setuid(65534)

    process = subprocess.Popen(["sleep", "60"], preexec_fn=as_sandbox_uid)  # noqa: PLW1509
    yield process
    process.kill()
    process.wait()


async def test_cannot_kill_host_processes(
    runner: SandboxRunner, host_sleeper: subprocess.Popen[bytes]
) -> None:
    code = (
        "import os, signal\n"
        "def main(pids):\n"
        "    out = []\n"
        "    for pid in pids:\n"
        "        try:\n"
        "            os.kill(pid, signal.SIGKILL)\n"
        "            out.append('sent')\n"
        "        except OSError as exc:\n"
        "            out.append(type(exc).__name__)\n"
        "    return out\n"
    )
    pids = [host_sleeper.pid, os.getpid(), os.getppid()]
    outcome = await run_ok(runner, code, inputs={"pids": pids})
    assert isinstance(outcome, list)
    assert host_sleeper.poll() is None
    # kill(-1) reaches every process the sandbox can signal: only its own.
    await runner.run("python", "import os, signal\nos.kill(-1, signal.SIGKILL)\n")
    await asyncio.sleep(0.1)
    assert host_sleeper.poll() is None
    await assert_still_serving(runner)


async def test_signals_to_pid_1_do_not_break_out(runner: SandboxRunner) -> None:
    """PID 1 is the harness's init; from inside, signals to it are ignored (SIGKILL, SIGSTOP
    included), and it is undumpable, so its memory cannot be patched either."""
    code = (
        "import os, signal\n"
        "def main():\n"
        "    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGSTOP, signal.SIGKILL):\n"
        "        os.kill(1, sig)\n"
        "    try:\n"
        "        with open('/proc/1/mem', 'r+b') as mem:\n"
        "            mem.write(b'x')\n"
        "        return 'patched'\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
    )
    assert await run_ok(runner, code, timeout_s=3) == "PermissionError"
    await assert_no_survivors(runner)
    await assert_still_serving(runner)


async def test_interrupting_a_run_kills_the_sandbox(runner: SandboxRunner) -> None:
    task = asyncio.ensure_future(runner.run("python", "import time\ntime.sleep(60)\n"))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_no_survivors(runner)
    await assert_still_serving(runner)
