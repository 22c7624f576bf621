"""The C tile of the fused CPU pass (core/_fused_pass.c): bitwise the numba tile, and a stated fallback."""

import platform
import stat

import pytest
import torch

from core import _kernels, _native_pass
from core._sensing import PackedSensingOperator

needs_numba = pytest.mark.skipif(not _kernels.AVAILABLE, reason="numba is not installed")


def _c_tile_or_skip():
    if _native_pass.library() is None:
        pytest.skip(f"the C tile is not built here: {_native_pass.unavailable_reason()}")


def _pass(operator, Xp, y, built, monkeypatch, threads=1):
    """The fused pass with the built C tile (counting its calls), or with the numba tile if `built` is None."""
    native = built is not None

    class Counting:
        calls = 0

        def fused_pass_chunk(self, *args):
            Counting.calls += 1
            return built.fused_pass_chunk(*args)

    monkeypatch.setattr(_native_pass, "library", Counting if native else (lambda: None))
    out = operator.residual_and_adjoint(Xp, y, backend="numba", threads=threads)
    assert Counting.calls == (-(-operator.m // _kernels.CHUNK_ROWS) if native else 0)
    return out


@needs_numba
# Packed widths P = 6 .. 210 cover every remainder mod 8 (the C loop steps 8 columns, numba's 4); row counts
# cover partial tiles, partial chunks and one row.
@pytest.mark.parametrize("m, d", [(1, 3), (5, 4), (7, 5), (257, 6), (300, 9), (2 * _kernels.CHUNK_ROWS + 3, 11),
                                  (259, 15), (1030, 20), (6, 8), (41, 13), (17, 23), (33, 17)])
def test_c_tile_is_bitwise_the_numba_tile(m, d, monkeypatch):
    _c_tile_or_skip()
    generator = torch.Generator().manual_seed(m * 100 + d)
    P = d * (d + 1) // 2
    operator = PackedSensingOperator(torch.randn(m, P, generator=generator, dtype=torch.float64), d)
    Xp = torch.randn(_native_pass.RUNS, P, generator=generator, dtype=torch.float64)
    y = torch.randn(m, generator=generator, dtype=torch.float64)
    monkeypatch.setattr(_kernels, "MIN_WORK_FOR_THREADS", 0)
    built = _native_pass.library()
    for threads in (1, 2):
        c_residual, c_adjoint = _pass(operator, Xp, y, built, monkeypatch, threads)
        residual, adjoint = _pass(operator, Xp, y, None, monkeypatch, threads)
        assert torch.equal(c_residual, residual) and torch.equal(c_adjoint, adjoint), threads
    plain_residual, plain_adjoint = operator.residual_and_adjoint(Xp, y, backend="torch")
    torch.testing.assert_close(c_residual, plain_residual, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(c_adjoint, plain_adjoint, rtol=1e-12, atol=1e-12)


def test_a_missing_compiler_is_named(tmp_path):
    library, reason = _native_pass.build(compiler=str(tmp_path / "no-such-cc"), directory=tmp_path)
    assert library is None and "no-such-cc" in reason and "not on PATH" in reason


def test_a_failing_compiler_leaves_nothing_behind_and_its_message_is_kept(tmp_path):
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("the C tile is built only on x86-64")
    compiler = tmp_path / "broken-cc"
    compiler.write_text("#!/bin/sh\necho 'fused_pass.c:1: error: something broke' >&2\nexit 3\n")
    compiler.chmod(compiler.stat().st_mode | stat.S_IXUSR)
    out = tmp_path / "kernels"
    library, reason = _native_pass.build(compiler=str(compiler), directory=out)
    assert library is None and "exit 3" in reason and "something broke" in reason
    assert [p.name for p in out.iterdir() if not p.name.startswith(".build.lock")] == []


def test_the_build_is_made_once_and_reused(tmp_path):
    _c_tile_or_skip()
    first, reason = _native_pass.build(directory=tmp_path)
    assert reason is None
    built = [p for p in tmp_path.iterdir() if p.suffix == ".so"]
    mtime = built[0].stat().st_mtime_ns
    second, _ = _native_pass.build(directory=tmp_path)
    assert second is not None and [p for p in tmp_path.iterdir() if p.suffix == ".so"] == built
    assert built[0].stat().st_mtime_ns == mtime


@needs_numba
def test_turned_off_the_pass_runs_the_numba_tile_and_says_why(monkeypatch):
    monkeypatch.setenv(_native_pass.DISABLE_ENV, "0")
    assert _native_pass.library() is None
    assert _native_pass.DISABLE_ENV in _native_pass.unavailable_reason()
    operator = PackedSensingOperator(torch.randn(40, 21, dtype=torch.float64), 6)
    Xp, y = torch.randn(6, 21, dtype=torch.float64), torch.randn(40, dtype=torch.float64)
    residual, adjoint = operator.residual_and_adjoint(Xp, y, backend="numba")
    plain_residual, plain_adjoint = operator.residual_and_adjoint(Xp, y, backend="torch")
    torch.testing.assert_close(residual, plain_residual, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(adjoint, plain_adjoint, rtol=1e-12, atol=1e-12)


def test_a_damaged_build_in_the_cache_is_named_not_loaded(tmp_path):
    _c_tile_or_skip()
    _native_pass.build(directory=tmp_path / "good")
    built = next(p for p in (tmp_path / "good").iterdir() if p.suffix == ".so")
    damaged = tmp_path / "damaged" / built.name  # a copy under the name a build looks for, never loaded before
    damaged.parent.mkdir()
    damaged.write_bytes(b"not a shared library")
    library, reason = _native_pass.build(directory=damaged.parent)
    assert library is None and str(damaged) in reason
