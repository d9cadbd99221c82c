"""Build steps that pyproject.toml cannot express.

``build_ext`` does four things, in this order:

1. configures and builds the C runtime with CMake (Release, no tests) in the
   build temp directory;
2. copies ``libchild_process.so``, ``libipc_capi.so`` and ``ohncp-spawner``
   into the package as ``ohncp/_lib/`` and the public headers into
   ``ohncp/include/``;
3. builds the cffi extension ``ohncp._ohncp`` (see build_ffi.py) against
   those libraries, with rpath ``$ORIGIN/_lib``;
4. compiles the example child libraries into ``ohncp/_lib``:
   ``libohncp_demo.so`` (``src/ohncp/demo/demo_child.c``),
   ``libohncp_calc.so`` (``examples/ipc_mode/calc_child.c``) and the Python
   child library ``libohncp_pychild.so`` (``src/ohncp/_pychild.c``: not
   linked to libpython, which it dlopens at run time, and built without
   Python's headers, so it serves every Python version; nor linked to the
   runtime, whose header alone it needs).

The backend is chosen with the environment variable ``OHNCP_BACKEND``:

``host`` (default)
    all of the above: the wheel carries its own runtime.
``system``
    steps 1 and 2 build and bundle nothing but the headers; the extension
    and the demo link the ``libchild_process.so`` / ``libipc_capi.so`` of
    the target system, found in ``$OHNCP_SYSTEM_PREFIX/lib`` (or ``lib64``,
    ``lib/<multiarch>``, ``usr/lib``, ``[usr/]lib/<arch>-linux-ohos``) when
    that is set, else on the compiler's
    default library path (a device, or a cross compiler's sysroot). The
    extension gets no rpath to it: on a device the libraries are on the
    dynamic linker's default path (a runtime installed elsewhere, like the
    fake device of ``scripts/test-targets.sh``, needs LD_LIBRARY_PATH).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
RUNTIME_FILES = (
    "libchild_process.so",
    "libipc_capi.so",
    "libhilog_ndk.z.so",
    "libability_runtime.so",
    "libbackground_process_manager.z.so",
    "ohncp-spawner",
)
BACKENDS = ("host", "system")
OHOS_ARCHS = ("aarch64", "arm", "x86_64")


def _backend() -> str:
    backend = os.environ.get("OHNCP_BACKEND", "host") or "host"
    if backend not in BACKENDS:
        sys.exit(f"ohncp: OHNCP_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return backend


def _system_library_dir() -> Path | None:
    """Return the directory of the system's libchild_process.so, if a prefix was given."""
    prefix = os.environ.get("OHNCP_SYSTEM_PREFIX")
    if not prefix:
        return None
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    # The NDK's sysroot keeps each architecture's libraries in usr/lib/<triple>.
    ohos = [f"{top}/{arch}-linux-ohos" for top in ("lib", "usr/lib") for arch in OHOS_ARCHS]
    for sub in ("lib", "lib64", f"lib/{multiarch}", "usr/lib", *ohos):
        candidate = Path(prefix) / sub
        if (candidate / "libchild_process.so").exists():
            return candidate.resolve()
    sys.exit(f"ohncp: no libchild_process.so below OHNCP_SYSTEM_PREFIX={prefix}")


def _cmake() -> str:
    found = shutil.which("cmake")
    if found is None:
        sys.exit("ohncp: cmake not found (it is a build requirement: pip install cmake)")
    return found


def _c_compiler() -> str | None:
    """Return the C compiler this build would use, or None if there is none."""
    configured = os.environ.get("CC") or sysconfig.get_config_var("CC") or ""
    for name in (*configured.split()[:1], "cc", "gcc", "clang"):
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def _cmake_generator() -> list[str]:
    """Return CMake's generator arguments; exit with one sentence if nothing can build."""
    if os.environ.get("CMAKE_GENERATOR") or shutil.which("make"):
        return []
    if shutil.which("ninja"):
        return ["-G", "Ninja"]
    sys.exit(
        "ohncp: building the bundled runtime needs make or ninja, and neither is on PATH "
        "(install one, e.g. 'apt install make' or 'pip install ninja')"
    )


def _check_prerequisites() -> None:
    """Exit with one clear sentence if a tool the build needs is missing."""
    if _c_compiler() is None:
        sys.exit(
            "ohncp: building from source needs a C compiler, and none was found "
            "($CC, Python's configured compiler, cc, gcc and clang are not on PATH; "
            "install one, e.g. 'apt install gcc', or set CC)"
        )
    if _backend() == "host":
        _cmake_generator()


