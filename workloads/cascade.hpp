#pragma once
// The cascade IR: validated tensors with inferred shapes, Einsums compiled to small expression programs over
// affine tensor accesses, and an execution schedule in which recurrences run in lockstep along their index.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/ids.hpp"
#include "workloads/dtype.hpp"

namespace einsim {

// Positions in Cascade::tensors and Cascade::einsums.
using TensorId = Id<struct TensorTag>;
using EinsumId = Id<struct EinsumTag>;

struct Param {
  std::string name;
  double value = 0;
  bool integer = true;
  bool inferred = false;  // an index extent found by shape inference (M1 from m1*M0+m0), not written by the user
  std::string source;     // where the value was set: "params.M", "--set workload.M" or a preset file
};

struct Rank {
  std::string name;
  int64_t extent = 0;
};

struct Tensor {
  std::string name;
  std::vector<Rank> ranks;
  DType dtype = DType::fp32;
  bool output = false;
  EinsumId writer;  // the Einsum that writes it (the first piece of one written in parts); none for an input
  // A tensor written in parts (a concatenation): every Einsum that writes one, each the part its where clause
  // keeps. Empty when one Einsum writes it whole.
  std::vector<EinsumId> pieces;
  std::optional<double> init;
  TensorId init_from;       // a recurrence that starts from an input tensor (a cached state) instead of a number
  int iterative_rank = -1;  // the rank a recurrence writes at index+offset
  int outlier_rank = -1;    // inputs: drawn with planted outlier channels along this rank (params outlier_*)
  // A guard (a tensor an Einsum's `when` reads): the fraction of its elements expected to be non-zero, which the
  // analyses and the evaluators charge; `density_param` names the param that set it (empty: a number).
  std::optional<double> density;
  std::string density_param;
  SourceLoc loc;

  bool is_input() const { return !writer.valid(); }
  // Every Einsum that writes it: its parts, or its one writer (none for an input).
  std::vector<EinsumId> writers() const {
    if (!pieces.empty()) return pieces;
    return writer.valid() ? std::vector<EinsumId>{writer} : std::vector<EinsumId>{};
  }
  int64_t elements() const;
  int64_t bytes() const { return bytes_for(dtype, elements()); }
  std::vector<int64_t> strides() const;  // row-major, in elements
};

// sum(coefficient * index) + constant, over the Einsum's index variables.
struct Affine {
  int64_t constant = 0;
  std::vector<std::pair<int, int64_t>> terms;  // (var, coefficient), coefficients non-zero

