"""The training loop: DropBack (or dense) training with evaluation, per-epoch history, a sparse
checkpoint, resumable state and trace recording.

A run folder holds:
  config.json       the settings of the run
  history.csv       per epoch: loss, accuracies, learning rate, tracked-set churn, wall time
  checkpoint.sparse    the sparse checkpoint (accelsim.dropback.checkpoint)
  trace/            the weight-access trace (traces/README.md), unless recording is off
  summary.json      final figures
  resume.pt         everything needed to continue after an interruption (removed at the end)

The folder grows epoch by epoch, each file replaced atomically (accelsim.io); trace/ is swapped
in whole. resume.pt is saved after every epoch, the last one too, so a run killed while it
writes its final files resumes rather than starts over. A run is finished when summary.json
is there and resume.pt is not; `resume=True` refuses a folder with nothing to resume (no
resume.pt) or a finished run, rather than train from scratch over it. A loss that becomes
NaN or infinite stops the run with TrainingDiverged; the folder keeps the last finite epoch.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from accelsim.dropback.checkpoint import checkpoint_sizes, save_checkpoint
from accelsim.dropback.init import budgeted_layers, initial_values_torch, initialize_model
from accelsim.dropback.methods import METHODS, build_annealed, build_method
from accelsim.errors import AccelsimError, CheckpointError, ConfigError
from accelsim.io import (
    clean_stale,
    json_text,
    write_json_atomic,
    write_stream_atomic,
    write_text_atomic,
)
from accelsim.limits import regular_file, shown
from accelsim.models import build_model
from accelsim.trace.recorder import TraceRecorder
from accelsim.trace.torch_geometry import budgeted_param_count
from accelsim.train.data import batches, load_dataset, to_torch
from accelsim.train.defaults import (  # noqa: F401
    DATASET_DEFAULTS,
    DEFAULTED,
    NO_SCHEDULE_METHODS,
    OWN_SCHEDULE_METHODS,
    dataset_defaults,
)
from accelsim.train.shapes import check_model_takes

OPTIMIZERS = ("sgd", "adam")
LR_SCHEDULES = ("none", "step", "cosine")
BIAS_TRACKING = ("ranked", "always")


class TrainingDiverged(AccelsimError):
    """The loss became NaN or infinite: the settings (usually the learning rate) diverge."""


@dataclass(frozen=True)
class Schedule:
    """The settings a dataset gives defaults for, once resolved: never None."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    lr_schedule: str
    warmup_epochs: int
    budget_anneal_epochs: int
    bias_tracking: str


