// Unbalanced-slack design for the FINE-VH study: a wide, shallow streaming datapath (most of the
// gates and of the switching energy, a few gate levels per stage) next to a narrow controller
// whose multiply-accumulate address generator is one deep combinational path (it sets the clock).
// At the clock the controller needs at VDDH, the datapath has most of the period as slack: the
// case where one chip-wide supply wastes energy and Vdd-hopping islands should not.
module dp_ctrl #(
    parameter LANES = 16,
    parameter W = 16,
    parameter CW = 16
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 start,
    input  wire [CW-1:0]        step,
    input  wire [LANES*W-1:0]   din,
    output wire [LANES*W-1:0]   dout,
    output wire [CW-1:0]        addr,
    output reg                  run
);
    // controller: acc <= acc + step * acc[CW-1:0] (one deep path), run while the address is below the limit
    reg [2*CW-1:0] acc;
    reg [CW-1:0]   step_r;
    always @(posedge clk) begin
        if (rst) begin
            acc <= {{(2*CW-1){1'b0}}, 1'b1};
            step_r <= {CW{1'b0}};
            run <= 1'b0;
        end else begin
            step_r <= step;
            if (start) run <= 1'b1;
            else if (acc[2*CW-1:2*CW-2] == 2'b11) run <= 1'b0;
            acc <= acc + step_r * acc[CW-1:0];
        end
    end
    assign addr = acc[2*CW-1:CW];

    // datapath: per lane three shallow stages (rotate-xor diffusion, chi-like non-linear mix),
    // streaming every cycle (no enable: a controller-driven enable would be one net of fan-out
    // LANES*W*3, slow at low voltage before buffering)
    genvar l;
    generate
        for (l = 0; l < LANES; l = l + 1) begin : lane
            reg [W-1:0] s1, s2, s3;
            wire [W-1:0] x = din[l*W +: W];
            wire [W-1:0] d2 = s1 ^ {s1[W-2:0], s1[W-1]} ^ {s1[0], s1[W-1:1]};
            wire [W-1:0] d3 = s2 ^ (~{s2[W-2:0], s2[W-1]} & {s2[W-3:0], s2[W-1:W-2]});
            always @(posedge clk) begin
                if (rst) begin
                    s1 <= {W{1'b0}};
                    s2 <= {W{1'b0}};
                    s3 <= {W{1'b0}};
                end else begin
                    s1 <= x;
                    s2 <= d2;
                    s3 <= d3;
                end
            end
            assign dout[l*W +: W] = s3;
        end
    endgenerate
endmodule
