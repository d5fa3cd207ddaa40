@echo off
rem One sync pass, for Task Scheduler and for humans:   scripts\sync_odoo.bat [syncd arguments]
rem
rem With no command it runs "syncd once" (so "sync_odoo.bat -q" is "syncd -q once"); arguments
rem go to syncd as given (status, resync, run ...). The exit code is syncd's: 0 ok, 1 the pass failed, 2 usage/configuration error
rem (or the virtualenv could not be set up). It works from the repository root, so syncd.toml
rem and the default odoo_database folder are found there; give other paths as absolute paths.
rem The first run creates .venv with "py -3" (or %PYTHON% when set) and installs syncd into it;
rem later runs reinstall only when pyproject.toml changed. To run the daemon at logon or boot,
rem see scripts\install_windows_task.ps1.
setlocal
cd /d "%~dp0.." || exit /b 2

if exist ".venv\Scripts\python.exe" goto have_venv
if defined PYTHON goto check_python
set "PYTHON=python"
where py >nul 2>nul && set "PYTHON=py -3"
:check_python
%PYTHON% -c "import sys; sys.exit(sys.version_info < (3, 11))" >nul 2>nul
if errorlevel 1 (
    echo syncd: needs Python 3.11 or newer; install it from python.org or set PYTHON 1>&2
    exit /b 2
)
echo syncd: creating .venv with %PYTHON% ^(first run only^) 1>&2
%PYTHON% -m venv .venv
if errorlevel 1 exit /b 2

:have_venv
if not exist ".venv\Scripts\syncd.exe" goto install
fc /b pyproject.toml .venv\syncd-pyproject.toml >nul 2>nul
if errorlevel 1 goto install
goto run
:install
echo syncd: installing syncd and its dependencies into .venv 1>&2
".venv\Scripts\python.exe" -m pip install --quiet --disable-pip-version-check -e . 1>&2
if errorlevel 1 exit /b 2
copy /y pyproject.toml .venv\syncd-pyproject.toml >nul

:run
call :find_command %*
if not defined COMMAND goto default_command
".venv\Scripts\syncd.exe" %*
exit /b %ERRORLEVEL%
:default_command
".venv\Scripts\syncd.exe" %* once
exit /b %ERRORLEVEL%

rem Sets COMMAND to the first argument that is not an option (nor the value of --config or
rem --data-dir), or to --help/--version; leaves it undefined when there is none.
:find_command
set "COMMAND="
:scan
if "%~1"=="" exit /b 0
if /i "%~1"=="--config" goto skip_value
if /i "%~1"=="--data-dir" goto skip_value
if /i "%~1"=="-h" goto found
if /i "%~1"=="--help" goto found
if /i "%~1"=="--version" goto found
set "ARG=%~1"
if "%ARG:~0,1%"=="-" goto next
:found
set "COMMAND=%~1"
exit /b 0
:skip_value
shift
:next
shift
goto scan
