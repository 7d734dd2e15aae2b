"""Progress through a long command's stages, so that no command is silent for minutes: a tqdm
bar on stderr when stderr is a terminal; elsewhere (a log file, a pipe, a batch job) one line
per stage on stdout, which leaves stderr to the one-line error contract. Nothing with
`--quiet` or `--json`."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


class Stages:
    """`stages = Stages("simulate", 3, quiet)`, then `stages("simulating ...")` as each stage
    starts and `stages.done()` at the end."""

    def __init__(self, command: str, total: int, quiet: bool):
        self.command, self.total, self.quiet = command, total, quiet
        self.count = 0
        self.started = time.perf_counter()
        self.bar = None
        if not quiet and sys.stderr.isatty():
            self.bar = tqdm(total=total, desc=command, unit="stage", leave=False,
                            bar_format="{desc} [{n_fmt}/{total_fmt} stages, {elapsed}]")

    def __call__(self, text: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            if self.count:
                self.bar.update(1)
            self.bar.set_description_str(f"{self.command}: {text}")
        else:
            print(f"[{self.count + 1}/{self.total}] {text} "
                  f"(at {time.perf_counter() - self.started:.1f} s)", flush=True)
        self.count += 1

    def done(self) -> None:
        if self.bar is not None:
            self.bar.update(self.total - self.bar.n)
            self.bar.close()
            self.bar = None
