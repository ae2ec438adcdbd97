#!/usr/bin/env python3
"""Writes the first ```yaml block of a Markdown file to a file: docs' examples are checked as they are.

    tests/docs/first_yaml_block.py DOC.md OUT.yaml
"""
import re
import sys

doc, out = sys.argv[1:3]
block = re.search(r"```yaml\n(.*?)```", open(doc).read(), re.S)
if not block:
    sys.exit(f"{doc}: no yaml block")
open(out, "w").write(block.group(1))
