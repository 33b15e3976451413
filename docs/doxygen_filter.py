#!/usr/bin/env python3
"""Doxygen INPUT_FILTER for simloop's headers: shows their plain `//`
contract comments in the API reference without rewriting the headers.

  doxygen_filter.py <header>    prints the header, with:

- the comment block that opens the file (above `#pragma once`) turned into
  the file's documentation (`///`, with `\\file` at its end);
- a `//` block directly above a declaration (no blank line between) at
  namespace or class scope turned into `///`, so Doxygen attaches it to
  that declaration; blocks inside function bodies, and blocks followed by
  a blank line, `}` or an access specifier, are left alone;
- a trailing `// text` after a member, enum value or declaration ending in
  `;` or `,` turned into `///< text` (and the aligned `//` lines that
  continue it).

The line count never changes, so Doxygen's line numbers are the header's.
"""
import re
import sys

SCOPE_KEYWORD = re.compile(r"^(?:\[\[[^\]]*\]\]\s*)*(?:export\s+)?(?:inline\s+)?(namespace|class|struct|union|enum)\b")
EXTERN_C = re.compile(r'^extern\s+"C(\+\+)?"\s*$')
ACCESS = re.compile(r"^(public|private|protected)\s*:")
DECL_PREPROCESSOR = re.compile(r"^#\s*define\b")


def strip_template_prefix(text):
    """Drops leading `template <...>` heads (balanced angle brackets)."""
    text = text.strip()
    while text.startswith("template"):
        rest = text[len("template"):].lstrip()
        if not rest.startswith("<"):
            break
        depth = 0
        for i, ch in enumerate(rest):
            if ch == "<":
                depth += 1
            elif ch == ">":
                depth -= 1
                if depth == 0:
                    text = rest[i + 1:].strip()
                    break
        else:
            break
    return text


class Scanner:
    """Follows braces over the code of a header (not its comments, strings or
    preprocessor lines) to tell declaration scopes from function bodies."""

    def __init__(self):
        self.stack = []  # True: a scope (namespace, class, ...); False: a body or initializer
        self.prefix = ""  # code since the last ';', '{' or '}'
        self.in_block_comment = False

    def at_declaration_scope(self):
        return all(self.stack)

    def code_of(self, line):
        """The line's code (comments and literals blanked), and the column of
        a trailing `//` comment (or -1)."""
        out = []
        i = 0
        n = len(line)
        comment_at = -1
        while i < n:
            if self.in_block_comment:
                end = line.find("*/", i)
                if end < 0:
                    out.append(" " * (n - i))
                    i = n
                    break
                out.append(" " * (end + 2 - i))
                i = end + 2
                self.in_block_comment = False
                continue
            ch = line[i]
            if line.startswith("//", i):
                comment_at = i
                break
            if line.startswith("/*", i):
                self.in_block_comment = True
                out.append("  ")
                i += 2
                continue
            if ch in "\"'":
                # A literal: skip to its closing quote (escapes honoured). A
                # digit separator (1'000) is not a char literal.
                if ch == "'" and i > 0 and line[i - 1].isalnum():
                    out.append(" ")
                    i += 1
                    continue
                j = i + 1
                while j < n and line[j] != ch:
                    j += 2 if line[j] == "\\" else 1
                out.append(ch + " " * (min(j, n) - i - 1) + (ch if j < n else ""))
                i = j + 1
                continue
            out.append(ch)
            i += 1
        return "".join(out), comment_at

    def feed(self, code):
        for ch in code:
            if ch == "{":
                head = strip_template_prefix(self.prefix)
                is_scope = self.at_declaration_scope() and bool(SCOPE_KEYWORD.match(head) or EXTERN_C.match(head))
                self.stack.append(is_scope)
                self.prefix = ""
            elif ch == "}":
                if self.stack:
                    self.stack.pop()
                self.prefix = ""
            elif ch == ";":
                self.prefix = ""
            else:
                self.prefix += ch


def is_plain_comment(stripped):
    return stripped.startswith("//") and not stripped.startswith("///") and not stripped.startswith("//!")


# Outside `code spans`, what Doxygen would read as markup in a plain
# comment: a command (\\word, @word), an HTML tag (<file>, </s>), an explicit
# link (#word). Escaped, it shows as written.
MARKUP = re.compile(r"\\|@(?=\w)|(?<![\w>])<(?=/?[A-Za-z!])|(?<![\w&])#(?=\w)")


# "e.g. " and "i.e. " do not end the brief description (the first sentence).
ABBREVIATION = re.compile(r"\b(e\.g|i\.e|etc|vs)\. ")


def escape_plain(text):
    # Doxygen shows a "quoted string" as written: escape only outside quotes
    # (when they pair up on the line).
    pieces = text.split('"') if text.count('"') % 2 == 0 else [text]
    for k in range(0, len(pieces), 2):
        pieces[k] = ABBREVIATION.sub(r"\1.\\ ", MARKUP.sub(lambda m: "\\" + m.group(0), pieces[k]))
    return '"'.join(pieces)


def escape_text(text):
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code span on this line
        parts = [text]
    for k in range(0, len(parts), 2):  # the even parts are outside code spans
        parts[k] = escape_plain(parts[k])
    return "`".join(parts)


def to_doc(line, marker="///"):
    i = line.index("//")
    return line[:i] + marker + escape_text(line[i + 2:])


def filter_lines(lines):
    out = list(lines)
    scanner = Scanner()
    seen_code = False
    continuing_preprocessor = False
    trailing_column = -1  # column of the previous line's converted trailing comment
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if continuing_preprocessor:
            continuing_preprocessor = line.rstrip().endswith("\\")
            trailing_column = -1
            i += 1
            continue
        if not scanner.in_block_comment and is_plain_comment(stripped):
            # A block of comment lines; a line aligned with the trailing
            # comment just above continues that comment instead.
            if trailing_column >= 0 and line.index("//") == trailing_column:
                out[i] = to_doc(line, "///<")
                i += 1
                continue
            trailing_column = -1
            start = i
            while i < len(lines) and is_plain_comment(lines[i].strip()):
                i += 1
            following = lines[i].strip() if i < len(lines) else ""
            if not seen_code:
                # The file's own documentation.
                for k in range(start, i):
                    out[k] = to_doc(lines[k])
                # \\file at the end of its last line: it splits no sentence
                # or paragraph there, and takes no file name.
                last = i - 1
                newline = "\n" if out[last].endswith("\n") else ""
                out[last] = out[last].rstrip("\n") + " \\file" + newline
            elif (scanner.at_declaration_scope() and following and not following.startswith("}")
                  and not following.startswith("//") and not ACCESS.match(following)
                  and (not following.startswith("#") or DECL_PREPROCESSOR.match(following))):
                for k in range(start, i):
                    out[k] = to_doc(lines[k])
            continue
        trailing_column = -1
        if not scanner.in_block_comment and stripped.startswith("#"):
            if not stripped.startswith("#pragma"):
                seen_code = True
            continuing_preprocessor = line.rstrip().endswith("\\")
            i += 1
            continue
        at_scope = scanner.at_declaration_scope()
        code, comment_at = scanner.code_of(line)
        if code.strip():
            seen_code = True
        if (comment_at >= 0 and at_scope and code.rstrip().endswith((";", ","))
                and is_plain_comment(line[comment_at:])):
            out[i] = line[:comment_at] + to_doc(line[comment_at:], "///<")
            trailing_column = comment_at
        scanner.feed(code)
        i += 1
    return out


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: doxygen_filter.py <header>\n")
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        lines = f.readlines()
    sys.stdout.write("".join(filter_lines(lines)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
