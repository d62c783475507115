"""Kernels compiled ahead of time for x86-64 CPU levels, shipped with the package.

Numba compiles a kernel on its first call: a new user's first ``cost_grad`` would wait
12-32 s. So the package carries, for each x86-64 micro-architecture level (``x86-64-v3``: AVX2
and FMA; ``x86-64-v4``: AVX-512), ``<level>.tar.xz`` in this folder: Numba's cache entries of every
kernel Python calls (those :mod:`fastnn.kernels` exports), on every path :func:`fastnn.warmup`
runs, compiled for that level (``NUMBA_CPU_NAME=<level>``: code for any CPU of the level, not
for the machine that built it).

A kernel is looked up in Numba's own cache, then in the archive, and compiled last. An entry
found in the archive is saved into Numba's cache, so the next process loads it from there. An
archive is used only where all of this holds, and ignored otherwise (the kernels compile):

- the Numba version, Python ABI and target triple that built it;
- the same kernel sources: a hash of ``kernels/``, ``_jit.py``, ``_isa.py`` and ``tunables.py``
  (Numba's cache notices an edit to a function's own file, not to its callees in other files);
- every CPU feature of the level on this host, and fastnn's vectors at the level's width
  (``FASTNN_VECTOR_BYTES=32`` on an AVX-512 host takes the ``x86-64-v3`` archive).

Saves into Numba's cache are locked (a file lock per function): Numba names a new entry's file
by counting its index's entries, so two processes saving at once (``warmup()``'s, a user's pool)
could take one name, leaving an index that points a signature at another's code.

``FASTNN_PRECOMPILED=0`` turns the archives off. After editing a kernel, rebuild them with
``python -m fastnn._precompiled`` (each level this CPU can run; ``tests/test_precompiled.py``
fails while an archive does not match the sources).
"""

import functools
import hashlib
import io
import json
import lzma
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numba
from llvmlite import binding
from numba.core.caching import FunctionCache, IndexDataCacheFile

try:
    import fcntl
except ImportError:  # not POSIX: Numba's own unlocked saves
    fcntl = None

from .. import _isa

ENVIRONMENT = "FASTNN_PRECOMPILED"
FOLDER = Path(__file__).parent  # <level>.tar.xz
_V3 = ("cmov", "cx8", "fxsr", "sse2", "cx16", "sahf", "popcnt", "sse3", "ssse3", "sse4.1",
       "sse4.2", "avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave")
