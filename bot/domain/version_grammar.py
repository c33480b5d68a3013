"""The grammar of the version texts publishers write: where a version begins and ends
(`V17 Update 4`, `3.05F`, `12.2.x`), the operators and words around it (`<=`, `prior to`,
`and below`, `2.00 to 6.11`, `(including) … (excluding)`), lists (`V15, V15.1 and V16`),
model names before it (`NMC2 <= 6.9.6`) and remarks after it, which are set aside."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bot.domain.language import N_, Phrase
from bot.domain.version_order import Undecidable, numbering


@dataclass(frozen=True)
class Bound:
    key: str  # normalised for ordering: "17-update-4"
    shown: str  # as the publisher wrote it: "V17 Update 4"
    inclusive: bool = True
    stem: bool = False  # "12.2.x": the bound is every version under 12.2
    after: str | None = None  # the publisher's words right after it, set aside

    @property
    def loose(self) -> bool:
        """True when the first word after it may belong to the version ('<= 2019 SPI')."""
        if self.after is None:
            return False
        word = re.match(r"[\s_]*([0-9A-Za-z]{1,4})(?![0-9A-Za-z.(])", self.after)
        return word is not None and word.group(1).lower() not in _REMARK_WORDS


@dataclass(frozen=True)
class Piece:
    """Versions from `low` to `high` (None: open); low is high for one version."""

    low: Bound | None
    high: Bound | None

    @property
    def single(self) -> bool:
        return self.low is not None and self.low == self.high


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
DATE = re.compile(rf"(?i)(?<![a-z]){_MONTH}[\s/_,-]*\d|\d[\s/_,-]*{_MONTH}(?![a-z])|"
                   r"\bdated\b|production[\s_]date|\b\d{1,2}/\d{1,2}/\d{2,4}\b")
SERIAL = re.compile(r"(?i)serial")
DOUBT = re.compile(r"(?i)\b(removed|not affected|unaffected|not vulnerable|except|exclud\w*)\b")
_SYMBOL_OP = re.compile(r"\s*(<=|>=|=<|=>|==|!=|<|>|=|≤|≥)\s*")
_WORD_OP = re.compile(r"(?i)\s*(prior to|earlier than|older than|before|up to|lower than|"
                      r"less than|later than|newer than|after|from|since)\s+")
_WORD_OPS = {"prior to": "<", "earlier than": "<", "older than": "<", "before": "<",
             "lower than": "<", "less than": "<", "up to": "<=", "later than": ">",
             "newer than": ">", "after": ">", "from": ">=", "since": ">="}
_OPS = {"=<": "<=", "=>": ">=", "==": "=", "≤": "<=", "≥": ">="}
_LEAD = re.compile(r"(?i)\s*(all[\s_]+(?:[a-z-]+[\s_]+)?versions?|versions?|ver\.|ver|"
                   r"firmware|fw|software|sw|rev\.|revision|rev|release|builds?[\s_]+nr\.?|"
                   r"builds?|nr\.|aka|between|and)(?![A-Za-z])[\s_:]*")
_CORE = re.compile(r"[0-9A-Za-z*](?:[0-9A-Za-z+~*]|[.\-](?=[0-9A-Za-z*])|(?<=\d)_(?=\d)|"
                   r"\(\d+[a-z]?\))*")
_QUALIFIER_WORDS = (r"service\s*pack|security\s*patch|hot\s*fix|hotfix|update|upd\.?|patch|"
                    r"build|release|beta|alpha|sp|hf|fp|cu|qu|uc|sr|mp|rc|rev|r|p|u")
_QUALIFIER = re.compile(rf"(?i)[\s_]+({_QUALIFIER_WORDS})[\s_.]*"
                        r"(\d[0-9A-Za-z]*(?:\.\d[0-9A-Za-z]*)*)(?![0-9A-Za-z.])"
                        r"|[\s_]+(ga|beta|alpha)(?![0-9A-Za-z.])")
_SYNONYMS = {"service pack": "sp", "servicepack": "sp", "security patch": "patch",
             "securitypatch": "patch", "hot fix": "hf", "hotfix": "hf", "upd": "update",
             "upd.": "update"}
_DIRECTION = re.compile(r"(?i)[\s_,]*(?:\(\s*)?(?:and|or|&)?\s*(?:possibly\s+)?"
                        r"(later|newer|above|higher|greater|onwards?|prior|earlier|below|"
                        r"lower|older|before)(?:\s+versions?)?(?:\s*\))?(?![\w])")
_LATER = {"later", "newer", "above", "higher", "greater", "onward", "onwards"}
_THROUGH = re.compile(r"(?i)\s*(?:-|–|—|\bto\b|\bthrough\b|\bthru\b|\buntil\b|\btill\b)\s*")
_AND = re.compile(r"(?i)\s*(?:,\s*and\b|,|\band\b|&)\s*")
# After a lower bound, the words that give its upper one: ">FW16_up_to_and_including_FW26".
_UPPER_WORDS = re.compile(r"(?i)[\s_]*(?:-[\s_]*)?(up[\s_]+to[\s_]+and[\s_]+including|"
                          r"but[\s_]+not[\s_]+including|up[\s_]+to|through|until|to)[\s_]+")
# After a bound, the same bound of another branch: "<V33.017_V34.014", "<= 2.0.11 / 3.0.11".
_NEXT_BRANCH = re.compile(r"[\s]*[_/][\s]*(?=[Vv]?\d)")
_INCLUDING_EXCLUDING = re.compile(r"(?i)\s*\(includ\w*\)\s*(?:and|to|-)\s*")
_EXCLUDING = re.compile(r"(?i)\s*\(exclud\w*\)")
_WITH_UPDATES = re.compile(r"(?i)[\s_]+including[\s_]+(?:all[\s_]+)?(?:hot[\s_]*fix(?:es)?|"
                           r"updates?|patch(?:es)?|service[\s_]+packs?)\b")
_SPACE = re.compile(r"\s+")
# "All versions with U-Boot < V2016.05RS09": every version, on a condition about another part.
_CONDITION = re.compile(r"(?i)(?:with|when|only|installed|using|running|in|on)(?![a-z])")
_AND_OP = re.compile(r"(?i)\s*(?:,\s*and\b|,|\band\b|&)\s*(?=[<>=≤≥])")
_ALL_WILDCARD = re.compile(r"(?:[.\-]?(?:x+|\*))+$", re.IGNORECASE)
# "12.2.x.x", "2.X", "1.38.xx", "HDW1XXX", "7.4x", "12.0.*"; not "1.597X", a version letter.
_WILDCARD_TAIL = re.compile(r"(?:[.\-](?:[xX]+|\*)|[xX]{2,}|\*|(?<=[0-9])x)+$")
TRAILING = ".,;:-–—_ "
# Words that start a remark, never a part of the version before them.
_REMARK_WORDS = frozenset("""
    of for if in on and or with only when see all the per via not also incl including
    integrated using running utilizes packaged these this is are sold used
    """.split())


def version_key(text: str) -> str:
    """A member's or a listed version normalised for ordering: 'V17 Upd4' → '17-update-4';
    read as a listed version is, up to the words after it ('3.30_24518' → '3.30')."""
    text = " ".join(text.replace("{", "(").replace("}", ")").split()).strip(TRAILING)
    scanner = Scanner(text)
    scanner.lead()
    found = scanner.version()
    if found is not None and not scanner.text[scanner.at:scanner.at + 1].isalnum():
        return found[0]
    return _plain_key(text)


def unreadable(listed: str) -> Undecidable:
    return Undecidable(Phrase(N_("the range {listed} cannot be read"), listed=repr(listed)))


def _plain_key(text: str) -> str:
    key = text.strip(TRAILING).casefold()
    key = re.sub(r"[\s_]+", "-", key)
    if re.match(r"v\d", key):
        key = key[1:]
    return key


def bound_piece(op: str, bound: Bound) -> Piece:
    """The stretch one operator and version give: '< 2.0' is everything below 2.0."""
    if op in ("<", "<="):
        return Piece(None, replace(bound, inclusive=op == "<="))
    if op in (">", ">="):
        return Piece(replace(bound, inclusive=op == ">="), None)
    return Piece(bound, bound)


@dataclass(frozen=True)
class Item:
    op: str  # "<", "<=", ">", ">=", "=", or "" for a whole piece
    bound: Bound | None = None
    piece: Piece | None = None


class Scanner:
    """Reads one alternative (the text between two `|`) from left to right."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.set_aside: list[str] = []
        self.other: list[Piece] = []
        self.also: list[Item] = []

    def rest(self) -> str:
        return self.text[self.at:].strip(TRAILING)

    def _match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        found = pattern.match(self.text, self.at)
        if found is not None:
            self.at = found.end()
        return found

    def lead(self) -> None:
        while self._match(_LEAD):
            pass

    def every(self) -> bool:
        """'*', 'All versions' and the like, with what follows set aside."""
        start = self.at
        if self.text.startswith("*") and not _CORE.match(self.text, 1):
            self.at = 1
        else:
            lead = _LEAD.match(self.text)
            if lead is None or not lead.group(1).lower().startswith("all"):
                return False
            self.at = lead.end()
            condition = _CONDITION.match(self.text, self.at) is not None
            if not condition and (any(c.isdigit() for c in self.rest())
                                  or _SYMBOL_OP.match(self.text, self.at)):
                self.at = start
                return False
        if self.rest():
            self.set_aside.append(self.rest())
        return True

    def op(self) -> str | None:
        found = self._match(_SYMBOL_OP) or self._match(_WORD_OP)
        if found is None:
            return None
        word = found.group(1).lower()
        return _WORD_OPS.get(word) or _OPS.get(word, word)

    def version(self, letters: int = 1) -> tuple[str, str] | None:
        """(key, as written) of the version at this point, qualifiers included; a version
        of letters alone (a revision) has at most `letters` of them."""
        start = self.at
        core = self._match(_CORE)
        if core is None:
            return None
        text = core.group(0)
        if "_" in text and "." in text.split("_")[0]:  # "v2.16_170401": a build after it
            text = text.split("_")[0]
            self.at = start + len(text)
        if re.fullmatch(r"[A-Za-z]-[A-Za-z]", text):  # "Rev B-M": from B to M
            self.at = start + 1
            text = text[0]
        if not any(c.isdigit() for c in text) and not (text.isalpha() and len(text) <= letters) \
                and not _ALL_WILDCARD.fullmatch(text.lstrip("vV")):
            self.at = start
            return None
        key = text.casefold().replace("_", ".")
        if re.match(r"v[\d*x]", key):
            key = key[1:]
        while (qualifier := self._match(_QUALIFIER)) is not None:
            word = (qualifier.group(1) or qualifier.group(3)).casefold()
            word = _SYNONYMS.get(" ".join(word.split()), " ".join(word.split()))
            number = qualifier.group(2)
            key += f"-{word}" + (f"-{number.casefold()}" if number else "")
        return key, self.text[start:self.at]

    def bound(self, inclusive: bool) -> Bound | None:
        """The version here as a bound, with its wildcard and loose words noted."""
        found = self.version(letters=2)
        if found is None:
            return None
        key, shown = found
        if (updates := self._match(_WITH_UPDATES)) is not None:
            self.set_aside.append(updates.group(0).strip(" _"))
            return Bound(key, shown, inclusive, stem=True)
        tail = _WILDCARD_TAIL.search(shown)
        if tail is not None and key.endswith(tail.group(0).casefold()):
            return Bound(key[:len(key) - len(tail.group(0))], shown, inclusive, stem=True)
        return Bound(key, shown, inclusive)

    def items(self) -> list[Item]:
        """The constraints of this alternative; what no rule reads is set aside."""
        found: list[Item] = []
        op: str | None = None
        while True:
            self._match(_SPACE)
            self.lead()
            if (label := self._label()) is not None:
                self.set_aside.append(label)
            op = self.op() or op
            self.lead()
            if (label := self._label()) is not None:
                self.set_aside.append(label)
            bound = self.bound(inclusive=op in (None, "<=", ">=", "="))
            if bound is None:
                break
            item = self._after_version(op, bound)
            found.append(item)
            if item.op == "=" and (self._match(_AND) or self._next_is_version()):
                op = None
                continue
            self._match(_AND_OP)
            if (next_op := self.op()) is not None:
                op = next_op
                continue
            if item.op in (">", ">=") and (upper := self._match(_UPPER_WORDS)) is not None:
                op = "<" if upper.group(1).lower().startswith("but") else "<="
                continue
            if item.bound is not None and item.op in ("<", "<=", ">", ">=") and \
                    self._next_branch(item.bound):
                continue
            break
        if not found:
            raise unreadable(self.text)
        found += self.also
        if self.rest():
            self.set_aside.append(self.rest())
            last = found[-1]
            if last.bound is not None:
                found[-1] = Item(last.op, replace(last.bound, after=self.rest()))
        return found

    def _next_branch(self, bound: Bound) -> bool:
        """True (and there) when the same bound of another branch follows, numbered alike."""
        start = self.at
        if self._match(_NEXT_BRANCH) is not None:
            probe = Scanner(self.text[self.at:])
            found = probe.version()
            if found is not None and not probe.text[probe.at:probe.at + 1].isalnum() and \
                    numbering(found[0]) == numbering(bound.key) and \
                    found[0].count(".") == bound.key.count(".") and not bound.stem:
                return True
        self.at = start
        return False

    def _label(self) -> str | None:
        """A model name before the version, numbered otherwise: 'NMC2 <= 6.9.6',
        '< CPC80 V16.30', 'RES670 2.0.0.4'."""
        found = re.match(r"([A-Za-z][0-9A-Za-z-]*\d[0-9A-Za-z-]*|[A-Z]{2,6})[\s_]+",
                         self.text[self.at:])
        rest = self.text[self.at + found.end() - 1:] if found else ""
        if found is None or _QUALIFIER.match(" " + found.group(1)) or _QUALIFIER.match(rest):
            return None
        probe = Scanner(rest.lstrip(" _"))
        probe.op()
        following = probe.version()
        if following is None or \
                numbering(following[0]) == numbering(version_key(found.group(1))):
            return None
        self.at += found.end()
        return found.group(1)

    def _next_is_version(self) -> bool:
        rest = self.text[self.at:]
        following = Scanner(rest.lstrip()).version()
        return rest[:1].isspace() and following is not None and \
            any(c.isdigit() for c in following[0])

    def _after_version(self, op: str | None, bound: Bound) -> Item:
        """The version's role, from what follows it: a direction ('and prior'), a second
        version ('2.00 to 6.11'), a remark in brackets, or nothing."""
        if op is None:
            if (interval := self._interval_from(bound)) is not None:
                return Item("", piece=interval)
            numbers = re.fullmatch(r"(\d+)-(\d+)", bound.key)
            if numbers is not None and int(numbers.group(1)) < int(numbers.group(2)):
                # "20-33", "2014-2016": firmware revisions or years from one to the other.
                low, high = numbers.groups()
                return Item("", piece=Piece(replace(bound, key=low), replace(bound, key=high)))
            direction = self._match(_DIRECTION)
            if direction is not None:
                later = direction.group(1).lower() in _LATER
                return Item(">=" if later else "<=", bound)
            if _SYMBOL_OP.match(self.text, self.at) is not None:
                return self._x_op_y(bound)
        self._remark(op, bound)
        return Item(op or "=", bound)

    def _interval_from(self, low: Bound) -> Piece | None:
        start = self.at
        closed = True
        if self._match(_INCLUDING_EXCLUDING) is None:
            if self._match(_THROUGH) is None:
                return None
            closed = False
        high = self.bound(inclusive=True)
        if high is None:
            self.at = start
            return None
        if closed:
            high = Bound(high.key, high.shown, inclusive=not self._match(_EXCLUDING),
                         stem=high.stem)
        return Piece(low, high)

    def _x_op_y(self, low: Bound) -> Item:
        """'16 <= 20', 'A10 < A11': a version between two."""
        start = self.at
        op = self.op()
        high = self.bound(inclusive=op == "<=")
        if op not in ("<", "<=") or high is None or numbering(high.key) != numbering(low.key):
            self.at = start
            return Item("=", low)
        return Item("", piece=Piece(low, high))

    def _remark(self, op: str | None, bound: Bound) -> None:
        """A remark in brackets right after the version: set aside, and when it is the
        same version in another numbering ('(v9.90.196)', '(firmware 1.46)'), kept."""
        found = re.match(r"\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)", self.text[self.at:])
        if found is None:
            return
        self.at += found.end()
        self.set_aside.append(found.group(0).strip())
        inner = Scanner(re.sub(r"(?i)^(?:or|also|i\.e\.)\s+", "", found.group(1).strip()))
        inner.lead()
        inner_op = inner.op() or op
        inner.lead()
        other = inner.bound(inclusive=inner_op in (None, "<=", ">=", "="))
        if other is None:
            return
        if (direction := inner._match(_DIRECTION)) is not None and op in (None, "="):
            inner_op = ">=" if direction.group(1).lower() in _LATER else "<="
        if inner.rest():
            return
        if inner_op in (None, "="):
            self.also.append(Item("=", other))  # "3.00A (aka 9.50.255.02)": either name
        else:
            self.other.append(bound_piece(inner_op, other))
