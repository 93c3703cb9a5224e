# ORFS-style constraints for dp_ctrl (Sky130HD).
set clk_name core_clock
set clk_port_name clk
set clk_period 9.5  ;# sky130hd ss_n40C_1v76 netlist fmax 8.6 ns + ~11 % for routed wires (FINEVH_CLOCK=sdc)
set clk_io_pct 0.2

set clk_port [get_ports $clk_port_name]
create_clock -name $clk_name -period $clk_period $clk_port

set non_clock_inputs [lsearch -inline -all -not -exact [all_inputs] $clk_port]
set_input_delay [expr $clk_period * $clk_io_pct] -clock $clk_name $non_clock_inputs
set_output_delay [expr $clk_period * $clk_io_pct] -clock $clk_name [all_outputs]
