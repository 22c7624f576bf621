"""Seed studies on Ray (pytest_claims._study, `python -m core study`): a local Ray instance with two workers gives
the serial study, a worker killed mid-task is retried to the same result, and results reach the driver's cache."""

import dataclasses
import json
import os

import pytest

from pytest_claims import _study

pytestmark = pytest.mark.slow

CONFTEST = '''
import os, signal
import pytest

def pytest_addoption(parser):
    parser.addoption("--seed", type=int, default=0)

@pytest.fixture
def result(request):
    """A stand-in experiment: computed into the cache the study names, as the harness's result cache is."""
    seed = request.config.getoption("seed")
    kill_marker = os.environ.get("KILL_ONCE")
    if kill_marker and seed == 2 and not os.path.exists(kill_marker):
        open(kill_marker, "w").close()
        os.kill(os.getppid(), signal.SIGKILL)  # the Ray worker running this seed dies mid-task
    cache = os.environ["STAND_IN_CACHE"]
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, f"entry-{seed}.txt"), "w") as out:
        out.write(str(seed * seed))
    return seed * seed
'''

SUITE = '''
import pytest

@pytest.mark.claim("R1")
def test_square_is_small(claim, result):
    """The square stays under ten."""
    claim.check("square", result, "<", 10)
'''


@pytest.fixture
def spec(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_suite.py").write_text(SUITE)
    return _study.StudySpec(("test_suite.py",), str(tmp_path), cache_env="STAND_IN_CACHE")


@pytest.fixture(scope="module")
def ray():
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install '.[study]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _quiet(line):
    pass


def test_ray_with_two_workers_gives_the_serial_study_and_fills_the_drivers_cache(ray, spec, tmp_path):
    serial = _study.run_study(spec, [0, 1, 2, 3, 4], tmp_path / "serial", cache_root=tmp_path / "c1", progress=_quiet)
    on_ray = _study.run_study(spec, [0, 1, 2, 3, 4], tmp_path / "ray", "ray", cache_root=tmp_path / "c2",
                              progress=_quiet)
    assert on_ray == serial and serial["claims"]["R1"]["not_held_on"] == [4]
    # every worker computed into its own scratch cache; the driver stored what came back
    assert sorted(p.name for p in (tmp_path / "c2").iterdir()) == [f"entry-{s}.txt" for s in range(5)]
    assert (tmp_path / "c2" / "entry-3.txt").read_text() == "9"


def test_a_worker_killed_mid_task_is_retried_to_the_same_result(ray, spec, tmp_path):
    serial = _study.run_study(spec, [1, 2, 3], tmp_path / "serial", progress=_quiet)
    marker = tmp_path / "killed-once"  # the spec's env reaches the task's process wherever Ray runs it
    killing = dataclasses.replace(spec, env={"KILL_ONCE": str(marker)})
    retried = _study.run_study(killing, [1, 2, 3], tmp_path / "ray", "ray", progress=_quiet)
    assert marker.exists() and retried == serial
    assert json.loads((tmp_path / "ray" / "seeds" / "2.json").read_text())["claims"][0]["outcome"] == "passed"


def test_the_core_command_without_ray_exits_2_naming_the_install(monkeypatch, capsys, tmp_path):
    import sys

    from core.__main__ import main

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(SystemExit) as exit_:
        main(["study", "--seeds", "1000-1001", "--out", str(tmp_path)])
    assert exit_.value.code == 2 and "pip install '.[study]'" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []
