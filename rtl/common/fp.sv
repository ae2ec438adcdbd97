// fp32 arithmetic shared by the units, bit for bit the definition in arch/units/arith.hpp: round to nearest,
// ties to even, after every operation; subnormals kept; overflow to infinity; NaN results canonical.
package fp;
  localparam logic [31:0] NAN32 = 32'h7fc0_0000;
  localparam logic [31:0] NEG_INF32 = 32'hff80_0000;
  localparam logic [30:0] INF_MAG = 31'h7f80_0000;

  // A finite operand is m . 2^e (m holds the hidden bit); the flags give its class.
  typedef struct packed {
    logic s;
    logic signed [11:0] e;
    logic [23:0] m;
    logic zero;
    logic inf;
    logic nan;
  } unpacked_t;

  function automatic unpacked_t unpack32(input logic [31:0] x);
    unpacked_t u;
    u.s = x[31];
    u.zero = x[30:0] == 31'b0;
    u.inf = x[30:0] == INF_MAG;
    u.nan = x[30:23] == 8'hff && x[22:0] != 23'b0;
    u.m = {x[30:23] != 8'h00, x[22:0]};
    // A subnormal has the smallest normal's exponent.
    u.e = (x[30:23] == 8'h00 ? 12'sd1 : $signed({4'b0, x[30:23]})) - 12'sd150;
    return u;
  endfunction

  function automatic unpacked_t unpack_bf16(input logic [15:0] x);
    unpacked_t u;
    u = unpack32({x, 16'b0});
    u.m = {16'b0, u.m[23:16]};
    u.e = u.e + 12'sd16;
    return u;
  endfunction

  // An exact integer in -15..15, as an operand.
  function automatic unpacked_t from_small_int(input logic signed [4:0] c);
    unpacked_t u;
    u.s = c[4];
    u.m = {19'b0, c[4] ? -c : c};
    u.e = 12'sd0;
    u.zero = c == 5'sd0;
    u.inf = 1'b0;
    u.nan = 1'b0;
    return u;
  endfunction

  // sign . sig . 2^e rounded to fp32. sig holds at least two bits more than any rounding point it needs,
  // its bit 0 possibly a sticky bit (set when nonzero bits were shifted out below it).
  function automatic logic [31:0] round_pack(input logic s, input logic signed [11:0] e, input logic [49:0] sig);
    logic signed [11:0] msb, lead, q, sh;
    logic [49:0] kept, below;
    logic guard, sticky;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0] bits;  // bit 31 is the sign's place
    /* verilator lint_on UNUSEDSIGNAL */
    if (sig == 50'b0) return {s, 31'b0};
    msb = 12'sd0;
    for (int i = 0; i < 50; i++)
      if (sig[i]) msb = 12'(i);
    lead = e + msb;  // the exponent of the leading bit
    if (lead > 12'sd127) return {s, INF_MAG};
    if (lead < -12'sd126) lead = -12'sd126;  // subnormal: the quantum stops at 2^-149
    q = lead - 12'sd23;  // exponent of the result's last bit
    sh = q - e;
    guard = 1'b0;
    sticky = 1'b0;
    if (sh <= 12'sd0) begin
      kept = sig << (-sh);
    end else if (sh > 12'sd50) begin
      kept = 50'b0;
    end else begin
      kept = sig >> sh;
      below = sig & ((50'b1 << (sh - 12'sd1)) - 50'b1);
      guard = sig[6'(sh - 12'sd1)];
      sticky = below != 50'b0;
    end
    if (guard && (sticky || kept[0])) kept = kept + 50'b1;
    // The hidden bit adds into the exponent field, so a rounding carry moves to the next binade (or to inf).
    bits = {8'(lead + 12'sd126), 23'b0} + kept[31:0];
    return {s, bits[30:0]};
  endfunction

  function automatic logic [31:0] mul(input unpacked_t a, input unpacked_t b);
    logic s;
    s = a.s ^ b.s;
    if (a.nan || b.nan || (a.inf && b.zero) || (a.zero && b.inf)) return NAN32;
    if (a.inf || b.inf) return {s, INF_MAG};
    return round_pack(s, a.e + b.e, {2'b0, 48'(a.m) * 48'(b.m)});
  endfunction

  function automatic logic [31:0] add(input unpacked_t a, input unpacked_t b);
    /* verilator lint_off UNUSEDSIGNAL */
    unpacked_t hi, lo;  // classes already handled
    /* verilator lint_on UNUSEDSIGNAL */
    logic signed [11:0] d;
    logic [49:0] x, y, lost;
    if (a.nan || b.nan || (a.inf && b.inf && a.s != b.s)) return NAN32;
    if (a.inf) return {a.s, INF_MAG};
    if (b.inf) return {b.s, INF_MAG};
    if (a.zero && b.zero) return {a.s & b.s, 31'b0};
    if (a.e > b.e || (a.e == b.e && a.m >= b.m)) begin
      hi = a;
      lo = b;
    end else begin
      hi = b;
      lo = a;
    end
    d = hi.e - lo.e;
    // 25 bits below the larger operand; what shifts out of the smaller one is jammed into bit 0.
    x = {1'b0, hi.m, 25'b0};
    y = {1'b0, lo.m, 25'b0};
    if (d >= 12'sd50) begin
      lost = y;
      y = 50'b0;
    end else begin
      lost = y & ((50'b1 << d) - 50'b1);
      y = y >> d;
    end
    y[0] = y[0] | (lost != 50'b0);
    if (hi.s == lo.s) return round_pack(hi.s, hi.e - 12'sd25, x + y);
    if (x == y) return 32'b0;  // exact cancellation is +0
    return round_pack(hi.s, hi.e - 12'sd25, x - y);
  endfunction

  function automatic logic [31:0] add32(input logic [31:0] a, input logic [31:0] b);
    return add(unpack32(a), unpack32(b));
  endfunction

  function automatic logic [31:0] sub32(input logic [31:0] a, input logic [31:0] b);
    return add(unpack32(a), unpack32({~b[31], b[30:0]}));
  endfunction

  function automatic logic [31:0] mul32(input logic [31:0] a, input logic [31:0] b);
    return mul(unpack32(a), unpack32(b));
  endfunction

  // acc + a . b, the product rounded first (not fused).
  function automatic logic [31:0] mac32(input logic [31:0] acc, input logic [31:0] a, input logic [31:0] b);
    return add32(acc, mul32(a, b));
  endfunction

  /* verilator lint_off UNUSEDSIGNAL */
  function automatic logic is_nan(input logic [31:0] x);
    return x[30:23] == 8'hff && x[22:0] != 23'b0;
  endfunction
  /* verilator lint_on UNUSEDSIGNAL */

  // b when b > a, else a; NaN if either is.
  function automatic logic [31:0] max32(input logic [31:0] a, input logic [31:0] b);
    logic [31:0] ka, kb;
    if (is_nan(a) || is_nan(b)) return NAN32;
    if (a[30:0] == 31'b0 && b[30:0] == 31'b0) return a;
    ka = a[31] ? ~a : {1'b1, a[30:0]};  // order-preserving keys of sign-magnitude values
    kb = b[31] ? ~b : {1'b1, b[30:0]};
    return kb > ka ? b : a;
  endfunction

  // fp32 to bf16, round to nearest even (same exponent range, so only the fraction rounds).
  function automatic logic [15:0] to_bf16(input logic [31:0] x);
    /* verilator lint_off UNUSEDSIGNAL */
    logic [31:0] r;  // the low half rounds away
    /* verilator lint_on UNUSEDSIGNAL */
    if (is_nan(x)) return 16'h7fc0;
    r = x + 32'h7fff + {31'b0, x[16]};
    return r[31:16];
  endfunction
endpackage
