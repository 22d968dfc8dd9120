"""Check a dialplan's source without running it, and prepare it for the sandbox.

``validate_source`` is safe in any process (the portal calls it on every save): it only
parses. Parsing is not free of danger either: starlark-rust parses, compiles and drops its
syntax tree recursively, so a deeply nested expression overflows a thread's stack and kills
the process. Hence the size cap, the parse on a thread with a large stack, and the nesting
budget that keeps the sandbox's own compile step (which recurses deeper still) safe.
"""

from __future__ import annotations

import io
import re
import threading
import tokenize
from collections.abc import Callable
from dataclasses import dataclass

import starlark

MAX_SOURCE_CHARS = 65536
MAX_STATEMENT_NESTING = 200
"""Operators and brackets allowed in one statement: a bound on its syntax tree's depth."""
MAX_BLOCK_DEPTH = 32

_PARSE_STACK_BYTES = 32 * 1024 * 1024
_ERROR_LOCATION = re.compile(r"-->\s*[^\n]*?:(\d+):(\d+)")
_FIRST_LINE = re.compile(r"^(?:error:\s*)?(?:Parse error:\s*)?(.*)$", re.MULTILINE)
_NESTING_TOKENS = frozenset(
    {"not", "and", "or", "if", "else", "lambda", "in"}
    | {"+", "-", "*", "/", "//", "%", "|", "&", "^", "~", "<<", ">>", "."}
    | {"==", "!=", "<", ">", "<=", ">=", "(", "[", "{"}
)
_OPENING_BRACKETS = frozenset("([{")
_CLOSING_BRACKETS = frozenset(")]}")
_DYNAMIC_PROPERTIES = frozenset({"LastFailureStatus", "LastFailureReason"})


@dataclass(frozen=True, slots=True, kw_only=True)
class DialplanSyntaxError:
    """Where a dialplan's source is wrong: 1-based line and column, and why."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


def dialect() -> starlark.Dialect:
    """Starlark as dialplans use it: top-level if/for (SIPSorcery style), no load()."""
    chosen = starlark.Dialect.extended()
    chosen.enable_load = False
    return chosen


def validate_source(source: str) -> DialplanSyntaxError | None:
    """Return the first problem in ``source``, or None when it may be saved and run."""
    if not isinstance(source, str):
        return DialplanSyntaxError(line=1, column=1, message="a dialplan must be text")
    if len(source) > MAX_SOURCE_CHARS:
        return DialplanSyntaxError(
            line=1, column=1, message=f"a dialplan may be at most {MAX_SOURCE_CHARS} characters"
        )
    if "\x00" in source:
        line = source.count("\n", 0, source.index("\x00")) + 1
        return DialplanSyntaxError(line=line, column=1, message="NUL character in the source")
    problem = _parse_on_big_stack(source)
    if problem is not None:
        return problem
    return _check_nesting(source)


def error_from_message(text: str) -> DialplanSyntaxError:
    """Turn a starlark error text ("error: ... --> file:L:C ...") into a located error."""
    location = _ERROR_LOCATION.search(text)
    line, column = (int(location.group(1)), int(location.group(2))) if location else (1, 1)
    first = _FIRST_LINE.search(text.strip())
    message = first.group(1).strip() if first else text.strip()
    return DialplanSyntaxError(line=line, column=column, message=message or "syntax error")


def expose_dynamic_properties(source: str) -> str:
    """Rewrite ``sys.LastFailureStatus`` to ``sys.LastFailureStatus()``.

    SIPSorcery scripts read these as properties that change after each Dial, but Starlark
    structs are immutable and the module cannot be written while it runs, so the sandbox
    offers them as functions. Line numbers are unchanged. Source that Python's tokenizer
    rejects is returned as it is (it failed to parse anyway).
    """
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    insert_at: list[tuple[int, int]] = []
    for index in range(len(tokens) - 2):
        receiver, dot, name = tokens[index : index + 3]
        following = tokens[index + 3] if index + 3 < len(tokens) else None
        if (
            receiver.string == "sys"
            and dot.string == "."
            and name.string in _DYNAMIC_PROPERTIES
            and (following is None or following.string != "(")
        ):
            insert_at.append(name.end)
    lines = source.splitlines(keepends=True)
    for row, column in reversed(insert_at):
        line = lines[row - 1]
        lines[row - 1] = f"{line[:column]}(){line[column:]}"
    return "".join(lines)


def _parse_on_big_stack(source: str) -> DialplanSyntaxError | None:
    result: list[DialplanSyntaxError | None] = [None]

    def parse() -> None:
        try:
            starlark.parse("dialplan.star", source, dialect())
        except starlark.StarlarkError as error:
            result[0] = _locate_unclosed_bracket(error_from_message(str(error)), source)

    start_thread(parse, name="dialplan-parse", stack_bytes=_PARSE_STACK_BYTES).join()
    return result[0]


def _locate_unclosed_bracket(problem: DialplanSyntaxError, source: str) -> DialplanSyntaxError:
    """Point an error at the end of the input to the bracket that was never closed.

    starlark-rust places errors found at the end of the input at line 1, column 1, which
    sends the user to the wrong line; Python's tokenizer sees the same unclosed bracket.
    """
    if (problem.line, problem.column) != (1, 1):
        return problem
    open_brackets: list[tokenize.TokenInfo] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.string in _OPENING_BRACKETS:
                open_brackets.append(token)
            elif token.string in _CLOSING_BRACKETS and open_brackets:
                open_brackets.pop()
    except (tokenize.TokenError, SyntaxError):
        if open_brackets:
            line, column = open_brackets[-1].start
            return DialplanSyntaxError(
                line=line,
                column=column + 1,
                message=f"'{open_brackets[-1].string}' is never closed: {problem.message}",
            )
    return problem


_STACK_SIZE_LOCK = threading.Lock()


def start_thread(
    target: Callable[[], None], *, name: str, stack_bytes: int, daemon: bool = False
) -> threading.Thread:
    """Start a thread with its own stack size (``threading.stack_size`` is process-wide)."""
    with _STACK_SIZE_LOCK:
        previous = threading.stack_size(stack_bytes)
        try:
            thread = threading.Thread(target=target, name=name, daemon=daemon)
            thread.start()
        finally:
            threading.stack_size(previous)
    return thread


def _check_nesting(source: str) -> DialplanSyntaxError | None:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError) as error:
        return DialplanSyntaxError(line=1, column=1, message=f"cannot read the source: {error}")
    count = 0
    depth = 0
    for token in tokens:
        if token.type == tokenize.INDENT:
            depth += 1
            if depth > MAX_BLOCK_DEPTH:
                return _too_deep(token, f"blocks nested deeper than {MAX_BLOCK_DEPTH} levels")
        elif token.type == tokenize.DEDENT:
            depth -= 1
        elif token.type == tokenize.NEWLINE:
            count = 0
        elif token.type in (tokenize.OP, tokenize.NAME) and token.string in _NESTING_TOKENS:
            count += 1
            if count > MAX_STATEMENT_NESTING:
                return _too_deep(
                    token, f"statement too complex (over {MAX_STATEMENT_NESTING} operators)"
                )
    return None


def _too_deep(token: tokenize.TokenInfo, message: str) -> DialplanSyntaxError:
    return DialplanSyntaxError(line=token.start[0], column=token.start[1] + 1, message=message)
