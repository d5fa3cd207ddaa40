<#
.SYNOPSIS
    What the syncd scheduled task runs: "<repo>\.venv\Scripts\syncd.exe <Arguments> run", with
    an exit-code policy that Task Scheduler's restart-on-failure cannot express.

.DESCRIPTION
    install_windows_task.ps1 registers a task that runs this script. syncd's exit code decides:
      0  the daemon stopped cleanly: passed on.
      1  the daemon failed (e.g. another syncd holds the data directory): passed on, so Task
         Scheduler restarts the task a minute later (up to 255 times, its maximum).
      2  a configuration error (bad syncd.toml, missing setting): restarting cannot fix it.
         One line with syncd's error is appended to %LOCALAPPDATA%\syncd\task.log and the
         script exits 0, so the task is NOT restarted every minute. Fix the configuration,
         then: Start-ScheduledTask -TaskName syncd (or log on again / reboot).
    syncd's console output of the latest run is kept in %LOCALAPPDATA%\syncd\task-console.log;
    its own rotating log file is in its log directory (see the README's "Logs").

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
$Syncd = Join-Path $Repo ".venv\Scripts\syncd.exe"
$LogDir = Join-Path $env:LOCALAPPDATA "syncd"
New-Item -ItemType Directory -Force -Path $LogDir | Out-Null
$Console = Join-Path $LogDir "task-console.log"

# Start-Process, not "& $Syncd": Windows PowerShell turns a native command's stderr into error
# records, which $ErrorActionPreference = "Stop" would make fatal on syncd's first log line.
$ArgumentLine = ("$Arguments run").Trim()
$Process = Start-Process -FilePath $Syncd -ArgumentList $ArgumentLine -WorkingDirectory $Repo `
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