@dataclass(frozen=True)
class TrainConfig:
    model: str = "lenet-300-100"
    model_args: dict = field(default_factory=dict)
    dataset: str = "digits"
    data_dir: str | None = None
    budget: int | None = None          # tracked weights; None = dense
    compression: float | None = None   # alternative to budget: param_count / compression
    budget_mode: str = "global"
    method: str = "dropback"           # dropback | dropback-decay | gmp (dropback.methods)
    # None: the dataset's default (DATASET_DEFAULTS), filled in by `resolved()`
    epochs: int | None = None
    seed: int = 0
    batch_size: int | None = None
    optimizer: str = "sgd"
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    lr_schedule: str | None = None
    warmup_epochs: int | None = None   # dense epochs before the selection starts
    # epochs over which the tracked count falls from every element to the budget, after the
    # warm-up (dropback.methods._AnnealedBudget); 0: the budget from the first selection
    budget_anneal_epochs: int | None = None
    # "ranked": biases compete with weights for the budget; "always": every bias is tracked,
    # inside the budget (dropback.methods._PinnedBiases)
    bias_tracking: str | None = None
    lr_step_epochs: int = 30
    lr_gamma: float = 0.8
    freeze_at_epoch: int | None = None
    freeze_at_step: int | None = None
    trace: bool = True
    trace_every: int = 100
    device: str = "cpu"
    threads: int | None = None  # torch intra-op threads; None: 1 for small models, else torch's

    @property
    def dense(self) -> bool:
        return not self.budget and not self.compression

    @property
    def schedule(self) -> Schedule:
        """The resolved settings, typed; a config that still has unset ones is refused."""
        values = {f: getattr(self, f) for f in Schedule.__dataclass_fields__}
        unset = [f for f, v in values.items() if v is None]
        if unset:
            raise ConfigError(f"train: {', '.join(unset)}: expected a value (call resolved() "
                              "for the dataset's defaults), got None")
        return Schedule(**values)

    def resolved(self) -> TrainConfig:
        """This config with every unset setting taken from the dataset's defaults."""
        defaults = dataset_defaults(self.dataset)
        capped = ("warmup_epochs", "budget_anneal_epochs")
        resolved = replace(self, **{k: v for k, v in defaults.items()
                                    if getattr(self, k) is None and k not in capped})
        epochs = resolved.epochs if isinstance(resolved.epochs, int) else 0
        for name in capped:  # the default warm-up and annealing: each at most a tenth of the run
            if getattr(self, name) is None:
                resolved = replace(resolved, **{name: min(defaults[name], epochs // 10)})
        if self.method in NO_SCHEDULE_METHODS or self.dense:
            # own schedule (or no budget): DropBack's warm-up and gradual budget do not
            # apply, and config.json records only what was applied
            if self.warmup_epochs is None:
                resolved = replace(resolved, warmup_epochs=0)
            if self.budget_anneal_epochs is None:
                resolved = replace(resolved, budget_anneal_epochs=0)
            if self.bias_tracking is None and not self.dense:
                resolved = replace(resolved, bias_tracking="ranked")
        return resolved

    def schedule_note(self) -> str | None:
        """A line saying how the dataset's default warm-up or gradual budget was shortened to
        fit this run (each at most a tenth of the epochs), or None if nothing was."""
        if self.dense or self.method in NO_SCHEDULE_METHODS:
            return None
        defaults, applied = dataset_defaults(self.dataset), self.resolved()
        cut = [f"{name.replace('_', ' ')} {defaults[name]} -> {getattr(applied, name)}"
               for name in ("warmup_epochs", "budget_anneal_epochs")
               if getattr(self, name) is None and getattr(applied, name) != defaults[name]]
        if not cut:
            return None
        return (f"train: {applied.epochs} epochs is too short for the {self.dataset} default "
                f"budget schedule (each part at most a tenth of the run): {', '.join(cut)}; "
                "pass --warmup-epochs / --budget-anneal-epochs to set them")


@dataclass
class TrainResult:
    out: Path
    history: pd.DataFrame
    summary: dict

    @property
    def accuracy(self) -> float:
        return float(self.summary["test_accuracy"])


def parse_budget(text) -> tuple[int | None, float | None]:
    """`5000` -> count, `25x` -> compression ratio, `dense` or `0` -> dense."""
    value = str(text).strip().lower()
    if value in ("dense", "0", "none", ""):
        return None, None
    try:
        if value.endswith("x"):
            ratio = float(value[:-1])
            if not 1 <= ratio < math.inf:  # NaN and inf ("infx") too
                raise ValueError
            return None, ratio
        count = int(value)
        if count < 0:
            raise ValueError
        return count or None, None
    except ValueError:
        raise ConfigError(f"--budget {text!r}: expected a weight count (5000), a compression "
                          "ratio (25x), or 'dense'") from None


def _check(config: TrainConfig):
    if config.method not in METHODS:
        raise ConfigError(f"train: method {config.method!r} not one of {METHODS}")
    positive = {"epochs": config.epochs, "batch_size": config.batch_size,
                "trace_every": config.trace_every}
    for name, value in positive.items():
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"train: {name} must be a positive integer, got {value!r}")
    if config.optimizer not in OPTIMIZERS:
        raise ConfigError(f"train: optimizer {config.optimizer!r} not one of {OPTIMIZERS}")
    if config.lr_schedule not in LR_SCHEDULES:
        raise ConfigError(f"train: lr_schedule {config.lr_schedule!r} not one of {LR_SCHEDULES}")
    if not config.schedule.lr > 0:
        raise ConfigError(f"train: lr must be > 0, got {config.lr!r}")
    if config.budget_mode not in ("global", "per_layer"):
        raise ConfigError(f"train: budget_mode {config.budget_mode!r} not 'global' or 'per_layer'")
    at_least: dict[str, tuple[int | None, int]] = {
        "seed": (config.seed, 0), "lr_step_epochs": (config.lr_step_epochs, 1),
        "freeze_at_epoch": (config.freeze_at_epoch, 1),
        "freeze_at_step": (config.freeze_at_step, 1),
        "warmup_epochs": (config.warmup_epochs, 0),
        "budget_anneal_epochs": (config.budget_anneal_epochs, 0)}
    for name, (value, low) in at_least.items():
        if value is not None and (not isinstance(value, int) or value < low):
            raise ConfigError(f"train: {name} must be an integer >= {low}, got {value!r}")
    schedule = config.schedule
    if not config.dense and schedule.warmup_epochs and schedule.warmup_epochs >= schedule.epochs:
        raise ConfigError(f"train: warmup_epochs {config.warmup_epochs} leaves none of the "
                          f"{config.epochs} epochs to train on the budget")
    if schedule.bias_tracking not in BIAS_TRACKING:
        raise ConfigError(f"train: bias_tracking: expected one of {BIAS_TRACKING}, got "
                          f"{config.bias_tracking!r}")
    own_schedule = config.method in OWN_SCHEDULE_METHODS
    if not config.dense and own_schedule and schedule.bias_tracking != "ranked":
        raise ConfigError(f"train: bias_tracking: expected 'ranked' for method "
                          f"{config.method}, got {config.bias_tracking!r}")
    if not config.dense and schedule.budget_anneal_epochs:
        if own_schedule:
            raise ConfigError(f"train: budget_anneal_epochs: expected 0 for method "
                              f"{config.method} (its "
                              f"pruning schedule sets the count), got "
                              f"{config.budget_anneal_epochs}")
        if schedule.warmup_epochs + schedule.budget_anneal_epochs >= schedule.epochs:
            raise ConfigError(f"train: warmup_epochs {schedule.warmup_epochs} + "
                              f"budget_anneal_epochs {schedule.budget_anneal_epochs} leave none "
                              f"of the {schedule.epochs} epochs to train on the budget")
    no_schedule = config.method in NO_SCHEDULE_METHODS
    for name in ("warmup_epochs", "budget_anneal_epochs"):
        if not config.dense and no_schedule and getattr(schedule, name):
            raise ConfigError(f"train: {name}: expected 0 for method {config.method} (it "
                              f"takes no dense warm-up and no gradual budget), got "
                              f"{getattr(config, name)}")
    for name in ("momentum", "weight_decay"):
        if not getattr(config, name) >= 0:
            raise ConfigError(f"train: {name} must be >= 0, got {getattr(config, name)!r}")


def _model_args(config: TrainConfig, data) -> dict:
    args = dict(config.model_args)
    args.setdefault("num_classes", data.num_classes)
    if not isinstance(args["num_classes"], int) or args["num_classes"] < data.num_classes:
        raise ConfigError(f"train: num_classes {args['num_classes']!r} is fewer than the "
                          f"{data.num_classes} classes of {config.dataset!r}")
    if config.model.replace("_", "-").lower() == "lenet-300-100":
        args.setdefault("in_features", int(math.prod(data.input_shape)))
    else:
        args.setdefault("in_channels", int(data.input_shape[0]))
        args.setdefault("input_size", int(data.input_shape[-1]))
    return args


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train: device {name!r} asked for, but no CUDA device is available")
    return torch.device(name)


class _Run:
    """Everything one training run holds; built fresh, then optionally restored for resume."""

    def __init__(self, config: TrainConfig, out: Path):
        self.config, self.out = config, out
        self.device = _device(config.device)
        flatten = config.model.replace("_", "-").lower() == "lenet-300-100"
        self.data = load_dataset(config.dataset, config.data_dir, flatten=flatten)
        self.model_args = _model_args(config, self.data)
        check_model_takes(config.model, self.model_args, config.dataset, self.data.input_shape,
                          self.model_args["num_classes"])
        self.model = build_model(config.model, seed=config.seed, **self.model_args).to(self.device)
        self.optimizer = self._optimizer()
        schedule = config.schedule
        self.steps_per_epoch = math.ceil(len(self.data.train_y) / schedule.batch_size)
        if config.dense:
            initialize_model(self.model, config.seed)
            self.dropback = None
        else:
            anneal_steps = schedule.budget_anneal_epochs * self.steps_per_epoch
            pin_biases = schedule.bias_tracking == "always"
            build = (partial(build_annealed, anneal_steps=anneal_steps, pin_biases=pin_biases)
                     if anneal_steps or pin_biases else build_method)
            self.dropback = build(
                config.method, self.model, self.optimizer, budget=config.budget,
                compression=config.compression, seed=config.seed, mode=config.budget_mode,
                freeze_at_step=config.freeze_at_step,
                warmup_steps=schedule.warmup_epochs * self.steps_per_epoch,
                total_steps=schedule.epochs * self.steps_per_epoch)
        self.scheduler = self._scheduler()
        self.recorder = None
        if config.trace:
            self.recorder = TraceRecorder(
                self.model, self.dropback, model_name=config.model, model_args=self.model_args,
                seed=config.seed, input_shape=self.data.input_shape, batch_size=schedule.batch_size,
                dataset=config.dataset, optimizer=self.optimizer_info(),
                snapshot_every=config.trace_every)
        self.epoch = 0
        self.history: list[dict] = []
        self._initial: list | None = None  # w0 per budgeted layer, for the weight diffusion
        self.param_count = budgeted_param_count(self.model)
        self.schedule_note: str | None = None  # how a default schedule was cut to fit

    def weight_diffusion(self) -> dict:
        """{column: value}: the weight diffusion ||w - w0||_2 of every budgeted element and
        of each layer (the DropBack paper's criterion: it should stay close to dense SGD's)."""
        layers = budgeted_layers(self.model)
        if self._initial is None:
            self._initial = [initial_values_torch(self.config.seed, layer, self.device)
                             for layer in layers]
        per_layer = []
        with torch.no_grad():
            for layer, initial in zip(layers, self._initial):
                flat = torch.cat([p.detach().reshape(-1) for p in
                                  (layer.module.weight, layer.module.bias) if p is not None])
                per_layer.append(float(torch.linalg.vector_norm(flat.float() - initial)))
        columns = {"weight_diffusion": math.sqrt(sum(d * d for d in per_layer))}
        columns.update({f"weight_diffusion_{layer.layer_id}": d
                        for layer, d in zip(layers, per_layer)})
        return columns

    def _optimizer(self):
        c, params = self.config.schedule, self.model.parameters()
        if self.config.optimizer == "adam":
            return torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay)
        return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum,
                               weight_decay=c.weight_decay)

    def _scheduler(self):
        c, schedule = self.config, self.config.schedule
        if schedule.lr_schedule == "step":
            return torch.optim.lr_scheduler.StepLR(self.optimizer, c.lr_step_epochs, c.lr_gamma)
        if c.lr_schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, schedule.epochs)
        return None

    def optimizer_info(self) -> dict:
        c = self.config
        settings = {"lr": c.lr, "weight_decay": c.weight_decay, "lr_schedule": c.lr_schedule}
        if c.optimizer == "sgd":
            settings["momentum"] = c.momentum
        return {"name": c.optimizer, "settings": settings}

    # -- resume ------------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "epoch": self.epoch, "history": self.history,
            "model": self.model.state_dict(),
            "optimizer": (self.dropback.state_dict() if self.dropback is not None
                          else self.optimizer.state_dict()),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "recorder": self.recorder.state_dict() if self.recorder else None,
            "torch_rng": torch.get_rng_state(),
            "config": asdict(self.config),
        }

    def restore(self, state: dict):
        if state.get("config") != asdict(self.config):
            raise CheckpointError(f"{self.out / 'resume.pt'}: saved with other settings; "
                                  "resume with the same command, or use a new --out")
        self.model.load_state_dict(state["model"])
        if self.dropback is not None:
            self.dropback.load_state_dict(state["optimizer"])
        else:
            self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.recorder and state["recorder"]:
            self.recorder.load_state_dict(state["recorder"])
        torch.set_rng_state(state["torch_rng"])
        self.epoch, self.history = state["epoch"], list(state["history"])


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, device, batch_size=512):
    """Mean cross-entropy and accuracy of `model` on (x, y), in eval mode."""
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(y), batch_size):
            xb, yb = to_torch(x[start:start + batch_size], y[start:start + batch_size], device)
            logits = model(xb)
            loss_sum += float(nn.functional.cross_entropy(logits, yb, reduction="sum"))
            correct += int((logits.argmax(1) == yb).sum())
    model.train(was_training)
    return loss_sum / len(y), correct / len(y)


