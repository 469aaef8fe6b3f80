# Silent, idempotent install of the deskpulse collector on Windows (run as administrator,
# e.g. from Intune or a GPO startup script):
#   powershell -ExecutionPolicy Bypass -File install-collector.ps1 -Wheel \\share\deskpulse.whl `
#     -Config \\share\collector.toml -CaCert \\share\ca.pem
param(
  [Parameter(Mandatory)] [string] $Wheel,
  [Parameter(Mandatory)] [string] $Config,
  [string] $CaCert = ""
)
$ErrorActionPreference = "Stop"
$Root = "C:\Program Files\deskpulse"
$Data = "C:\ProgramData\deskpulse"
if (-not (Test-Path "$Root\Scripts\python.exe")) { py -3.11 -m venv $Root }
& "$Root\Scripts\python.exe" -m pip install --quiet --upgrade $Wheel
New-Item -ItemType Directory -Force -Path $Data | Out-Null
Copy-Item -Force $Config "$Data\collector.toml"
if ($CaCert) { Copy-Item -Force $CaCert "$Data\ca.pem" }
$Xml = Get-Content -Raw (Join-Path $PSScriptRoot "deskpulse-collector-task.xml")
Register-ScheduledTask -TaskName "collector" -TaskPath "\deskpulse\" -Xml $Xml -Force | Out-Null
Write-Output "deskpulse collector installed; it starts at the next logon"
