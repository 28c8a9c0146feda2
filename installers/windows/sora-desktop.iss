; Inno Setup 6 script: the Windows installer for the one-folder PyInstaller bundle.
;
; Build (on Windows, from the repo root, after build_windows.ps1 has made dist\sora-desktop):
;   "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" installers\windows\sora-desktop.iss
; Output: dist\SoraDesktop-<version>-windows-x64-setup.exe
;
; Keep MyAppName / MyAppVersion equal to pyproject.toml (tests/test_installers.py checks it).

#define MyAppName "Sora Desktop"
#define MyAppVersion "0.1.0"
#define MyAppPublisher "Sora Desktop contributors"
#define MyAppExeName "SoraDesktop.exe"
#define MyCliExeName "sora-desktop.exe"
#define BundleDir "..\..\dist\sora-desktop"

[Setup]
; A fixed AppId lets a new version upgrade the old one in place; never change it.
AppId={{3F0E2A51-6B7C-4C1D-9A8E-5D2F7B1C9E04}
AppName={#MyAppName}
LicenseFile=..\..\LICENSE
AppVersion={#MyAppVersion}
AppVerName={#MyAppName} {#MyAppVersion}
AppPublisher={#MyAppPublisher}
DefaultDirName={autopf}\{#MyAppName}
DefaultGroupName={#MyAppName}
DisableProgramGroupPage=yes
; Per-user install by default (no admin prompt); the user may choose all users instead.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
SetupIconFile=..\icons\app.ico
UninstallDisplayIcon={app}\{#MyAppExeName}
OutputDir=..\..\dist
OutputBaseFilename=SoraDesktop-{#MyAppVersion}-windows-x64-setup
; The bundle is ~1.5 GB; LZMA2 solid compression makes the installer much smaller.
Compression=lzma2/max
SolidCompression=yes
LZMANumBlockThreads=4
DiskSpanning=no
WizardStyle=modern
ChangesEnvironment=yes
CloseApplications=yes
; Explorer picks up the .sdproj association at once
ChangesAssociations=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add the sora-desktop command to PATH"; GroupDescription: "Command line:"; Flags: unchecked

[Files]
; The whole bundle: SoraDesktop.exe (the studio), sora-desktop.exe (the command line), _internal\.
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; A new version replaces the old program files completely (never the user's files, which
; live in %LOCALAPPDATA%\sora-desktop and Videos\Sora Desktop, not under {app}).
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{group}\{#MyAppName}"; Filename: "{app}\{#MyAppExeName}"
Name: "{group}\{cm:UninstallProgram,{#MyAppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#MyAppName}"; Filename: "{app}\{#MyAppExeName}"; Tasks: desktopicon

[Registry]
; The .sdproj file type: a double-click on a project opens it in Sora Desktop (per user or all
; users, by install mode); removed again on uninstall.
Root: HKA; Subkey: "Software\Classes\.sdproj"; ValueType: string; ValueName: ""; ValueData: "SoraDesktop.Project"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\SoraDesktop.Project"; ValueType: string; ValueName: ""; ValueData: "Sora Desktop project"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\SoraDesktop.Project\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#MyAppExeName},0"
Root: HKA; Subkey: "Software\Classes\SoraDesktop.Project\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#MyAppExeName}"" ""%1"""
; Optional PATH entry for sora-desktop.exe: per-user (HKCU) or all users (HKLM), by install mode.
Root: HKA; Subkey: "{code:EnvKey}"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\{#MyAppExeName}"; Description: "{cm:LaunchProgram,{#MyAppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
Type: filesandordirs; Name: "{app}\_internal"

[Code]
function EnvKey(Param: String): String;
begin
  if IsAdminInstallMode then
    Result := 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment'
  else
    Result := 'Environment';
end;

function NeedsAddPath(Dir: String): Boolean;
var
  Paths: String;
  RootKey: Integer;
begin
  if IsAdminInstallMode then
    RootKey := HKEY_LOCAL_MACHINE
  else
    RootKey := HKEY_CURRENT_USER;
  if not RegQueryStringValue(RootKey, EnvKey(''), 'Path', Paths) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;

procedure RemovePath(Dir: String);
var
  Paths: String;
  P: Integer;
  RootKey: Integer;
begin
  if IsAdminInstallMode then
    RootKey := HKEY_LOCAL_MACHINE
  else
    RootKey := HKEY_CURRENT_USER;
  if not RegQueryStringValue(RootKey, EnvKey(''), 'Path', Paths) then
    exit;
  P := Pos(';' + Uppercase(Dir), Uppercase(Paths));
  if P = 0 then
    exit;
  Delete(Paths, P, Length(Dir) + 1);
  RegWriteExpandStringValue(RootKey, EnvKey(''), 'Path', Paths);
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usPostUninstall then
    RemovePath(ExpandConstant('{app}'));
end;
