"""Atomic writes (core._util.atomic_writer): concurrent writers never expose half a file, a failed write keeps the
old one."""

import threading

from core._util import atomic_writer


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