LEVELS = {  # level: (fastnn's vector bytes there, the LLVM CPU features the level implies)
    "x86-64-v4": (64, _V3 + ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")),
    "x86-64-v3": (32, _V3),
}


def sources_hash():
    """A hash of every source file the kernels are compiled from."""
    root = Path(__file__).parents[1]
    digest = hashlib.sha256()
    others = [root / name for name in ("_jit.py", "_isa.py", "tunables.py")]
    for path in sorted((root / "kernels").glob("*.py")) + others:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _python_tag():
    return sys.implementation.cache_tag + sys.abiflags


def applies(manifest, host_features=None, vector_bytes=None):
    """Whether an archive's manifest fits this process (see the module's list)."""
    host = binding.get_host_cpu_features() if host_features is None else host_features
    width, features = LEVELS.get(manifest.get("level"), (None, ("?",)))
    return (manifest.get("numba") == numba.__version__
            and manifest.get("python") == _python_tag()
            and manifest.get("magic", [None])[0] == binding.get_process_triple()
            and manifest.get("sources") == sources_hash()
            and width == (_isa.VECTOR_BYTES if vector_bytes is None else vector_bytes)
            and all(host.get(feature) for feature in features))


class Archive:
    """One level's cache entries, ``{file name: bytes}``, and the manifest that fits here."""

    def __init__(self, manifest, files):
        self.manifest, self.files = manifest, files

    def magic_tuple(self):
        """The codegen's key of the entries (what Numba's cache keys them with)."""
        return tuple(self.manifest["magic"])

    def load(self, index_name, key):
        """The entry of ``key`` in a function's index, or None. The index is Numba's: its
        Numba version, then (source stamp, {key: data file}); the manifest already vouched
        for the version and the sources."""
        index = self.files.get(index_name)
        if index is None:
            return None
        stream = io.BytesIO(index)
        pickle.load(stream)  # the Numba version
        name = pickle.loads(stream.read())[1].get(key)
        return None if name is None else pickle.loads(self.files[name])


@functools.cache
def fitting_path():
    """The archive file that fits this process (its manifest read, the rest not), or None."""
    if os.environ.get(ENVIRONMENT, "1") == "0":
        return None
    for path in sorted(FOLDER.glob("*.tar.xz")):
        with tarfile.open(path, "r:xz") as tar:  # the manifest is the first member: only
            if applies(json.load(tar.extractfile(tar.next()))):  # it is decompressed
                return path
    return None


@functools.cache
def archive():
    """The archive that fits this process, read whole (0.3 s), or None."""
    if fitting_path() is None:
        return None
    with tarfile.open(fitting_path(), "r:xz") as tar:
        files = {member.name: tar.extractfile(member).read() for member in tar if member.isfile()}
    return Archive(json.loads(files.pop("manifest.json")), files)


class _LockedIndex(IndexDataCacheFile):
    """Numba's index and data files of one function, saved under an exclusive file lock."""

    def save(self, key, data):
        with open(self._index_path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            super().save(key, data)


class _CacheThenArchive(FunctionCache):
    """Numba's cache of one function (saved under a lock), then the archive where one fits;
    what the archive gives is saved."""

    def __init__(self, py_func):
        super().__init__(py_func)
        if fcntl is not None:
            self._cache_file = _LockedIndex(self._cache_path, self._impl.filename_base,
                                            self._impl.locator.get_source_stamp())

    def _load_overload(self, sig, target_context):
        found = super()._load_overload(sig, target_context)
        shipped = archive() if found is None and self._enabled else None
        if shipped is None:
            return found
        data = shipped.load(self._cache_file._index_name,
                            self._index_key(sig, shipped))  # keyed as the level's codegen
        if data is None:
            return None
        self._impl.locator.ensure_cache_path()  # saved as loaded (a loaded library cannot
        self._cache_file.save(self._index_key(sig, target_context.codegen()), data)  # reduce)
        return self._impl.rebuild(target_context, data)


def backed_by_archive(dispatcher):
    """The dispatcher (cached by Numba) with its cache saved under a lock and looking in the
    archive, where one fits, before it compiles (a Numba without the private cache API it
    relies on, or NUMBA_DISABLE_JIT, keeps its own)."""
    if hasattr(dispatcher, "_cache") and hasattr(IndexDataCacheFile, "_save_index"):
        dispatcher._cache = _CacheThenArchive(dispatcher.py_func)
    return dispatcher


def build(folder=FOLDER):
    """Build the archive of each level this CPU can run, each in a fresh process and cache;
    remove the others' (they would be stale)."""
    host = binding.get_host_cpu_features()
    for level, (width, features) in LEVELS.items():
        if not all(host.get(feature) for feature in features):
            (folder / f"{level}.tar.xz").unlink(missing_ok=True)  # never ship a stale one
            print(f"{level}: not built, this CPU cannot run it (its archive removed, if any)")
            continue
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CPU_NAME=level, NUMBA_CPU_FEATURES="",
                       NUMBA_CACHE_DIR=cache, FASTNN_VECTOR_BYTES=str(width),
                       **{ENVIRONMENT: "0"})
            target = str(folder / f"{level}.tar.xz")
            subprocess.run([sys.executable, "-c", "import sys; from fastnn._precompiled import "
                            "harvest; harvest(*sys.argv[1:])", level, target], env=env, check=True)


def harvest(level, target):
    """Run every path (:func:`fastnn.warmup`), then pack the cache entries of the kernels
    Python calls into target, the manifest first."""
    from numba.core.registry import cpu_target

    from .. import kernels
    from .._warmup import warmup
    warmup(progress=lambda line: print(f"{level}: {line}", flush=True))
    files = {}
    for name in kernels.__all__:
        exported = getattr(kernels, name)
        cache = getattr(getattr(exported, "dispatcher", exported), "_cache", None)
        if cache is None or not os.path.exists(cache._cache_file._index_path):
            continue
        files[os.path.basename(cache._cache_file._index_path)] = Path(
            cache._cache_file._index_path).read_bytes()
        for data_name in cache._cache_file._load_index().values():
            files[data_name] = Path(cache._cache_file._data_path(data_name)).read_bytes()
    manifest = {"level": level, "numba": numba.__version__, "python": _python_tag(),
                "magic": list(cpu_target.target_context.codegen().magic_tuple()),
                "sources": sources_hash()}
    with tarfile.open(target, "w:xz", preset=9 | lzma.PRESET_EXTREME) as tar:
        for name, data in [("manifest.json", json.dumps(manifest, indent=1).encode())] + sorted(
                files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    print(f"{level}: {len(files)} files, {os.path.getsize(target) / 1e6:.1f} MB -> {target}")