def _progress(total, desc, quiet):
    return tqdm(total=total, desc=desc, unit="step", leave=False,
                disable=quiet or not sys.stderr.isatty())


def train(config: TrainConfig | None = None, out="runs/latest", *, resume=False, quiet=False,
          on_epoch_end=None, **overrides) -> TrainResult:
    """Train `config.model` on `config.dataset` with DropBack (or dense) and write a run folder.

    `train(TrainConfig(...), out)` or `train(out=..., model=..., budget=..., epochs=...)`.
    With `resume=True` an interrupted run in `out` continues where its last epoch ended and
    ends bit-identical to an uninterrupted one. `on_epoch_end(epoch, history_row)` is called
    after each epoch's state is saved (for progress reporting or early stopping by raising).
    """
    asked = replace(config or TrainConfig(), **overrides)
    config = asked.resolved()
    _check(config)
    note = asked.schedule_note()
    if note and not quiet:
        print(note, file=sys.stderr)
    out = Path(out)
    if resume:
        _check_resumable(out)
    torch.manual_seed(config.seed)
    run = _Run(config, out)
    run.schedule_note = note
    threads_before = torch.get_num_threads()
    torch.set_num_threads(_threads(config, run.model))
    try:
        return _train(run, config, out, resume, quiet, on_epoch_end)
    finally:
        torch.set_num_threads(threads_before)


