"""The service and one-shot scripts, as far as this machine allows (no real venv is built here)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from syncd.config_tables import ENVIRONMENT

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
SHELL_SCRIPTS = ["venv.sh", "sync_odoo.sh", "demo.sh", "install_systemd.sh", "test.sh"]
needs_bash = pytest.mark.skipif(shutil.which("bash") is None or os.name == "nt", reason="needs bash")


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def fake_repo(tmp_path: Path) -> Path:
    """A clone with our scripts, a pyproject, and a .venv whose python and syncd are stubs that
    report how they were called: the scripts' logic runs for real, pip and syncd do not."""
    repo = tmp_path / "clone"
    (repo / "scripts").mkdir(parents=True)
    for name in SHELL_SCRIPTS + ["syncd.service", "syncd@.service", "syncd.env.example"]:
        shutil.copy2(SCRIPTS / name, repo / "scripts" / name)
    (repo / "pyproject.toml").write_text('[project]\nname = "syncd"\n', encoding="utf-8")
    executable(repo / ".venv/bin/python", '#!/bin/sh\necho "python $*" >>"$(dirname "$0")/../calls"\n')
    executable(repo / ".venv/bin/syncd",
               '#!/bin/sh\necho "cwd=$(pwd) args=$*"\nexit "${SYNCD_STUB_EXIT:-0}"\n')
    shutil.copy2(repo / "pyproject.toml", repo / ".venv/syncd-pyproject.toml")
    return repo


