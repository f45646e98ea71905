"""Plain text (a research log, a feed article) as Markdown that renders the way the
text reads: every line stays its own line, "- " and "• " lines stay a list, and runs
of pasted code become fenced code blocks with their indentation.

Markdown joins consecutive lines into one paragraph and reads `__init__` as bold, so
text that was never written as Markdown has to be fenced and separated, not passed on.
"""

import re

# Lines that only code starts with (Python mostly, the language pasted into logs).
_CODE_START = re.compile(
    r"^(def |class \w|import \w|from [\w.]+ import |return\b|yield\b|raise\b|for \w[\w, ()]* in .+:$"
    r"|while .+:$|if .+:$|elif .+:$|else:$|try:$|except\b.*:$|finally:$|with .+:$|@[\w.]+(\(.*\))?$"
    r"|async def |await |print\(|assert |pass$|continue$|break$|\"\"\"|'''|[}\])]+[,;)]*$)"
)
# `name = …`, `self.m[i] = …`, `a, b = …`, `x += …`: an assignment, not prose with an equals sign.
_ASSIGNMENT = re.compile(r"^[A-Za-z_][\w.\[\]'\"]*(\s*,\s*[A-Za-z_][\w.\[\]]*)*\s*([-+*/@%|&^]|//|\*\*)?=\s*\S")
# A call or expression statement: `loss.backward()`, `optimizer.zero_grad()`, `x.mul_(…).add_(…)`.
_CALL = re.compile(r"^[A-Za-z_][\w.]*(\[[^\]]*\])?\(.*\)[\w.()\[\]]*$")
# C-family statements and blocks (`for (…) {`, `x = y; // why`), and `"key": value,` lines of a literal.
_C_STATEMENT = re.compile(r"[;{]\s*(//.*)?$")
_DICT_ENTRY = re.compile(r"^[\"'][\w .-]*[\"']\s*:\s*\S.*[,{\[(]?$")
_COMMENT = re.compile(r"^(#|//)\s")
# Literal rows (`[80, 572, 196],`), continuation lines of a call (`problem,`, `lr=1e-3,`, `(a, b) + [c])`).
_LITERAL = re.compile(r"^[\[({][\d\s,.+\-eE\[\]()]*[\])}],?$|^[{(\[]$")
_ARGUMENT = re.compile(r"^([A-Za-z_][\w.]*,|[A-Za-z_]\w*=[^\s=]+,?|\(.*\)[)\],]*)$")
# A sentence: a capitalised word and three plain words.
_SENTENCE = re.compile(r"^[A-Z][a-z]+,? [a-z]+ [a-z]+ [a-z]+")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•▪◦]|\d+[.)])\s+\S")
_BULLET = re.compile(r"^\s*[•▪◦*+]\s+")
_PYTHON = re.compile(r"^(def |class |import |from [\w.]+ import )|self\.|\bNone\b", re.M)
# What Markdown would otherwise read as structure at the start of a prose line.
_BLOCK_MARK = re.compile(r"^(#{1,6}(?=\s|$)|>|={3,}\s*$|-{3,}\s*$|_{3,}\s*$|\|)")
_EMPHASIS_RUN = re.compile(r"(?<![\w\\])(__|\*\*)(?=\w)(.+?)(?<=\w)\1(?!\w)")


def is_code(line: str) -> bool:
    """Whether a line reads as a statement of code rather than a sentence."""
    text = line.strip()
    if not text or "’" in text or "“" in text:
        return False
    if _CODE_START.match(text) or _LITERAL.match(text) or _ARGUMENT.match(text):
        return True
    if _SENTENCE.match(text) or _LIST_ITEM.match(text):
        return False
    if _ASSIGNMENT.match(text) and not text.endswith((".", "?", "!")):
        # `Rating = 2 for cleaning` is prose: code after `=` has no run of plain words.
        rhs = re.sub(r"\"[^\"]*\"|'[^']*'", "", text.split("=", 1)[1]).split("#")[0].strip()
        return not re.search(r"\b[a-z]{2,} [a-z]{2,} [a-z]{2,} [a-z]{2,}\b|\b[a-z]+ [a-z]+ [a-z]+$", rhs)
    if _C_STATEMENT.search(text) or _DICT_ENTRY.match(text):
        return not text.endswith((".", "?", "!"))
    return bool(_CALL.match(text)) and " " not in text.split("(", 1)[0]


