"""``generect-excel addin install | uninstall | status`` against a temporary home, as Windows
and as a Mac (nothing here needs Excel)."""

from __future__ import annotations

from pathlib import Path

import pytest
import xlwings
import xlwings.utils

from generect_excel.addin.build import build_xlam, xlwings_version
from generect_excel.addin.install import (
    addin_paths,
    install,
    read_xlwings_conf,
    status,
    uninstall,
    write_xlwings_conf,
)
from generect_excel.cli import main
from generect_excel.errors import SettingsError

XLWINGS_DIR = Path(xlwings.__file__).parent
SECRET = "test_do_not_leak_5f2c"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    # A key in the environment must never reach xlwings.conf, the manifest or the output.
    return {"GENERECT_API_KEY": SECRET, "GENERECT_CONFIG": str(tmp_path / "generect.toml")}


@pytest.fixture
def windows_python(tmp_path: Path) -> str:
    folder = tmp_path / "Python311"
    folder.mkdir()
    (folder / "python.exe").write_bytes(b"")
    (folder / "pythonw.exe").write_bytes(b"")
    return str(folder / "python.exe")


def _xlwings_reads(conf: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """What xlwings' own reader makes of the file (it lower-cases keys)."""
    monkeypatch.setattr(xlwings, "USER_CONFIG_FILE", str(conf))
    return xlwings.utils.read_user_config()


def test_windows_install_writes_addins_and_configuration(
    tmp_path: Path, windows_python: str, environ: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    install(platform="win32", home=home, executable=windows_python, environ=environ)
    xlstart = home / "AppData" / "Roaming" / "Microsoft" / "Excel" / "XLSTART"
    assert (xlstart / "generect_excel.xlam").read_bytes() == build_xlam()
    assert (xlstart / "xlwings.xlam").read_bytes() == (
        XLWINGS_DIR / "addin" / "xlwings.xlam"
    ).read_bytes()
    conf = home / ".xlwings" / "xlwings.conf"
    pythonw = str(Path(windows_python).with_name("pythonw.exe"))
    assert _xlwings_reads(conf, monkeypatch) == {
        "interpreter_win": pythonw,
        "udf modules": "generect_excel.udfs",
    }
    assert SECRET not in conf.read_text() + (conf.parent / "generect-excel-addin.json").read_text()


def test_mac_install_paths_and_applescript(
    tmp_path: Path, environ: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    install(platform="darwin", home=home, executable="/opt/py/bin/python3", environ=environ)
    startup = (
        home / "Library/Group Containers/UBF8T346G9.Office/User Content.localized"
        "/Startup.localized/Excel"
    )
    assert (startup / "generect_excel.xlam").is_file()
    assert (startup / "xlwings.xlam").is_file()
    script = f"xlwings-{xlwings_version()}.applescript"
    copied = home / "Library/Application Scripts/com.microsoft.Excel" / script
    assert copied.read_bytes() == (XLWINGS_DIR / script).read_bytes()
    conf = home / "Library/Containers/com.microsoft.Excel/Data/xlwings.conf"
    assert _xlwings_reads(conf, monkeypatch) == {
        "interpreter_mac": "/opt/py/bin/python3",
        "udf modules": "generect_excel.udfs",
    }


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_install_twice_gives_the_same_files(
    tmp_path: Path, windows_python: str, environ: dict, platform: str
) -> None:
    home = tmp_path / "home"
    install(platform=platform, home=home, executable=windows_python, environ=environ)
    first = _tree(home)
    changes = install(platform=platform, home=home, executable=windows_python, environ=environ)
    assert _tree(home) == first
    assert {c.action for c in changes} == {"unchanged"}


def test_other_keys_are_kept_and_replaced_values_come_back(
    tmp_path: Path, windows_python: str, environ: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    conf = home / ".xlwings" / "xlwings.conf"
    conf.parent.mkdir(parents=True)
    before = '"LICENSE_KEY","abc"\n"Interpreter_Win","C:\\Old\\python.exe"\n"SHOW CONSOLE","True"\n'
    conf.write_text(before)
    install(platform="win32", home=home, executable=windows_python, environ=environ)
    lines = conf.read_text().splitlines()
    assert lines[0] == '"LICENSE_KEY","abc"'
    assert lines[2] == '"SHOW CONSOLE","True"'
    values = _xlwings_reads(conf, monkeypatch)
    assert values["license_key"] == "abc"
    assert values["interpreter_win"].endswith("pythonw.exe")
    install(platform="win32", home=home, executable=windows_python, environ=environ)

    uninstall(platform="win32", home=home, executable=windows_python, environ=environ)
    assert read_xlwings_conf(conf) == {
        "LICENSE_KEY": "abc",
        "INTERPRETER_WIN": "C:\\Old\\python.exe",
        "SHOW CONSOLE": "True",
    }
    assert not (conf.parent / "generect-excel-addin.json").exists()


def test_uninstall_removes_what_install_added_and_keeps_what_was_there(
    tmp_path: Path, windows_python: str, environ: dict
) -> None:
    home = tmp_path / "home"
    xlstart = home / "AppData" / "Roaming" / "Microsoft" / "Excel" / "XLSTART"
    xlstart.mkdir(parents=True)
    (xlstart / "xlwings.xlam").write_bytes(b"an older xlwings add-in")
    (xlstart / "PERSONAL.XLSB").write_bytes(b"macros")
    install(platform="win32", home=home, executable=windows_python, environ=environ)
    changes = uninstall(platform="win32", home=home, executable=windows_python, environ=environ)
    assert {c.action for c in changes} >= {"removed", "kept"}
    assert not (xlstart / "generect_excel.xlam").exists()
    assert (xlstart / "xlwings.xlam").is_file()  # it was there before: it stays
    assert (xlstart / "PERSONAL.XLSB").read_bytes() == b"macros"
    assert read_xlwings_conf(home / ".xlwings" / "xlwings.conf") == {}


def test_uninstall_keeps_a_value_the_user_changed_after_install(
    tmp_path: Path, windows_python: str, environ: dict
) -> None:
    home = tmp_path / "home"
    install(platform="win32", home=home, executable=windows_python, environ=environ)
    conf = home / ".xlwings" / "xlwings.conf"
    write_xlwings_conf(conf, {"INTERPRETER_WIN": "D:\\conda\\pythonw.exe"}, set())
    uninstall(platform="win32", home=home, executable=windows_python, environ=environ)
    assert read_xlwings_conf(conf) == {"INTERPRETER_WIN": "D:\\conda\\pythonw.exe"}


def test_status_reports_files_configuration_and_key_source(
    tmp_path: Path, windows_python: str, environ: dict
) -> None:
    home = tmp_path / "home"
    before = status(platform="win32", home=home, executable=windows_python, environ=environ)
    assert not before.installed
    assert before.key_source == "env"
    install(platform="win32", home=home, executable=windows_python, environ=environ)
    after = status(platform="win32", home=home, executable=windows_python, environ=environ)
    assert after.installed and all(f.current for f in after.files)
    assert all(current == wanted for current, wanted in after.config.values())
    (home / "AppData/Roaming/Microsoft/Excel/XLSTART/generect_excel.xlam").write_bytes(b"old")
    stale = status(platform="win32", home=home, executable=windows_python, environ=environ)
    assert [f.current for f in stale.files].count(False) == 1
    no_key = status(
        platform="win32", home=home, executable=windows_python, environ={"GENERECT_CONFIG": "x"}
    )
    assert no_key.key_source in ("none", "keyring")


def test_linux_install_touches_nothing(tmp_path: Path, environ: dict) -> None:
    home = tmp_path / "home"
    assert install(platform="linux", home=home, environ=environ) == []
    assert uninstall(platform="linux", home=home, environ=environ) == []
    assert not home.exists()


def test_cli_on_linux_explains_and_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("GENERECT_API_KEY", SECRET)
    monkeypatch.setenv("GENERECT_CONFIG", str(tmp_path / "generect.toml"))
    home = tmp_path / "home"
    assert main(["addin", "install", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "generect-excel refresh" in out and "Windows" in out
    assert not home.exists()
    assert main(["addin", "status", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "GENERECT_API_KEY environment variable" in out
    assert SECRET not in out


def test_cli_install_as_windows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.platform", "win32")
    monkeypatch.setenv("GENERECT_CONFIG", str(tmp_path / "generect.toml"))
    monkeypatch.setenv("GENERECT_API_KEY", SECRET)
    home = tmp_path / "home"
    assert main(["addin", "install", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "generect_excel.xlam" in out and "Import functions" in out
    assert SECRET not in out
    assert main(["addin", "status", "--home", str(home)]) == 0
    assert "\ninstalled\n" in capsys.readouterr().out
    assert main(["addin", "uninstall", "--home", str(home)]) == 0
    assert not (home / "AppData/Roaming/Microsoft/Excel/XLSTART/generect_excel.xlam").exists()


def test_windows_paths_follow_appdata_without_a_home(tmp_path: Path) -> None:
    paths = addin_paths("win32", environ={"APPDATA": str(tmp_path / "Roaming")})
    assert paths.startup_dir == tmp_path / "Roaming" / "Microsoft" / "Excel" / "XLSTART"


def test_configuration_values_that_would_break_the_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError):
        write_xlwings_conf(tmp_path / "xlwings.conf", {"INTERPRETER_WIN": 'C:\\a"b'}, set())
    assert not (tmp_path / "xlwings.conf").exists()
