#include "explore/pipeline.hpp"

#include <algorithm>

namespace einsim {

std::string_view schedule_name(PipelineSchedule s) {
  return s == PipelineSchedule::fill_drain ? "fill_drain" : "steady";
}

int64_t pipeline_sends(PipelineSchedule s, int64_t stages) {
  if (stages <= 1) return 0;
  return s == PipelineSchedule::fill_drain ? stages - 1 : stages;
}

int64_t pipeline_cycles(PipelineSchedule s, int64_t stages, int64_t micro_batches, int64_t stage_cycles,
                        int64_t send_cycles) {
  if (stages <= 1) return micro_batches * stage_cycles;
  const int64_t period = std::max(stage_cycles, send_cycles);
  if (s == PipelineSchedule::fill_drain)
    return (micro_batches - 1) * period + stages * stage_cycles + (stages - 1) * send_cycles;
  return std::max(micro_batches * period, stages * (stage_cycles + send_cycles));
}

}  // namespace einsim
