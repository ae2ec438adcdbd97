// One lane of the 1D array: FuseMax's online-softmax update (arch/units/softmax_lane.hpp, docs/rtl.md).
// Per update: RM' = max(RM, LM); PRM = exp(RM - RM'); RD' = RD.PRM + SLD; RNV' = RNV.PRM + SLNV, all fp32.
// Pipeline: the max (1 stage), exp (7: the subtraction, then 6 MACs: y = d.log2e and Horner's five on the
// fraction of y), the rescaling MACs with the 2^k adjustment (1). One update per cycle; results on the outputs
// 9 cycles after their update. first: the update starts a row (RM = -inf, RD = RNV = 0).
module softmax_lane (
    input logic clk,
    input logic rst,
    input logic in_valid,
    input logic in_first,
    input logic [31:0] lm,
    input logic [31:0] sld,
    input logic [31:0] slnv,
    output logic out_valid,
    output logic [31:0] rm,
    output logic [31:0] rd,
    output logic [31:0] rnv
);
  localparam logic [31:0] LOG2E = 32'h3fb8_aa3b;
  localparam logic [31:0] C[6] = '{32'h3f80_0000, 32'h3f31_7218, 32'h3e75_fdf0, 32'h3d63_5847, 32'h3c1d_955b, 32'h3aae_c3ff};

  // What travels with an update down the pipeline (stages 1 to 8).
  typedef struct packed {
    logic valid;
    logic first;
    logic [31:0] rm_old;  // stage 1 only: the running max before the update
    logic [31:0] rm_new;
    logic [31:0] sld;
    logic [31:0] slnv;
    logic [31:0] x;       // the exp's operand: d, then y, then the Horner partial p
    logic [31:0] f;       // the fraction of y
    logic signed [8:0] k; // the integer part of y
    logic [1:0] special;  // 0: p . 2^k, 1: NaN, 2: +inf, 3: +0
  } stage_t;
  stage_t st[1:8];

  logic [31:0] run_rm, run_rd, run_rnv;
  logic [31:0] rm_in, rd_in, rnv_in;
  assign rm_in = in_first ? fp::NEG_INF32 : run_rm;

  // Stage 3's split of y = (-1)^s . m . 2^e into k = trunc(y) and f = y - k.
  logic [31:0] y;
  /* verilator lint_off UNUSEDSIGNAL */
  fp::unpacked_t yu;  // its class is decided from y's bits
  logic [23:0] int_part;  // below 160 here
  /* verilator lint_on UNUSEDSIGNAL */
  logic [23:0] frac_part;
  logic [4:0] sh;
  logic [31:0] f3;
  logic signed [8:0] k3;
  logic [1:0] special3;
  always_comb begin
    y = st[3].x;
    yu = fp::unpack32(y);
    // y's binary point sits -e bits up its significand (e >= -23 for every y kept here); -e > 23: no integer part.
    sh = yu.e < -12'sd23 ? 5'd24 : 5'(-yu.e);
    int_part = yu.e < -12'sd23 ? 24'b0 : yu.m >> sh;
    frac_part = yu.m & ((24'b1 << sh) - 24'b1);
    if (yu.e >= 12'sd0) begin
      int_part = yu.m;
      frac_part = 24'b0;
    end
    k3 = yu.s ? -9'(int_part) : 9'(int_part);
    f3 = fp::round_pack(yu.s & (frac_part != 24'b0), yu.e, {26'b0, frac_part});
    if (fp::is_nan(y)) special3 = 2'd1;
    else if (!y[31] && y[30:23] >= 8'd134) special3 = 2'd2;  // y >= 128
    else if (y[31] && y[30:0] >= 31'h4320_0000) special3 = 2'd3;  // y <= -160
    else special3 = 2'd0;
  end

  // Stage 8: PRM = p . 2^k, then the rescaling MACs.
  logic [31:0] prm;
  /* verilator lint_off UNUSEDSIGNAL */
  fp::unpacked_t pu;  // p is positive and normal
  /* verilator lint_on UNUSEDSIGNAL */
  always_comb begin
    pu = fp::unpack32(st[8].x);
    case (st[8].special)
      2'd1: prm = fp::NAN32;
      2'd2: prm = 32'h7f80_0000;
      2'd3: prm = 32'b0;
      default: prm = fp::round_pack(1'b0, pu.e + 12'(st[8].k), {26'b0, pu.m});
    endcase
    rd_in = st[8].first ? 32'b0 : run_rd;
    rnv_in = st[8].first ? 32'b0 : run_rnv;
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      for (int i = 1; i <= 8; i++) st[i].valid <= 1'b0;
      run_rm <= fp::NEG_INF32;
      run_rd <= 32'b0;
      run_rnv <= 32'b0;
      out_valid <= 1'b0;
    end else begin
      // Stage 0: the running max.
      st[1] <= '0;
      st[1].valid <= in_valid;
      st[1].first <= in_first;
      st[1].rm_old <= rm_in;
      st[1].rm_new <= fp::max32(rm_in, lm);
      st[1].sld <= sld;
      st[1].slnv <= slnv;
      if (in_valid) run_rm <= fp::max32(rm_in, lm);
      // Stage 1: d = RM - RM'.
      st[2] <= st[1];
      st[2].x <= fp::sub32(st[1].rm_old, st[1].rm_new);
      // Stage 2: y = d . log2(e) + 0.
      st[3] <= st[2];
      st[3].x <= fp::mac32(32'b0, st[2].x, LOG2E);
      // Stages 3-7: Horner on f, from c5.
      st[4] <= st[3];
      st[4].x <= fp::mac32(C[4], C[5], f3);
      st[4].f <= f3;
      st[4].k <= k3;
      st[4].special <= special3;
      for (int i = 4; i <= 7; i++) begin
        st[i+1] <= st[i];
        st[i+1].x <= fp::mac32(C[7-i], st[i].x, st[i].f);
      end
      // Stage 8: the outputs.
      out_valid <= st[8].valid;
      if (st[8].valid) begin
        rm <= st[8].rm_new;
        rd <= fp::mac32(st[8].sld, rd_in, prm);
        rnv <= fp::mac32(st[8].slnv, rnv_in, prm);
        run_rd <= fp::mac32(st[8].sld, rd_in, prm);
        run_rnv <= fp::mac32(st[8].slnv, rnv_in, prm);
      end
    end
  end
endmodule
