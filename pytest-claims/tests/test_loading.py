"""How the plugin is loaded: by its pytest11 entry point, once; and what it does not import."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]  # the plugin's folder

SUITE = '''
import pytest

@pytest.mark.claim("E1", source="this test")
def test_claim(claim):
    """One claim with one check."""
    claim.check("x", 1.0, "<", 2.0)
'''

# Prints the names the generic plugin is registered under, to show it is registered once.
CONFTEST = '''
import sys

def pytest_configure(config):
    module = sys.modules.get("pytest_claims")
    print("REGISTERED", [name for name, p in config.pluginmanager.list_name_plugin() if p is module])
'''


def _install_entry_points(pytester, monkeypatch) -> None:
    """Make the plugin's pytest11 entry point visible, as installing it would, from its pyproject.toml."""
    tomllib = pytest.importorskip("tomllib")
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["pytest11"]
    info = pytester.mkdir("site") / "claims_probe-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: claims-probe\nVersion: 0\n")
    (info / "entry_points.txt").write_text(
        "[pytest11]\n" + "".join(f"{name} = {target}\n" for name, target in table.items()))
    monkeypatch.syspath_prepend(str(info.parent))
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)


@pytest.mark.parametrize("args", [(), ("-p", "pytest_claims")], ids=["entry-point", "entry-point-and-p"])
def test_entry_point_loads_the_plugin_once(pytester, monkeypatch, args):
    """Installed, the plugin needs no -p; naming it as well still registers it once, under one name."""
    _install_entry_points(pytester, monkeypatch)
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeconftest(CONFTEST + "\npytest_plugins = ['pytest_claims']\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-s", *args)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["REGISTERED ['pytest_claims']", "*claims report*", "claims: 1 passed"])


def test_without_the_plugin_claims_are_plain_tests(pytester):
    """Without any route that loads it there is no claims report: the entry point is what loads it."""
    plain = SUITE.replace("claim)", ")").replace('    claim.check("x", 1.0, "<", 2.0)', "    pass")
    pytester.makepyfile(test_suite=plain)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:pytest_claims")
    assert result.ret == 0
    assert "claims report" not in result.stdout.str()


def test_generic_plugin_imports_neither_torch_nor_numpy():
    """The plugin depends on pytest alone: loading it pulls in neither torch nor numpy."""
    code = "import sys, pytest_claims; print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
