"""A tiny hand-written Liberty whose tables are exactly linear, so bilinear look-up (and any
extrapolation) equals the formula: every number in the tests below is computable by hand."""

from __future__ import annotations

from pathlib import Path

# delay/transition (ns) = a + b * slew(ns) + c * load(fF)
INV = {"cell_rise": (0.010, 0.10, 0.0020), "cell_fall": (0.008, 0.05, 0.0025),
       "rise_transition": (0.005, 0.20, 0.0030), "fall_transition": (0.004, 0.10, 0.0020)}
DFF_Q = {"cell_rise": (0.050, 0.10, 0.0040), "cell_fall": (0.060, 0.10, 0.0030),
         "rise_transition": (0.006, 0.10, 0.0050), "fall_transition": (0.005, 0.10, 0.0040)}
# constraint (ns) = a + b * data slew + c * clock slew
SETUP = {"rise_constraint": (0.020, 0.10, 0.05), "fall_constraint": (0.030, 0.20, 0.05)}
HOLD = {"rise_constraint": (0.010, 0.05, 0.02), "fall_constraint": (0.012, 0.04, 0.02)}
CAP = {"INV_X1/A": 1.0, "DFF_X1/D": 0.5, "DFF_X1/CK": 0.8}
# internal energy per transition in V * fF = fJ (Liberty: voltage_unit x capacitive_load_unit)
E_INV = {"rise_power": (1.0, 2.0, 0.1), "fall_power": (0.5, 1.0, 0.05)}
E_CK = {"rise_power": (3.0, 0.0, 0.0), "fall_power": (2.0, 0.0, 0.0)}
LEAK = {"INV_X1": [("A", 10.0), ("!A", 20.0)], "DFF_X1": None}
DFF_LEAK = 50.0


def _table(name: str, tmpl: str, coef: tuple[float, float, float], idx2: tuple[float, float]) -> str:
    a, b, c = coef
    i1 = (0.0, 0.1)
    rows = ", ".join('"' + ", ".join(f"{a + b * x + c * y:.9g}" for y in idx2) + '"' for x in i1)
    return (f"      {name}({tmpl}) {{\n        index_1(\"{i1[0]}, {i1[1]}\");\n"
            f"        index_2(\"{idx2[0]}, {idx2[1]}\");\n        values({rows});\n      }}\n")


def write_lib(path: Path) -> Path:
    d = "".join(_table(k, "dly", v, (0.0, 10.0)) for k, v in INV.items())
    q = "".join(_table(k, "dly", v, (0.0, 10.0)) for k, v in DFF_Q.items())
    su = "".join(_table(k, "chk", v, (0.0, 0.1)) for k, v in SETUP.items())
    ho = "".join(_table(k, "chk", v, (0.0, 0.1)) for k, v in HOLD.items())
    pinv = "".join(_table(k, "pwr", v, (0.0, 10.0)) for k, v in E_INV.items())
    pck = "".join(f'      {k}(pwr1) {{\n        index_1("0.0, 0.1");\n        values("{v[0]}, {v[0]}");\n      }}\n'
                  for k, v in E_CK.items())
    leak = "".join(f'    leakage_power() {{ when : "{w}"; value : {v}; }}\n' for w, v in LEAK["INV_X1"])
    text = f"""library (hand) {{
  delay_model : table_lookup;
  time_unit : "1ns";
  voltage_unit : "1V";
  current_unit : "1mA";
  leakage_power_unit : "1nW";
  capacitive_load_unit (1, ff);
  pulling_resistance_unit : "1kohm";
  nom_voltage : 1.0;
  nom_temperature : 25.0;
  nom_process : 1.0;
  voltage_map (VDD, 1.0);
  voltage_map (VSS, 0.0);
  slew_lower_threshold_pct_rise : 30.0;
  slew_upper_threshold_pct_rise : 70.0;
  slew_lower_threshold_pct_fall : 30.0;
  slew_upper_threshold_pct_fall : 70.0;
  input_threshold_pct_rise : 50.0;
  input_threshold_pct_fall : 50.0;
  output_threshold_pct_rise : 50.0;
  output_threshold_pct_fall : 50.0;
  slew_derate_from_library : 1.0;
  operating_conditions (typ) {{ process : 1.0; voltage : 1.0; temperature : 25.0; }}
  default_operating_conditions : typ;
  lu_table_template (dly) {{ variable_1 : input_net_transition; variable_2 : total_output_net_capacitance;
    index_1 ("0.0, 0.1"); index_2 ("0.0, 10.0"); }}
  lu_table_template (chk) {{ variable_1 : constrained_pin_transition; variable_2 : related_pin_transition;
    index_1 ("0.0, 0.1"); index_2 ("0.0, 0.1"); }}
  power_lut_template (pwr) {{ variable_1 : input_transition_time; variable_2 : total_output_net_capacitance;
    index_1 ("0.0, 0.1"); index_2 ("0.0, 10.0"); }}
  cell (INV_X1) {{
    area : 1.0;
    pg_pin (VDD) {{ voltage_name : VDD; pg_type : primary_power; }}
    pg_pin (VSS) {{ voltage_name : VSS; pg_type : primary_ground; }}
    cell_leakage_power : 15.0;
{leak}    pin (A) {{ direction : input; capacitance : 1.0; rise_capacitance : 1.0; fall_capacitance : 1.0;
      related_power_pin : VDD; related_ground_pin : VSS; }}
    pin (ZN) {{ direction : output; function : "!A"; related_power_pin : VDD; related_ground_pin : VSS;
      timing () {{ related_pin : "A"; timing_sense : negative_unate;
{d}      }}
      internal_power () {{ related_pin : "A";
{pinv}      }}
    }}
  }}
  cell (DFF_X1) {{
    area : 4.0;
    pg_pin (VDD) {{ voltage_name : VDD; pg_type : primary_power; }}
    pg_pin (VSS) {{ voltage_name : VSS; pg_type : primary_ground; }}
    cell_leakage_power : {DFF_LEAK};
    ff (IQ, IQN) {{ next_state : "D"; clocked_on : "CK"; }}
    pin (D) {{ direction : input; capacitance : 0.5; rise_capacitance : 0.5; fall_capacitance : 0.5;
      related_power_pin : VDD; related_ground_pin : VSS;
      timing () {{ related_pin : "CK"; timing_type : setup_rising;
{su}      }}
      timing () {{ related_pin : "CK"; timing_type : hold_rising;
{ho}      }}
    }}
    pin (CK) {{ direction : input; clock : true; capacitance : 0.8; rise_capacitance : 0.8; fall_capacitance : 0.8;
      related_power_pin : VDD; related_ground_pin : VSS;
      internal_power () {{
{pck}      }}
    }}
    pin (Q) {{ direction : output; function : "IQ"; related_power_pin : VDD; related_ground_pin : VSS;
      timing () {{ related_pin : "CK"; timing_type : rising_edge; timing_sense : non_unate;
{q}      }}
    }}
  }}
}}
"""
    # CK internal power depends on input transition only: a 1-D template
    text = text.replace("  cell (INV_X1) {", "  power_lut_template (pwr1) { variable_1 : input_transition_time;\n"
                        "    index_1 (\"0.0, 0.1\"); }\n  cell (INV_X1) {", 1)
    path.write_text(text)
    return path


def lin(coef: tuple[float, float, float], x: float, y: float) -> float:
    a, b, c = coef
    return a + b * x + c * y
