#!/usr/bin/python3
"""Validates STIX 2.1 bundles against the OASIS STIX 2.1 JSON schemas, offline.

Usage: validate_bundles.py [--expect-invalid] SCHEMAS_DIR FILE...
Each FILE holds one bundle per line (what `cellgate tail --format stix` writes on stdout);
empty lines are skipped, anything else that is not a valid bundle fails. Every bundle is
validated against common/bundle.json, and every object in it against the schema of its type
(sdos/, sros/, observables/, common/marking-definition.json); beyond the schemas, the bundle
id must be a version-4 UUID and timestamps real dates (the schemas' patterns allow 02-31). Schemas are resolved from the
local files only, keyed by each schema's $id (a `referencing` registry where jsonschema has
it, a RefResolver store with Debian's python3-jsonschema 4.10): no network.
Exit 0 when every bundle and object is valid; 1 with one line per error otherwise.
With --expect-invalid (the validator's own test), exit 0 only when every line has an error.
"""
import datetime
import json
import pathlib
import re
import sys

import jsonschema


def load_schemas(root):
    store, by_type = {}, {}
    for path in sorted(root.rglob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        store[schema["$id"]] = schema
        if path.parent.name in ("sdos", "sros", "observables") or path.name == "marking-definition.json":
            by_type[path.stem] = schema
    return store, by_type


def make_validator(cls, store, checker):
    """A function schema, instance -> errors, resolving $refs from `store` only."""
    try:
        from referencing import Registry, Resource

        registry = Registry().with_resources((i, Resource.from_contents(s)) for i, s in store.items())
        return lambda schema, instance: list(
            cls(schema, registry=registry, format_checker=checker).iter_errors(instance))
    except ImportError:

        def no_network(uri):
            raise jsonschema.exceptions.RefResolutionError(f"{uri}: not in the local schemas")

        def validate(schema, instance):
            resolver = jsonschema.RefResolver(schema["$id"], schema, store=store,
                                              handlers={"http": no_network, "https": no_network})
            return list(cls(schema, resolver=resolver, format_checker=checker).iter_errors(instance))

        return validate


def reject_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dups = {k for k in keys if keys.count(k) > 1}
    if dups:
        raise ValueError("duplicate keys: " + ", ".join(sorted(dups)))
    return dict(pairs)


BUNDLE_ID = re.compile(r"^bundle--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def beyond_schema(obj):
    """What the schemas' regular expressions let through: dates that do not exist."""
    errors = []
    for key in ("created", "modified", "valid_from", "valid_until"):
        value = obj.get(key)
        if isinstance(value, str):
            try:
                datetime.datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")
            except ValueError:
                errors.append(f"{key} {value!r} is not a real date and time")
    return errors


def main(argv):
    expect_invalid = len(argv) > 1 and argv[1] == "--expect-invalid"
    if expect_invalid:
        argv = argv[:1] + argv[2:]
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    root = pathlib.Path(argv[1])
    store, by_type = load_schemas(root)
    bundle_schema = json.loads((root / "common" / "bundle.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(bundle_schema)
    validate = make_validator(cls, store, cls.FORMAT_CHECKER)

    errors, bundles, objects, lines_without_error = [], 0, 0, []
    for name in argv[2:]:
        for n, line in enumerate(pathlib.Path(name).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{name}:{n}"
            errors_before = len(errors)
            try:
                bundle = json.loads(line, object_pairs_hook=reject_duplicates)
            except ValueError as e:
                errors.append(f"{where}: not JSON: {e}")
                continue
            bundles += 1
            for e in validate(bundle_schema, bundle):
                errors.append(f"{where}: bundle: {e.message[:300]}")
            if not isinstance(bundle, dict) or not BUNDLE_ID.match(str(bundle.get("id"))):
                errors.append(f"{where}: bundle id is not an RFC 4122 version-4 UUID")
            for obj in bundle.get("objects", []) if isinstance(bundle, dict) else []:
                objects += 1
                schema = by_type.get(obj.get("type")) if isinstance(obj, dict) else None
                if schema is None:
                    errors.append(f"{where}: object of type {obj.get('type')!r}: no schema")
                    continue
                for e in validate(schema, obj):
                    errors.append(f"{where}: {obj.get('id')}: {e.message[:300]}")
                for e in beyond_schema(obj):
                    errors.append(f"{where}: {obj.get('id')}: {e}")
            if len(errors) == errors_before:
                lines_without_error.append(where)
    if expect_invalid:
        for where in lines_without_error:
            print(f"{where}: expected invalid, but it validates")
        print(f"validate_bundles: {bundles} bundles expected invalid, {len(lines_without_error)} valid",
              file=sys.stderr)
        return 1 if lines_without_error or bundles == 0 else 0
    for e in errors:
        print(e)
    print(f"validate_bundles: {bundles} bundles, {objects} objects, {len(errors)} errors", file=sys.stderr)
    return 1 if errors or bundles == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
