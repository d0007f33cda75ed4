"""The in-sandbox half of the Linux sandbox: restrict this process, then exec the command.

Run as ``python -I -S seccomp_exec.py [--net on|off] [--landlock] [--write PATH]... -- CMD ARGS...``
(inside bubblewrap, or on its own for the Landlock fallback). It sets ``no_new_privs``,
optionally applies a Landlock ruleset that allows writes only beneath the ``--write`` paths,
installs a seccomp filter that denies network sockets (unless ``--net on``) and ``AF_VSOCK``
always, and then execs the command. If any step fails the command is **not** run: the helper
exits 1 (``sandbox: ...`` on stderr), so a sandbox that cannot be built never degrades into
an unsandboxed run.

Owns: the BPF program, the Landlock ruleset, and the exec. Stdlib and ctypes only, and it
imports nothing from this project: it runs as a standalone script with ``-S`` (no site, fast).
The assembler (``Insn``, ``assemble``, ``install_filter``) is importable for tests.
Layer: core (imports nothing of this project beyond its own package).
"""

import ctypes
import errno
import os
import stat
import struct
import sys

# ---------------------------------------------------------------------- kernel constants

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000

BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_JSET_K = 0x45
BPF_RET_K = 0x06

#: Offsets into ``struct seccomp_data``: nr (s32), arch (u32), ip (u64), args[6] (u64 each).
OFF_NR = 0
OFF_ARCH = 4
OFF_ARG0 = 16

AF_UNIX = 1
AF_VSOCK = 40

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
#: Syscall numbers per architecture (x86_64 / aarch64 generic table).
SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "socket": 41,
        "socketpair": 53,
        "clone": 56,
        "unshare": 272,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "clone3": 435,
        "landlock_create_ruleset": 444,
        "landlock_add_rule": 445,
        "landlock_restrict_self": 446,
    },
    "aarch64": {
        "socket": 198,
        "socketpair": 199,
        "clone": 220,
        "unshare": 97,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "clone3": 435,
        "landlock_create_ruleset": 444,
        "landlock_add_rule": 445,
        "landlock_restrict_self": 446,
    },
}
#: x86_64 x32-ABI syscalls carry this bit; they would bypass a filter written for the 64-bit
#: numbers, so the filter refuses them outright.
X32_SYSCALL_BIT = 0x40000000

# Landlock filesystem access rights (include/uapi/linux/landlock.h).
LL_EXECUTE = 1 << 0
LL_WRITE_FILE = 1 << 1
LL_READ_FILE = 1 << 2
LL_READ_DIR = 1 << 3
LL_REMOVE_DIR = 1 << 4
LL_REMOVE_FILE = 1 << 5
LL_MAKE_CHAR = 1 << 6
LL_MAKE_DIR = 1 << 7
LL_MAKE_REG = 1 << 8
LL_MAKE_SOCK = 1 << 9
LL_MAKE_FIFO = 1 << 10
LL_MAKE_BLOCK = 1 << 11
LL_MAKE_SYM = 1 << 12
LL_REFER = 1 << 13
LL_TRUNCATE = 1 << 14
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1


def machine() -> str:
    return os.uname().machine


# ---------------------------------------------------------------------- BPF assembler


class Insn:
    """One BPF instruction; ``jt``/``jf`` are label names (or None: fall through).

    A plain class, not a dataclass: importing ``dataclasses`` would double this helper's
    start-up time, which every sandboxed command pays.
    """

    __slots__ = ("code", "jf", "jt", "k", "label")

    def __init__(
        self, code: int, k: int = 0, *, jt: str | None = None, jf: str | None = None, label: str | None = None
    ) -> None:
        self.code = code
        self.k = k
        self.jt = jt
        self.jf = jf
        self.label = label


def assemble(program: list[Insn]) -> bytes:
    """Resolve labels to relative offsets and pack ``struct sock_filter`` entries."""
    where = {insn.label: index for index, insn in enumerate(program) if insn.label}
    out = bytearray()
    for index, insn in enumerate(program):

        def offset(name: str | None, index: int = index) -> int:
            if name is None:
                return 0
            distance = where[name] - (index + 1)
            if not 0 <= distance < 256:
                raise ValueError(f"BPF jump to {name} out of range")
            return distance

        out += struct.pack("<HBBI", insn.code, offset(insn.jt), offset(insn.jf), insn.k & 0xFFFFFFFF)
    return bytes(out)