  int bare_var() const { return terms.size() == 1 && terms[0].second == 1 && constant == 0 ? terms[0].first : -1; }
  int64_t coefficient(int var) const;
  bool operator==(const Affine&) const = default;
};

// A fraction in units of kRateOne: what a guarded Einsum computes of its points, and what share of its executions
// a tile operation runs. Integers, so that every count made from one is exact and the same in every evaluator.
constexpr int64_t kRateOne = int64_t{1} << 20;
// n evenly spread items at `rate`: n * rate rounded to the nearest (halves up). Item i is one of them when
// thinned(i + 1) > thinned(i), so any prefix of the items holds its share, rounded alike. A guard's items are its
// elements in row-major order: the ones a guarded Einsum computes, as every evaluator charges it.
inline int64_t thinned(int64_t n, int64_t rate) {  // n >= 0; exact for any n, without overflow
  return n / kRateOne * rate + (n % kRateOne * rate + kRateOne / 2) / kRateOne;
}
inline bool thinned_runs(int64_t i, int64_t rate) { return thinned(i + 1, rate) > thinned(i, rate); }
int64_t rate_of(double fraction);  // the nearest multiple of 1 / kRateOne

// One constraint of an Einsum's `where` clause, over its index variables: expr <= 0, or expr == 0.
struct Constraint {
  Affine expr;
  bool equal = false;
  bool operator==(const Constraint&) const = default;
};

struct Access {
  TensorId tensor;
  std::vector<Affine> index;  // one per rank
  int col = 0;                // 1-based column in the source line
  // Reads a step of its own recurrence before the current one (set by build_schedule): RM[m1] where RM[m1+1] is
  // written, or L[s] where the where clause keeps s < r (forward substitution).
  bool earlier_step = false;
  // A gather (KS[b,e,k] = K[b,e,I[b,k]]): these ranks are addressed by the values of index tensors, read by the
  // accesses after this one in the Einsum's reads, in this order. `index` holds, for each, its index tensor's
  // last index (k): the gather reads one row of the rank per point of it, which is what tiles, traffic and
  // shapes count.
  std::vector<int> gathered_ranks;
};

enum class Op : uint8_t {
  constant,
  read,
  neg,
  add,
  sub,
  mul,
  div,
  max,
  min,
  exp,
  sqrt,
  rsqrt,
  relu,
  gelu,
  silu,
  reciprocal,
  abs,
  gt,
  log2,
  exp2,
  ceil,
  log,
  sigmoid,
  softplus,
  sin,
  cos,
  floor,
  select,      // select(c, a, b): a where c is non-zero, else b (operand c in Node::c)
  quantize,    // a / b: a value in units of its scale b; the store into the tensor's dtype rounds it
  dequantize,  // a * b
};

// One node of an Einsum's expression program; nodes are in post-order and the last one is the root.
struct Node {
  Op op = Op::constant;
  int a = -1;  // operand nodes
  int b = -1;
  int c = -1;        // select's condition
  double value = 0;  // constant
  int read = -1;     // index into Einsum::reads
};

// topk: the indices of the largest values along the reduced index, largest first (ties: the lower index), one
// per element of the output's index that the body lacks (I[b,k] = topk(m) S[b,m]).
enum class Reduce : uint8_t { sum, max, min, topk };

struct Var {
  std::string name;
  int64_t extent = 0;
  std::string rank;  // the rank it spans
};

struct Einsum {
  std::string name;  // the tensor it writes
  std::string text;
  SourceLoc loc;
  std::vector<Var> vars;
  Access out;
  std::vector<Access> reads;
  std::vector<Node> program;
  Reduce reduce = Reduce::sum;
  std::vector<int> reduced;  // the vars absent from the output
  int topk_var = -1;         // topk: the output's index over the kept entries (k)
  std::vector<Constraint> where;  // the points it computes (empty: all); masked output elements hold 0
  std::string where_text;         // as written, for messages and reports
  int64_t kept = 0;               // points the where clause keeps (workloads/predicate)
  // `when G[b,j]`: computes only the output elements whose guard element is non-zero (the others hold 0). The
  // guard is reads[guard]; the analyses and evaluators charge guard_rate of its points, its guard's density.
  int guard = -1;
  int64_t guard_rate = kRateOne;
  int64_t guard_elements = 1;  // the guard's: its rate applies to them, so every evaluator computes the same ones
  // The operations of one point, by kind ("mac", "exp", ...): counted once when the workload is compiled
  // (count_ops_per_point), as lowering asks for them at every candidate a mapper evaluates.
  std::map<std::string, int64_t> ops_per_point;

  int64_t space() const;   // size of the iteration space
  int64_t points() const;  // the points it computes: the space, less what `where` masks, at its guard's rate
  // How many of its points one point of work stands for: a topk ranks each score once, however many entries it
  // keeps (its kept index k names results, not work); 1 for every other Einsum.
  int64_t points_per_work() const { return reduce == Reduce::topk ? vars[static_cast<size_t>(topk_var)].extent : 1; }
  int var_index(const std::string& name) const;
  bool gathers() const;  // a read of it is a gather
};

// Einsums executed as a unit: one Einsum, or a recurrence whose Einsums run in lockstep along `step_var`.
struct Group {
  std::vector<EinsumId> einsums;  // execution order within a step
  std::string step_var;           // empty when not a recurrence
  int64_t steps = 1;
};

// The reference kernel `einsim validate` checks a cascade against (workloads/reference), and the cascade's
// tensor in each of the kernel's roles (Q, K, V, out, ...).
struct KernelBinding {
  std::string name;
  std::map<std::string, std::string> tensors;  // role -> tensor name
  SourceLoc loc;
};

struct Cascade {
  std::string name;
  std::string description;
  std::string file;
  std::vector<Param> params;
  IdVector<TensorId, Tensor> tensors;
  IdVector<EinsumId, Einsum> einsums;
  std::vector<Group> schedule;
  std::optional<KernelBinding> kernel;
  std::string reference;  // the workload this one approximates (a quantized layer's fp32 counterpart), or empty

