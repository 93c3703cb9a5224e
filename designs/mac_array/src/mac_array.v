// Mixed-precision (8/4/2-bit) weight-stationary MAC array for ConvNet inference.
//
// ROWS x COLS PEs (mac_pe). Weights are loaded one row at a time (w_we with w_row), each PE
// holding one packed weight word. A computation streams N activation words per row: row r's
// activation enters column 0 and moves one column to the right per cycle, so PE(r, c)
// accumulates sum_t dot(W[r][c], A[r][t - c]) over the N valid words (a 1-D convolution per row,
// the inner loop of a conv layer). Afterwards the controller drains the accumulators one row per
// cycle on out_data. See README.md for the protocol.
module mac_array #(
    parameter ROWS  = 4,
    parameter COLS  = 4,    // >= 2
    parameter ACC_W = 24
) (
    input  wire                   clk,
    input  wire                   rst,
    input  wire [1:0]             prec,
    // weight loading
    input  wire                   w_we,
    input  wire [7:0]             w_row,
    input  wire [COLS*8-1:0]      w_data,
    // computation
    input  wire                   start,
    input  wire [15:0]            n_words,
    input  wire [ROWS*8-1:0]      a_data,
    output wire                   a_ready,
    // results
    output reg                    out_valid,
    output reg  [7:0]             out_row,
    output wire [COLS*ACC_W-1:0]  out_data,
    output wire                   busy
);
    localparam S_IDLE = 2'd0, S_RUN = 2'd1, S_FLUSH = 2'd2, S_DRAIN = 2'd3;
    reg [1:0]  state;
    reg [15:0] count;
    reg [7:0]  flush;
    reg [1:0]  prec_q;

    wire running = (state == S_RUN);
    assign a_ready = running;
    assign busy = (state != S_IDLE);

    // valid bit travelling with the activations: column c accumulates c cycles after column 0
    reg  [COLS-2:0] valid_pipe;
    wire [COLS-1:0] en_col = {valid_pipe, running};

    wire [7:0]       a_link [0:ROWS-1][0:COLS];
    wire [ACC_W-1:0] acc    [0:ROWS-1][0:COLS-1];

    genvar r, c;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : g_row
            assign a_link[r][0] = running ? a_data[r*8 +: 8] : 8'd0;
            for (c = 0; c < COLS; c = c + 1) begin : g_col
                mac_pe #(.ACC_W(ACC_W)) pe (
                    .clk(clk), .rst(rst), .prec(prec_q),
                    .w_we(w_we && (w_row == r)), .w_in(w_data[c*8 +: 8]),
                    .en(en_col[c]), .clr(start && state == S_IDLE),
                    .a_in(a_link[r][c]), .a_out(a_link[r][c+1]),
                    .acc(acc[r][c])
                );
            end
        end
    endgenerate

    generate
        if (COLS > 2) begin : g_vp
            always @(posedge clk) begin
                if (rst) valid_pipe <= {(COLS-1){1'b0}};
                else valid_pipe <= {valid_pipe[COLS-3:0], running};
            end
        end else begin : g_vp1
            always @(posedge clk) begin
                if (rst) valid_pipe <= 1'b0;
                else valid_pipe <= running;
            end
        end
    endgenerate

    // drained row selected by out_row
    generate
        for (c = 0; c < COLS; c = c + 1) begin : g_out
            assign out_data[c*ACC_W +: ACC_W] = acc[out_row[$clog2(ROWS > 1 ? ROWS : 2)-1:0]][c];
        end
    endgenerate

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            count <= 16'd0;
            flush <= 8'd0;
            prec_q <= 2'd0;
            out_valid <= 1'b0;
            out_row <= 8'd0;
        end else begin
            case (state)
                S_IDLE: begin
                    out_valid <= 1'b0;
                    out_row <= 8'd0;
                    if (start && n_words != 16'd0) begin
                        prec_q <= prec;
                        count <= n_words;
                        state <= S_RUN;
                    end
                end
                S_RUN: begin
                    count <= count - 16'd1;
                    if (count == 16'd1) begin
                        flush <= COLS;
                        state <= S_FLUSH;
                    end
                end
                S_FLUSH: begin   // let the last words reach the last column
                    flush <= flush - 8'd1;
                    if (flush == 8'd1) begin
                        state <= S_DRAIN;
                        out_valid <= 1'b1;
                        out_row <= 8'd0;
                    end
                end
                S_DRAIN: begin
                    if (out_row == ROWS - 1) begin
                        out_valid <= 1'b0;
                        state <= S_IDLE;
                    end else begin
                        out_row <= out_row + 8'd1;
                    end
                end
                default: state <= S_IDLE;
            endcase
        end
    end
endmodule
