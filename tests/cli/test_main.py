"""``dislab``'s error handling: one line for user and OS errors, tracebacks for bugs and with
``--debug``, a way to continue after Ctrl-C."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import dislab.cli.study
from dislab.cli import main
from dislab.data import DatasetInfo, registry
from dislab.train import TrainingInterrupted
from tests.tiny_data import Bars

REPO = Path(__file__).resolve().parents[2]


def _failing(exc: BaseException):
    def command(args):
        raise exc
    return command


def _status_raising(monkeypatch, exc: BaseException) -> list[str]:
    monkeypatch.setattr(dislab.cli.study, "cmd_status", _failing(exc))
    return ["study", "status", "somewhere"]


@pytest.mark.parametrize("exc,line", [
    (PermissionError(13, "Permission denied", "/x/y"), "permission denied: /x/y"),
    (IsADirectoryError(21, "Is a directory", "/x/out.csv"), "is a directory: /x/out.csv"),
    (NotADirectoryError(20, "Not a directory", "/x/f/out.csv"),
     "not a directory: /x/f/out.csv"),
    (FileExistsError(17, "File exists", "/x/a", None, "/x/b"),
     "file exists: /x/a -> /x/b"),
    (OSError(28, "No space left on device", "/x/big.pt"),
     "no space left on device: /x/big.pt"),
    (FileNotFoundError("DIR/config.json not found: not a run directory"),
     "DIR/config.json not found: not a run directory"),
    (KeyError("unknown metric 'nope'"), "unknown metric 'nope'"),
    (ValueError("steps must be an int >= 1"), "steps must be an int >= 1"),
])
def test_user_and_os_errors_are_one_line_naming_the_path(monkeypatch, capsys, exc, line):
    assert main(_status_raising(monkeypatch, exc)) == 1
    err = capsys.readouterr().err
    assert err == f"dislab study: error: {line}\n"


def test_a_real_os_error_names_the_path(tmp_path, capsys, monkeypatch):
    entry = DatasetInfo("test_bars", "bars", ("bars/bars.npy",), None, Bars)
    monkeypatch.setitem(registry._REGISTRY, "test_bars", entry)
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file where a folder is expected")
    assert main(["data", "show", "test_bars", "--out", str(blocker / "bars.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dislab data: error: ")
    assert str(blocker) in err and "Traceback" not in err


def test_runtime_errors_raised_by_dislab_are_one_line(monkeypatch, capsys):
    from dislab._io import BusyError

    assert main(_status_raising(monkeypatch, BusyError("another process is writing x"))) == 1
    assert capsys.readouterr().err == "dislab study: error: another process is writing x\n"


@pytest.mark.parametrize("exc", [TypeError("unsupported operand"), AttributeError("no x"),
                                 ZeroDivisionError("division by zero"),
                                 RuntimeError("raised by a library, not by dislab")])
def test_internal_errors_keep_their_traceback(monkeypatch, capsys, exc):
    with pytest.raises(type(exc)) as info:
        main(_status_raising(monkeypatch, exc))
    assert "unexpected error" in "".join(getattr(info.value, "__notes__", ["unexpected error"]))
    assert "error:" not in capsys.readouterr().err


def test_debug_shows_the_traceback_of_user_errors_too(monkeypatch, capsys):
    exc = PermissionError(13, "Permission denied", "/x/y")
    with pytest.raises(PermissionError):
        main(["--debug"] + _status_raising(monkeypatch, exc))


def _cli(*argv: str) -> subprocess.CompletedProcess:
    code = f"from dislab.cli import main; raise SystemExit(main({list(argv)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_debug_traceback_and_one_line_in_a_real_process(tmp_path):
    missing = str(tmp_path / "no-study")
    plain = _cli("study", "status", missing)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert plain.stderr.count("\n") == 1 and missing in plain.stderr
    debug = _cli("--debug", "study", "status", missing)
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "FileNotFoundError" in debug.stderr and missing in debug.stderr


def test_ctrl_c_during_training_says_where_and_how_to_continue(monkeypatch, capsys):
    message = ("interrupted at step 12 of 20; the checkpoint at step 10 is kept in runs/x: "
               "rerun the same command to continue")
    assert main(_status_raising(monkeypatch, TrainingInterrupted(message))) == 130
    assert capsys.readouterr().err.strip() == f"dislab study: {message}"


def test_any_other_ctrl_c_says_how_to_continue(monkeypatch, capsys):
    assert main(_status_raising(monkeypatch, KeyboardInterrupt())) == 130
    err = capsys.readouterr().err.strip()
    assert err == "dislab study: interrupted; rerun the same command to continue"
