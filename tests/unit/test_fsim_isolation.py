"""Production packages must never import the test-only FreeSWITCH simulator.

Starting it as a separate process (``python -m tests.fsim``, the demo) is not an
import and is allowed; any ``import tests…`` / ``from tests… import`` is not.
"""

import ast
from pathlib import Path

PRODUCTION = ["esl_control", "web", "jobs", "fs_config", "storage", "reports"]


def _imports_tests(source: str) -> bool:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import) and any(a.name == "tests" or a.name.startswith("tests.") for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and (node.module == "tests" or node.module.startswith("tests.")):
            return True
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                and str(node.args[0].value).startswith("tests"):
            return True
    return False


def test_the_import_check_catches_every_form():
    assert _imports_tests("from tests.fsim import FreeSwitchSimulator")
    assert _imports_tests("import tests.fsim.server as s")
    assert _imports_tests("importlib.import_module('tests.fsim')")
    assert not _imports_tests("subprocess.Popen([sys.executable, '-m', 'tests.fsim'])")
    assert not _imports_tests("from .tests import x")


def test_no_production_module_imports_the_simulator():
    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for package in PRODUCTION
        for path in (root / package).rglob("*.py")
        if _imports_tests(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert offenders == []
