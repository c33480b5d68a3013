"""Keep the translation catalogs in step with the code (`python -m bot.cli.translations`).

`update` extracts every `_()`, `N_()` and `ngettext()` message of `bot/` into
`bot/app/locales/hubbot.pot` and merges it into each language's `.po` (new messages empty, changed
ones fuzzy). `check` fails (exit 1) when a message is missing from a catalog, untranslated,
fuzzy, left over, or its translation does not keep the message's {placeholders}.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.app.i18n import DOMAIN, LOCALES_DIR, catalog_files, placeholders

PACKAGE = Path(__file__).parents[1]
TEMPLATE = LOCALES_DIR / f"{DOMAIN}.pot"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
_FLAGS = ("python-brace-format",)


def extract() -> Catalog:
    """Every message the code writes to users, with where it is written."""
    catalog = Catalog(project="hubbot", domain=DOMAIN, charset="utf-8")
    found = extract_from_dir(str(PACKAGE), method_map=[("**.py", "python")],
                             keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
                             strip_comment_tags=True)
    for filename, lineno, message, comments, context in found:
        location = (f"bot/{filename}", lineno)
        flags = _FLAGS if placeholders(message) else ()
        catalog.add(message, None, [location], auto_comments=comments, flags=flags,
                    context=context)
    return catalog


def problems(template: Catalog, code: str, catalog: Catalog) -> list[str]:
    """What is wrong with one language's catalog against the code's messages."""
    found: list[str] = []
    for message in template:
        if not message.id:
            continue
        entry = catalog.get(message.id, message.context)
        where = _where(message)
        if entry is None:
            found.append(f"{code}: missing {_short(message.id)} ({where})")
            continue
        if entry.fuzzy:
            found.append(f"{code}: fuzzy {_short(message.id)} ({where})")
        if not _translated(entry):
            found.append(f"{code}: untranslated {_short(message.id)} ({where})")
            continue
        expected = placeholders(message.id)
        for text in _strings(entry.string):
            if placeholders(text) - expected or (
                    not isinstance(message.id, tuple) and placeholders(text) != expected):
                found.append(f"{code}: placeholders of {_short(message.id)} differ: "
                             f"{sorted(expected)} vs {sorted(placeholders(text))} ({where})")
    for entry in catalog:
        if entry.id and template.get(entry.id, entry.context) is None:
            found.append(f"{code}: left over (no longer in the code) {_short(entry.id)}")
    return found


def unextractable(root: Path = PACKAGE) -> list[str]:
    """Calls of `_()`/`N_()`/`ngettext()` whose text is built at run time (an f-string, a
    concatenation, `%`): Babel cannot extract them, so they would never be translated."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        where = path.relative_to(root.parent)
        in_fstrings = {id(call) for fstring in ast.walk(tree)
                       if isinstance(fstring, ast.JoinedStr) for call in ast.walk(fstring)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in KEYWORDS):
                continue
            literal = bool(node.args) and isinstance(node.args[0], ast.Constant)
            if id(node) in in_fstrings and literal:  # Babel does not look inside f-strings
                found.append(f"{where}:{node.lineno}: {node.func.id}() inside an f-string is "
                             "not extracted; call it outside and pass the result in")
            elif any(isinstance(arg, ast.JoinedStr | ast.BinOp) for arg in node.args[:2]):
                found.append(f"{where}:{node.lineno}: {node.func.id}() of a text built at run "
                             "time; use a literal with {placeholders} and .format()")
    return found


def _translated(entry: Message) -> bool:
    return all(text.strip() for text in _strings(entry.string))


def _strings(text: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if text is None:
        return [""]
    return list(text) if isinstance(text, tuple | list) else [text]


def _short(message_id: str | tuple[str, ...] | list[str]) -> str:
    text = message_id[0] if isinstance(message_id, tuple | list) else message_id
    text = re.sub(r"\s+", " ", text)
    return repr(text if len(text) <= 70 else text[:67] + "...")


def _where(message: Message) -> str:
    return ", ".join(f"{file}:{line}" for file, line in message.locations[:2])


def check() -> int:
    template = extract()
    found = unextractable()
    for code, path in catalog_files().items():
        with path.open("rb") as fp:
            found += problems(template, code, read_po(fp, locale=code, domain=DOMAIN))
    for line in found:
        print(line)
    languages = ", ".join(catalog_files()) or "none"
    if found:
        print(f"{len(found)} catalog problems ({len(template)} messages; languages: {languages})."
              " Run `python -m bot.cli.translations update`, translate, and clear the fuzzy flags.")
        return 1
    print(f"catalogs complete: {len(template)} messages, languages: {languages}")
    return 0


def update() -> int:
    template = extract()
    with TEMPLATE.open("wb") as fp:
        write_po(fp, template, width=100, sort_output=False, omit_header=False)
    for code, path in catalog_files().items():
        with path.open("rb") as fp:
            catalog = read_po(fp, locale=code, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=False)
        with path.open("wb") as fp:
            write_po(fp, catalog, width=100, ignore_obsolete=True)
        print(f"updated {path.relative_to(PACKAGE.parent)}")
    return 0


def main(argv: list[str]) -> int:
    if argv[1:] == ["check"]:
        return check()
    if argv[1:] == ["update"]:
        return update()
    print("usage: python -m bot.cli.translations check|update", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
