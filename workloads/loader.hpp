#pragma once
// The workload loader's parts, shared by its files (workloads/load.cpp reads the YAML and binds params,
// shapes.cpp infers extents and affine accesses, compile.cpp compiles expressions and checks the tensors). Not
// for use outside workloads/: read_workload, bind_workload and load_cascade (workloads/cascade.hpp) are the
// interface.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/yaml.hpp"
#include "workloads/cascade.hpp"
#include "workloads/expr.hpp"
#include "workloads/params.hpp"

namespace einsim::detail {

__extension__ using Wide = __int128;  // exact intermediate for overflow checks

struct OpInfo {
  std::string_view name;
  Op op;
  int arity;
  int max_arity = 0;  // quantize and dequantize take an optional zero point
};

constexpr OpInfo kFunctions[] = {
    {"max", Op::max, 2},
    {"min", Op::min, 2},
    {"exp", Op::exp, 1},
    {"neg", Op::neg, 1},
    {"sqrt", Op::sqrt, 1},
    {"rsqrt", Op::rsqrt, 1},
    {"relu", Op::relu, 1},
    {"gelu", Op::gelu, 1},
    {"silu", Op::silu, 1},
    {"reciprocal", Op::reciprocal, 1},
    {"abs", Op::abs, 1},
    {"gt", Op::gt, 2},
    {"log2", Op::log2, 1},
    {"exp2", Op::exp2, 1},
    {"ceil", Op::ceil, 1},
    {"log", Op::log, 1},
    {"sigmoid", Op::sigmoid, 1},
    {"softplus", Op::softplus, 1},
    {"sin", Op::sin, 1},
    {"cos", Op::cos, 1},
    {"floor", Op::floor, 1},
    {"select", Op::select, 3},
    {"quantize", Op::quantize, 2, 3},
    {"dequantize", Op::dequantize, 2, 3},
};

inline std::string function_names() {
  std::string out;
  for (const OpInfo& f : kFunctions) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

inline std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

inline bool is_lower_name(const std::string& s) { return !s.empty() && std::islower(static_cast<unsigned char>(s[0])); }

// ---- params ---------------------------------------------------------------------------------------------

// Sizes past 2^62 elements are nonsense for any machine; refusing them keeps all size arithmetic exact.
inline int64_t checked_product(int64_t a, int64_t b, const std::function<void()>& fail) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r) || r > (int64_t{1} << 62)) fail();
  return r;
}

// ---- Einsums --------------------------------------------------------------------------------------------

struct PendingEinsum {
  EinsumSyntax syntax;
  std::string text;
  SourceLoc loc;  // of the first character of the text
  std::vector<std::string> vars;
  std::vector<int> var_cols;  // first appearance, for messages
  std::vector<std::optional<int64_t>> extents;
  bool resolved = false;
};

// Where a YAML value was, for errors found once params are bound (when the YAML tree is long gone).
struct Site {
  SourceLoc loc;
  std::string path;

  [[noreturn]] void fail(const std::string& message) const { throw UserError(loc, path, message); }
};

inline Site site_of(const YNode& node) { return Site{node.loc(), node.path()}; }

// What a file says, before params give its ranks sizes: the reading loader's state, handed to each binding.
struct Read {
  Cascade shell;  // name, description, file, kernel, reference; tensors with named ranks (extents unset), init
  std::vector<RawParam> params;                      // as the file writes them
  IdVector<TensorId, std::vector<Site>> rank_sites;  // per declared tensor, where each of its ranks is named
  std::map<std::string, Site> tensor_sites;          // each declared tensor's entry
  std::set<std::string> declared_ranks;              // tensors whose ranks the file declares
  std::set<std::string> declared_dtypes;             // tensors whose dtype the file declares (the rest: `dtype:`)
  SourceLoc tensors_loc;
  IdVector<EinsumId, PendingEinsum> einsums;  // parsed, index variables collected, extents unknown
  std::map<std::string, Site> init_sites;     // recurrences that start from an input tensor: where init names it
  std::map<std::string, std::pair<std::string, Site>> densities;  // a tensor's `density:` as written, and where
};

// Reads a file (read()), or binds what was read to params (bind()): the two halves of load_cascade.
class Loader {
 public:
  explicit Loader(const std::string& file) : read_(own_) { cascade_.file = file; }
  Loader(const Read& read, const WorkloadOverrides& overrides)
      : read_(read), overrides_(&overrides), cascade_(read.shell), pending_(read.einsums) {}

