"""Synthesis stage: RTL → gate-level netlist on the platform's cells (both backends use Yosys,
as ORFS does)."""

from __future__ import annotations

import shutil

from flow.config import clock_period_from_sdc
from flow.errors import ConfigError
from flow.stage import Stage, StageContext, StageResult, Variable
from flow.state import State
from flow.synth import synthesize


class SynthStage(Stage):
    id = "synth"
    name = "Synthesis (Yosys + ABC)"
    inputs = ()
    outputs = ("verilog", "sdc")
    config_vars = (
        Variable("ABC_AREA", bool, "Map for area instead of delay (no `abc -D`).", False, source="synth"),
        Variable("SYNTH_HDL_FRONTEND", str | None, "As ORFS: 'slang' reads SystemVerilog through slang "
                 "(pyslang) before Yosys (package files first, imports and unpacked port arrays rewritten); "
                 "empty: Yosys read_verilog -sv alone.", None, source="synth"),
        Variable("SYNTH_HIERARCHICAL", bool, "As ORFS: keep modules through generic synthesis and ABC "
                 "(each module mapped once however often it is instantiated: mac_array's identical PEs), then "
                 "flatten; off: flatten first, so optimisation crosses module boundaries.", False, source="synth"),
        Variable("SYNTH_MINIMUM_KEEP_SIZE", int, "With SYNTH_HIERARCHICAL: modules of at most this many gates "
                 "(Yosys' estimate, `keep_hierarchy -min_cost`; ORFS counts NAND2 areas) are flattened into "
                 "their parent before mapping; 0 keeps every module.", 0, source="synth", min=0),
        Variable(
            "SYNTH_CORNER", str | None,
            "Liberty corner ABC maps against; default: the platform's default corner.", None, source="synth",
        ),
    )

    def run(self, state: State, ctx: StageContext) -> StageResult:
        cfg = ctx.config
        sdc = cfg["SDC_FILE"]
        if not sdc.is_file():
            raise ConfigError(f"SDC_FILE {sdc}: file not found")
        for f in cfg["VERILOG_FILES"]:
            if not f.is_file():
                raise ConfigError(f"VERILOG_FILES: {f}: file not found")
        period = cfg["CLOCK_PERIOD"] or clock_period_from_sdc(sdc)
        result = synthesize(
            list(cfg["VERILOG_FILES"]),
            cfg["DESIGN_NAME"],
            ctx.platform,
            ctx.stage_dir,
            clock_period_ns=period,
            params=cfg["VERILOG_TOP_PARAMS"],
            corner=cfg["SYNTH_CORNER"] or cfg["CORNER"],
            dont_use=cfg["DONT_USE_CELLS"],
            defines=cfg["VERILOG_DEFINES"],
            include_dirs=cfg["VERILOG_INCLUDE_DIRS"],
            abc_area=cfg["ABC_AREA"],
            hdl_frontend=cfg["SYNTH_HDL_FRONTEND"] or None,
            hierarchical=cfg["SYNTH_HIERARCHICAL"],
            keep_min_cost=cfg["SYNTH_MINIMUM_KEEP_SIZE"],
        )
        sdc_out = ctx.path(f"{cfg['DESIGN_NAME']}.sdc")
        shutil.copyfile(sdc, sdc_out)
        ctx.log.info("synthesised %s with %s: %d cells, %.1f um2", cfg["DESIGN_NAME"], result.yosys,
                     result.cell_count, result.area_um2)
        return StageResult(
            views={"verilog": result.netlist, "sdc": sdc_out},
            metrics={
                "synth__design__instance__area__stdcell": round(result.area_um2, 4),
                "synth__design__instance__count__stdcell": result.cell_count,
                "synth__design__instance__area__sequential": round(result.sequential_area_um2, 4),
                "synth__clock__period_ns": period,
                "synth__tool__yosys": result.yosys,
            },
        )
