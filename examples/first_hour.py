# %% [markdown]
# # accelsim from Python: train, trace, simulate, plot
#
# A notebook-style script (the `# %%` lines are cells for Jupyter, VS Code or `jupytext`;
# `python examples/first_hour.py` runs it whole). It trains LeNet-300-100 on the embedded
# 8×8 digits with DropBack, records the trace, simulates it and its dense baseline on the
# default accelerator, sweeps the weight SRAM, and draws the figures. About a minute of CPU
# at the defaults; `--epochs 1` for a quick look.

# %%
import argparse
from pathlib import Path

import torch

import accelsim
from accelsim.models import build_model
from accelsim.train.data import batches, load_dataset, to_torch

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--budget", type=int, default=5000, help="tracked weights (of 50,610)")
parser.add_argument("--out", default="runs/first-hour")
args = parser.parse_args()
out = Path(args.out)

# the zoo's small models train fastest on one thread: torch's default (every core) costs
# far more in synchronisation than a 50K-weight layer gains from it
torch.set_num_threads(1)
torch.manual_seed(0)

# %% [markdown]
# ## Train with DropBack, recording the trace

# %%
data = load_dataset("digits", flatten=True)
model = build_model("lenet-300-100", in_features=64, num_classes=10)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
dropback = accelsim.DropBack(model, optimizer, budget=args.budget, seed=0)
recorder = accelsim.TraceRecorder(model, dropback, model_name="lenet-300-100",
                                  model_args={"in_features": 64}, seed=0, input_shape=(64,),
                                  batch_size=32, dataset="digits", snapshot_every=100)
for epoch in range(args.epochs):
    model.train()
    for xb, yb in batches(data.train_x, data.train_y, 32, seed=0, epoch=epoch):
        x, y = to_torch(xb, yb)
        dropback.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        recorder.record_step(dropback.step())

model.eval()
with torch.no_grad():
    x, y = to_torch(data.test_x, data.test_y)
    accuracy = float((model(x).argmax(1) == y).float().mean())
print(f"test accuracy after {args.epochs} epochs: {accuracy * 100:.2f}%")
trace_dir = recorder.write(out / "trace", accuracy=accuracy)

# %% [markdown]
# ## Simulate the trace and its dense baseline (torch-free from here on)

# %%
result = accelsim.simulate(trace_dir, "default", mode="train")
print(result.comparison())  # dense_over_trace: dense / DropBack, above 1 is a saving

# %% [markdown]
# ## Sweep the weight SRAM size, then draw every figure

# %%
table = accelsim.sweep(trace_dir, "default", sram_sizes=[16 * 1024, 64 * 1024, 256 * 1024],
                       out=out / "sweep", jobs=1, quiet=True)
print(table[["weight_sram_capacity_bytes", "run", "energy_pj", "dram_bytes"]]
      .to_string(index=False))
for figure in accelsim.plot(out / "sweep"):
    print("figure:", figure)