_Segments = tuple[str, bool, list[tuple[int, int, int]], tuple[int, int]]


def _elf_segments(data: bytes | bytearray) -> _Segments:
    """Return (byte order, 64-bit?, PT_LOAD (vaddr, offset, size)s, PT_DYNAMIC (offset, size))."""
    wide = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    if wide:
        (phoff,) = struct.unpack_from(order + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 0x36)
        ph_format, picks = order + "IIQQQQQQ", (0, 2, 3, 5)
    else:
        (phoff,) = struct.unpack_from(order + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 0x2A)
        ph_format, picks = order + "IIIIIIII", (0, 1, 2, 4)
    loads, dynamic = [], (0, 0)
    for i in range(phnum):
        fields = struct.unpack_from(ph_format, data, phoff + i * phentsize)
        p_type, p_offset, p_vaddr, p_filesz = (fields[k] for k in picks)
        if p_type == 1:  # PT_LOAD
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == 2:  # PT_DYNAMIC
            dynamic = (p_offset, p_filesz)
    return order, wide, loads, dynamic


def _runpath_strings(data: bytes | bytearray) -> list[int]:
    """Return the file offsets of the DT_RPATH/DT_RUNPATH strings of an ELF image."""
    order, wide, loads, (dyn_offset, dyn_size) = _elf_segments(data)
    dyn_format = order + ("qQ" if wide else "iI")
    step = struct.calcsize(dyn_format)
    strtab, values = None, []
    for at in range(dyn_offset, dyn_offset + dyn_size, step):
        tag, value = struct.unpack_from(dyn_format, data, at)
        if tag == 0:  # DT_NULL
            break
        if tag == 5:  # DT_STRTAB, a virtual address
            strtab = next(
                offset + value - vaddr
                for vaddr, offset, size in loads
                if vaddr <= value < vaddr + size
            )
        elif tag in (15, 29):  # DT_RPATH, DT_RUNPATH: offsets into the strtab
            values.append(value)
    return [] if strtab is None else [strtab + value for value in values]


def _keep_origin_runpath(path: Path) -> None:
    """Drop every RUNPATH/RPATH entry of ELF file ``path`` but the ``$ORIGIN`` ones.

    CMake pads build-tree rpaths with ':' so that ``cmake --install`` can
    rewrite them in place, and Python's link flags may add their own
    directories. An empty entry makes the dynamic linker search the current
    directory and an absolute one points into a machine's build tree, so in
    the bundle only ``$ORIGIN...`` entries stay. The string is rewritten in
    place (NUL-padded), the same way CMake edits rpaths.
    """
    data = bytearray(path.read_bytes())
    if data[:4] != b"\x7fELF":
        return
    for start in _runpath_strings(data):
        end = data.index(0, start)
        old = bytes(data[start:end]).split(b":")
        new = b":".join(entry for entry in old if entry.startswith(b"$ORIGIN"))
        if not new and end - start >= len(b"$ORIGIN"):
            new = b"$ORIGIN"  # never leave "": that too would mean the cwd
        data[start:end] = new.ljust(end - start, b"\0")
    path.write_bytes(bytes(data))


