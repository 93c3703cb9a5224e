// One processing element of the mixed-precision MAC array.
//
// The PE keeps a stationary 8-bit weight word and, every cycle it is enabled, multiplies it with
// the incoming 8-bit activation word as one 8x8, two 4x4 or four 2x2 *signed* products (sub-word
// parallelism selected by `prec`), adds the products and accumulates the sum. The operands of the
// multipliers a mode does not use are forced to zero (operand isolation), so lower precision
// really toggles fewer gates — which is what makes precision an energy knob.
module mac_pe #(
    parameter ACC_W = 24
) (
    input  wire              clk,
    input  wire              rst,
    input  wire [1:0]        prec,      // 0: 1x(8x8), 1: 2x(4x4), 2: 4x(2x2)
    input  wire              w_we,      // load the stationary weight word
    input  wire [7:0]        w_in,
    input  wire              en,        // accumulate this cycle
    input  wire              clr,       // clear the accumulator
    input  wire [7:0]        a_in,      // activation word from the left
    output reg  [7:0]        a_out,     // activation word to the right (one cycle later)
    output reg  [ACC_W-1:0]  acc
);
    reg [7:0] w;

    wire m8 = (prec == 2'd0);
    wire m4 = (prec == 2'd1);
    wire m2 = (prec == 2'd2);

    // operand isolation per mode
    wire [7:0] w8 = w & {8{m8}};
    wire [7:0] a8 = a_in & {8{m8}};
    wire [7:0] w4 = w & {8{m4}};
    wire [7:0] a4 = a_in & {8{m4}};
    wire [7:0] w2 = w & {8{m2}};
    wire [7:0] a2 = a_in & {8{m2}};

    wire signed [15:0] p8   = $signed(w8) * $signed(a8);
    wire signed [7:0]  p4_0 = $signed(w4[3:0]) * $signed(a4[3:0]);
    wire signed [7:0]  p4_1 = $signed(w4[7:4]) * $signed(a4[7:4]);
    wire signed [3:0]  p2_0 = $signed(w2[1:0]) * $signed(a2[1:0]);
    wire signed [3:0]  p2_1 = $signed(w2[3:2]) * $signed(a2[3:2]);
    wire signed [3:0]  p2_2 = $signed(w2[5:4]) * $signed(a2[5:4]);
    wire signed [3:0]  p2_3 = $signed(w2[7:6]) * $signed(a2[7:6]);

    wire signed [16:0] sum = $signed(p8) + $signed(p4_0) + $signed(p4_1)
                           + $signed(p2_0) + $signed(p2_1) + $signed(p2_2) + $signed(p2_3);

    always @(posedge clk) begin
        if (rst) begin
            w <= 8'd0;
            a_out <= 8'd0;
            acc <= {ACC_W{1'b0}};
        end else begin
            if (w_we) w <= w_in;
            a_out <= a_in;
            if (clr) acc <= {ACC_W{1'b0}};
            else if (en) acc <= acc + {{(ACC_W-17){sum[16]}}, sum};
        end
    end
endmodule
