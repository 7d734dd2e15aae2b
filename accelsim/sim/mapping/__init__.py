"""The mapping room: what each (layer, phase) asks of the hardware, in closed form (numpy).

Followed in the order `simulate` uses it, each module only importing those above it:

- `apportion`  integer shares that add up exactly (counts spread over tiles, operands, layers);
- `gemm`       each (layer, phase) GEMM, derived once from the layer table (`phase_gemm`), and
               the types of a mapping (`GemmMapping`, `OperandTraffic`);
- `folds`      a GEMM's folds on the R x C array (cycles per dataflow), the weight blocks a
               pass feeds it, the array-side buffer words, and tiles of blocks;
- `scalesim`   SCALE-Sim v3's buffer rule: its fixed schedule and its read buffer replayed
               over an im2col operand;
- `mapper`     the loop order and tile sizes at the buffer level (`map_gemm`), with the
               `scalesim` schedule as one candidate (or the policy itself);
- `layer`      a layer's fixed mapping on an accelerator (`LayerWork`), its GEMMs handed to
               the three above once;
- `placement`  where the tracked weights live: pinned in the weight SRAM or streamed;
- `tiles`      one (layer, phase) of an iteration as tiles with typed traffic per level
               (`PhaseTiles`), what the SimPy machine replays.
"""
