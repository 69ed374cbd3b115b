#!/usr/bin/env python3
"""Checks docs/errors.md against the code: every ErrorInfo reason the server
can send (each `WithErrorInfo(..., "REASON")`, `QuotaExceededError(msg, "REASON", ...)` and
`ResourceNotFoundError(..., "REASON")` in the sources,
and the generic reason of every status code in common/status_details.cc) has a
row in the table, and the table has no row for a reason the code no longer sends.

usage: scripts/check-error-reasons.py [--list]   (--list prints the reasons found)
"""
import glob
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SOURCES = ("auth", "clients", "common", "core", "server", "storage")


def reasons_in_code():
    found = {}
    for directory in SOURCES:
        for path in glob.glob(os.path.join(ROOT, directory, "**", "*.*"), recursive=True):
            if not path.endswith((".cc", ".h")) or path.endswith("_test.cc"):
                continue
            text = open(path, encoding="utf-8").read()
            for match in re.finditer(r"\b(WithErrorInfo|QuotaExceededError|ResourceNotFoundError)\(", text):
                depth, i = 1, match.end()
                while depth and i < len(text):
                    depth += {"(": 1, ")": -1}.get(text[i], 0)
                    i += 1
                literals = re.findall(r'"([A-Z][A-Z0-9_]{2,})"', text[match.end():i])
                if literals:
                    # WithErrorInfo(status, "REASON") and ResourceNotFoundError(
                    # ..., "REASON"): the last literal;
                    # QuotaExceededError(message, "REASON", ...): the first.
                    reason = literals[0] if match.group(1) == "QuotaExceededError" else literals[-1]
                    found.setdefault(reason, os.path.relpath(path, ROOT))
            if path.endswith("status_details.cc"):
                body = text[text.index("GenericErrorReason(absl::StatusCode code)"):]
                body = body[:body.index("\n}\n")]
                for reason in re.findall(r'return "([A-Z_]+)"', body):
                    found.setdefault(reason, os.path.relpath(path, ROOT))
    return found


def reasons_in_docs():
    text = open(os.path.join(ROOT, "docs", "errors.md"), encoding="utf-8").read()
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", text, re.M))


def main():
    code = reasons_in_code()
    if "--list" in sys.argv:
        for reason, where in sorted(code.items()):
            print(f"{reason}\t{where}")
        return 0
    docs = reasons_in_docs()
    missing = sorted(set(code) - docs)
    stale = sorted(docs - set(code))
    for reason in missing:
        print(f"docs/errors.md: no row for {reason} (sent by {code[reason]})")
    for reason in stale:
        print(f"docs/errors.md: {reason} has a row but the code never sends it")
    if missing or stale:
        return 1
    print(f"check-error-reasons: {len(code)} reasons, each documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
