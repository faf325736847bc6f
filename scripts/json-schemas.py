#!/usr/bin/env python3
"""Drafts the JSON Schema of each command's result from real output, for docs/schemas/.

    scripts/json-schemas.py OUT_DIR FILE.jsonl...

Each input line is one crashsh JSON Lines record ({"command": ..., "result": ...}). The
results of one command name (the first word) from every file are merged into one schema:
an object's properties are the union of those seen, `required` the ones every sample had;
a value seen with several types gets a list of types; strings that were always "0x..." hex
get the address pattern. The drafts are reviewed and committed; the tests then hold every
command's output to its schema (JSONSchemaTests), so a change of shape is a visible change.
"""
import json
import os
import re
import sys

ADDRESS = re.compile(r"^0x[0-9a-f]+$")


def kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


class Shape:
    """What was seen at one place of the results."""

    def __init__(self):
        self.types = set()
        self.props = {}          # name -> Shape
        self.counts = {}         # name -> objects that had it
        self.objects = 0
        self.items = None        # Shape of array elements
        self.strings = 0
        self.addresses = 0

    def add(self, v):
        t = kind(v)
        self.types.add(t)
        if t == "object":
            self.objects += 1
            for k, x in v.items():
                self.props.setdefault(k, Shape()).add(x)
                self.counts[k] = self.counts.get(k, 0) + 1
        elif t == "array":
            if self.items is None:
                self.items = Shape()
            for x in v:
                self.items.add(x)
        elif t == "string":
            self.strings += 1
            if ADDRESS.match(v):
                self.addresses += 1

    def schema(self):
        s = {}
        types = sorted(self.types)
        if "integer" in types and "number" in types:
            types.remove("integer")
        s["type"] = types[0] if len(types) == 1 else types
        if "object" in self.types:
            # Objects whose keys are data (vmcoreinfo's KEY=VALUE, ps -S's states) have many
            # keys of one shape: written as additionalProperties.
            if len(self.props) > 40 or all(not re.match(r"^[a-z_][a-z0-9_]*$", k) for k in self.props):
                merged = Shape()
                for p in self.props.values():
                    merged.types |= p.types
                    merged.strings += p.strings
                    merged.addresses += p.addresses
                s["additionalProperties"] = merged.schema()
            else:
                s["properties"] = {k: p.schema() for k, p in sorted(self.props.items())}
                req = sorted(k for k, n in self.counts.items() if n == self.objects)
                if req:
                    s["required"] = req
        if "array" in self.types and self.items is not None and self.items.types:
            s["items"] = self.items.schema()
        if self.types == {"string"} and self.strings and self.addresses == self.strings:
            s["pattern"] = ADDRESS.pattern
        return s


def main():
    out, files = sys.argv[1], sys.argv[2:]
    shapes = {}
    for f in files:
        with open(f) as fh:
            for line in fh:
                rec = json.loads(line)
                if "result" not in rec:
                    continue
                name = rec["command"].split()[0]
                shapes.setdefault(name, Shape()).add(rec["result"])
    os.makedirs(out, exist_ok=True)
    for name, shape in sorted(shapes.items()):
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "title": f"crashsh {name} result"}
        schema.update(shape.schema())
        # p/x, p/d: a slash cannot be in a file name.
        with open(os.path.join(out, f"{name.replace('/', '-')}.schema.json"), "w") as fh:
            json.dump(schema, fh, indent=2, sort_keys=False)
            fh.write("\n")
        print(f"{name}: {os.path.join(out, name)}.schema.json")


if __name__ == "__main__":
    main()
