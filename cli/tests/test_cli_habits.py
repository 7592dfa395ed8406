"""The CLI's habits, as helm and kubectl users expect them: --version, a positional release name and
-n, --help that documents every option, "did you mean" for what is misspelt, and shell completion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlpatterns import usage
from mlpatterns.cli import main
from mlpatterns.targets import TARGETS


def run(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
    status = main(list(words))
    printed = capsys.readouterr()
    return status, printed.out, printed.err


def test_version_names_the_kit_and_what_it_targets(capsys: pytest.CaptureFixture[str]) -> None:
    status, text, _ = run(capsys, "--version")
    assert status == 0
    assert text.startswith("mlpatterns 0.")
    for name in ("Kubernetes", "KServe", "Istio", "Helm"):
        assert any(line.split()[:1] == [name] and "+" in line for line in text.splitlines()[2:]), (name, text)
    status, printed, _ = run(capsys, "version", "-o", "json")
    document = json.loads(printed)
    assert status == 0
    assert document["version"] == text.split()[1]
    assert {target["name"]: target["minimum"] for target in document["targets"]}["KServe"] == next(
        target.minimum for target in TARGETS if target.name == "KServe"
    )


@pytest.mark.parametrize("path", sorted(usage.commands()))
def test_every_subcommand_documents_itself(capsys: pytest.CaptureFixture[str], path: str) -> None:
    status, text, _ = run(capsys, *path.split(), "--help")
    assert status == 0
    command = usage.commands()[path]
    assert command.description, path
    examples = text.split("\nexamples:\n")[1].splitlines()
    assert len(examples) >= 2, text
    assert all("mlpatterns " in line for line in examples), text
    for action in command._actions:
        assert action.help, (path, action.dest)
        if action.option_strings and action.default not in (None, False, [], "==SUPPRESS=="):
            assert f"(default: {action.default})" in " ".join(text.split()), (path, action.dest)


def test_help_says_which_options_repeat_and_the_default_release_and_namespace(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in ("render", "up", "validate"):
        _, text, _ = run(capsys, command, "--help")
        flat = " ".join(text.split())
        assert "wins over -f (repeatable)" in flat
        assert f"(default: {usage.RELEASE})" in flat
        assert f"(default: {usage.NAMESPACE})" in flat
    _, text, _ = run(capsys)
    assert "COMMAND" in text
    assert "render" in text


def metadata(text: str) -> list[dict[str, Any]]:
    """Each rendered object's metadata."""
    return [document["metadata"] for document in yaml.safe_load_all(text) if document]


def test_a_positional_release_and_namespace_reach_what_is_rendered(capsys: pytest.CaptureFixture[str]) -> None:
    status, text, err = run(capsys, "render", "team-a", "web-single", "-n", "models")
    assert status == 0, err
    objects = metadata(text)
    assert {meta["namespace"] for meta in objects if "namespace" in meta} == {"models"}
    assert all(str(meta["name"]).startswith("team-a") for meta in objects), [meta["name"] for meta in objects]
    _, by_option, _ = run(capsys, "render", "web-single", "--release", "team-a", "-n", "models")
    assert by_option == text
    _, default, _ = run(capsys, "render", "web-single")
    assert all(str(meta["name"]).startswith(usage.RELEASE) for meta in metadata(default))


@pytest.mark.parametrize(
    ("words", "said"),
    [
        (["rendr", "web-single"], "unknown command 'rendr'; did you mean render?"),
        (["render", "web-single", "--sett", "a=b"], "unknown option --sett; did you mean --set?"),
        (["render", "shadow-abb"], "no pattern or chart 'shadow-abb'; did you mean shadow-ab?"),
        (["render", "shadow-ab", "--set", "primary.modle.uri=x"], "did you mean 'primary.model'?"),
        (["version", "-o", "jsno"], "'jsno' is not one of text, json; did you mean json?"),
        (["render", "a", "b", "c"], "give [RELEASE] CHART, not 3 names"),
        (["render", "Team_A", "web-single"], "'Team_A' is not a release name"),
        (["render", "a", "web-single", "--release", "b"], "two release names: 'a' and --release b"),
        (["up", "web-single", "--port", "eighty"], "invalid int value: 'eighty'"),
    ],
)
def test_a_mistake_is_one_line_and_exit_2_with_what_was_meant(
    capsys: pytest.CaptureFixture[str], words: list[str], said: str
) -> None:
    status, text, err = run(capsys, *words)
    assert status == 2
    assert said in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 3, err
    assert text == ""


def test_completion_offers_commands_patterns_options_and_value_paths(capsys: pytest.CaptureFixture[str]) -> None:
    def offered(*words: str) -> list[str]:
        assert main(["__complete", *words]) == 0
        return capsys.readouterr().out.split()

    assert offered("re") == ["render", "report"]
    assert "shadow-ab" in offered("up", "")
    assert "pipeline-training" not in offered("up", "")
    assert offered("up", "shadow-ab", "--set", "shadow.model.u") == ["shadow.model.uri="]
    assert offered("render", "my", "online-ab", "-n", "x", "--set", "variants[0].w") == ["variants[0].weight="]
    assert "--namespace" in offered("render", "web-single", "--")
    assert offered("charts", "") == ["sync"]
    assert offered("version", "-o", "") == ["json", "text"]
    assert offered("render", "./charts/") == []  # a path: the shell completes file names


def bash_offers(line: str, shell_script: str) -> list[str]:
    """What bash offers after `line` (the cursor at its end), with the script sourced, as a user's bash."""
    bin_dir = Path(sys.executable).parent
    program = f"""
{shell_script}
COMP_LINE={json.dumps(line)}; COMP_POINT=${{#COMP_LINE}}
read -r -a COMP_WORDS <<< "$COMP_LINE"; [[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
_mlpatterns; printf '%s\\n' "${{COMPREPLY[@]}}"
complete -p mlpatterns
"""
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, env=env, timeout=60, check=True)
    *offered, registration = done.stdout.strip().splitlines()
    assert registration == "complete -o default -F _mlpatterns mlpatterns"
    return offered


def test_the_bash_script_completes_through_the_installed_cli() -> None:
    script = subprocess.run([sys.executable, "-m", "mlpatterns", "completion", "bash"], capture_output=True,
                            text=True, check=True, timeout=60).stdout  # fmt: skip
    assert bash_offers("mlpatterns up shad", script) == ["shadow-ab"]
    assert bash_offers("mlpatterns render shadow-ab --set shadow.model.f", script) == ["shadow.model.format="]
    assert bash_offers("mlpatterns ", script)[:3] == ["charts", "completion", "crds"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (`make setup` installs it)")
def test_the_zsh_script_registers_a_completion() -> None:
    script = subprocess.run([sys.executable, "-m", "mlpatterns", "completion", "zsh"], capture_output=True,
                            text=True, check=True, timeout=60).stdout  # fmt: skip
    done = subprocess.run(["zsh", "-f", "-c", f"{script}\nprint -r -- ${{_comps[mlpatterns]}}"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() != "", done.stderr
