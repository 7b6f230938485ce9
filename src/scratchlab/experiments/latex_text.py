"""Text to LaTeX that pdfLaTeX (T1 + utf8) typesets as written: no character is markup.

    escape(text)        body text: the ten specials `\\ { } _ % & # $ ~ ^` and `< > | " [ ] *`
                        become commands or braced literals; `--`, `''`, `,,` are kept from
                        forming ligatures; symbols (★ ≈ ± − λ η Δ …) become math or text
                        commands; line breaks and control characters become spaces.
    inline(text)        escape + the document model's two marks: **bold** → \\textbf,
                        `code` → \\texttt (the same marks the Markdown and HTML renderers keep).
    bookmark(text)      a heading's PDF bookmark: escaped ASCII, other characters as UTF-8.
    alltt(text)         preformatted text for the `alltt` environment, where only `\\ { }`
                        are special: those are escaped, symbols mapped as above.

Contract: the output (bookmarks aside) is ASCII except Latin letters U+00C0–U+017F (which
T1 + utf8 set), so the `.tex` compiles with pdfLaTeX (TeX Live's and Overleaf's default). A
character with no mapping (e.g. a CJK class name) is shown as its code point, `[U+4E2D]`,
rather than breaking the compile.
"""

from __future__ import annotations

import re
import unicodedata

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "_": r"\_",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "$": r"\$",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
    "[": "{[}",  # never read as an optional argument (after \\ or \item)
    "]": "{]}",
    "*": "{*}",  # never read as a starred form (after \\)
}

_GREEK = {  # lower and upper case letters that math mode has (Ο, Α, … look like Latin ones)
    "α": "alpha",
    "β": "beta",
    "γ": "gamma",
    "δ": "delta",
    "ε": "epsilon",
    "ζ": "zeta",
    "η": "eta",
    "θ": "theta",
    "ι": "iota",
    "κ": "kappa",
    "λ": "lambda",
    "μ": "mu",
    "ν": "nu",
    "ξ": "xi",
    "π": "pi",
    "ρ": "rho",
    "ς": "varsigma",
    "σ": "sigma",
    "τ": "tau",
    "υ": "upsilon",
    "φ": "phi",
    "χ": "chi",
    "ψ": "psi",
    "ω": "omega",
    "Γ": "Gamma",
    "Δ": "Delta",
    "Θ": "Theta",
    "Λ": "Lambda",
    "Ξ": "Xi",
    "Π": "Pi",
    "Σ": "Sigma",
    "Υ": "Upsilon",
    "Φ": "Phi",
    "Ψ": "Psi",
    "Ω": "Omega",
}
_MATH = {ch: "\\" + name for ch, name in _GREEK.items()}
_MATH.update(
    {
        "★": r"\bigstar",
        "≈": r"\approx",
        "±": r"\pm",
        "−": "-",
        "·": r"\cdot",
        "×": r"\times",
        "÷": r"\div",
        "→": r"\rightarrow",
        "←": r"\leftarrow",
        "⇒": r"\Rightarrow",
        "►": r"\blacktriangleright",
        "▲": r"\blacktriangle",
        "▼": r"\blacktriangledown",
        "√": r"\surd",
        "≤": r"\leq",
        "≥": r"\geq",
        "≠": r"\neq",
        "∞": r"\infty",
        "∑": r"\sum",
        "∈": r"\in",
        "∝": r"\propto",
        "⊙": r"\odot",
        "∘": r"\circ",
        "∂": r"\partial",
        "∇": r"\nabla",
        "⇔": r"\Leftrightarrow",
        "≡": r"\equiv",
        "⌈": r"\lceil",
        "⌉": r"\rceil",
        "⌊": r"\lfloor",
        "⌋": r"\rfloor",
        "µ": r"\mu",
        "°": r"^\circ",
    }
)
_TEXT = {
    "–": r"\textendash{}",
    "—": r"\textemdash{}",
    "…": r"\dots{}",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
    "•": r"\textbullet{}",
    "§": r"\S{}",
    "©": r"\copyright{}",
    "\u00a0": "~",
    "\u2009": r"\,",
    "\u202f": r"\,",
    "─": "-",
    "│": r"\textbar{}",
    "═": "=",
}
_SUPER = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+", strict=True))
_SUB = dict(zip("₀₁₂₃₄₅₆₇₈₉₋₊", "0123456789-+", strict=True))
_BOXES = set("┌┐└┘├┤┬┴┼")
_SPACES = re.compile(r"[\r\n\t\f\v]+")


