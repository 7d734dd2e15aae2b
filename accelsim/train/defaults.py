"""The settings a training run gets when it names none, per dataset (no torch here, so that
`accelsim train --help` can show them without importing it).

Chosen by measured ablations (reports/accuracy.md): SGD with momentum 0.9 and a cosine
schedule, and on MNIST and the larger sets one epoch of dense warm-up before DropBack's
selection starts (on digits a warm-up measured worse). On MNIST the budget is also gradual:
the tracked count falls from every weight to the budget over the two epochs after the
warm-up (LeNet-300-100 at 25x, 3 seeds: 0.53 points below dense without it, 0.34 with it;
two warm-up epochs instead gave 0.43), and there is no weight decay: with 5e-4, dense LeNet-5
stayed at chance for a whole run (seed 0: the decay holds the net on its initial plateau),
while LeNet-300-100 scores the same with or without it. On digits the biases are always
tracked, inside the budget (8 seeds at 10x: 0.92 points below dense with them ranked, 0.39
pinned; on MNIST pinning made no difference, so they are ranked there). The sets not
measured keep weight decay 5e-4, a fixed budget and ranked biases. The authors' regime
(SGD lr 0.4, batch 100, no momentum) and the others tried are in that note.
"""

from __future__ import annotations

# methods whose own schedule sets the tracked count and ranking (gmp, RigL): the gradual
# budget, warm-up and pinned biases are DropBack's, and their dataset defaults do not apply
from accelsim.dropback.method_table import (  # noqa: F401  (re-exported)
    NO_SCHEDULE_METHODS,
    OWN_SCHEDULE_METHODS,
)

DATASET_DEFAULTS = {
    "digits": dict(epochs=40, batch_size=32, lr=0.1, momentum=0.9, weight_decay=0.0,
                   lr_schedule="cosine", warmup_epochs=0, budget_anneal_epochs=0,
                   bias_tracking="always"),
    "mnist": dict(epochs=20, batch_size=128, lr=0.1, momentum=0.9, weight_decay=0.0,
                  lr_schedule="cosine", warmup_epochs=1, budget_anneal_epochs=2,
                  bias_tracking="ranked"),
    "fashion-mnist": dict(epochs=20, batch_size=128, lr=0.1, momentum=0.9, weight_decay=5e-4,
                          lr_schedule="cosine", warmup_epochs=1, budget_anneal_epochs=0,
                          bias_tracking="ranked"),
    "cifar10": dict(epochs=60, batch_size=128, lr=0.1, momentum=0.9, weight_decay=5e-4,
                    lr_schedule="cosine", warmup_epochs=1, budget_anneal_epochs=0,
                    bias_tracking="ranked"),
}
DEFAULTED = tuple(DATASET_DEFAULTS["digits"])  # the settings whose default is per dataset


def dataset_defaults(dataset: str) -> dict:
    """The default settings of `dataset` (digits' for a name not listed)."""
    key = str(dataset).strip().lower().replace("_", "-")
    return dict(DATASET_DEFAULTS.get(key, DATASET_DEFAULTS["digits"]))


def defaults_help(setting: str) -> str:
    """'digits 40, mnist 20, ...', or '0.9 for every dataset', for `--help`."""
    values = {name: d[setting] for name, d in DATASET_DEFAULTS.items()}
    shown = {name: f"{v:g}" if isinstance(v, float) else str(v) for name, v in values.items()}
    if len(set(shown.values())) == 1:
        text = f"{next(iter(shown.values()))} for every dataset"
    else:
        text = ", ".join(f"{name} {v}" for name, v in shown.items())
    if setting in ("warmup_epochs", "budget_anneal_epochs"):
        text += "; capped at a tenth of the epochs"
    return text
