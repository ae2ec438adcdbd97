// N x N weight-stationary systolic array of pe (docs/rtl.md). A fold is one burst: N cycles of weight rows
// (w_valid; the bottom row first, rows shift down), then T cycles of input vectors (x_valid, x_last on the
// T-th; element i feeds row i). Inputs enter skewed (row i i cycles late), partial sums flow down, and the
// columns leave de-skewed: output row t is on y_row in cycle 2N + N - 1 + t counted from the fold's first
// weight cycle, the last one in cycle 3N + T - 2 = arch/units/systolic's fold latency (X + T - 2, X = 2R + C).
// ready: a fold may start in this cycle (folds do not overlap).
module systolic #(
    parameter int N = 4,
    parameter int DTYPE = 0,
    localparam int W = DTYPE == 0 ? 8 : 16
) (
    input logic clk,
    input logic rst,
    input logic w_valid,
    input logic [N*W-1:0] w_row,
    input logic x_valid,
    input logic x_last,
    input logic [N*W-1:0] x_vec,
    output logic ready,
    output logic y_valid,
    output logic [N*32-1:0] y_row
);
  // Between PEs: weights and partial sums down (row r's outputs feed row r + 1), activations right.
  logic [W-1:0] w_dn[N+1][N];
  logic [31:0] p_dn[N+1][N];
  logic [W-1:0] a_rt[N][N+1];
  logic v_rt[N][N+1];
  // Column j's valid as it leaves the bottom row: the activation valid of PE (N-1, j).
  /* verilator lint_off UNUSEDSIGNAL */
  logic v_bottom[N];  // only the last column's is needed
  /* verilator lint_on UNUSEDSIGNAL */

  genvar r, c;
  generate
    for (c = 0; c < N; c++) begin : g_top
      assign w_dn[0][c] = w_row[c*W+:W];
      assign p_dn[0][c] = 32'b0;
    end
    // Input skew: row r's element waits r cycles.
    for (r = 0; r < N; r++) begin : g_skew
      logic [W-1:0] d_data[r+1];
      logic d_valid[r+1];
      assign d_data[0] = x_vec[r*W+:W];
      assign d_valid[0] = x_valid;
      for (genvar k = 0; k < r; k++) begin : g_stage
        always_ff @(posedge clk) begin
          if (rst) d_valid[k+1] <= 1'b0;
          else d_valid[k+1] <= d_valid[k];
          d_data[k+1] <= d_data[k];
        end
      end
      assign a_rt[r][0] = d_data[r];
      assign v_rt[r][0] = d_valid[r];
    end
    for (r = 0; r < N; r++) begin : g_row
      for (c = 0; c < N; c++) begin : g_col
        /* verilator lint_off PINCONNECTEMPTY */
        pe #(.DTYPE(DTYPE)) u_pe (
            .clk, .rst,
            .w_load(w_valid), .w_in(w_dn[r][c]), .w_out(w_dn[r+1][c]),
            .a_valid(v_rt[r][c]), .a_in(a_rt[r][c]), .a_valid_out(v_rt[r][c+1]), .a_out(a_rt[r][c+1]),
            .psum_in(p_dn[r][c]), .psum_out(p_dn[r+1][c])
        );
        /* verilator lint_on PINCONNECTEMPTY */
      end
    end
    for (c = 0; c < N; c++) begin : g_bottom
      assign v_bottom[c] = v_rt[N-1][c+1];
    end
    // Output de-skew: column c waits N - 1 - c cycles (the last column not at all, so its valid is the row's).
    for (c = 0; c < N; c++) begin : g_deskew
      localparam int D = N - 1 - c;
      logic [31:0] d_data[D+1];
      assign d_data[0] = p_dn[N][c];
      for (genvar k = 0; k < D; k++) begin : g_stage
        always_ff @(posedge clk) d_data[k+1] <= d_data[k];
      end
      assign y_row[c*32+:32] = d_data[D];
    end
    assign y_valid = v_bottom[N-1];
  endgenerate

  // Ready again N + N - 1 cycles after the last input, when its output row has left.
  logic busy;
  logic [$clog2(2*N+1)-1:0] drain;
  assign ready = !busy && drain == '0;
  always_ff @(posedge clk) begin
    if (rst) begin
      busy <= 1'b0;
      drain <= '0;
    end else begin
      if (w_valid) busy <= 1'b1;
      if (x_valid && x_last) begin
        busy <= 1'b0;
        drain <= $bits(drain)'(2 * N - 2);
      end else if (drain != '0) begin
        drain <= drain - 1'b1;
      end
    end
  end

  // The weights that fall out of the bottom row and the activations that leave the right edge go nowhere.
  /* verilator lint_off UNUSEDSIGNAL */
  logic unused;
  assign unused = ^{w_dn[N][0]};
  /* verilator lint_on UNUSEDSIGNAL */
endmodule
