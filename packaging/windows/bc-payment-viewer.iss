; Inno Setup 6 recipe: a per-user Windows installer (no administrator rights) for the bundle that
; scripts/build-bundle.sh leaves in dist\bc-payment-viewer\. It installs into
; %LOCALAPPDATA%\Programs\bc-payment-viewer and creates the Start-menu shortcut with the app's
; AppUserModelID, so the taskbar groups the window under that shortcut (ui/native.py sets the same id).
;
;   iscc /DAppVersion=0.1.0 packaging\windows\bc-payment-viewer.iss   → dist\bc-payment-viewer-setup.exe
;
; .github/workflows/desktop.yml runs exactly this. Signing: add a SignTool line (Tools > Configure Sign
; Tools in the IDE, or /S"signtool=signtool sign /fd sha256 /tr http://timestamp.example /td sha256 $f")
; and "SignTool=signtool" under [Setup]; unsigned installers trigger SmartScreen warnings.

#define AppName "BC Payment Viewer"
#define AppExe "bc-payment-viewer.exe"
; The AppUserModelID: keep equal to APP_ID in ui/app.py.
#define AppUserModelID "io.github.bc_payment_viewer"
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
; A fixed GUID: upgrades find the earlier installation through it. Never change it.
AppId={{1087372D-C8E6-5AF6-BC8B-FBF08A9DEDA5}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=bc-payment-viewer
; Per user: no UAC prompt, and managed PCs that deny elevation can still install.
PrivilegesRequired=lowest
DefaultDirName={localappdata}\Programs\bc-payment-viewer
DisableDirPage=yes
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
SourceDir=..\..
OutputDir=dist
OutputBaseFilename=bc-payment-viewer-setup
SetupIconFile=resources\icons\bc-payment-viewer.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; Close a running copy before replacing its files (the app quits cleanly on WM_CLOSE).
CloseApplications=yes
RestartApplications=no

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "dist\bc-payment-viewer\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
; {autoprograms} is the user's Start menu here (PrivilegesRequired=lowest).
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; AppUserModelID: "{#AppUserModelID}"; Comment: "View Business Central customer payments"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; AppUserModelID: "{#AppUserModelID}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Settings, sign-ins, history and logs stay (README, "Where data lives"); only what the installer put here goes.
Type: filesandordirs; Name: "{app}"
