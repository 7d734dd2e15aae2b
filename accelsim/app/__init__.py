"""The room that runs the whole flow: one handler per command of the `accelsim` CLI.

Each command's module has `handle(args) -> int` (args: the parsed argparse namespace):
`train`, `trace`, `simulate`, `sweep`, `plot`, `report`, `demo`; `sweep` and `demo` also hold
their Python API (`sweep`, `run_demo`), and `key_values` the KEY=VALUE parser of `--model-arg`
and `--set`. Importing any of them does not import torch: the handlers that train or build a
model import it when they run.
"""