  TensorId tensor_id(const std::string& name) const;  // none when it has no such tensor
  const Tensor& tensor(const std::string& name) const;
  const Param* param(const std::string& name) const;
};

// Command-line changes to a workload: param presets (--params FILE) then single params (--set workload.X=V).
struct WorkloadOverrides {
  std::vector<std::string> param_files;
  std::vector<std::pair<std::string, std::string>> params;  // name, value text
  bool skip_unknown = false;  // ignore --set names the workload lacks (when one command line feeds two workloads)
  // Where a param among `params` was written, when not on the command line (a mapping's `params:`): an unknown
  // name is reported there.
  std::map<std::string, SourceLoc> origins;
};

// Parses, infers and checks a workload file; throws UserError on bad input. The same as binding what
// read_workload read.
Cascade load_cascade(const std::string& file, const WorkloadOverrides& overrides = {});

// A workload file as read, before params decide its shapes: read once, then bound to each set of params (a
// sweep's lengths and models) without reading the file again. Both throw UserError on bad input.
struct WorkloadSource;
std::shared_ptr<const WorkloadSource> read_workload(const std::string& file);
Cascade bind_workload(const WorkloadSource& source, const WorkloadOverrides& overrides = {});

// The workload's `reference:`, with the workload's params where the reference has the same (so both see the
// same shapes and inputs) and then `overrides`. Throws UserError when it names none.
Cascade load_reference(const Cascade& c, const WorkloadOverrides& overrides = {});

std::string_view op_name(Op op);
// Every op kind an Einsum can count ("mac" and the map operators' names): what a compute unit may list.
const std::vector<std::string>& op_kinds();
// The operands one op of a kind reads: a register-file access each (a mac's two factors, its sum being the
// result it updates; a unary function's one; select's three).
int op_operands(std::string_view kind);

// The arithmetic of a map operator (b is ignored by unary ones); one definition for constant folding and
// for the interpreter, in the interpreter's precision.
template <typename T>
T apply_op(Op op, T a, T b) {
  switch (op) {
    case Op::neg:
      return -a;
    case Op::add:
      return a + b;
    case Op::sub:
      return a - b;
    case Op::mul:
      return a * b;
    case Op::div:
      return a / b;
    case Op::max:
      return std::max(a, b);
    case Op::min:
      return std::min(a, b);
    case Op::exp:
      return std::exp(a);
    case Op::sqrt:
      return std::sqrt(a);
    case Op::rsqrt:
      return T(1) / std::sqrt(a);
    case Op::relu:
      return std::max(a, T(0));
    case Op::gelu:
      return T(0.5) * a * (T(1) + std::erf(a / std::sqrt(T(2))));  // exact GELU
    case Op::silu:
      return a / (T(1) + std::exp(-a));
    case Op::reciprocal:
      return T(1) / a;
    case Op::abs:
      return std::abs(a);
    case Op::gt:
      return a > b ? T(1) : T(0);
    case Op::log2:
      return std::log2(a);
    case Op::exp2:
      return std::exp2(a);
    case Op::ceil:
      return std::ceil(a);
    case Op::log:
      return std::log(a);
    case Op::sigmoid:
      return T(1) / (T(1) + std::exp(-a));
    case Op::softplus:  // log(1 + e^a) without overflow: a + log(1 + e^-a) for positive a
      return a > T(0) ? a + std::log1p(std::exp(-a)) : std::log1p(std::exp(a));
    case Op::sin:
      return std::sin(a);
    case Op::cos:
      return std::cos(a);
    case Op::floor:
      return std::floor(a);
    case Op::quantize:
      return a / b;
    case Op::dequantize:
      return a * b;
    case Op::select:  // three operands: see apply_select
    case Op::constant:
    case Op::read:
      break;
  }
  throw InternalError("apply_op: not a map operator");
}

template <typename T>
T apply_select(T c, T a, T b) {
  return c != T(0) ? a : b;
}

}  // namespace einsim
