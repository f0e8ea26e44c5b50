"""The guides stay true: every `manage.py` command the README and docs/ show exists and
accepts the arguments shown (parsed by the command's own parser, not run)."""

import re
import shlex
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Placeholders the docs use, and a value of the right kind for each.
PLACEHOLDERS = {"<every queue>": "default", "<queues>": "default", "USER": "admin", "NAME": "default", "R": "why"}


def shown_commands() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        inline = re.findall(r"`(?:\.venv/bin/)?(?:python )?manage\.py ([^`]+)`", text)
        blocks = re.findall(r"^\s*(?:\.venv/bin/)?python manage\.py (.+?)(?:\s+#.*)?$", text, re.M)
        found += [(doc.name, " ".join(line.split())) for line in inline + blocks if "..." not in line and "(" not in line]
    return sorted(set(found))


COMMANDS = shown_commands()


def test_the_docs_show_commands():
    assert len(COMMANDS) > 15


@pytest.mark.parametrize("doc, line", COMMANDS, ids=[f"{d}: {c}" for d, c in COMMANDS])
def test_a_documented_command_exists_and_takes_its_arguments(doc, line):
    for placeholder, value in PLACEHOLDERS.items():
        line = re.sub(rf"(?<![\w-]){re.escape(placeholder)}(?![\w-])", value, line)
    name, *args = shlex.split(line)
    commands = get_commands()
    assert name in commands, f"{doc} shows `manage.py {name}`, which does not exist"
    parser = load_command_class(commands[name], name).create_parser("manage.py", name)
    parser.parse_args(args)  # raises CommandError naming the bad argument
