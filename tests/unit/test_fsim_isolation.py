"""Production packages must never import the test-only FreeSWITCH simulator."""

from pathlib import Path

PRODUCTION = ["esl_control", "web", "jobs", "fs_config", "storage", "reports"]


def test_no_production_module_imports_the_simulator():
    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for package in PRODUCTION
        for path in (root / package).rglob("*.py")
        if "tests.fsim" in path.read_text(encoding="utf-8", errors="replace")
        or "from tests" in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == []
