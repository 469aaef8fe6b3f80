# Silent, idempotent install (or upgrade) of the frozen deskpulse collector on Windows: no
# Python needed. Run as administrator, e.g. from Intune or a GPO startup script:
#   powershell -ExecutionPolicy Bypass -File install-collector.ps1 `
#     -Bundle \\share\deskpulse-collector-windows.zip -Config \\share\collector.toml `
#     -CaCert \\share\ca.pem
# -Bundle is the frozen collector (PyInstaller's dist\deskpulse-collector folder, zipped or
# not; see deploy/packaging/README.md). An upgrade stops the running collectors first (each
# person's spool is on disk and survives it) and swaps the folder.
param(
  [Parameter(Mandatory)] [string] $Bundle,
  [Parameter(Mandatory)] [string] $Config,
  [string] $CaCert = ""
)
$ErrorActionPreference = "Stop"
$Root = "C:\Program Files\deskpulse"
$App = "$Root\collector"
$Exe = "$App\deskpulse-collector.exe"
$Data = "C:\ProgramData\deskpulse"

New-Item -ItemType Directory -Force -Path $Root | Out-Null
$New = "$Root\collector.new"
if (Test-Path $New) { Remove-Item -Recurse -Force $New }
if ((Get-Item $Bundle).PSIsContainer) {
  Copy-Item -Recurse -Force $Bundle $New
} else {
  Expand-Archive -Force -Path $Bundle -DestinationPath $New
  $Inner = Join-Path $New "deskpulse-collector"
  if (Test-Path "$Inner\deskpulse-collector.exe") {  # a zip of the folder itself
    Get-ChildItem $Inner | Move-Item -Destination $New
    Remove-Item -Recurse -Force $Inner
  }
}
if (-not (Test-Path "$New\deskpulse-collector.exe")) {
  Remove-Item -Recurse -Force $New
  throw "$Bundle is not the frozen collector: no deskpulse-collector.exe in it"
}
& "$New\deskpulse-collector.exe" --version | Out-Null  # it starts here, without Python

# the old version's collectors, by their executable's path (never by name alone)
Get-Process -Name "deskpulse-collector" -ErrorAction SilentlyContinue |
  Where-Object { $_.Path -eq $Exe } | Stop-Process -Force
if (Test-Path $App) { Remove-Item -Recurse -Force $App }
Move-Item $New $App

New-Item -ItemType Directory -Force -Path $Data | Out-Null
Copy-Item -Force $Config "$Data\collector.toml"
if ($CaCert) { Copy-Item -Force $CaCert "$Data\ca.pem" }
$Xml = Get-Content -Raw (Join-Path $PSScriptRoot "deskpulse-collector-task.xml")
Register-ScheduledTask -TaskName "collector" -TaskPath "\deskpulse\" -Xml $Xml -Force | Out-Null
Write-Output "deskpulse collector installed: $Exe; it starts in every person's session at their next logon"
