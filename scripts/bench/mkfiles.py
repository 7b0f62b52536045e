#!/usr/bin/env python3
"""mkfiles.py DIR COUNT SIZE [SECONDS]: mkdir DIR, then open/write SIZE bytes/close COUNT files in one process (no
fork per file is measured). Stops after SECONDS if given. Prints the number of files created."""
import os
import sys
import time

directory, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + float(sys.argv[4]) if len(sys.argv) > 4 else float("inf")
os.makedirs(directory, exist_ok=True)
data = os.urandom(size)
made = 0
for i in range(count):
    with open(os.path.join(directory, f"f{i:05d}.dat"), "wb") as f:
        f.write(data)
    made += 1
    if time.monotonic() > deadline:
        break
print(made)
