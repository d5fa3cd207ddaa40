<#
.SYNOPSIS
    What the syncd scheduled task runs: the supervisor "python -m syncd.service.supervise",
    which runs "<repo>\.venv\Scripts\syncd.exe <Arguments> run" and owns its restarts.

.DESCRIPTION
    Task Scheduler's restart-on-failure acts on a task that fails to start, not on a non-zero
    exit, and ending a task may leave its child running. So the supervisor decides on syncd's
    exit code (syncd\service\supervise.py, tested on every platform):
      0  the daemon stopped cleanly: the task ends.
      1  (or any other failure) syncd run is started again after a pause that grows with each
         failure in a row: 1 min, 2, 4, 8, then every 15 min; a run of 10 min or more starts
         the pauses over.
      2  a configuration error (bad syncd.toml, missing setting): restarting cannot fix it.
         Never restarted: one line is appended to %LOCALAPPDATA%\syncd\task.log and the task
         ends. Fix the configuration, then: Start-ScheduledTask -TaskName syncd.
    syncd runs in a job object of the supervisor's that kills it when the supervisor ends, so
    ending the task ("End", Stop-ScheduledTask) never leaves syncd holding the data directory.
    The supervisor's and syncd's console output of the latest run is kept in
    %LOCALAPPDATA%\syncd\task-console.log; syncd's own rotating log file is in its log
    directory (see the README's "Logs").

.PARAMETER Arguments
    Extra syncd arguments placed before "run", e.g. '--config C:\syncd\syncd.toml'.

.PARAMETER TaskName
    The task's name, for the message that tells how to start it again (default: syncd).
#>
[CmdletBinding()]
param(
    [string]$Arguments = "",
    [string]$TaskName = "syncd"
)
$ErrorActionPreference = "Stop"
$ConfigErrorExit = 2

$Repo = (Resolve-Path (Join-Path $PSScriptRoot "..")).Path
$Python = Join-Path $Repo ".venv\Scripts\python.exe"
$LogDir = Join-Path $env:LOCALAPPDATA "syncd"
New-Item -ItemType Directory -Force -Path $LogDir | Out-Null
$Console = Join-Path $LogDir "task-console.log"

# Start-Process, not "& $Python": Windows PowerShell turns a native command's stderr into error
# records, which $ErrorActionPreference = "Stop" would make fatal on syncd's first log line.
$ArgumentLine = ("-m syncd.service.supervise $Arguments").Trim()
$Process = Start-Process -FilePath $Python -ArgumentList $ArgumentLine -WorkingDirectory $Repo `
    -RedirectStandardError $Console -NoNewWindow -Wait -PassThru
$Code = $Process.ExitCode

if ($Code -eq $ConfigErrorExit) {
    $Reason = Select-String -Path $Console -Pattern "syncd: error:" | Select-Object -Last 1
    $Said = if ($Reason) { $Reason.Line.Trim() } else { "(no error line; see $Console)" }
    $Line = "$(Get-Date -Format o) syncd exited 2 (configuration error), not restarted: $Said" +
        " -- fix it, then: Start-ScheduledTask -TaskName $TaskName"
    Add-Content -Path (Join-Path $LogDir "task.log") -Value $Line -Encoding UTF8
    Write-Host $Line
    exit 0
}
exit $Code
