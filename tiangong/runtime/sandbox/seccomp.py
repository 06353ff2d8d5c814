"""A small seccomp deny-list, assembled as classic BPF for `bwrap --seccomp FD`.

Namespaces, the unprivileged uid and the empty capability set already make these calls fail;
the filter is defence in depth. It makes them fail *early and always* (EPERM) and shrinks the
kernel surface user code can reach (io_uring, bpf, perf, keyrings, userfaultfd, the new mount
API). `clone3` answers ENOSYS so that libc falls back to `clone`, whose flags the filter can
inspect: `clone` with any CLONE_NEW* flag is refused.

Only x86_64 and aarch64 have tables; on other machines `build_filter` returns None and the
sandbox runs without the filter (still confined by namespaces and capabilities).
"""

from __future__ import annotations

import errno
import platform
import struct

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
_OFF_NR = 0
_OFF_ARCH = 4
_OFF_ARG0_LO = 16  # little-endian: the low 32 bits of args[0]

_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06

_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000

_AUDIT_ARCH_X86_64 = 0xC000003E
_AUDIT_ARCH_AARCH64 = 0xC00000B7
_X32_SYSCALL_BIT = 0x40000000

# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (not NEWTIME: 0x80
# overlaps the exit-signal byte of clone(2) and is only accepted by clone3/unshare).
CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000
CLONE_NAMESPACE_FLAGS |= 0x10000000 | 0x20000000 | 0x40000000

# Refused with EPERM. Names are for readers and tests; numbers are per architecture.
_DENY_X86_64: dict[str, int] = {
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "unshare": 272,
    "setns": 308,
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "syslog": 103,
    "acct": 163,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "quotactl": 179,
    "uselib": 134,
    "vhangup": 153,
    "iopl": 172,
    "ioperm": 173,
    "lookup_dcookie": 212,
}
_CLONE_X86_64 = 56
_CLONE3_X86_64 = 435

_DENY_AARCH64: dict[str, int] = {
    "mount": 40,
    "umount2": 39,
    "pivot_root": 41,
    "chroot": 51,
    "unshare": 97,
    "setns": 268,
    "ptrace": 117,
    "process_vm_readv": 270,
    "process_vm_writev": 271,
    "kcmp": 272,
    "keyctl": 219,
    "add_key": 217,
    "request_key": 218,
    "bpf": 280,
    "perf_event_open": 241,
    "userfaultfd": 282,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    "open_by_handle_at": 265,
    "name_to_handle_at": 264,
    "kexec_load": 104,
    "kexec_file_load": 294,
    "init_module": 105,
    "finit_module": 273,
    "delete_module": 106,
    "syslog": 116,
    "acct": 89,
    "swapon": 224,
    "swapoff": 225,
    "reboot": 142,
    "quotactl": 60,
    "vhangup": 58,
    "lookup_dcookie": 18,
}
_CLONE_AARCH64 = 220
_CLONE3_AARCH64 = 435


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> tuple[int, int, int, int]:
    return (code, jt, jf, k)


def _assemble(arch: int, deny: dict[str, int], clone: int, clone3: int, x32: bool) -> bytes:
    """Layout: arch check, syscall-number checks, then the shared return blocks."""
    deny_numbers = sorted(set(deny.values()))
    checks: list[tuple[int, int, str]] = []  # (code, k, target label) for conditional jumps
    for number in deny_numbers:
        checks.append((_BPF_JEQ_K, number, "eperm"))
    checks.append((_BPF_JEQ_K, clone3, "enosys"))
    checks.append((_BPF_JEQ_K, clone, "clone"))

    head: list[tuple[int, int, int, int]] = []
    # 0: load arch; 1: if arch matches skip the kill
    head.append(_insn(_BPF_LD_W_ABS, _OFF_ARCH))
    head.append(_insn(_BPF_JEQ_K, arch, jt=1, jf=0))
    head.append(_insn(_BPF_RET_K, _RET_KILL_PROCESS))
    head.append(_insn(_BPF_LD_W_ABS, _OFF_NR))
    if x32:
        head.append(_insn(_BPF_JGE_K, _X32_SYSCALL_BIT, jt=0, jf=1))
        head.append(_insn(_BPF_RET_K, _RET_KILL_PROCESS))

    first_check = len(head)
    after_checks = first_check + len(checks)
    # Tail layout, starting at after_checks:
    #   +0 allow
    #   +1 eperm
    #   +2 enosys
    #   +3 clone: load args[0] low word
    #   +4 jset namespace flags: +5 (eperm) else +6 (allow)
    labels = {
        "allow": after_checks,
        "eperm": after_checks + 1,
        "enosys": after_checks + 2,
        "clone": after_checks + 3,
    }
    program = list(head)
    for index, (code, k, label) in enumerate(checks):
        position = first_check + index
        jump = labels[label] - (position + 1)
        if not 0 <= jump <= 255:
            raise ValueError("seccomp program too long for a short jump")
        program.append(_insn(code, k, jt=jump, jf=0))
    program.append(_insn(_BPF_RET_K, _RET_ALLOW))
    program.append(_insn(_BPF_RET_K, _RET_ERRNO | errno.EPERM))
    program.append(_insn(_BPF_RET_K, _RET_ERRNO | errno.ENOSYS))
    program.append(_insn(_BPF_LD_W_ABS, _OFF_ARG0_LO))
    # Classic BPF only jumps forward: the clone verdicts get their own returns.
    program.append(_insn(_BPF_JSET_K, CLONE_NAMESPACE_FLAGS, jt=0, jf=1))
    program.append(_insn(_BPF_RET_K, _RET_ERRNO | errno.EPERM))
    program.append(_insn(_BPF_RET_K, _RET_ALLOW))
    return b"".join(struct.pack("=HBBI", code, jt, jf, k) for code, jt, jf, k in program)


def denied_syscalls(machine: str | None = None) -> frozenset[str]:
    """The syscall names the filter refuses on this machine (empty if it has no table)."""
    machine = machine or platform.machine()
    if machine in ("x86_64", "amd64"):
        return frozenset(_DENY_X86_64)
    if machine in ("aarch64", "arm64"):
        return frozenset(_DENY_AARCH64)
    return frozenset()


def build_filter(machine: str | None = None) -> bytes | None:
    """The BPF program (an array of struct sock_filter) for this machine, or None."""
    machine = machine or platform.machine()
    if machine in ("x86_64", "amd64"):
        return _assemble(_AUDIT_ARCH_X86_64, _DENY_X86_64, _CLONE_X86_64, _CLONE3_X86_64, x32=True)
    if machine in ("aarch64", "arm64"):
        return _assemble(
            _AUDIT_ARCH_AARCH64, _DENY_AARCH64, _CLONE_AARCH64, _CLONE3_AARCH64, x32=False
        )
    return None
