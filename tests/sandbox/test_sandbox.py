"""The sandbox as a CodeRunner: inputs in, JSON out, output captured, errors reported."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tiangong.errors import ValidationFailed
from tiangong.runtime.sandbox import (
    SandboxRunner,
    SandboxUnavailable,
    UnsupportedLanguage,
)
from tiangong.runtime.sandbox.seccomp import build_filter, denied_syscalls
from tiangong.runtime.tools.context import CodeRunner


def test_is_a_code_runner(runner: SandboxRunner) -> None:
    code_runner: CodeRunner = runner
    assert code_runner is runner
    assert runner.process_limit_enforced


async def test_inputs_in_json_out(runner: SandboxRunner) -> None:
    code = "def main(a, b, items=()):\n    return {'sum': a + b, 'items': list(items)[::-1]}\n"
    result = await runner.run("python", code, inputs={"a": 2, "b": 3, "items": [1, "x", None]})
    assert result.ok, result
    assert result.result == {"sum": 5, "items": [None, "x", 1]}
    assert result.error is None
    assert result.exit_code == 0
    assert result.duration_ms > 0


async def test_unicode_round_trip(runner: SandboxRunner) -> None:
    code = "def main(text):\n    print(text)\n    return text + '，世界'\n"
    result = await runner.run("python", code, inputs={"text": "你好"})
    assert result.ok, result
    assert result.result == "你好，世界"
    assert result.stdout == "你好\n"


async def test_async_main(runner: SandboxRunner) -> None:
    code = "import asyncio\nasync def main(x):\n    await asyncio.sleep(0.01)\n    return x * 2\n"
    result = await runner.run("python", code, inputs={"x": 21})
    assert result.ok, result
    assert result.result == 42


async def test_print_is_captured_and_cannot_forge_the_result(runner: SandboxRunner) -> None:
    code = (
        "import sys\n"
        "def main():\n"
        '    print(\'{"ok": true, "result": "forged"}\')\n'
        "    print('to stderr', file=sys.stderr)\n"
        "    return 'real'\n"
    )
    result = await runner.run("python", code)
    assert result.ok, result
    assert result.result == "real"
    assert '"forged"' in result.stdout
    assert result.stderr == "to stderr\n"


async def test_plain_script_without_main(runner: SandboxRunner) -> None:
    code = "total = sum(range(10))\nprint('total', total, inputs['k'])\n"
    result = await runner.run("python", code, inputs={"k": "v"})
    assert result.ok, result
    assert result.result is None
    assert result.stdout == "total 45 v\n"


async def test_exception_is_reported_as_a_traceback(runner: SandboxRunner) -> None:
    code = "def helper(x):\n    return 1 / x\n\ndef main():\n    return helper(0)\n"
    result = await runner.run("python", code)
    assert not result.ok
    assert result.result is None
    assert result.error is not None
    assert result.error.startswith("Traceback (most recent call last):")
    assert 'File "<user_code>", line 2, in helper' in result.error
    assert "return 1 / x" in result.error
    assert result.error.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "harness" not in result.error
    assert result.exit_code == 1


async def test_syntax_error(runner: SandboxRunner) -> None:
    result = await runner.run("python", "def main(:\n    pass\n")
    assert not result.ok
    assert result.error is not None and "SyntaxError" in result.error


async def test_result_must_be_json(runner: SandboxRunner) -> None:
    result = await runner.run("python", "def main():\n    return {1, 2}\n")
    assert not result.ok
    assert result.error is not None and "JSON-serialisable" in result.error
    result = await runner.run("python", "def main():\n    return float('nan')\n")
    assert not result.ok


@pytest.mark.parametrize(
    ("code", "ok", "error"),
    [
        ("import sys\nsys.exit(0)\n", True, None),
        ("import sys\nsys.exit()\n", True, None),
        ("import sys\nsys.exit(3)\n", False, "SystemExit: 3"),
        ("import sys\nsys.exit('bad things')\n", False, "SystemExit: bad things"),
    ],
)
async def test_sys_exit(runner: SandboxRunner, code: str, ok: bool, error: str | None) -> None:
    result = await runner.run("python", code)
    assert result.ok is ok, result
    assert result.error == error


async def test_os_exit_without_result(runner: SandboxRunner) -> None:
    result = await runner.run("python", "import os\nprint('bye', flush=True)\nos._exit(7)\n")
    assert not result.ok
    assert result.exit_code == 7
    assert result.stdout == "bye\n"
    assert result.error is not None and "status 7" in result.error


async def test_each_run_starts_clean(runner: SandboxRunner) -> None:
    write = (
        "import os\n"
        "open('/work/left-behind', 'w').write('x')\n"
        "open('/tmp/left-behind', 'w').write('x')\n"
        "print(os.getcwd())\n"
    )
    first = await runner.run("python", write)
    assert first.ok, first
    assert first.stdout == "/work\n"
    check = "import os\ndef main():\n    return [os.listdir('/work'), os.listdir('/tmp')]\n"
    second = await runner.run("python", check)
    assert second.ok, second
    assert second.result == [[], []]


async def test_concurrent_runs(runner: SandboxRunner) -> None:
    code = "import time\ndef main(i):\n    time.sleep(0.2)\n    return i * i\n"
    results = await asyncio.gather(*(runner.run("python", code, inputs={"i": i}) for i in range(8)))
    assert [r.result for r in results] == [i * i for i in range(8)]
    assert all(r.ok for r in results)


async def test_standard_library_and_subprocesses_work(runner: SandboxRunner) -> None:
    code = (
        "import json, sqlite3, subprocess, sys, threading\n"
        "def main():\n"
        "    db = sqlite3.connect(':memory:')\n"
        "    db.execute('create table t (x)')\n"
        "    db.execute('insert into t values (1)')\n"
        "    out = subprocess.run([sys.executable, '-c', 'print(6 * 7)'],\n"
        "                         capture_output=True, text=True).stdout.strip()\n"
        "    box = []\n"
        "    t = threading.Thread(target=lambda: box.append(1)); t.start(); t.join()\n"
        "    return [db.execute('select x from t').fetchone()[0], out, box]\n"
    )
    result = await runner.run("python", code)
    assert result.ok, result
    assert result.result == [1, "42", [1]]


# ----------------------------------------------------------------- JavaScript


async def test_js_main_function(runner: SandboxRunner) -> None:
    code = (
        "function main(inputs) {\n"
        "  console.log('hello', inputs.name);\n"
        "  return {n: inputs.n * 2};\n"
        "}\n"
    )
    result = await runner.run("javascript", code, inputs={"name": "js", "n": 21})
    assert result.ok, result
    assert result.result == {"n": 42}
    assert result.stdout == "hello js\n"


async def test_js_exports_and_async(runner: SandboxRunner) -> None:
    code = (
        "module.exports = async ({a, b}) => {\n"
        "  await new Promise((resolve) => setTimeout(resolve, 10));\n"
        "  return [a + b, undefined];\n"
        "};\n"
    )
    result = await runner.run("js", code, inputs={"a": 1, "b": 2})
    assert result.ok, result
    assert result.result == [3, None]
    named = await runner.run("node", "exports.main = () => 'named';\n")
    assert named.ok and named.result == "named"


async def test_js_error_is_reported(runner: SandboxRunner) -> None:
    code = "function main() {\n  null.x;\n}\n"
    result = await runner.run("javascript", code)
    assert not result.ok
    assert result.error is not None
    assert "TypeError" in result.error
    assert "user_code.js:2" in result.error
    assert "harness" not in result.error
    rejected = await runner.run("javascript", "module.exports = async () => { throw 'nope'; };")
    assert not rejected.ok
    assert rejected.error is not None and "nope" in rejected.error


async def test_js_plain_script_runs_its_event_loop(runner: SandboxRunner) -> None:
    code = "setTimeout(() => console.log('later', inputs.k), 20);\nconsole.log('now');\n"
    result = await runner.run("javascript", code, inputs={"k": 1})
    assert result.ok, result
    assert result.result is None
    assert result.stdout == "now\nlater 1\n"


async def test_js_syntax_error(runner: SandboxRunner) -> None:
    result = await runner.run("javascript", "function main( {")
    assert not result.ok
    assert result.error is not None and "SyntaxError" in result.error


# ----------------------------------------------------------------- refusals


async def test_unknown_language(runner: SandboxRunner) -> None:
    with pytest.raises(UnsupportedLanguage) as caught:
        await runner.run("cobol", "DISPLAY 'HI'.")
    assert caught.value.code == "UNSUPPORTED_LANGUAGE"
    assert "cobol" in caught.value.message


async def test_bad_limits_and_inputs(runner: SandboxRunner) -> None:
    with pytest.raises(ValidationFailed):
        await runner.run("python", "pass", timeout_s=0)
    with pytest.raises(ValidationFailed):
        await runner.run("python", "pass", memory_mb=1)
    with pytest.raises(ValidationFailed):
        await runner.run("python", "pass", inputs={"x": object()})


def _marker_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')\ndef main():\n    return 'ran'\n"


async def test_missing_bwrap_refuses_and_never_runs_the_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran-unsandboxed"
    missing = SandboxRunner(bwrap_path=str(tmp_path / "no-such-bwrap"))
    try:
        assert not missing.available()
        assert missing.unavailable_reason
        with pytest.raises(SandboxUnavailable) as caught:
            await missing.run("python", _marker_code(marker))
        assert caught.value.code == "SANDBOX_UNAVAILABLE"
        assert caught.value.status == 503
        assert "never run outside the sandbox" in caught.value.message
        assert not marker.exists()
    finally:
        missing.close()


async def test_fake_bwrap_that_does_not_isolate_is_refused(tmp_path: Path) -> None:
    """A `bwrap` that ignores its options and just runs the command fails the probe."""
    marker = tmp_path / "ran-unsandboxed"
    fake = tmp_path / "bwrap"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--help" ]; then echo "--unshare-user --disable-userns --size --perms"; '
        "exit 0; fi\n"
        'while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done\n'
        'shift\nexec "$@"\n'
    )
    fake.chmod(0o755)  # noqa: ASYNC240
    tmp_path.chmod(0o755)  # noqa: ASYNC240
    impostor = SandboxRunner(bwrap_path=str(fake))
    try:
        with pytest.raises(SandboxUnavailable) as caught:
            await impostor.run("python", _marker_code(marker))
        assert caught.value.code == "SANDBOX_UNAVAILABLE"
        assert not marker.exists()
    finally:
        impostor.close()


def test_command_line(runner: SandboxRunner) -> None:
    argv = runner.build_run_command("python", result_fd=3, seccomp_fd=4)
    separator = argv.index("--")
    options = argv[:separator]
    joined = " ".join(options)
    for required in (
        "--unshare-all",
        "--unshare-user",
        "--uid 65534",
        "--gid 65534",
        "--cap-drop ALL",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--proc /proc",
        "--dev /dev",
        "--hostname sandbox",
        "--seccomp 4",
    ):
        assert required in joined, required
    assert options[-2:] == ["--remount-ro", "/"]
    assert "--share-net" not in options
    sources = [options[i + 1] for i, arg in enumerate(options) if arg.startswith("--ro-bind")]
    assert "/etc" not in sources
    for source in sources:
        assert not source.startswith(("/home", "/var/lib", str(Path.cwd()))), source
        assert source != "/root"
    assert not any(arg in ("--bind", "--dev-bind") for arg in options)


def test_seccomp_filter_shape() -> None:
    program = build_filter("x86_64")
    assert program is not None and len(program) % 8 == 0
    assert {"mount", "unshare", "ptrace", "setns", "bpf"} <= denied_syscalls("x86_64")
    assert build_filter("aarch64") is not None
    assert build_filter("s390x") is None


def test_support_dir_is_removed_on_close(tmp_path: Path) -> None:
    sandbox = SandboxRunner()
    if not sandbox.available():
        pytest.skip(f"no sandbox: {sandbox.unavailable_reason}")
    support_dir = sandbox.support_dir
    assert support_dir is not None and os.path.isdir(os.path.join(support_dir, "harness"))
    sandbox.close()
    assert not os.path.exists(support_dir)


async def test_support_dir_is_recreated_if_removed() -> None:
    sandbox = SandboxRunner()
    try:
        if not sandbox.available():
            pytest.skip(f"no sandbox: {sandbox.unavailable_reason}")
        first = sandbox.support_dir
        assert first is not None
        shutil.rmtree(first)
        result = await sandbox.run("python", "def main():\n    return 'still here'\n")
        assert result.ok and result.result == "still here"
        assert sandbox.support_dir not in (None, first)
    finally:
        sandbox.close()


def test_stale_support_dirs_of_dead_owners_are_removed() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tempfile.mkdtemp(prefix="tiangong-sandbox-")
    Path(stale, "owner.pid").write_text(f"{dead.pid}\n")
    alive = tempfile.mkdtemp(prefix="tiangong-sandbox-")
    Path(alive, "owner.pid").write_text(f"{os.getpid()}\n")
    sandbox = SandboxRunner()
    try:
        if not sandbox.available():
            pytest.skip(f"no sandbox: {sandbox.unavailable_reason}")
        assert not os.path.exists(stale)
        assert os.path.exists(alive)
    finally:
        sandbox.close()
        shutil.rmtree(alive, ignore_errors=True)
        shutil.rmtree(stale, ignore_errors=True)
