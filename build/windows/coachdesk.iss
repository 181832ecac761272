; Inno Setup 6 script: a per-machine installer for the PyInstaller bundle on Windows.
;
; Runs on Windows only (ISCC.exe); on Linux it is linted by tests/build/test_installer_scripts.py.
; Build, from the repository root on a Windows build machine:
;   pyinstaller build\coachdesk.spec --noconfirm --distpath build\dist --workpath build\work
;   build\windows\sign.sh build\dist\coachdesk\coachdesk.exe      (Git Bash or WSL)
;   iscc /DAppVersion=1.2.3 build\windows\coachdesk.iss
;   build\windows\sign.sh build\dist\release\CoachdeskSetup-1.2.3.exe
;
; Silent install for software deployment (Intune, SCCM, GPO startup scripts):
;   CoachdeskSetup-1.2.3.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /CONFIG="\\srv\it\config.toml"
; /CONFIG copies a managed settings file to %ProgramData%\Coachdesk\config.toml (docs/deployment.md);
; without it an existing managed file is left as it is. Uninstall never deletes that file.

#ifndef AppVersion
  #error Pass the version from the git tag: iscc /DAppVersion=1.2.3 coachdesk.iss
#endif
; Windows file versions are four numbers; a development version (1.2.4.dev3+g1a2b3c) passes
; its numeric part too: /DFileVersion=1.2.4.0
#ifndef FileVersion
  #define FileVersion AppVersion
#endif

#define AppName "Coachdesk"
#define AppExe "coachdesk.exe"
#define BundleDir "..\dist\coachdesk"

[Setup]
; Never change AppId: Windows finds the installed version (upgrades, uninstall) by it.
AppId={{6F4C2B8E-3D1A-4C57-9E0B-7A2D5C9F1E34}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Coachdesk
VersionInfoVersion={#FileVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per-machine: IT installs once for every user of the laptop.
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\dist\release
OutputBaseFilename=CoachdeskSetup-{#AppVersion}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\{#AppExe}
; Close a running Coachdesk before replacing its files on upgrade.
CloseApplications=yes
RestartApplications=no
MinVersion=10.0

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the whole bundle, so no file of an older version lingers beside the new one.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Dirs]
; The managed settings folder (docs/deployment.md). Its ACL is inherited from ProgramData, where
; users may create files, so an installed config.toml gets its own ACL below.
Name: "{commonappdata}\Coachdesk"

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
{ Runs icacls on the file; True if it succeeded. SIDs, not names, so it works in every language:
  S-1-5-32-544 Administrators, S-1-5-18 SYSTEM, S-1-5-32-545 Users. }
function SetAcl(const Target, Arguments: String): Boolean;
var
  ResultCode: Integer;
begin
  Result := Exec(ExpandConstant('{sys}\icacls.exe'), '"' + Target + '" ' + Arguments, '',
    SW_HIDE, ewWaitUntilTerminated, ResultCode) and (ResultCode = 0);
end;

{ /CONFIG=path: install that file as the machine's managed settings, writable by administrators
  only, so no user can unlock what it locks. }
procedure InstallManagedConfig(const Source: String);
var
  Target: String;
begin
  Target := ExpandConstant('{commonappdata}\Coachdesk\config.toml');
  if not FileCopy(Source, Target, False) then
  begin
    Log('Could not copy the managed settings from ' + Source + ' to ' + Target);
    SuppressibleMsgBox('Coachdesk is installed, but the settings file ' + Source +
      ' could not be copied to ' + Target + '.', mbError, MB_OK, IDOK);
  end
  else if not (SetAcl(Target, '/setowner *S-1-5-32-544') and
      SetAcl(Target, '/inheritance:r /grant:r *S-1-5-32-544:F *S-1-5-18:F *S-1-5-32-545:RX')) then
  begin
    Log('Could not restrict the permissions of ' + Target);
    SuppressibleMsgBox('Coachdesk is installed, but users could still change ' + Target +
      '. Restrict it as docs/deployment.md describes.', mbError, MB_OK, IDOK);
  end;
end;

procedure CurStepChanged(CurStep: TSetupStep);
var
  Source: String;
begin
  if CurStep = ssPostInstall then
  begin
    Source := ExpandConstant('{param:CONFIG|}');
    if Source <> '' then
      InstallManagedConfig(Source);
  end;
end;
