// The cascade IR's own queries: sizes and strides of tensors, Einsum points, lookups by name, op names.
#include <algorithm>

#include "workloads/cascade.hpp"
#include "workloads/loader.hpp"

namespace einsim {

int64_t Affine::coefficient(int var) const {
  for (auto [v, c] : terms)
    if (v == var) return c;
  return 0;
}

int64_t Tensor::elements() const {
  int64_t n = 1;
  for (const Rank& r : ranks) n *= r.extent;
  return n;
}

std::vector<int64_t> Tensor::strides() const {
  std::vector<int64_t> s(ranks.size(), 1);
  for (size_t i = ranks.size(); i-- > 1;) s[i - 1] = s[i] * ranks[i].extent;
  return s;
}

int64_t Einsum::space() const {
  int64_t n = 1;
  for (const Var& v : vars) n *= v.extent;
  return n;
}

int64_t Einsum::points() const {
  if (guard < 0) return where.empty() ? space() : kept;
  return space() / guard_elements * thinned(guard_elements, guard_rate);  // those of the guard's elements it keeps
}

int64_t rate_of(double fraction) { return std::llround(fraction * static_cast<double>(kRateOne)); }

int Einsum::var_index(const std::string& var) const {
  for (size_t i = 0; i < vars.size(); ++i)
    if (vars[i].name == var) return static_cast<int>(i);
  return -1;
}

bool Einsum::gathers() const {
  return std::any_of(reads.begin(), reads.end(), [](const Access& a) { return !a.gathered_ranks.empty(); });
}

TensorId Cascade::tensor_id(const std::string& tensor_name) const {
  for (TensorId t : tensors.ids())
    if (tensors[t].name == tensor_name) return t;
  return TensorId::none();
}

const Tensor& Cascade::tensor(const std::string& tensor_name) const {
  const TensorId t = tensor_id(tensor_name);
  if (!t.valid()) throw InternalError("no tensor " + tensor_name);
  return tensors[t];
}

const Param* Cascade::param(const std::string& param_name) const {
  for (const Param& p : params)
    if (p.name == param_name) return &p;
  return nullptr;
}

std::string_view op_name(Op op) {
  switch (op) {
    case Op::constant:
      return "constant";
    case Op::read:
      return "read";
    case Op::neg:
      return "neg";
    case Op::add:
    case Op::sub:
      return "add";
    case Op::mul:
      return "mul";
    case Op::div:
      return "div";
    case Op::max:
      return "max";
    case Op::min:
      return "min";
    case Op::exp:
      return "exp";
    case Op::sqrt:
      return "sqrt";
    case Op::rsqrt:
      return "rsqrt";
    case Op::relu:
      return "relu";
    case Op::gelu:
      return "gelu";
    case Op::silu:
      return "silu";
    case Op::reciprocal:
      return "reciprocal";
    case Op::abs:
      return "abs";
    case Op::gt:
      return "compare";
    case Op::log2:
      return "log2";
    case Op::exp2:
      return "exp2";
    case Op::ceil:
      return "ceil";
    case Op::log:
      return "log";
    case Op::sigmoid:
      return "sigmoid";
    case Op::softplus:
      return "softplus";
    case Op::sin:
      return "sin";
    case Op::cos:
      return "cos";
    case Op::floor:
      return "floor";
    case Op::select:
      return "select";
    case Op::quantize:
      return "quantize";
    case Op::dequantize:
      return "dequantize";
  }
  return "?";
}

int op_operands(std::string_view kind) {
  if (kind == "mac" || kind == "topk") return kind == "mac" ? 2 : 1;
  for (const detail::OpInfo& f : detail::kFunctions)
    if (op_name(f.op) == kind) return f.arity;
  return 2;  // the arithmetic operators (add, mul, div)
}

const std::vector<std::string>& op_kinds() {
  static const std::vector<std::string> kinds = [] {
    std::vector<std::string> k = {"mac", "topk"};  // a multiply-accumulate; a score ranked by a selection
    for (int o = static_cast<int>(Op::neg); o <= static_cast<int>(Op::dequantize); ++o) {
      const std::string name(op_name(static_cast<Op>(o)));
      if (std::find(k.begin(), k.end(), name) == k.end()) k.push_back(name);
    }
    return k;
  }();
  return kinds;
}

}  // namespace einsim