  Read read();
  Cascade bind();

 private:
  // -- kernel: NAME, or {name: NAME, tensors: {ROLE: TENSOR}} where a role's tensor is not its usual name --
  void read_kernel(const YNode& node);

  // -- params: the file's as written, then presets and --set, resolved when binding --
  void read_params(const std::optional<YNode>& node);
  void bind_params();
  void bind_dtype(const std::string& text);      // `--set dtype=...`: the dtype of tensors that declare none
  bool is_param(const std::string& name) const;  // named by the file (before binding too)
  const Param* param(const std::string& name) const { return cascade_.param(name); }

  // -- each declared rank's extent, its param's value --
  void bind_ranks();

  DType dtype_of(const YNode& node) const;

  // -- tensors --
  void read_tensors(const YNode& node);

  // -- Einsums --
  void read_einsums(const YNode& node);

  bool starts_with_quote(const SourceLoc& loc) const;

  [[noreturn]] void fail_at(const PendingEinsum& p, int col, const std::string& message) const;

  void read_init(const YNode& node);

  // Index variables: lower-case names inside tensor indices that are not params, in order of appearance.
  void collect_vars(PendingEinsum& p);

  int var_id(const PendingEinsum& p, const std::string& name) const;

  // Converts an index expression to an affine form. Returns nullopt when it names something not known yet
  // (an extent that inference has still to find); `final` turns that into an error.
  std::optional<Affine> affine(const PendingEinsum& p, const Expr& e, bool final) const;

  // Index arithmetic stays within +-2^53, where doubles and int64 agree exactly.
  int64_t bounded(const PendingEinsum& p, const Expr& e, double v) const;

  static void add_term(Affine& a, int var, int64_t c);

  // Every access of an Einsum (output first), as syntax.
  static std::vector<const Expr*> accesses(const PendingEinsum& p);

  bool shape_known(TensorId t) const;

  // -- shape inference: repeat until no Einsum makes progress --
  void infer_shapes();

  bool try_resolve(EinsumId e, bool final);

  // One unknown index in an access of a known rank: a lone index spans the rank; a split such as m1*M0+m0
  // gives the unknown part the extent that covers the rank exactly.
  bool infer_from(PendingEinsum& p, const Affine& a, const Rank& rank, int col);

  void shape_output(EinsumId e);

  std::pair<int64_t, int64_t> bounds(const PendingEinsum& p, const Affine& a) const;

  // -- compile: accesses, checks and expression programs --
  void compile();

  Access make_access(const PendingEinsum& p, const Expr& acc, Einsum& e) const;
  void check_selection(const PendingEinsum& p, Einsum& e, const Expr& body) const;

  Einsum compile_one(const PendingEinsum& p) const;

  int emit(Einsum& e, Node n) const;

  // The `where` clause as constraints (before the accesses, whose reads it bounds), then the points it keeps.
  void read_where(const PendingEinsum& p, Einsum& e) const;
  void count_kept(const PendingEinsum& p, Einsum& e) const;
  // `when G[...]`: the guard read last, at plain indices of the result, charged at G's density.
  void read_guard(const PendingEinsum& p, Einsum& e) const;
  void bind_densities();  // each tensor's `density:`, a number or a param, in [0, 1]

  int compile_expr(const PendingEinsum& p, const Expr& x, Einsum& e) const;

  void check_pieces();  // the parts of a tensor written in parts: disjoint, covering it, named NAME.1, NAME.2...
  // A recurrence that starts from an input tensor reads it, at its first step: the input has the recurrence's
  // ranks but the stepped one.
  void bind_init_tensors();

  // -- whole-cascade checks --
  void check_tensors();

  // An error at an Einsum's text (its column `col`, or its start).
  [[noreturn]] void fail_einsum(const Einsum& e, int col, const std::string& message) const;

  Read own_;          // what reading fills (the shell and the Einsums are cascade_ and pending_ until the end)
  const Read& read_;  // own_ when reading; what was read when binding
  const WorkloadOverrides* overrides_ = nullptr;
  DType default_dtype_ = DType::fp32;
  Cascade cascade_;  // being read (its shell), then bound
  IdVector<EinsumId, PendingEinsum> pending_;
};

}  // namespace einsim::detail

namespace einsim {

// A file as read (workloads/cascade.hpp declares it for read_workload and bind_workload).
struct WorkloadSource {
  detail::Read read;
};

}  // namespace einsim
