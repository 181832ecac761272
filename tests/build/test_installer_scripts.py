"""The release scripts that cannot run on Linux are still checked here.

Shell scripts go through shellcheck; the PyInstaller spec and hooks must parse as Python; the
macOS entitlements must be a valid plist granting the microphone; the Inno Setup script is
linted by a small checker for the parts of its syntax we use (sections, directives, entry
parameters, preprocessor and Pascal blocks) and its paths must meet the ones build/dist.py uses.
"""

from __future__ import annotations

import ast
import os
import plistlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

import pytest
from build_support import BUILD, ROOT, run

SHELL_SCRIPTS = sorted(BUILD.rglob("*.sh"))
ISS = BUILD / "windows" / "coachdesk.iss"


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda path: str(path.relative_to(BUILD)))
def test_shell_scripts_pass_shellcheck_and_are_executable(script):
    result = run(["shellcheck", "--severity=style", script])
    assert result.returncode == 0, result.stdout
    assert os.access(script, os.X_OK)


def test_the_shell_scripts_are_the_ones_we_ship():
    names = {str(path.relative_to(BUILD)) for path in SHELL_SCRIPTS}
    assert {"verify.sh", "windows/sign.sh", "macos/sign_and_notarize.sh"} <= names


@pytest.mark.parametrize(
    "path",
    [
        BUILD / "coachdesk.spec",
        BUILD / "coachdesk_main.py",
        BUILD / "hooks" / "rthook_portaudio.py",
    ],
    ids=lambda path: path.name,
)
def test_pyinstaller_files_are_valid_python(path):
    ast.parse(path.read_text(), filename=str(path))


