#!/usr/bin/env python3
"""Validates SBOM documents against the JSON schemas in this directory, offline.

Usage: validate.py spdx|cyclonedx FILE...

Each schema is checked with the validator of the draft it declares (draft-07 for
both); the $refs between the vendored schemas (bom-1.5 -> spdx.schema.json and
jsf-0.82.schema.json) resolve to these files by their $id, and any other $ref is an
error rather than a download. Exit status: 0 when every document is valid, 3 when one
is not (its errors on stdout), 2 on a usage or schema problem.
"""

import json
import pathlib
import sys

import jsonschema

HERE = pathlib.Path(__file__).resolve().parent
ROOTS = {"spdx": "spdx-2.3.schema.json", "cyclonedx": "bom-1.5.schema.json"}
DRAFT7 = "http://json-schema.org/draft-07/schema#"


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def make_validator(kind):
    schemas = {}
    for path in sorted(HERE.glob("*.schema.json")):
        schema = load(path)
        if schema.get("$schema") != DRAFT7:
            sys.exit(f"{path.name}: declares {schema.get('$schema')!r}, not draft-07")
        jsonschema.Draft7Validator.check_schema(schema)
        schemas[schema["$id"]] = schema
    root = load(HERE / ROOTS[kind])
    cls = jsonschema.validators.validator_for(root)
    if cls is not jsonschema.Draft7Validator:
        sys.exit(f"{ROOTS[kind]}: expected the draft-07 validator, got {cls.__name__}")
    checker = getattr(cls, "FORMAT_CHECKER", None) or jsonschema.draft7_format_checker
    try:  # jsonschema >= 4.18
        from referencing import Registry
        from referencing.jsonschema import DRAFT7 as SPEC

        registry = Registry().with_resources(
            (uri, SPEC.create_resource(s)) for uri, s in schemas.items()
        )
        return cls(root, registry=registry, format_checker=checker)
    except ImportError:  # Debian 12's 4.10
        def offline(uri):
            raise jsonschema.RefResolutionError(f"{uri} is not vendored here")

        resolver = jsonschema.RefResolver(
            root["$id"], root, store=schemas, handlers={"http": offline, "https": offline}
        )
        return cls(root, resolver=resolver, format_checker=checker)


def short(message, limit=300):
    return message if len(message) <= limit else message[:limit] + " ..."


def main(argv):
    if len(argv) < 3 or argv[1] not in ROOTS:
        print(__doc__, file=sys.stderr)
        return 2
    validator = make_validator(argv[1])
    invalid = 0
    for name in argv[2:]:
        errors = sorted(validator.iter_errors(load(name)), key=lambda e: [str(p) for p in e.absolute_path])
        if not errors:
            print(f"valid {argv[1]}: {name}")
            continue
        invalid += 1
        print(f"INVALID {argv[1]}: {name}")
        for e in errors[:20]:
            where = "/".join(str(p) for p in e.absolute_path) or "(document)"
            print(f"  at {where}: {short(e.message)}")
            for sub in sorted(e.context or [], key=lambda s: s.message)[:5]:
                print(f"    - {short(sub.message)}")
    return 3 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