class BuildRuntimeThenExtension(build_ext):
    """build_ext that first builds and bundles the C runtime."""

    def run(self) -> None:
        """Build the runtime, bundle it, then build the extension and the demo."""
        _check_prerequisites()
        package_dir = Path(self.get_ext_fullpath("ohncp._ohncp")).parent
        system = _backend() == "system"
        lib_dir = _system_library_dir() if system else self._build_runtime()
        self._bundle(None if system else lib_dir, package_dir)
        for ext in self.extensions:
            if lib_dir is not None:
                ext.library_dirs.append(str(lib_dir))
        self._force_if_backend_changed(f"{_backend()} {lib_dir}")
        super().run()
        self._build_demo(package_dir / "_lib", lib_dir)
        self._build_pychild(package_dir / "_lib")
        for path in [
            Path(self.get_ext_fullpath("ohncp._ohncp")),
            *sorted((package_dir / "_lib").iterdir()),
        ]:
            _keep_origin_runpath(path)

    def _force_if_backend_changed(self, config: str) -> None:
        """Rebuild the extension when the backend or its libraries changed.

        setuptools skips an extension whose sources are older than it, and
        an in-tree build keeps the last one: without this, switching
        OHNCP_BACKEND would install an extension linked to the other runtime.
        """
        stamp = Path(self.build_temp) / "ohncp-backend.txt"
        if not stamp.exists() or stamp.read_text(encoding="utf-8") != config:
            self.force = True
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(config, encoding="utf-8")

    def _build_runtime(self) -> Path:
        """Build the runtime with CMake; return the directory holding it."""
        build_dir = Path(self.build_temp).resolve() / "ohncp-runtime"
        try:
            self._cmake(build_dir)
        except subprocess.CalledProcessError:
            # A directory left by another CMake or another (since deleted)
            # isolated build environment: start over once.
            shutil.rmtree(build_dir, ignore_errors=True)
            self._cmake(build_dir)
        return build_dir / "lib"

    @staticmethod
    def _cmake(build_dir: Path) -> None:
        cmake = _cmake()
        subprocess.run(
            [
                cmake,
                *_cmake_generator(),
                "-S",
                str(ROOT),
                "-B",
                str(build_dir),
                "-DCMAKE_BUILD_TYPE=Release",
                "-DOHNCP_BUILD_TESTS=OFF",
                "-DOHNCP_BUILD_EXAMPLES=OFF",
                # A user's newer compiler may warn where ours does not; that
                # must not fail their install (CI builds with -Werror).
                "-DOHNCP_WERROR=OFF",
                # Build-tree rpaths as $ORIGIN, never absolute paths into
                # this (temporary) build directory.
                "-DCMAKE_BUILD_RPATH_USE_ORIGIN=ON",
            ],
            check=True,
        )
        jobs = str(os.cpu_count() or 1)
        subprocess.run([cmake, "--build", str(build_dir), "-j", jobs], check=True)

    def _bundle(self, lib_dir: Path | None, package_dir: Path) -> None:
        """Copy the runtime (unless None) into ohncp/_lib and the headers into ohncp/include."""
        dest = package_dir / "_lib"
        dest.mkdir(parents=True, exist_ok=True)
        for name in RUNTIME_FILES:
            if lib_dir is not None:
                shutil.copy2(lib_dir / name, dest / name)
            else:  # the system backend: never ship a stale runtime
                (dest / name).unlink(missing_ok=True)
        include = package_dir / "include"
        shutil.rmtree(include, ignore_errors=True)
        shutil.copytree(ROOT / "include", include)

    def _build_demo(self, lib_dir: Path, runtime_dir: Path | None) -> None:
        """Compile the bundled example child libraries into ``lib_dir``, linked to the runtime.

        ``libohncp_demo.so`` (args mode, ``python -m ohncp demo``) and
        ``libohncp_calc.so``, the calculator of ``examples/ipc_mode`` (IPC
        mode, ``python -m ohncp demo --ipc`` and ``ohncp.demo.CALC_LIBRARY``).
        """
        calc_dir = ROOT / "examples" / "ipc_mode"
        demo_source = ROOT / "src" / "ohncp" / "demo" / "demo_child.c"
        children = (
            (demo_source, "libohncp_demo.so", ["child_process"]),
            (calc_dir / "calc_child.c", "libohncp_calc.so", ["child_process", "ipc_capi"]),
        )
        for source, name, libraries in children:
            objects = self.compiler.compile(
                [os.path.relpath(source)],
                output_dir=self.build_temp,
                include_dirs=[str(ROOT / "include"), str(calc_dir)],
                extra_postargs=["-fPIC", "-Wall", "-Wextra", "-O2"],
            )
            self.compiler.link_shared_object(
                objects,
                str(lib_dir / name),
                library_dirs=[] if runtime_dir is None else [str(runtime_dir)],
                libraries=libraries,
                extra_postargs=["-Wl,-rpath,$ORIGIN"],
            )

    def _build_pychild(self, lib_dir: Path) -> None:
        """Compile the Python child library into ``lib_dir`` (see _pychild.c)."""
        source = ROOT / "src" / "ohncp" / "_pychild.c"
        objects = self.compiler.compile(
            [os.path.relpath(source)],
            output_dir=self.build_temp,
            include_dirs=[str(ROOT / "include")],
            extra_postargs=["-fPIC", "-Wall", "-Wextra", "-O2"],
        )
        self.compiler.link_shared_object(
            objects, str(lib_dir / "libohncp_pychild.so"), libraries=["dl"]
        )


setup(
    cmdclass={"build_ext": BuildRuntimeThenExtension},
    cffi_modules=["build_ffi.py:ffibuilder"],
    # The extension uses the stable ABI (cffi builds it with Py_LIMITED_API):
    # one wheel serves CPython 3.10 and every later version.
    options={"bdist_wheel": {"py_limited_api": "cp310"}},
)
