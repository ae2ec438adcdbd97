// Weight-stationary multiply-accumulate processing element (docs/rtl.md). DTYPE 0: int8 x int8 -> int32,
// the sum saturated; DTYPE 1: bf16 x bf16 -> fp32 (product and sum each rounded to nearest even, subnormals
// kept). Every output is a register: one cycle from inputs to outputs, one MAC per cycle.
module pe #(
    parameter int DTYPE = 0,
    localparam int W = DTYPE == 0 ? 8 : 16
) (
    input logic clk,
    input logic rst,
    input logic w_load,  // preload: take w_in as the weight, pass the old one down on w_out
    input logic [W-1:0] w_in,
    input logic a_valid,
    input logic [W-1:0] a_in,
    input logic [31:0] psum_in,
    output logic [W-1:0] w_out,
    output logic a_valid_out,
    output logic [W-1:0] a_out,
    output logic [31:0] psum_out
);
  // Not inlined into the array: that halves the compile time of the generated code for an 8 x 8 bf16 array.
  /* verilator no_inline_module */
  logic [31:0] sum;

  generate
    if (DTYPE == 0) begin : g_int8
      logic signed [33:0] wide;
      always_comb begin
        wide = 34'($signed(psum_in)) + 34'($signed(a_in) * $signed(w_out));
        if (wide > 34'sh0_7fff_ffff) sum = 32'h7fff_ffff;
        else if (wide < -34'sh0_8000_0000) sum = 32'h8000_0000;
        else sum = wide[31:0];
      end
    end else begin : g_bf16
      always_comb sum = fp::add(fp::unpack32(psum_in), fp::unpack32(fp::mul(fp::unpack_bf16(a_in), fp::unpack_bf16(w_out))));
    end
  endgenerate

  always_ff @(posedge clk) begin
    if (rst) begin
      w_out <= '0;
      a_valid_out <= 1'b0;
      a_out <= '0;
      psum_out <= '0;
    end else begin
      if (w_load) w_out <= w_in;
      a_valid_out <= a_valid;
      a_out <= a_in;
      if (a_valid) psum_out <= sum;
    end
  end
endmodule
