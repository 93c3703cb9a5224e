// Greatest common divisor by repeated subtraction (Euclid), with valid/ready handshakes.
// Written for vhflow as a small control+datapath block (one subtractor, two registers).
module gcd #(
    parameter W = 16
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         req_valid,
    output wire         req_ready,
    input  wire [2*W-1:0] req_msg,   // {a, b}
    output wire         resp_valid,
    input  wire         resp_ready,
    output wire [W-1:0] resp_msg
);
    localparam IDLE = 2'd0, CALC = 2'd1, DONE = 2'd2;
    reg [1:0]   state;
    reg [W-1:0] a, b;

    wire a_lt_b = a < b;
    wire b_zero = (b == {W{1'b0}});

    assign req_ready  = (state == IDLE);
    assign resp_valid = (state == DONE);
    assign resp_msg   = a;

    always @(posedge clk) begin
        if (rst) begin
            state <= IDLE;
            a <= {W{1'b0}};
            b <= {W{1'b0}};
        end else begin
            case (state)
                IDLE: if (req_valid) begin
                    a <= req_msg[2*W-1:W];
                    b <= req_msg[W-1:0];
                    state <= CALC;
                end
                CALC: begin
                    if (a_lt_b) begin          // swap so that a >= b
                        a <= b;
                        b <= a;
                    end else if (!b_zero) begin
                        a <= a - b;
                    end else begin
                        state <= DONE;
                    end
                end
                DONE: if (resp_ready) state <= IDLE;
                default: state <= IDLE;
            endcase
        end
    end
endmodule
