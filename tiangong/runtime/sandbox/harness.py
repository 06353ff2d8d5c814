"""The code that runs first inside the sandbox, as source text.

The runner writes these into its read-only support directory, which the sandbox sees at
`/sandbox`. They are never imported on the host.

Flow inside the sandbox, for both languages:

1. bwrap starts `python -I -S -B -X utf8 /sandbox/harness.py '<config JSON>'`.
2. The harness lowers its rlimits (CPU, address space, data, processes, file size, open files,
   core). It does this *inside* the new user namespace on purpose: RLIMIT_NPROC is counted per
   user and user namespace, so set here it bounds only this sandbox's processes.
3. It is PID 1 (`--as-pid-1`: no bwrap reaper, which user code could ptrace or patch through
   /proc/1/mem). It makes itself undumpable, forks, and stays behind as the init: it reaps and
   exits with the child's status, which tears down the PID namespace and everything left in it.
4. In the child, JavaScript `exec`s Node with `/sandbox/harness.js`; the limits carry over.
5. The harness reads one JSON envelope `{"code": ..., "inputs": {...}}` from stdin, points
   stdin at /dev/null, runs the code, and writes one JSON line `{"ok": true, "result": ...}` or
   `{"ok": false, "error": "..."}` to the result pipe whose fd number is in the config. User
   output goes to stdout/stderr, so nothing the code prints can pass for the result.

Protocol for user code:

- Python: define `def main(**inputs)` (it may be `async def`); it is called with the inputs as
  keyword arguments and its return value must be JSON-serialisable (NaN and Infinity are not).
  Code without a callable `main` runs as a plain script: the result is null, and the inputs
  are also available as the global `inputs`. The code runs as module `__main__`, with the
  standard library only: the interpreter starts with `-I -S` (no site-packages, no `.pth`
  hooks, no PYTHON* variables).
- JavaScript (CommonJS, Node): export `main` (`module.exports = main`, or
  `module.exports.main = main`) or just define a top-level `function main(inputs)`; it gets
  the inputs as one object and may be async. Without `main` the script runs and the result is
  null once the event loop is empty; `inputs` is also a global there.
"""

from __future__ import annotations

PYTHON_HARNESS = r"""
import json
import linecache
import os
import resource
import sys
import traceback

HARNESS = __file__
config = json.loads(sys.argv[1])

limits = config["limits"]
for name, (soft, hard) in limits.items():
    resource.setrlimit(getattr(resource, name), (soft, hard))



def become_init():
    # Stay behind as the sandbox's PID 1 (bwrap runs with --as-pid-1) and run the user's code
    # in a child. PID 1 is made undumpable first, so that code cannot ptrace it or reach its
    # memory through /proc/1/mem; it reaps orphans and exits, ending the PID namespace and
    # every process in it, as soon as its child does. Returns only in the child.
    import _ctypes  # the bare extension: `import ctypes` costs milliseconds per run
    import signal

    class c_int(_ctypes._SimpleCData):
        _type_ = "i"

    class Function(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL
        _restype_ = c_int

    prctl = Function(_ctypes.dlsym(_ctypes.dlopen(None), "prctl"))
    PR_SET_DUMPABLE = 4
    if prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        os._exit(125)
    child = os.fork()
    if child == 0:
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        return
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1,
                   signal.SIGUSR2, signal.SIGPIPE, signal.SIGALRM):
        signal.signal(number, signal.SIG_IGN)
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)


if os.getpid() == 1:
    become_init()

if config["language"] == "javascript":
    node = config["node"]
    os.execv(node, [node, *config["node_args"], "/sandbox/harness.js", sys.argv[1]])

result_fd = config["result_fd"]
os.set_inheritable(result_fd, False)


def send(payload):
    data = (json.dumps(payload, ensure_ascii=False, allow_nan=False) + "\n").encode()
    view = memoryview(data)
    while view:
        written = os.write(result_fd, view)
        view = view[written:]


def user_traceback(exc):
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == HARNESS:
        tb = tb.tb_next
    try:
        text = "".join(traceback.format_exception(type(exc), exc, tb))
    except BaseException:
        text = f"{type(exc).__name__}: {exc}"
    limit = config["max_error_chars"]
    return text if len(text) <= limit else "...\n" + text[-limit:]


def finish(payload, code):
    try:
        send(payload)
    except (TypeError, ValueError) as exc:
        send({"ok": False, "error": f"TypeError: the result is not JSON-serialisable: {exc}"})
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    os._exit(code)


envelope = json.loads(sys.stdin.buffer.read().decode("utf-8"))
devnull = os.open("/dev/null", os.O_RDONLY)
os.dup2(devnull, 0)
os.close(devnull)

source = envelope["code"]
inputs = envelope.get("inputs") or {}
FILENAME = "<user_code>"
linecache.cache[FILENAME] = (len(source), None, source.splitlines(True), FILENAME)
namespace = {"__name__": "__main__", "__file__": FILENAME, "__builtins__": __builtins__}
namespace["inputs"] = inputs
sys.argv = [FILENAME]
sys.path[:] = [p for p in sys.path if p and p != "/sandbox"]
del envelope


def exit_status(exc):
    code = exc.code
    if code is None or code == 0:
        return None
    return f"SystemExit: {code}"


try:
    compiled = compile(source, FILENAME, "exec")
    exec(compiled, namespace)
    main = namespace.get("main")
    result = None
    if callable(main):
        result = main(**inputs)
        if hasattr(result, "__await__"):
            import asyncio

            async def _await(awaitable):
                return await awaitable

            result = asyncio.run(_await(result))
except SystemExit as exc:
    problem = exit_status(exc)
    if problem is None:
        finish({"ok": True, "result": None}, 0)
    finish({"ok": False, "error": problem}, 1)
except BaseException as exc:
    finish({"ok": False, "error": user_traceback(exc)}, 1)
finish({"ok": True, "result": result}, 0)
"""

