# minibex (Nangate45): core clock on clk_i; I/O timed against a virtual clock whose latency
# stands for the clock tree of the logic around the core.
set clk_period 0.67
create_clock -name core_clock -period $clk_period [get_ports clk_i]
create_clock -name vclk -period $clk_period
set_clock_latency 0.05 [get_clocks vclk]
set non_clock_inputs [lsearch -inline -all -not -exact [all_inputs] [get_ports clk_i]]
set_input_delay [expr $clk_period * 0.2] -clock vclk $non_clock_inputs
set_output_delay [expr $clk_period * 0.2] -clock vclk [all_outputs]
