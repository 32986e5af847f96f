"""The demo process's command line (``python -m tests.fsim``), as ``pult demo`` starts it."""

import pytest

from tests.fsim.__main__ import build_parser


def test_var_options_become_call_variables():
    args = build_parser().parse_args(["--port", "0", "--outbound", "127.0.0.1:8084",
                                      "--var", "pult_pbx_id=101", "--var", "note=a=b"])
    assert args.var == [("pult_pbx_id", "101"), ("note", "a=b")]
    assert args.outbound == ("127.0.0.1", 8084)


@pytest.mark.parametrize("bad", [["--var", "novalue"], ["--var", "=x"], ["--outbound", "host-without-port"]])
def test_bad_options_are_refused(bad, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(bad)
    assert "expected" in capsys.readouterr().err