def spec_info_plist() -> dict[str, object]:
    """The info_plist the spec passes to BUNDLE (the macOS app's Info.plist additions)."""
    tree = ast.parse((BUILD / "coachdesk.spec").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "info_plist":
            return ast.literal_eval(node.value)
    raise AssertionError("the spec builds no macOS BUNDLE with an info_plist")


def test_macos_entitlements_grant_the_microphone_and_nothing_unexpected():
    with (BUILD / "macos" / "entitlements.plist").open("rb") as file:
        entitlements = plistlib.load(file)
    assert entitlements["com.apple.security.device.audio-input"] is True
    assert set(entitlements) == {
        "com.apple.security.device.audio-input",
        "com.apple.security.cs.allow-unsigned-executable-memory",
    }
    # macOS asks the user with this text; without it a hardened app is refused the microphone.
    assert "record" in str(spec_info_plist()["NSMicrophoneUsageDescription"])


def test_notarize_script_signs_with_the_entitlements_file():
    script = (BUILD / "macos" / "sign_and_notarize.sh").read_text()
    assert "entitlements=$here/entitlements.plist" in script
    assert '--entitlements "$entitlements"' in script
    assert "--options runtime" in script  # notarization requires the hardened runtime


# --- Inno Setup ----------------------------------------------------------------------------------

SECTIONS = {
    "Setup": set(),
    "Languages": {"Name", "MessagesFile"},
    "Tasks": {"Name", "Description", "GroupDescription", "Flags"},
    "InstallDelete": {"Type", "Name"},
    "Files": {"Source", "DestDir", "DestName", "Flags", "Permissions", "Tasks", "Excludes"},
    "Dirs": {"Name", "Permissions", "Flags", "Tasks"},
    "Icons": {"Name", "Filename", "Parameters", "WorkingDir", "IconFilename", "Tasks", "Comment"},
    "Run": {"Filename", "Parameters", "Description", "Flags", "WorkingDir", "StatusMsg", "Tasks"},
    "Code": set(),
}
REQUIRED_PARAMETERS = {
    "Languages": {"Name", "MessagesFile"},
    "Tasks": {"Name", "Description"},
    "InstallDelete": {"Type", "Name"},
    "Files": {"Source", "DestDir"},
    "Dirs": {"Name"},
    "Icons": {"Name", "Filename"},
    "Run": {"Filename"},
}
FLAGS = {
    "Tasks": {"unchecked", "exclusive", "checkedonce"},
    "Files": {"ignoreversion", "recursesubdirs", "createallsubdirs", "restartreplace"},
    "Run": {"nowait", "postinstall", "skipifsilent", "runhidden", "waituntilterminated"},
}
SETUP_DIRECTIVES = {
    "AppId", "AppName", "AppVersion", "AppVerName", "AppPublisher", "VersionInfoVersion",
    "DefaultDirName", "DefaultGroupName", "DisableProgramGroupPage", "PrivilegesRequired",
    "ArchitecturesAllowed", "ArchitecturesInstallIn64BitMode", "OutputDir", "OutputBaseFilename",
    "Compression", "SolidCompression", "WizardStyle", "UninstallDisplayIcon", "CloseApplications",
    "RestartApplications", "MinVersion",
}  # fmt: skip
COMMAND_LINE_DEFINES = {"AppVersion"}  # iscc /DAppVersion=...


@dataclass
class InnoScript:
    defines: dict[str, str] = field(default_factory=dict)
    setup: dict[str, str] = field(default_factory=dict)
    entries: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    code: list[str] = field(default_factory=list)


def split_parameters(line: str) -> Iterator[str]:
    """`Name: "a;b"; Flags: x` -> the parameters, splitting on semicolons outside quotes."""
    parts = re.findall(r'(?:[^;"]|"[^"]*")+', line)
    assert line.count('"') % 2 == 0, f"unbalanced quotes: {line}"
    return (part.strip() for part in parts if part.strip())


def parse_inno(text: str) -> InnoScript:
    script = InnoScript()
    section: str | None = None
    conditions: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        where = f"line {number}: {raw!r}"
        if section == "Code" and not line.startswith("["):
            script.code.append(raw)
            continue
        if not line or line.startswith(";"):
            continue
        if line.startswith("#"):
            directive = line.split()[0]
            if directive in ("#ifndef", "#ifdef", "#if"):
                conditions.append(line)
            elif directive == "#endif":
                assert conditions, f"#endif without #if ({where})"
                conditions.pop()
            elif directive == "#define":
                name, _, value = line.removeprefix("#define").strip().partition(" ")
                script.defines[name] = value.strip().strip('"')
            else:
                assert directive == "#error", f"unknown preprocessor directive ({where})"
            continue
        if match := re.fullmatch(r"\[(\w+)\]", line):
            section = match.group(1)
            assert section in SECTIONS, f"unknown section [{section}] ({where})"
            script.entries.setdefault(section, [])
            continue
        assert section is not None, f"text before the first section ({where})"
        if section == "Setup":
            key, equals, value = line.partition("=")
            assert equals and key in SETUP_DIRECTIVES, f"unknown [Setup] directive ({where})"
            script.setup[key] = value
            continue
        entry = {}
        for parameter in split_parameters(line):
            name, colon, value = parameter.partition(":")
            assert colon and name in SECTIONS[section], (
                f"bad [{section}] parameter {name} ({where})"
            )
            entry[name] = value.strip()
        missing = REQUIRED_PARAMETERS[section] - set(entry)
        assert not missing, f"[{section}] entry lacks {missing} ({where})"
        for flag in entry.get("Flags", "").split():
            assert flag in FLAGS[section], f"unknown [{section}] flag {flag} ({where})"
        script.entries[section].append(entry)
    assert not conditions, f"unclosed preprocessor blocks: {conditions}"
    return script


def pascal_tokens(code: str) -> list[str]:
    """Pascal words outside strings and comments, lower-cased (Pascal ignores case)."""
    # One pass, leftmost first, as Pascal's scanner reads: an apostrophe inside a comment
    # starts no string, and a brace inside a string starts no comment.
    code = re.sub(r"'[^']*'|\{[^}]*\}|\(\*.*?\*\)|//[^\n]*", " ", code, flags=re.DOTALL)
    return re.findall(r"[a-z_][a-z0-9_]*", code.lower())


@pytest.fixture(scope="module")
def inno() -> InnoScript:
    return parse_inno(ISS.read_text())


def expand(value: str, defines: dict[str, str]) -> str:
    def define(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in defines or name in COMMAND_LINE_DEFINES, f"{{#{name}}} is never defined"
        return defines.get(name, "1.0.0")

    return re.sub(r"\{#(\w+)\}", define, value.strip('"'))


def test_inno_setup_script_has_the_directives_a_deployment_needs(inno):
    for directive in ("AppId", "AppName", "AppVersion", "DefaultDirName", "OutputBaseFilename"):
        assert inno.setup.get(directive), directive
    assert inno.setup["PrivilegesRequired"] == "admin"  # per-machine install
    assert inno.setup["ArchitecturesInstallIn64BitMode"] == "x64compatible"
    assert re.fullmatch(r"\{\{[0-9A-F-]{36}\}", inno.setup["AppId"])  # "{{" escapes "{"


def test_inno_setup_paths_meet_the_linux_build_layout(inno, dist):
    here = PureWindowsPath(ISS.parent.relative_to(ROOT))
    source = expand(inno.entries["Files"][0]["Source"], inno.defines)
    bundle = Path(*(here / PureWindowsPath(source)).parent.parts)
    assert (ROOT / bundle).resolve() == dist.BUNDLE
    output = Path(*(here / PureWindowsPath(inno.setup["OutputDir"])).parts)
    assert (ROOT / output).resolve() == dist.RELEASE
    executable = inno.defines["AppExe"]
    assert executable == "coachdesk.exe"  # the spec's EXE name on Windows
    assert 'name="coachdesk"' in (BUILD / "coachdesk.spec").read_text()


def test_inno_setup_entries_reference_defined_tasks_and_defines(inno):
    tasks = {entry["Name"].strip('"') for entry in inno.entries["Tasks"]}
    for section, entries in inno.entries.items():
        for entry in entries:
            for value in entry.values():
                expand(value, inno.defines)
            if "Tasks" in entry:
                assert entry["Tasks"] in tasks, f"[{section}] uses undefined task {entry['Tasks']}"
    for value in inno.setup.values():
        expand(value, inno.defines)


def test_inno_setup_code_blocks_are_balanced_and_handle_config(inno):
    tokens = pascal_tokens("\n".join(inno.code))
    depth = 0
    for token in tokens:
        if token in ("begin", "case", "try"):
            depth += 1
        elif token == "end":
            depth -= 1
            assert depth >= 0, "an end without its begin"
    assert depth == 0, "a begin without its end"
    assert tokens.count("procedure") + tokens.count("function") == 3
    code = "\n".join(inno.code)
    assert "procedure CurStepChanged(CurStep: TSetupStep);" in code  # the event Inno calls
    assert "{param:CONFIG|}" in code


def test_inno_linter_catches_mistakes():
    """The checker above fails on what ISCC would reject, so passing it means something."""
    good = ISS.read_text()
    broken = [
        good.replace("[Files]", "[Filez]"),
        good.replace("DestDir:", "Destination:"),
        good.replace("Flags: ignoreversion", "Flags: ignoreverison"),
        good.replace("#endif", "", 1),
        good.replace("AppName=", "AppNmae="),
        good.replace('Name: "desktopicon";', 'Name: "desktop";'),
    ]
    for text in broken[:5]:
        with pytest.raises(AssertionError):
            parse_inno(text)
    script = parse_inno(broken[5])
    with pytest.raises(AssertionError, match="undefined task"):
        test_inno_setup_entries_reference_defined_tasks_and_defines(script)
    unbalanced = parse_inno(good.replace("  end\n  else if", "  else if", 1))
    with pytest.raises(AssertionError, match="begin without its end"):
        test_inno_setup_code_blocks_are_balanced_and_handle_config(unbalanced)


def test_deployment_guide_documents_the_installer_options():
    guide = (ROOT / "docs" / "deployment.md").read_text()
    assert "/VERYSILENT" in guide and "/CONFIG=" in guide
