"""Shell completion: `mlpatterns completion bash|zsh` prints a script that asks
`mlpatterns __complete WORDS...` what may come next, so the subcommands, options, pattern names and
a chart's --set value paths offered are always the installed CLI's own (as cobra-based CLIs such as
helm and kubectl do). Where it offers nothing, the shell completes file names."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence

from mlpatterns import usage

_BASH = """\
# mlpatterns completion for bash (zsh: `mlpatterns completion zsh`)
_mlpatterns() {
    local line=${COMP_LINE:0:COMP_POINT} cur=${COMP_WORDS[COMP_CWORD]} IFS=$'\\n'
    local -a words
    IFS=$' \\t' read -r -a words <<< "$line"
    [[ $line == *[[:space:]] || ${#words[@]} -eq 0 ]] && words+=("")
    COMPREPLY=($("${COMP_WORDS[0]}" __complete "${words[@]:1}" 2>/dev/null))
    # A value path is offered as `path=`: the value follows it with no space between.
    if [[ ${COMPREPLY[0]} == *= ]] && type compopt >/dev/null 2>&1; then compopt -o nospace; fi
    return 0
}
complete -o default -F _mlpatterns mlpatterns
"""

_ZSH = """\
#compdef mlpatterns
# mlpatterns completion for zsh, through zsh's bash completion layer
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
""" + _BASH.split("\n", 1)[1]


def script(shell: str) -> str:
    return _ZSH if shell == "zsh" else _BASH


def answer(words: Sequence[str]) -> int:
    """Print what may replace the last of `words` (the words after `mlpatterns`, the one being
    typed last, '' for a new one), one per line."""
    for candidate in candidates(list(words) or [""]):
        print(candidate)
    return 0


def candidates(words: list[str]) -> list[str]:
    *before, current = words
    commands: dict[str, argparse.ArgumentParser] = {"": usage.parser(), **usage.commands()}
    path, positionals = _command_of(before, commands)
    command = commands[path]
    previous = before[-1] if before else ""
    option = _option(command, previous)
    if option is not None and option.nargs != 0:  # the value of `previous`
        if option.dest == "set":
            offered: Iterator[str] = (f"{p}=" for p in _value_paths(positionals))
        else:
            offered = iter(str(choice) for choice in option.choices or ())
    elif current.startswith("-"):
        offered = (o for action in command._actions if action.help != argparse.SUPPRESS for o in action.option_strings)
    elif not path or path in ("charts", "crds"):
        prefix = f"{path} " if path else ""
        offered = (name.removeprefix(prefix) for name in commands if name.startswith(prefix) and name not in ("", path))
        offered = (name for name in offered if " " not in name)
    elif path == "completion":
        offered = iter(("bash", "zsh"))
    elif path in ("render", "validate", "up", "load") and not ("/" in current or current.startswith(".")):
        offered = iter(usage.chart_names())
    else:
        return []
    return sorted({candidate for candidate in offered if candidate.startswith(current)})


def _command_of(words: list[str], commands: dict[str, argparse.ArgumentParser]) -> tuple[str, list[str]]:
    """The subcommand the words name ('' for none yet) and the positional words after it."""
    path, positionals = "", list[str]()
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            option = _option(commands[path], word)
            skip = option is not None and option.nargs != 0 and "=" not in word
            continue
        if not positionals and f"{path} {word}".strip() in commands:
            path = f"{path} {word}".strip()
        else:
            positionals.append(word)
    return path, positionals


def _option(command: argparse.ArgumentParser, word: str) -> argparse.Action | None:
    for action in command._actions:
        if word.split("=", 1)[0] in action.option_strings:
            return action
    return None


def _value_paths(positionals: list[str]) -> list[str]:
    """The --set paths of the chart among the positional words (a pattern name or a chart folder)."""
    from pathlib import Path

    from mlpatterns.charts.value_paths import paths, schema_of
    from mlpatterns.paths import charts_dir

    for word in reversed(positionals):
        for chart in (Path(word), charts_dir() / word):
            if (chart / "Chart.yaml").is_file():
                return list(paths(schema_of(chart)))
    return []
