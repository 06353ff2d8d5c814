"""Building the bubblewrap command line. Pure functions: nothing here starts a process.

The sandbox's filesystem is a fresh tmpfs root that bwrap assembles, then makes read-only:

- read-only binds of `/usr` (plus `/bin`, `/lib`, ... as symlinks or binds, as on the host),
  the interpreters' install prefixes when they live outside `/usr`, and the runner's support
  directory at `/sandbox` (harness scripts, generated passwd/group/hosts);
- a minimal `/etc`: generated `passwd`, `group`, `hosts`, plus the host's `ld.so.cache`,
  `ld.so.conf(.d)`, `localtime` and `alternatives` when present. Never the whole host `/etc`;
- fresh `/proc` (new PID namespace) and `/dev` (null, zero, random, ...), the `/dev` tmpfs
  made read-only after a small `/dev/shm` is mounted on it;
- size-capped tmpfs at `/work` (the working directory) and `/tmp`;
- `--remount-ro /` last, so the root itself cannot be written or remounted read-write.

The process gets every namespace (`--unshare-all`: user, mount, PID, net, IPC, UTS, cgroup),
uid/gid 65534, no capabilities, no new user namespaces (`--disable-userns`), a new session,
an empty environment plus a minimal one, and optionally a seccomp filter.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

SANDBOX_UID = 65534
SANDBOX_GID = 65534
SANDBOX_USER = "sandbox"
SANDBOX_HOSTNAME = "sandbox"
WORK_DIR = "/work"
SUPPORT_MOUNT = "/sandbox"

# Top-level host directories that may hold libraries or binaries next to /usr.
ROOT_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Host /etc entries worth having (dynamic linker cache, timezone, alternatives symlinks).
HOST_ETC = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
)
# Files the runner generates in its support directory and binds into /etc.
GENERATED_ETC = ("passwd", "group", "hosts", "hostname", "nsswitch.conf")


@dataclass(frozen=True)
class Bind:
    """A read-only bind of host `source` at sandbox `dest`; `optional` skips a missing source."""

    source: str
    dest: str
    optional: bool = False


@dataclass(frozen=True)
class BwrapFeatures:
    """Options that depend on the installed bubblewrap version."""

    disable_userns: bool = True  # 0.8.0+
    tmpfs_size: bool = True  # --size / --perms before --tmpfs: 0.8.0+
    seccomp: bool = True

    @classmethod
    def from_help(cls, help_text: str) -> BwrapFeatures:
        return cls(
            disable_userns="--disable-userns" in help_text,
            tmpfs_size="--size" in help_text and "--perms" in help_text,
            seccomp="--seccomp" in help_text,
        )


@dataclass(frozen=True)
class SandboxSpec:
    """Everything one sandboxed process needs, except the command."""

    bwrap: str
    binds: tuple[Bind, ...] = ()
    symlinks: tuple[tuple[str, str], ...] = ()  # (link target, sandbox path)
    env: Mapping[str, str] = field(default_factory=dict)
    features: BwrapFeatures = field(default_factory=BwrapFeatures)
    tmpfs_bytes: int = 32 * 1024 * 1024
    shm_bytes: int = 8 * 1024 * 1024
    seccomp_fd: int | None = None


def root_layout(host_root: str = "/") -> tuple[list[Bind], list[tuple[str, str]]]:
    """/usr and the top-level library/binary dirs, mirrored from the host.

    A merged-/usr host (`/lib -> usr/lib`) gets the same symlinks; a split one gets read-only
    binds of the real directories.
    """
    binds = [Bind("/usr", "/usr")]
    symlinks: list[tuple[str, str]] = []
    for name in ROOT_DIRS:
        path = os.path.join(host_root, name)
        if os.path.islink(path):
            symlinks.append((os.readlink(path), "/" + name))
        elif os.path.isdir(path):
            binds.append(Bind(path, "/" + name))
    return binds, symlinks


def etc_binds(support_dir: str) -> list[Bind]:
    generated = [Bind(os.path.join(support_dir, "etc", n), "/etc/" + n) for n in GENERATED_ETC]
    host = [Bind(path, path, optional=True) for path in HOST_ETC]
    return generated + host


def _ro_bind(bind: Bind) -> list[str]:
    return ["--ro-bind-try" if bind.optional else "--ro-bind", bind.source, bind.dest]


def build_command(spec: SandboxSpec, command: Sequence[str]) -> list[str]:
    """The full argv: `bwrap <options> -- <command...>`."""
    argv: list[str] = [spec.bwrap]
    # Namespaces and identity. As root, --unshare-all alone is not enough: the explicit user
    # namespace with an unprivileged uid, no capabilities and the final --remount-ro / are
    # what keep the code from remounting binds read-write.
    argv += ["--unshare-all", "--unshare-user"]
    if spec.features.disable_userns:
        argv += ["--disable-userns"]
    argv += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
    argv += ["--cap-drop", "ALL", "--die-with-parent", "--new-session"]
    # No bwrap reaper as PID 1: the command (the harness) is the init itself. A reaper would be
    # a dumpable process of the same uid, outside the seccomp filter, that user code could
    # ptrace or patch through /proc/1/mem.
    argv += ["--as-pid-1"]
    argv += ["--hostname", SANDBOX_HOSTNAME]
    argv += ["--clearenv"]
    for key, value in spec.env.items():
        argv += ["--setenv", key, value]
    # Filesystem.
    for bind in spec.binds:
        argv += _ro_bind(bind)
    for target, dest in spec.symlinks:
        argv += ["--symlink", target, dest]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += _tmpfs(spec, "/dev/shm", spec.shm_bytes, "1777")  # noqa: S108 - sandbox path
    argv += _tmpfs(spec, "/tmp", spec.tmpfs_bytes, "1777")  # noqa: S108 - sandbox path
    argv += _tmpfs(spec, WORK_DIR, spec.tmpfs_bytes, "0700")
    argv += ["--chdir", WORK_DIR]
    if spec.seccomp_fd is not None and spec.features.seccomp:
        argv += ["--seccomp", str(spec.seccomp_fd)]
    argv += ["--remount-ro", "/dev", "--remount-ro", "/"]
    argv += ["--", *command]
    return argv


def _tmpfs(spec: SandboxSpec, dest: str, size: int, perms: str) -> list[str]:
    if spec.features.tmpfs_size:
        return ["--size", str(size), "--perms", perms, "--tmpfs", dest]
    return ["--tmpfs", dest]


def interpreter_prefix(executable: str) -> str:
    """The install prefix of an interpreter binary: `<prefix>/bin/<exe>` -> `<prefix>`."""
    return os.path.dirname(os.path.dirname(os.path.realpath(executable)))


def needs_bind(prefix: str, already: Iterable[str] = ("/usr",)) -> bool:
    """Whether `prefix` is outside the directories the sandbox already sees."""
    real = os.path.realpath(prefix)
    return not any(real == base or real.startswith(base.rstrip("/") + "/") for base in already)
