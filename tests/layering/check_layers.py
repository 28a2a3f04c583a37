#!/usr/bin/env python3
"""Checks the dependency rule of ARCHITECTURE.md on the source tree.

Every project header a file includes must belong to its own module or to one the rule lets
it depend on; third-party headers and type names stay inside the modules that own them.
The build enforces the same rule through each library's include root (build/include/), so
this check mostly catches what the compiler cannot see: a relative include that climbs out
of its folder, a third-party type named in a public header, a rule and a build that drift.

Usage: check_layers.py SOURCE_DIR      exit 1 and one line per violation when the rule is broken
       check_layers.py --self-test SOURCE_DIR
                                       proves that forbidden includes in a scratch copy are caught
"""
import os
import re
import shutil
import sys
import tempfile

# Module of a path, first match wins. tests/ and bench/ may use everything and are not checked.
MODULES = [
    ("app/main.cpp", "main"),
    ("app/serve.", "serve"),
    ("app/cli/", "cli"),
    ("app/http/", "http"),
    ("app/routing/", "routing"),
    ("app/agent/", "agent"),
    ("app/twilio/", "twilio"),
    ("sync/", "sync"),
    ("storage/", "storage"),
    ("core/", "core"),
    ("config/", "config"),
    ("util/", "util"),
]

# The rule: what each module may include besides itself. Written out in full (not derived
# transitively) so that a change to it is a visible line in a review.
MAY_INCLUDE = {
    "util": set(),
    "config": {"util"},
    "core": {"util"},
    "storage": {"util", "core"},
    "sync": {"util", "core", "config", "storage"},
    "twilio": {"util", "core", "config"},
    "agent": {"util", "core", "config"},
    "routing": {"util", "core", "config", "storage", "sync", "twilio", "agent"},
    "http": {"util", "core", "config", "storage", "sync", "twilio", "agent", "routing"},
    "serve": {"util", "core", "config", "storage", "sync", "twilio", "agent", "routing", "http"},
    "cli": {"util", "core", "config", "storage", "sync", "twilio", "agent", "routing", "http", "serve"},
    "main": {"cli"},
}

# Third-party headers, by the start of their include path, and the modules that may include them.
THIRD_PARTY_HEADERS = {
    "httplib.h": {"agent", "twilio", "cli"},
    "SQLiteCpp/": {"storage"},
    "sqlite3.h": {"storage"},
    "pqxx/": {"sync"},
    "phonenumbers/": {"core"},
    "CLI/": {"cli"},
    "boost/": {"http"},
}

# Third-party namespaces a header may name only inside the module that owns the library.
THIRD_PARTY_NAMES = {
    "httplib::": set(),
    "boost::": {"http"},
    "SQLite::": {"storage"},
    "pqxx::": {"sync"},
    "nlohmann::": {"http"},
}

SOURCE_SUFFIXES = (".cpp", ".hpp", ".h")
SOURCE_FOLDERS = ("app", "config", "core", "storage", "sync", "util")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
COMMENT = re.compile(r"//.*$")


def module_of(path):
    for prefix, module in MODULES:
        if path.startswith(prefix):
            return module
    return None


def source_files(root):
    for folder in SOURCE_FOLDERS:
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for name in sorted(files):
                if name.endswith(SOURCE_SUFFIXES):
                    full = os.path.join(dirpath, name)
                    yield os.path.relpath(full, root).replace(os.sep, "/")


def violations(root):
    found = []
    for path in sorted(source_files(root)):
        module = module_of(path)
        if module is None:
            found.append(f"{path}: not in any module of the rule (add it to MODULES and ARCHITECTURE.md)")
            continue
        is_header = path.endswith((".hpp", ".h"))
        with open(os.path.join(root, path), encoding="utf-8") as f:
            lines = f.read().splitlines()
        for number, line in enumerate(lines, start=1):
            where = f"{path}:{number}"
            m = INCLUDE.match(line)
            if m:
                target = m.group(2)
                if target.startswith("../") or "/../" in target:
                    found.append(f"{where}: includes {target!r} by a relative path; name it from the source root")
                    continue
                target_module = module_of(target)
                if target_module is not None and target_module != module:
                    if target_module not in MAY_INCLUDE[module]:
                        found.append(f"{where}: {module} may not include {target} (module {target_module})")
                    continue
                for prefix, owners in THIRD_PARTY_HEADERS.items():
                    if target.startswith(prefix) and module not in owners:
                        found.append(f"{where}: {module} may not include {target} "
                                     f"(only {', '.join(sorted(owners))})")
                continue
            if is_header:
                code = COMMENT.sub("", line)
                for name, owners in THIRD_PARTY_NAMES.items():
                    if name in code and module not in owners:
                        found.append(f"{where}: a {module} header names {name} "
                                     f"(third-party types stay in {', '.join(sorted(owners))})")
    return found


def self_test(root):
    """Each forbidden change, made in a scratch copy, must be reported; the copy as it is must pass."""
    cases = [
        ("core/log.hpp", '#include "storage/store.hpp"', "core may not include storage/store.hpp"),
        ("util/strings.hpp", '#include "core/domain.hpp"', "util may not include core/domain.hpp"),
        ("storage/store.hpp", '#include "app/http/server.hpp"', "storage may not include app/http/server.hpp"),
        ("app/twilio/signature.cpp", '#include "app/agent/agent.hpp"', "twilio may not include app/agent/agent.hpp"),
        ("app/routing/inbound.hpp", '#include "../http/server.hpp"', "by a relative path"),
        ("app/routing/inbound.cpp", "#include <pqxx/pqxx>", "routing may not include pqxx/pqxx"),
        ("app/routing/inbound.hpp", "void f(httplib::Request&);", "a routing header names httplib::"),
    ]
    with tempfile.TemporaryDirectory() as scratch:
        copy = os.path.join(scratch, "src")
        for folder in SOURCE_FOLDERS:
            shutil.copytree(os.path.join(root, folder), os.path.join(copy, folder))
        clean = violations(copy)
        if clean:
            print("self-test: the unchanged copy already breaks the rule:", *clean, sep="\n  ")
            return 1
        failed = 0
        for path, line, expected in cases:
            target = os.path.join(copy, path)
            with open(target, encoding="utf-8") as f:
                original = f.read()
            with open(target, "w", encoding="utf-8") as f:
                f.write(line + "\n" + original)
            reported = violations(copy)
            with open(target, "w", encoding="utf-8") as f:
                f.write(original)
            if any(expected in r for r in reported):
                print(f"self-test: caught in {path}: {line}")
            else:
                print(f"self-test: NOT caught in {path}: {line} (reported: {reported})")
                failed += 1
        return 1 if failed else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--self-test":
        return self_test(argv[2])
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    found = violations(argv[1])
    for v in found:
        print(v)
    if found:
        print(f"{len(found)} violation(s) of the dependency rule (ARCHITECTURE.md)")
        return 1
    print("the dependency rule holds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
