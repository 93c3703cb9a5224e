// minibex core: decode -> register read -> ALU -> write back, in ibex's interface-free style
// (package import in the header, typed ports, unpacked array ports, always_ff / always_comb).
// rst_ni (synchronous, active low) and en_i reach every state flop: high-fanout nets.
module minibex_core
  import minibex_pkg::*;
(
  input  logic   clk_i,
  input  logic   rst_ni,
  input  logic   en_i,
  input  instr_t instr_i,
  input  word_t  imm_i,
  input  word_t  ext_i [2],
  output word_t  result_o,
  output logic   zero_o,
  output word_t  rdata_o [2]
);
  word_t regs_q [NREGS];
  word_t op_a, op_b, alu_res;
  word_t result_q;
  logic  zero_q;

  // operand selection (ext_i[0] replaces x0 as in a forwarding path)
  always_comb begin
    op_a = (instr_i.rs1 == '0) ? ext_i[0] : regs_q[instr_i.rs1];
    unique case (instr_i.b_sel)
      OP_B_IMM: op_b = imm_i;
      OP_B_EXT: op_b = ext_i[1];
      default:  op_b = regs_q[instr_i.rs2];
    endcase
  end

  always_comb begin
    unique case (instr_i.op)
      ALU_ADD: alu_res = op_a + op_b;
      ALU_SUB: alu_res = op_a - op_b;
      ALU_XOR: alu_res = op_a ^ op_b;
      ALU_OR:  alu_res = op_a | op_b;
      ALU_AND: alu_res = op_a & op_b;
      ALU_SLT: alu_res = {{(XLEN-1){1'b0}}, $signed(op_a) < $signed(op_b)};
      ALU_SLL: alu_res = op_a << op_b[SHAMT_W-1:0];
      default: alu_res = op_a >> op_b[SHAMT_W-1:0];
    endcase
  end

  always_ff @(posedge clk_i) begin
    if (!rst_ni) begin
      for (int i = 0; i < NREGS; i++) regs_q[i] <= '0;
      result_q <= '0;
      zero_q <= 1'b0;
    end else if (en_i) begin
      if (instr_i.we) regs_q[instr_i.rd] <= alu_res;
      result_q <= alu_res;
      zero_q <= (alu_res == '0);
    end
  end

  assign result_o = result_q;
  assign zero_o = zero_q;
  assign rdata_o[0] = regs_q[0];
  assign rdata_o[1] = regs_q[1];
endmodule