def network_filter(arch: str, *, network: bool) -> bytes:
    """The filter applied to every sandboxed command.

    ``socket()`` may create only ``AF_UNIX`` sockets when network is off, and never
    ``AF_VSOCK`` (a path out of a VM/namespace that no sandboxed command needs); io_uring is
    refused when network is off because its socket opcodes bypass the ``socket()`` check.
    Denials are ``EPERM``, as the reference reports them.
    """
    numbers = SYSCALLS[arch]
    program = [
        Insn(BPF_LD_W_ABS, OFF_ARCH),
        Insn(BPF_JEQ_K, AUDIT_ARCH[arch], jf="kill"),
        Insn(BPF_LD_W_ABS, OFF_NR),
    ]
    if arch == "x86_64":
        program.append(Insn(BPF_JGE_K, X32_SYSCALL_BIT, jt="deny"))
    if not network:
        for name in ("io_uring_setup", "io_uring_enter", "io_uring_register"):
            program.append(Insn(BPF_JEQ_K, numbers[name], jt="deny"))
    program += [
        Insn(BPF_JEQ_K, numbers["socket"], jt="socket"),
        Insn(BPF_RET_K, SECCOMP_RET_ALLOW),
        Insn(BPF_LD_W_ABS, OFF_ARG0, label="socket"),
        Insn(BPF_JEQ_K, AF_VSOCK, jt="deny"),
    ]
    if not network:
        program.append(Insn(BPF_JEQ_K, AF_UNIX, jt="allow", jf="deny"))
    program += [
        Insn(BPF_RET_K, SECCOMP_RET_ALLOW, label="allow"),
        Insn(BPF_RET_K, SECCOMP_RET_ERRNO | errno.EPERM, label="deny"),
        Insn(BPF_RET_K, SECCOMP_RET_KILL_PROCESS, label="kill"),
    ]
    return assemble(program)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def set_no_new_privs() -> None:
    libc = _libc()
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def install_filter(program: bytes) -> None:
    """Install an assembled BPF program for this process (and everything it execs)."""
    set_no_new_privs()
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p).value)
    libc = _libc()
    _check(
        libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
        "prctl(PR_SET_SECCOMP)",
    )


# ---------------------------------------------------------------------- Landlock


def _syscall(number: int, *args: object) -> int:
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    return int(libc.syscall(ctypes.c_long(number), *args))


def landlock_abi(arch: str) -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is missing or disabled."""
    result = _syscall(
        SYSCALLS[arch]["landlock_create_ruleset"],
        None,
        ctypes.c_size_t(0),
        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION),
    )
    return max(result, 0)


def apply_landlock(arch: str, writable: list[str]) -> None:
    """Allow writes only beneath ``writable``; reads and execution stay unrestricted."""
    abi = landlock_abi(arch)
    if abi < 1:
        raise OSError(errno.ENOSYS, "Landlock is not available in this kernel")
    numbers = SYSCALLS[arch]
    handled = (
        LL_WRITE_FILE
        | LL_REMOVE_DIR
        | LL_REMOVE_FILE
        | LL_MAKE_CHAR
        | LL_MAKE_DIR
        | LL_MAKE_REG
        | LL_MAKE_SOCK
        | LL_MAKE_FIFO
        | LL_MAKE_BLOCK
        | LL_MAKE_SYM
    )
    if abi >= 2:
        handled |= LL_REFER
    if abi >= 3:
        handled |= LL_TRUNCATE
    file_rights = handled & (LL_WRITE_FILE | LL_TRUNCATE)
    attr = ctypes.create_string_buffer(struct.pack("<Q", handled), 8)
    ruleset = _check(
        _syscall(numbers["landlock_create_ruleset"], attr, ctypes.c_size_t(8), ctypes.c_uint32(0)),
        "landlock_create_ruleset",
    )
    try:
        # Character devices every shell writes to: redirects to /dev/null, the terminal.
        for path in [*writable, "/dev/null", "/dev/zero", "/dev/tty", "/dev/pts", "/dev/ptmx"]:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
                rights = handled if is_dir and path in writable else file_rights
                rule = ctypes.create_string_buffer(struct.pack("<Qi", rights, fd), 12)
                _check(
                    _syscall(
                        numbers["landlock_add_rule"],
                        ctypes.c_int(ruleset),
                        ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
                        rule,
                        ctypes.c_uint32(0),
                    ),
                    f"landlock_add_rule({path})",
                )
            finally:
                os.close(fd)
        set_no_new_privs()
        _check(
            _syscall(numbers["landlock_restrict_self"], ctypes.c_int(ruleset), ctypes.c_uint32(0)),
            "landlock_restrict_self",
        )
    finally:
        os.close(ruleset)


# ---------------------------------------------------------------------- entry point


def _fail(message: str, code: int = 1) -> None:
    sys.stderr.write(f"sandbox: {message}\n")
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str]) -> None:
    network = False
    landlock = False
    probe_landlock = False
    writable: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            index += 1
            break
        if arg == "--net":
            network = argv[index + 1] == "on"
            index += 2
        elif arg == "--landlock":
            landlock = True
            index += 1
        elif arg == "--landlock-abi":
            probe_landlock = True
            index += 1
        elif arg == "--write":
            writable.append(argv[index + 1])
            index += 2
        else:
            _fail(f"unknown option {arg!r}", 2)
    arch = machine()
    if arch not in SYSCALLS:
        _fail(f"no seccomp filter for the {arch} architecture; supported: {', '.join(SYSCALLS)}")
    if probe_landlock:
        print(landlock_abi(arch))
        return
    command = argv[index:]
    if not command:
        _fail("no command given after --", 2)
    try:
        if landlock:
            apply_landlock(arch, writable)
        install_filter(network_filter(arch, network=network))
    except OSError as exc:
        _fail(f"cannot restrict the command, so it was not run: {exc}")
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        # As a shell reports it: 127 for a missing program, 126 for one that cannot run.
        code = 127 if exc.errno == errno.ENOENT else 126
        _fail(f"{command[0]}: {exc.strerror}", code)


if __name__ == "__main__":
    main(sys.argv[1:])
