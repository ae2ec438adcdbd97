// int4 -> bf16 dequantization (arch/units/dequant.hpp, docs/rtl.md): eight uint4 codes per cycle,
// w = bf16(fp32((q - z) . scale)) with the group's scale (fp32) and zero point (uint4). p_load sets the group's
// parameters; a word in the same cycle already uses them. Two stages: the fp32 product, the bf16 rounding.
module dequant (
    input logic clk,
    input logic rst,
    input logic p_load,
    input logic [31:0] p_scale,
    input logic [3:0] p_zero,
    input logic in_valid,
    input logic [31:0] in_codes,  // code i in bits 4i+3..4i
    output logic out_valid,
    output logic [127:0] out_w    // bf16 i in bits 16i+15..16i
);
  logic [31:0] scale_q, scale;
  logic [3:0] zero_q, zero;
  assign scale = p_load ? p_scale : scale_q;
  assign zero = p_load ? p_zero : zero_q;

  logic mid_valid;
  logic [31:0] mid[8];
  always_ff @(posedge clk) begin
    if (rst) begin
      scale_q <= 32'b0;
      zero_q <= 4'b0;
      mid_valid <= 1'b0;
      out_valid <= 1'b0;
    end else begin
      if (p_load) begin
        scale_q <= p_scale;
        zero_q <= p_zero;
      end
      mid_valid <= in_valid;
      out_valid <= mid_valid;
    end
    for (int i = 0; i < 8; i++) begin
      if (in_valid) mid[i] <= fp::mul(fp::from_small_int($signed({1'b0, in_codes[4*i+:4]}) - $signed({1'b0, zero})), fp::unpack32(scale));
      if (mid_valid) out_w[16*i+:16] <= fp::to_bf16(mid[i]);
    end
  end
endmodule