def run_script(repo: Path, name: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # From an unrelated directory, as cron would.
    return subprocess.run(["bash", str(repo / "scripts" / name), *args], cwd=repo.parent,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


@needs_bash
@pytest.mark.parametrize("name", SHELL_SCRIPTS)
def test_shell_scripts_parse(name: str) -> None:
    result = subprocess.run(["bash", "-n", str(SCRIPTS / name)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_scripts_meant_to_be_run_are_executable() -> None:
    if os.name == "nt":
        pytest.skip("no executable bit on Windows")
    for name in ("sync_odoo.sh", "demo.sh", "install_systemd.sh"):
        assert os.access(SCRIPTS / name, os.X_OK), name


@needs_bash
def test_sync_odoo_defaults_to_once_from_the_repo_root_and_passes_the_exit_code(fake_repo: Path) -> None:
    result = run_script(fake_repo, "sync_odoo.sh", SYNCD_STUB_EXIT="1")
    assert result.returncode == 1
    assert result.stdout.strip() == f"cwd={fake_repo} args=once"
    assert not (fake_repo / ".venv/calls").exists()  # up to date: no reinstall

    result = run_script(fake_repo, "sync_odoo.sh", "status", "--json", SYNCD_STUB_EXIT="0")
    assert result.returncode == 0
    assert result.stdout.strip() == f"cwd={fake_repo} args=status --json"


@needs_bash
@pytest.mark.parametrize("args, expected", [
    (["-q"], "-q once"),
    (["--config", "/etc/syncd/syncd.toml", "-v"], "--config /etc/syncd/syncd.toml -v once"),
    (["--data-dir", "run"], "--data-dir run once"),
    (["--config=/etc/syncd.toml"], "--config=/etc/syncd.toml once"),
    (["-q", "status"], "-q status"),
    (["--version"], "--version"),
])
def test_sync_odoo_with_options_alone_runs_once(fake_repo: Path, args: list[str],
                                                expected: str) -> None:
    result = run_script(fake_repo, "sync_odoo.sh", *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"cwd={fake_repo} args={expected}"


@needs_bash
def test_the_cron_line_in_the_header_runs_a_pass(fake_repo: Path) -> None:
    """The header's own cron example, run as cron would: a pass, not a usage error."""
    header = (SCRIPTS / "sync_odoo.sh").read_text(encoding="utf-8")
    line = next(line for line in header.splitlines() if line.startswith("#   */5"))
    args = line.split("sync_odoo.sh", 1)[1].split(">>", 1)[0].split()
    result = run_script(fake_repo, "sync_odoo.sh", *args)
    assert result.stdout.strip() == f"cwd={fake_repo} args={' '.join(args)} once"


@needs_bash
def test_demo_runs_the_demo_command(fake_repo: Path) -> None:
    result = run_script(fake_repo, "demo.sh", "--seconds", "3")
    assert result.returncode == 0
    assert result.stdout.strip() == f"cwd={fake_repo} args=demo --seconds 3"


@needs_bash
def test_a_changed_pyproject_reinstalls_once(fake_repo: Path) -> None:
    (fake_repo / "pyproject.toml").write_text('[project]\nname = "syncd"\n# new dep\n', encoding="utf-8")
    result = run_script(fake_repo, "sync_odoo.sh")
    assert result.returncode == 0, result.stderr
    calls = (fake_repo / ".venv/calls").read_text(encoding="utf-8").splitlines()
    assert calls == ["python -m pip install --quiet --disable-pip-version-check -e ."]
    assert "installing syncd" in result.stderr and result.stdout.strip().endswith("args=once")
    run_script(fake_repo, "sync_odoo.sh")
    assert len((fake_repo / ".venv/calls").read_text(encoding="utf-8").splitlines()) == 1


@needs_bash
def test_the_test_script_reinstalls_only_when_pyproject_changed(fake_repo: Path) -> None:
    """scripts/test.sh: the first run installs the test extra, later runs go straight to
    pytest (in parallel workers) until pyproject.toml changes."""
    calls = fake_repo / ".venv/calls"
    install = "python -m pip install --quiet --disable-pip-version-check -e .[test]"
    pytest_call = "python -m pytest -n auto -x tests/test_cli.py"
    for expected in ([install, pytest_call], [pytest_call]):
        result = run_script(fake_repo, "test.sh", "-x", "tests/test_cli.py")
        assert result.returncode == 0, result.stderr
        assert calls.read_text(encoding="utf-8").splitlines() == expected
        calls.unlink()
    (fake_repo / "pyproject.toml").write_text('[project]\nname = "syncd"\n# new dep\n')
    run_script(fake_repo, "test.sh", "-n", "0", SYNCD_TEST_WORKERS="2")
    assert calls.read_text(encoding="utf-8").splitlines() == [
        install, "python -m pytest -n 2 -n 0"]


@needs_bash
def test_the_test_script_writes_bytecode_caches(fake_repo: Path) -> None:
    """Even where PYTHONDONTWRITEBYTECODE is set: the suite's interpreters then share compiled
    modules instead of compiling syncd's sources again."""
    executable(fake_repo / ".venv/bin/python",
               '#!/bin/sh\necho "nowrite=${PYTHONDONTWRITEBYTECODE-unset}"'
               ' >>"$(dirname "$0")/../calls"\n')
    result = run_script(fake_repo, "test.sh", PYTHONDONTWRITEBYTECODE="1")
    assert result.returncode == 0, result.stderr
    assert (fake_repo / ".venv/calls").read_text(encoding="utf-8").splitlines()[-1] == \
        "nowrite=unset"


@needs_bash
def test_a_too_old_python_is_refused_with_exit_2(fake_repo: Path, tmp_path: Path) -> None:
    shutil.rmtree(fake_repo / ".venv")
    old_python = executable(tmp_path / "python3.8", "#!/bin/sh\nexit 1\n")
    result = run_script(fake_repo, "sync_odoo.sh", PYTHON=str(old_python))
    assert result.returncode == 2
    assert "needs Python 3.11" in result.stderr
    assert result.stdout == ""


# -- systemd ---------------------------------------------------------------------------------------
def rendered_unit(output: str) -> str:
    match = re.search(r"^would write \S+syncd\.service:\n((?:    .*\n|\n)*)", output, re.M)
    assert match, output
    return "\n".join(line.removeprefix("    ") for line in match.group(1).splitlines()) + "\n"


def dry_run(repo: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["bash", str(repo / "scripts/install_systemd.sh"), "--dry-run", *args],
                            cwd=cwd or repo, capture_output=True, text=True, timeout=60,
                            env={**{k: v for k, v in os.environ.items()
                                    if k != "XDG_CONFIG_HOME"}, "HOME": str(repo.parent)})
    assert result.returncode == 0, result.stderr
    return result


def test_unit_template_has_the_service_contract() -> None:
    text = (SCRIPTS / "syncd.service").read_text(encoding="utf-8")
    unit = unit_settings(text)
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"]
    assert unit["ExecStart"] == ["/opt/syncd/.venv/bin/syncd run"]
    assert unit["Restart"] == ["on-failure"] and unit["KillSignal"] == ["SIGTERM"]
    assert unit["StateDirectory"] == ["syncd"] and unit["LogsDirectory"] == ["syncd"]
    assert unit["Environment"] == ["SYNCD_DATA_DIR=%S/syncd"]
    assert unit["EnvironmentFile"] == ["-/etc/syncd/syncd.env"]
    assert "#LoadCredential=odoo_api_key:" in text  # the documented alternative
    assert unit["WatchdogSec"] and unit["TimeoutStopSec"] == ["30"]
    for key in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
                "ProtectKernelTunables", "LockPersonality", "MemoryDenyWriteExecute"):
        assert key in unit, key
    assert unit["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]  # AF_UNIX: sd_notify
    assert unit["SystemCallFilter"] == ["@system-service"] and unit["CapabilityBoundingSet"] == [""]


@needs_bash
def test_install_dry_run_shows_the_substituted_unit_and_changes_nothing(fake_repo: Path) -> None:
    (fake_repo / "syncd.toml").write_text("", encoding="utf-8")
    output = dry_run(fake_repo, "--config", "syncd.toml").stdout
    unit = unit_settings(rendered_unit(output))
    assert unit["ExecStart"] == [f"{fake_repo}/.venv/bin/syncd run"]
    assert unit["WorkingDirectory"] == [str(fake_repo)]
    # The service cannot see home directories (ProtectHome=): FILE is copied to /etc/syncd.
    assert unit["Environment"] == ["SYNCD_CONFIG=/etc/syncd/syncd.toml", "SYNCD_DATA_DIR=%S/syncd"]
    assert f"would run: install -m 640 -o root -g syncd {fake_repo}/syncd.toml " \
        "/etc/syncd/syncd.toml" in output
    assert unit["User"] == ["syncd"]
    assert f"would run: {fake_repo}/scripts/sync_odoo.sh --version" in output
    assert "would run: systemctl daemon-reload" in output
    assert "would run: systemctl enable" in output
    assert not (fake_repo / ".venv/calls").exists()  # nothing was really run


@needs_bash
def test_install_dry_run_for_a_user_unit(fake_repo: Path) -> None:
    output = dry_run(fake_repo, "--user").stdout
    unit = unit_settings(rendered_unit(output))
    assert "User" not in unit and "ProtectSystem" not in unit  # need a privileged manager
    assert unit["NoNewPrivileges"] == ["yes"] and unit["Type"] == ["notify"]
    assert unit["EnvironmentFile"] == ["-%E/syncd/syncd.env"]
    assert unit["WantedBy"] == ["default.target"]
    assert f"would write {fake_repo.parent}/.config/systemd/user/syncd.service:" in output
    assert "would run: systemctl --user daemon-reload" in output
    assert f"install -m 600 {fake_repo}/scripts/syncd.env.example " \
           f"{fake_repo.parent}/.config/syncd/syncd.env" in output
    # A fresh secrets file must be filled in before the service can do anything useful.
    assert "would run: systemctl --user enable syncd.service" in output


@needs_bash
def test_install_help_is_the_header_and_nothing_else(fake_repo: Path) -> None:
    result = subprocess.run(["bash", str(fake_repo / "scripts/install_systemd.sh"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("Install syncd as a systemd service")
    assert "set -euo pipefail" not in result.stdout and "#" not in result.stdout


@needs_bash
def test_install_rejects_unknown_arguments(fake_repo: Path) -> None:
    result = subprocess.run(["bash", str(fake_repo / "scripts/install_systemd.sh"), "--frobnicate"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "unknown argument" in result.stderr


def test_env_example_names_only_known_variables() -> None:
    text = (SCRIPTS / "syncd.env.example").read_text(encoding="utf-8")
    names = re.findall(r"^#?([A-Z_]+)=", text, re.M)
    assert {"ODOO_URL", "ODOO_DB", "ODOO_USERNAME", "ODOO_API_KEY"} <= set(names)
    assert set(names) <= set(ENVIRONMENT) | {"SYNCD_CONFIG"}


# -- Windows ---------------------------------------------------------------------------------------
def test_windows_task_has_no_time_limit_restarts_and_unregister() -> None:
    text = (SCRIPTS / "install_windows_task.ps1").read_text(encoding="utf-8")
    assert text.startswith("<#") and ".SYNOPSIS" in text  # comment-based help
    assert "-ExecutionTimeLimit ([TimeSpan]::Zero)" in text
    assert "-RestartCount" in text and "-RestartInterval" in text
    assert "[switch]$Unregister" in text and "Unregister-ScheduledTask" in text
    assert "-AtStartup" in text and "-AtLogOn" in text
    assert r'".venv\Scripts\syncd.exe"' in text and "-WorkingDirectory $Repo" in text


def test_windows_one_shot_passes_arguments_and_exit_code() -> None:
    raw = (SCRIPTS / "sync_odoo.bat").read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")  # cmd.exe mis-parses labels in LF-only files
    text = raw.decode("utf-8")
    assert "py -3" in text and r'".venv\Scripts\syncd.exe" %*' in text
    assert r'".venv\Scripts\syncd.exe" %* once' in text  # options alone: a pass
    assert 'if /i "%~1"=="--config" goto skip_value' in text
    assert text.count("exit /b %ERRORLEVEL%") == 2


WINDOWS_README = (SCRIPTS.parent / "README.md").read_text(encoding="utf-8") \
    .split("**Windows.**", 1)[1].split("\n\n", 1)[0]


def test_windows_task_restart_count_is_within_task_schedulers_limit() -> None:
    # The task schema makes RestartOnFailure/Count an xs:unsignedByte with minInclusive 1:
    # Register-ScheduledTask rejects more than 255.
    text = (SCRIPTS / "install_windows_task.ps1").read_text(encoding="utf-8")
    [count] = re.findall(r"-RestartCount (\d+)", text)
    assert 1 <= int(count) <= 255
    assert "999" not in text


def test_windows_task_runs_the_wrapper_that_does_not_restart_a_config_error() -> None:
    install = (SCRIPTS / "install_windows_task.ps1").read_text(encoding="utf-8")
    assert 'New-ScheduledTaskAction -Execute "powershell.exe"' in install
    assert 'Join-Path $PSScriptRoot "syncd_task.ps1"' in install
    assert "-File `\"$Wrapper`\"" in install and "-ExecutionPolicy Bypass" in install
    wrapper = (SCRIPTS / "syncd_task.ps1").read_text(encoding="utf-8")
    assert wrapper.startswith("<#") and ".SYNOPSIS" in wrapper
    assert "$ConfigErrorExit = 2" in wrapper
    # Exit 2 is logged with syncd's own error line and ends the task without a failure ...
    branch = wrapper.split("if ($Code -eq $ConfigErrorExit) {", 1)[1].split("\n}\n", 1)[0]
    assert '"syncd: error:"' in branch and 'Add-Content -Path (Join-Path $LogDir "task.log")' in branch
    assert branch.rstrip().endswith("exit 0")
    # ... any other code is passed on, so a failure is restarted.
    assert wrapper.rstrip().endswith("exit $Code")
    assert "-Wait -PassThru" in wrapper and "-RedirectStandardError $Console" in wrapper
    # The supervisor owns the restarts (Task Scheduler acts only on a task that fails to
    # start) and the child's end (tests/service/test_supervise.py runs its decisions).
    assert "-WorkingDirectory $Repo" in wrapper
    assert '("-m syncd.service.supervise $Arguments").Trim()' in wrapper


def test_windows_readme_needs_no_first_status_run_and_warns_consumers() -> None:
    assert "sync_odoo.bat status` once first" not in WINDOWS_README
    assert "creates `.venv` itself" in WINDOWS_README
    assert "not restarted" in WINDOWS_README and "task.log" in WINDOWS_README
    assert "growing pause" in WINDOWS_README and "job object" in WINDOWS_README
    # A reader that keeps a snapshot open blocks the atomic replace (retried about 2 s).
    assert "close it" in WINDOWS_README and "two seconds" in WINDOWS_README