JS_HARNESS = r"""
'use strict';
const fs = require('fs');
const vm = require('vm');
const Module = require('module');

const config = JSON.parse(process.argv[2]);
const resultFd = config.result_fd;
const maxErrorChars = config.max_error_chars;
let finished = false;

function send(payload) {
  const data = Buffer.from(JSON.stringify(payload) + '\n', 'utf8');
  let offset = 0;
  while (offset < data.length) {
    offset += fs.writeSync(resultFd, data, offset, data.length - offset);
  }
}

function describe(err) {
  let text;
  if (err && typeof err === 'object' && typeof err.stack === 'string') {
    text = err.stack
      .split('\n')
      .filter((line) => !line.includes('/sandbox/harness.js') && !line.includes('node:internal'))
      .join('\n');
  } else {
    text = 'Uncaught ' + String(err);
  }
  return text.length <= maxErrorChars ? text : '...\n' + text.slice(-maxErrorChars);
}

function finish(payload, code) {
  if (finished) return;
  finished = true;
  try {
    if (payload.ok) {
      const json = JSON.stringify(payload.result);
      payload = { ok: true, result: json === undefined ? null : JSON.parse(json) };
    }
    send(payload);
  } catch (err) {
    send({ ok: false, error: 'TypeError: the result is not JSON-serialisable: ' + err.message });
    code = 1;
  }
  process.exit(code);
}

process.on('uncaughtException', (err) => finish({ ok: false, error: describe(err) }, 1));

const envelope = JSON.parse(fs.readFileSync(0, 'utf8'));
const inputs = envelope.inputs || {};
const filename = '/work/user_code.js';
const userModule = new Module(filename, null);
userModule.filename = filename;
userModule.paths = Module._nodeModulePaths('/work');
const userRequire = (id) => userModule.require(id);
userRequire.resolve = (request) => Module._resolveFilename(request, userModule);
globalThis.inputs = inputs;

const params = ['exports', 'require', 'module', '__filename', '__dirname'];
const body = envelope.code + '\n;return typeof main === "function" ? main : undefined;\n';

let main;
try {
  const fn = vm.compileFunction(body, params, { filename: filename });
  const declared = fn.call(
    userModule.exports, userModule.exports, userRequire, userModule, filename, '/work'
  );
  const exported = userModule.exports;
  if (typeof exported === 'function') main = exported;
  else if (exported && typeof exported.main === 'function') main = exported.main;
  else main = declared;
} catch (err) {
  finish({ ok: false, error: describe(err) }, 1);
}

if (!finished) {
  if (typeof main === 'function') {
    Promise.resolve()
      .then(() => main(inputs))
      .then(
        (value) => finish({ ok: true, result: value }, 0),
        (err) => finish({ ok: false, error: describe(err) }, 1)
      );
  } else {
    process.on('beforeExit', () => finish({ ok: true, result: null }, 0));
  }
}
"""
