#pragma once
// Pipeline parallelism: a model's layers split over a chain of stages (each its own devices), a batch split into
// micro-batches that follow one another through them, each stage handing its activations to the next over a link.
//
// With S stages, m micro-batches, a stage's time t (its share of the layers, the busiest stage's) and a hand-over's
// time h (the link's latency and the activations over its bandwidth; links are their own engines, so a stage starts
// its next micro-batch while the last one's activations travel), and p = max(t, h) the pipeline's period:
//   fill_drain (one pass of the batch, GPipe's forward: a prefill)   (m - 1) p + S t + (S - 1) h
//     The first micro-batch crosses every stage and hand-over; the others follow a period apart. The bubble is the
//     share of a stage's time it idles: 1 - m t / cycles.
//   steady (decode steps that keep the pipeline full: each micro-batch's token returns from the last stage to the
//   first, one more hand-over, before its next step)                 max(m p, S (t + h)) per step
//     A stage serves the m micro-batches one after another (m p), and a micro-batch goes around the ring of S
//     stages and S hand-overs before its next token (S (t + h)); the slower of the two sets the pace.
// One stage has no hand-overs: m t either way.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace einsim {

enum class PipelineSchedule { fill_drain, steady };
std::string_view schedule_name(PipelineSchedule s);

// The pipeline a sweep says (`pipeline:`), its expressions substituted at each point.
struct PipelineSpec {
  std::string stages = "1";         // an integer expression: the chain's stages, each holding its share of the layers
  std::string micro_batches = "1";  // an integer expression
  std::string send_bytes = "0";     // an expression: the activations one micro-batch hands the next stage
  PipelineSchedule schedule = PipelineSchedule::fill_drain;
  SourceLoc loc;
};

// A point's pipeline, evaluated: what its result row adds (pipeline_* columns).
struct PipelineRun {
  int64_t stages = 1, micro_batches = 1;
  double send_bytes = 0;
  int64_t stage_cycles = 0;  // the busiest stage's: ceil(count / stages) layers of each part, one micro-batch
  int64_t send_cycles = 0;   // a hand-over: the link's latency and the activations over its bandwidth
  double bubble = 0;         // the share of the busiest stage's time it idles: 1 - m stage / cycles
};

// Hand-overs one micro-batch makes in a pass (fill_drain: S - 1) or a step (steady: S, the last back to the first).
int64_t pipeline_sends(PipelineSchedule s, int64_t stages);

// The cycles of a pass (fill_drain) or a step (steady), as above.
int64_t pipeline_cycles(PipelineSchedule s, int64_t stages, int64_t micro_batches, int64_t stage_cycles,
                        int64_t send_cycles);

}  // namespace einsim