def _classify(lines: list[str]) -> list[bool]:
    """is_code per line, with the inside of a docstring that opens on a code line counted as code."""
    code, docstring = [], False
    for line in lines:
        text = line.strip()
        quotes = text.count('"""') + text.count("'''")
        if docstring:
            code.append(True)
            docstring = quotes % 2 == 0
            continue
        code.append(is_code(line))
        docstring = code[-1] and quotes % 2 == 1
    return code


def _code_runs(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) of each run of code lines; comment and blank lines (up to four in a row)
    inside a run belong to it; a run starts and ends on code. A run of one line counts
    when it stands alone (a blank line or the text's edge on both sides)."""
    code = _classify(lines)
    runs, start, last_code = [], None, None
    for i in range(len(lines) + 5):
        text = lines[i].strip() if i < len(lines) else None
        if text is not None and code[i]:
            start = i if start is None else start
            last_code = i
        elif start is not None and text is not None and (_COMMENT.match(text) or not text) and i - last_code <= 4:
            continue
        elif start is not None:
            alone = (start == 0 or not lines[start - 1].strip()) and (
                last_code + 1 == len(lines) or not lines[last_code + 1].strip()
            )
            if sum(code[start:last_code + 1]) >= 2 or (alone and not _CODE_START.match(lines[start].strip())):
                runs.append((start, last_code + 1))
            start = None
    return runs


def _escape_prose(line: str) -> str:
    """A prose line as Markdown that shows exactly its text (leading block marks and
    `__word__` / `**word**` runs escaped; everything else, links included, left as is)."""
    line = line.strip()
    line = _EMPHASIS_RUN.sub(lambda m: "\\" + "\\".join(m.group(1)) + m.group(2) + "\\" + "\\".join(m.group(1)), line)
    if _BLOCK_MARK.match(line):
        line = "\\" + line
    return line


def _fence(code_lines: list[str], language: str = "") -> str:
    code = "\n".join(line.rstrip() for line in code_lines).strip("\n")
    ticks = "```"
    while ticks in code:
        ticks += "`"
    language = language or ("python" if _PYTHON.search(code) else "c" if _C_STATEMENT.search(code) else "")
    return f"{ticks}{language}\n{code}\n{ticks}"


def _fenced_by_writer(lines: list[str]) -> dict[int, tuple[int, str]]:
    """Code the writer already fenced with ``` (or ~~~): start -> (end, language)."""
    fenced, i = {}, 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening:
            close = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == opening.group(1)), None)
            if close is not None:
                fenced[i] = (close + 1, opening.group(2))
                i = close + 1
                continue
        i += 1
    return fenced


def to_markdown(text: str) -> str:
    """Plain text as Markdown blocks: each line a paragraph, list lines a list, code fenced."""
    lines = text.split("\n")
    fenced = _fenced_by_writer(lines)
    inside = {j for start, (end, _) in fenced.items() for j in range(start, end)}
    runs = {start: end for start, end in _code_runs(lines) if not inside & set(range(start, end))}
    runs.update({start: end for start, (end, _) in fenced.items()})
    blocks, i, in_list = [], 0, False
    while i < len(lines):
        if i in fenced:
            blocks.append(_fence(lines[i + 1:runs[i] - 1], fenced[i][1]))
            i, in_list = runs[i], False
            continue
        if i in runs:
            blocks.append(_fence(lines[i:runs[i]]))
            i, in_list = runs[i], False
            continue
        line = lines[i]
        i += 1
        if not line.strip():
            in_list = False
            continue
        if _LIST_ITEM.match(line):
            item = _escape_prose(_BULLET.sub("- ", line.strip()))
            # Consecutive items form one list (no blank line between them).
            if in_list:
                blocks[-1] += "\n" + item
            else:
                blocks.append(item)
            in_list = True
            continue
        blocks.append(_escape_prose(line))
        in_list = False
    return "\n\n".join(blocks)