def _check_resumable(out: Path):
    """--resume continues a run or refuses: it never trains from scratch over a folder."""
    if (out / "resume.pt").is_file():
        return
    if (out / "summary.json").is_file():
        raise AccelsimError(f"{out}: the run there already finished (summary.json, no "
                            "resume.pt); nothing to resume: drop --resume to train it again, "
                            "or choose another --out")
    raise AccelsimError(f"{out}: nothing to resume (no resume.pt; a run saves it after its "
                        "first epoch); drop --resume to start the run")


SMALL_MODEL_PARAMS = 1_000_000


def _threads(config: TrainConfig, model) -> int:
    """Small models run faster on one thread (per-op threading costs more than it saves, and a
    busy machine makes spinning thread pools thrash); large ones use torch's default."""
    if config.threads is not None:
        if config.threads < 1:
            raise ConfigError(f"train: threads must be >= 1, got {config.threads}")
        return config.threads
    small = sum(p.numel() for p in model.parameters()) < SMALL_MODEL_PARAMS
    return 1 if small else torch.get_num_threads()


def _train(run, config: TrainConfig, out: Path, resume: bool, quiet: bool, on_epoch_end):
    resume_file = out / "resume.pt"
    if resume and resume_file.exists():
        try:
            # data, never code: no pickle object is built, and a FIFO is refused unopened
            state = torch.load(regular_file(resume_file, CheckpointError), weights_only=True,
                               map_location=run.device)
        except CheckpointError:
            raise
        except Exception as exc:
            raise CheckpointError(f"{resume_file}: cannot be read ({type(exc).__name__})") from None
        if not isinstance(state, dict):
            raise CheckpointError(f"{resume_file}: expected a saved run state (a dict), got "
                                  f"{type(state).__name__}")
        try:
            run.restore(state)
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            # a damaged or foreign state: torch and DropBack refuse it in their own words
            raise CheckpointError(f"{resume_file}: not a state of this run "
                                  f"({type(exc).__name__}: {shown(str(exc))})") from None
    else:
        # a fresh start: the old run's markers go first, so the folder never claims to be
        # finished (summary.json) or resumable from another run (resume.pt) while this one runs
        (out / "resume.pt").unlink(missing_ok=True)
        (out / "summary.json").unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    clean_stale(out)  # temporaries of a killed earlier run
    # the resolved thread count too: results are bit-identical only at the same count
    write_json_atomic(out / "config.json", {**asdict(config), "model_args": run.model_args,
                                            "threads_used": torch.get_num_threads()})

    data, model, device = run.data, run.model, run.device
    schedule = config.schedule
    steps_per_epoch = math.ceil(len(data.train_y) / schedule.batch_size)
    bar = _progress(schedule.epochs * steps_per_epoch, f"train {config.model}", quiet)
    bar.update(run.epoch * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    while run.epoch < config.epochs:
        epoch = run.epoch
        if (run.dropback is not None and config.freeze_at_epoch is not None
                and epoch == config.freeze_at_epoch and not run.dropback.frozen):
            run.dropback.freeze()
        model.train()
        started = time.perf_counter()
        loss_sum, seen, churn_in, churn_out = 0.0, 0, 0, 0
        tracked_sum, tracked_peak, steps_done = 0, 0, 0  # the tracked count each step used
        for xb, yb in batches(data.train_x, data.train_y, schedule.batch_size, shuffle=True,
                              seed=config.seed, epoch=epoch):
            xb, yb = to_torch(xb, yb, device)
            loss = loss_fn(model(xb), yb)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                _diverged(config, out, epoch, seen // schedule.batch_size + 1, "training",
                          loss_value)
            (run.dropback or run.optimizer).zero_grad(set_to_none=True)
            loss.backward()
            stats = run.dropback.step() if run.dropback is not None else run.optimizer.step()
            if run.recorder:
                run.recorder.record_step(stats)
            if stats is not None:
                churn_in += sum(stats.entered)
                churn_out += sum(stats.left)
            used = run.param_count if stats is None else sum(stats.tracked_before)
            tracked_sum, tracked_peak = tracked_sum + used, max(tracked_peak, used)
            steps_done += 1
            loss_sum += loss_value * len(yb)
            seen += len(yb)
            bar.update(1)
        train_seconds = time.perf_counter() - started
        lr = run.optimizer.param_groups[0]["lr"]
        if run.scheduler:
            run.scheduler.step()
        test_loss, test_acc = evaluate(model, data.test_x, data.test_y, device)
        if not math.isfinite(test_loss):
            _diverged(config, out, epoch, steps_per_epoch, "test", test_loss)
        _, train_acc = evaluate(model, data.train_x, data.train_y, device)
        tracked = (sum(run.dropback.tracked_per_layer()) if run.dropback is not None
                   else budgeted_param_count(model))
        run.history.append({"epoch": epoch + 1, "train_loss": loss_sum / seen,
                            "train_accuracy": train_acc, "test_loss": test_loss,
                            "test_accuracy": test_acc, "lr": lr, "tracked_count": tracked,
                            "mean_tracked_count": tracked_sum / steps_done,
                            "peak_tracked_count": tracked_peak,
                            "entered_count": churn_in, "left_count": churn_out,
                            **run.weight_diffusion(),
                            # the only column that differs between identical runs
                            "wall_seconds": round(train_seconds, 3)})
        run.epoch = epoch + 1
        write_text_atomic(out / "history.csv", pd.DataFrame(run.history).to_csv(index=False))
        # after the last epoch too: a kill while the final files are written then resumes
        write_stream_atomic(resume_file, lambda stream: torch.save(run.state(), stream))
        if on_epoch_end is not None:
            on_epoch_end(run.epoch, run.history[-1])
    bar.close()
    return _finish(run, out)


def _diverged(config: TrainConfig, out: Path, epoch: int, step: int, which: str, value: float):
    kept = (f"{out} keeps epoch {epoch} (--resume would diverge again)" if epoch
            else "no epoch finished")
    raise TrainingDiverged(
        f"train: the {which} loss became {value} in epoch {epoch + 1}, step {step}: training "
        f"diverged (lr {config.lr}, optimizer {config.optimizer}); lower --lr; {kept}")


def _finish(run: _Run, out: Path) -> TrainResult:
    config = run.config
    history = pd.DataFrame(run.history)
    final = run.history[-1]
    # a method whose untracked elements are zeros, not w0, is stored dense: the sparse
    # checkpoint's rebuild regenerates w0 for every untracked element
    sparse = run.dropback if getattr(run.dropback, "untracked_values", "w0") == "w0" else None
    save_checkpoint(out / "checkpoint.sparse", run.model, sparse, model_name=config.model,
                    model_args=run.model_args, seed=config.seed,
                    extra={"accuracy": final["test_accuracy"], "dataset": config.dataset,
                           "epochs": config.epochs})
    sizes = checkpoint_sizes(out / "checkpoint.sparse")
    param_count = budgeted_param_count(run.model)
    tracked = (sum(run.dropback.tracked_per_layer()) if run.dropback is not None
               else param_count)
    summary = {
        "model": config.model, "dataset": config.dataset, "epochs": config.epochs,
        "seed": config.seed, "dense": config.dense, "budget_mode": config.budget_mode,
        "method": "dense" if config.dense else config.method,
        "train_seconds": round(sum(row["wall_seconds"] for row in run.history), 3),
        "param_count": param_count, "tracked_count": tracked,
        "compression": param_count / tracked if tracked else None,
        **schedule_cost(history, param_count),
        "warmup_steps": getattr(run.dropback, "warmup_steps", 0),
        "budget_anneal_steps": getattr(run.dropback, "anneal_steps", 0),
        "schedule_note": run.schedule_note,
        "test_accuracy": final["test_accuracy"], "train_accuracy": final["train_accuracy"],
        "test_loss": final["test_loss"],
        "checkpoint": str(out / "checkpoint.sparse"),
        "checkpoint_bytes": sizes["sparse_bytes"], "dense_checkpoint_bytes": sizes["dense_bytes"],
        "trace": None,
    }
    if run.recorder:
        summary["trace"] = str(run.recorder.write(out / "trace", accuracy=final["test_accuracy"]))
    write_json_atomic(out / "summary.json", summary)
    (out / "resume.pt").unlink(missing_ok=True)
    return TrainResult(out, history, summary)


def schedule_cost(history: pd.DataFrame, param_count: int) -> dict:
    """What the run's budget schedule cost: the peak tracked count (what the weight memory
    must hold) and the count averaged over every step, with their compressions. Each epoch
    has the same number of steps, so the mean of the epochs' means is the mean over steps."""
    mean = float(history["mean_tracked_count"].mean())
    peak = int(history["peak_tracked_count"].max())
    return {"peak_tracked_count": peak, "mean_tracked_count": mean,
            "peak_compression": param_count / peak if peak else None,
            "mean_compression": param_count / mean if mean else None}


def format_history(history: pd.DataFrame) -> str:
    """The per-epoch table printed by `accelsim train`."""
    cols = ["epoch", "train_loss", "train_accuracy", "test_accuracy", "lr", "entered_count"]
    frame = history[cols].copy()
    for c in ("train_accuracy", "test_accuracy"):
        frame[c] = (frame[c] * 100).map("{:.2f}%".format)
    frame["train_loss"] = frame["train_loss"].map("{:.4f}".format)
    frame["lr"] = frame["lr"].map("{:.4g}".format)
    return frame.to_string(index=False)


def summary_json(result: TrainResult) -> str:
    return json_text(result.summary, sort_keys=True)
