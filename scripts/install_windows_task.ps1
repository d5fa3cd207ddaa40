<#
.SYNOPSIS
    Registers (or removes) a Windows Task Scheduler task that runs the syncd daemon.

.DESCRIPTION
    The task runs scripts\syncd_task.ps1, which runs "<repo>\.venv\Scripts\syncd.exe run" in
    the repository folder (so a syncd.toml there is found and snapshots land in
    <repo>\odoo_database unless configured otherwise):
      - at logon of the current user (default), or at system startup with -AtStartup (runs
        whether anyone is logged on or not, as the current user, without storing a password);
      - with no execution time limit (Task Scheduler's default stops tasks after 72 hours);
      - restarted by its supervisor (syncd_task.ps1 runs python -m syncd.service.supervise):
        after exit 1 with a growing pause, never after a configuration error (exit 2: logged to
        %LOCALAPPDATA%\syncd\task.log, the task ends; fix it, then Start-ScheduledTask -TaskName
        syncd); Task Scheduler's restart every minute, up to 255 times (its schema's maximum),
        only covers a task that fails to start; one at a time.
    The virtualenv is created first if missing (via scripts\sync_odoo.bat --version).
    Secrets: put ODOO_URL, ODOO_DB, ODOO_USERNAME, ODOO_API_KEY in the user's environment
    (setx ODOO_API_KEY ...) or in syncd.toml; the task inherits the user's environment.
    Logs: syncd's rotating file in its log directory (see the README's "Logs"); the task's
    own notes in %LOCALAPPDATA%\syncd\task.log and task-console.log.
    Stopping the task ("End" or -Unregister) ends the supervisor, and syncd with it (a job
    object); snapshot files are replaced atomically, so they stay whole.

.PARAMETER AtStartup
    Run at system startup instead of at logon. Registering such a task needs an elevated
    (Run as administrator) PowerShell.

.PARAMETER TaskName
    The task's name (default: syncd).

.PARAMETER Arguments
    Extra syncd arguments placed before "run", e.g. '--config C:\syncd\syncd.toml'. No double
    quotes: a path with spaces cannot be passed through the task's command line; use one without.

.PARAMETER Unregister
    Stop and remove the task instead of registering it.

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File scripts\install_windows_task.ps1

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File scripts\install_windows_task.ps1 -AtStartup -Arguments '--config C:\syncd\syncd.toml'

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File scripts\install_windows_task.ps1 -Unregister
#>
[CmdletBinding()]
param(
    [switch]$AtStartup,
    [string]$TaskName = "syncd",
    [string]$Arguments = "",
    [switch]$Unregister
)
$ErrorActionPreference = "Stop"

if ($Unregister) {
    if (Get-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue) {
        Stop-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
        Unregister-ScheduledTask -TaskName $TaskName -Confirm:$false
        Write-Host "Removed the scheduled task '$TaskName'."
    } else {
        Write-Host "No scheduled task named '$TaskName'."
    }
    exit 0
}

$Repo = (Resolve-Path (Join-Path $PSScriptRoot "..")).Path
$Syncd = Join-Path $Repo ".venv\Scripts\syncd.exe"
if (-not (Test-Path $Syncd)) {
    Write-Host "Creating the virtualenv in $Repo\.venv ..."
    & (Join-Path $PSScriptRoot "sync_odoo.bat") --version
    if ($LASTEXITCODE -ne 0) { throw "setting up .venv failed (exit $LASTEXITCODE)" }
}

if ($Arguments.Contains('"')) { throw "-Arguments must not contain double quotes: $Arguments" }
$User = "$env:USERDOMAIN\$env:USERNAME"
$ArgumentLine = ("$Arguments run").Trim()
$Wrapper = Join-Path $PSScriptRoot "syncd_task.ps1"
$TaskArguments = "-NoProfile -NonInteractive -ExecutionPolicy Bypass -WindowStyle Hidden " +
    "-File `"$Wrapper`" -TaskName `"$TaskName`""
# Only when there are some: powershell.exe -File may drop an empty "" and then miss the value.
if ($Arguments.Trim()) { $TaskArguments += " -Arguments `"$($Arguments.Trim())`"" }
$Action = New-ScheduledTaskAction -Execute "powershell.exe" -Argument $TaskArguments `
    -WorkingDirectory $Repo
if ($AtStartup) {
    $Trigger = New-ScheduledTaskTrigger -AtStartup
    # S4U: runs whether the user is logged on or not, without storing a password.
    $Principal = New-ScheduledTaskPrincipal -UserId $User -LogonType S4U -RunLevel Limited
} else {
    $Trigger = New-ScheduledTaskTrigger -AtLogOn -User $User
    $Principal = New-ScheduledTaskPrincipal -UserId $User -LogonType Interactive -RunLevel Limited
}
$Settings = New-ScheduledTaskSettingsSet `
    -ExecutionTimeLimit ([TimeSpan]::Zero) `
    -RestartCount 255 `
    -RestartInterval (New-TimeSpan -Minutes 1) `
    -MultipleInstances IgnoreNew `
    -StartWhenAvailable `
    -AllowStartIfOnBatteries `
    -DontStopIfGoingOnBatteries

Register-ScheduledTask -TaskName $TaskName -Action $Action -Trigger $Trigger -Principal $Principal `
    -Settings $Settings -Description "syncd: local JSON snapshots of Odoo models ($Repo)" -Force | Out-Null
Write-Host "Registered the scheduled task '$TaskName': $Syncd $ArgumentLine (via $Wrapper)"
Write-Host "Start it now:  Start-ScheduledTask -TaskName $TaskName"
Write-Host "Remove it:     powershell -ExecutionPolicy Bypass -File scripts\install_windows_task.ps1 -Unregister"
