"""The kernels shipped precompiled per CPU level (fastnn._precompiled): they match the sources,
a fresh Numba cache loads them instead of compiling and gets the reference's answers, and an
archive that does not fit the process is never used."""

import json
import subprocess
import sys
import tarfile

import pytest

from conftest import subprocess_env
from fastnn import _isa, _precompiled

ARCHIVES = sorted(_precompiled.FOLDER.glob("*.tar.xz"))


def manifest_of(path):
    with tarfile.open(path, "r:xz") as tar:
        return json.load(tar.extractfile("manifest.json"))


def test_every_archive_matches_the_kernel_sources():
    """An archive of older sources would never load: rebuild with
    ``python -m fastnn._precompiled`` after editing a kernel."""
    levels = {path.name.removesuffix(".tar.xz") for path in ARCHIVES}
    assert levels and levels <= set(_precompiled.LEVELS)
    for path in ARCHIVES:
        manifest = manifest_of(path)
        assert manifest["sources"] == _precompiled.sources_hash(), path.name
        assert manifest["level"] == path.name.removesuffix(".tar.xz")
        assert manifest["magic"][1] == manifest["level"]  # compiled for the level, not a CPU


def test_this_host_gets_the_archive_of_its_level():
    level = "x86-64-v4" if _isa.VECTOR_BYTES == 64 else "x86-64-v3"
    assert _precompiled.archive() is not None
    assert _precompiled.archive().manifest["level"] == level


@pytest.mark.parametrize("change", [
    {"numba": "0.0.1"}, {"python": "cpython-399"}, {"sources": "0" * 64},
    {"magic": ["aarch64-unknown-linux-gnu", "x86-64-v4", ""]}, {"level": "x86-64-v5"}])
def test_an_archive_that_does_not_fit_is_not_used(change):
    manifest = {**manifest_of(ARCHIVES[0]), **change}
    assert not _precompiled.applies(manifest)


def test_a_level_needs_every_feature_and_the_vector_width_of_its_level():
    manifest = manifest_of(ARCHIVES[0])
    width, features = _precompiled.LEVELS[manifest["level"]]
    every = dict.fromkeys(features, True)
    assert _precompiled.applies(manifest, every, width)
    assert not _precompiled.applies(manifest, every, width // 2)  # e.g. FASTNN_VECTOR_BYTES
    for feature in every:
        assert not _precompiled.applies(manifest, {**every, feature: False}, width), feature


FIRST_CALLS = """
import numpy as np, fastnn
from fastnn import reference
from numba.core import event
recorder = event.RecordingListener()
event.register("numba:compile", recorder)
X, y = fastnn.load_digits()
layers = (400, 25, 10)
p = fastnn.init_params(layers, 0)
J, grad = fastnn.cost_grad(p, layers, X, y, 1.0)
J32 = fastnn.Objective(layers, X, y, 1.0, dtype=np.float32)(p)[0]
labels = fastnn.predict(p, layers, X)
J_ref, grad_ref = reference.cost_grad(p, layers, X, y, 1.0)
print(sum(1 for _, ev in recorder.buffer if ev.is_start))
print(abs(J - J_ref) / J_ref, np.linalg.norm(grad - grad_ref) / np.linalg.norm(grad_ref),
      abs(J32 - J_ref) / J_ref, np.mean(labels == reference.predict(p, layers, X)))
"""


@pytest.mark.jit
@pytest.mark.parametrize("vector_bytes", sorted({32, _isa.VECTOR_BYTES}))
def test_a_fresh_cache_loads_the_archive_and_keeps_what_it_loads(tmp_path, vector_bytes):
    """The first cost_grad, float32 Objective and predict in a fresh cache compile nothing and
    agree with the reference; a second process, archives off, finds them in Numba's cache.
    Width 32 runs the x86-64-v3 archive (on an AVX-512 host too)."""
    env = subprocess_env(NUMBA_CACHE_DIR=str(tmp_path), FASTNN_VECTOR_BYTES=str(vector_bytes))
    for archives in ("1", "0"):
        out = subprocess.run([sys.executable, "-c", FIRST_CALLS], capture_output=True, text=True,
                             env={**env, "FASTNN_PRECOMPILED": archives}, timeout=600)
        assert out.returncode == 0, out.stderr
        compiled, results = out.stdout.splitlines()
        assert int(compiled) == 0, archives
        cost, grad, cost32, same_labels = map(float, results.split())
        assert cost < 1e-12 and grad < 1e-10 and cost32 < 1e-5 and same_labels == 1.0


def test_archives_off_means_none():
    out = subprocess.run([sys.executable, "-c",
                          "from fastnn import _precompiled; print(_precompiled.archive())"],
                         capture_output=True, text=True,
                         env=subprocess_env(FASTNN_PRECOMPILED="0"), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "None"



ARGMAX = """
import sys, numpy as np
from fastnn import kernels
X = np.zeros((3, 2), sys.argv[1]); X[:, 1] = 1
print("calling", flush=True)
print(kernels.argmax_rows(X).tolist(), flush=True)
"""


def test_a_save_into_numbas_cache_waits_for_another_process_saving(tmp_path):
    """Numba names a new entry's file by counting its index: two processes saving at once
    could take one name. A save takes the function's file lock: one held by this process
    keeps another process's save waiting until it is released."""
    import fcntl

    env = subprocess_env(NUMBA_CACHE_DIR=str(tmp_path))
    first = subprocess.run([sys.executable, "-c", ARGMAX, "float64"], capture_output=True,
                           text=True, env=env, timeout=300)
    assert first.returncode == 0 and first.stdout.split("\n")[1] == "[1, 1, 1]", first.stderr
    [lock_path] = tmp_path.glob("**/*argmax_rows*.nbi.lock")
    with open(lock_path) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        second = subprocess.Popen([sys.executable, "-c", ARGMAX, "float32"], text=True, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert second.stdout.readline() == "calling\n"
        with pytest.raises(subprocess.TimeoutExpired):  # its new signature waits to be saved
            second.wait(timeout=3)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0 and out == "[1, 1, 1]\n", err
