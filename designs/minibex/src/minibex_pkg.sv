// minibex: an ibex-like SystemVerilog test design (package file listed after the core on purpose:
// the slang front end orders packages first, as ORFS's ibex flow must).
package minibex_pkg;
  localparam int XLEN = 8;
  localparam int SHAMT_W = $clog2(XLEN);
  localparam int NREGS = 4;
  localparam int REG_AW = $clog2(NREGS);

  typedef logic [XLEN-1:0] word_t;
  typedef logic [REG_AW-1:0] reg_addr_t;

  typedef enum logic [2:0] {
    ALU_ADD = 3'd0,
    ALU_SUB = 3'd1,
    ALU_XOR = 3'd2,
    ALU_OR  = 3'd3,
    ALU_AND = 3'd4,
    ALU_SLT = 3'd5,
    ALU_SLL = 3'd6,
    ALU_SRL = 3'd7
  } alu_op_e;

  typedef enum logic [1:0] {
    OP_B_REG,
    OP_B_IMM,
    OP_B_EXT
  } op_b_sel_e;

  typedef struct packed {
    alu_op_e   op;
    op_b_sel_e b_sel;
    reg_addr_t rd;
    reg_addr_t rs1;
    reg_addr_t rs2;
    logic      we;
  } instr_t;
endpackage