def symbol(ch: str) -> str | None:
    """LaTeX for one non-ASCII character (None when it has no mapping)."""
    if ch in _MATH:
        return r"\ensuremath{" + _MATH[ch] + "}"
    if ch in _TEXT:
        return _TEXT[ch]
    if ch in _SUPER:
        return r"\textsuperscript{" + _sup_sub(_SUPER[ch]) + "}"
    if ch in _SUB:
        return r"\textsubscript{" + _sup_sub(_SUB[ch]) + "}"
    if ch in _BOXES:
        return "+"
    if "\u00c0" <= ch <= "\u017f" and unicodedata.category(ch).startswith("L") and ch != "\u00d7":
        return ch
    return None


def _sup_sub(ch: str) -> str:
    return r"\ensuremath{-}" if ch == "-" else ch


def _char(ch: str) -> str:
    if ch < "\x7f":
        return _SPECIAL.get(ch, ch) if ch >= " " else " "
    mapped = symbol(ch)
    if mapped is not None:
        return mapped
    if unicodedata.category(ch) in ("Mn", "Me", "Cf"):  # combining marks, zero-width marks
        return ""
    if unicodedata.category(ch)[0] in "CZ":  # controls, odd spaces
        return " "
    return "{[}U+" + f"{ord(ch):04X}" + "{]}"


def escape(text: object) -> str:
    """Body text as LaTeX (see the module docstring)."""
    text = unicodedata.normalize("NFC", _SPACES.sub(" ", str(text)))
    out = []
    for ch, nxt in zip(text, text[1:] + " ", strict=False):
        out.append(_char(ch))
        if ch in "-'," and nxt == ch:  # -- '' ,, would become – ” „
            out.append("{}")
    return "".join(out)


def inline(text: object) -> str:
    """`escape` with **bold** → \\textbf{…} and `code` → \\texttt{…} (unclosed marks are
    closed at the end of the text, so braces always balance). Code may break a line after
    `-`, `_` and `/` (typewriter text is never hyphenated; long run names would overflow)."""
    out = []
    for i, bold_part in enumerate(str(text).split("**")):
        spans = bold_part.split("`")
        body = "".join(_code(s) if j % 2 else escape(s) for j, s in enumerate(spans))
        out.append(r"\textbf{" + body + "}" if i % 2 else body)
    return "".join(out)


def _code(text: str) -> str:
    pieces = _CODE_BREAK.split(text)
    return r"\texttt{" + r"\allowbreak{}".join(escape(p) for p in pieces) + "}"


_CODE_BREAK = re.compile(r"(?<=[-_/])(?=.)")


def bookmark(text: object) -> str:
    """A PDF bookmark string (\\texorpdfstring's second argument): no marks, ASCII specials
    escaped, other characters as they are (hyperref converts UTF-8 to the bookmark's
    Unicode itself, with pdfLaTeX as with XeLaTeX and LuaLaTeX)."""
    text = unicodedata.normalize("NFC", _SPACES.sub(" ", str(text)))
    text = text.replace("**", "").replace("`", "")
    return "".join(_char(ch) if ch < "\x7f" else ch for ch in text if ch.isprintable())


def alltt(text: str) -> str:
    """Preformatted text for `\\begin{alltt}`: `\\ { }` escaped, symbols mapped, tabs kept
    as spaces; other ASCII characters are typeset as they are in alltt."""
    out = []
    for ch in unicodedata.normalize("NFC", text.expandtabs(4)):
        if ch in "\\{}":
            out.append(_SPECIAL[ch])
        elif ch == "\n" or " " <= ch < "\x7f":
            out.append(ch)
        else:
            out.append(_char(ch))
    return "".join(out)
