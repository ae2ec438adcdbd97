#pragma once
// Argument checks shared by the public kernels (before either backend runs): they throw UserError naming the
// kernel, because shapes usually come from a workload's params.
#include <cstdint>
#include <initializer_list>
#include <utility>

#include "workloads/reference/kernels.hpp"

namespace einsim::reference::detail {

// Every named size is at least 1.
void check_sizes(const char* kernel, std::initializer_list<std::pair<const char*, int64_t>> sizes);
// fp32, bf16 or fp16: the formats both backends round to.
void check_out_dtype(const char* kernel, DType t);
void check_attention(const char* kernel, const AttentionShape& s);

}  // namespace einsim::reference::detail
