// Pipeline parallelism's closed forms (explore/pipeline.hpp) against a simulation of the pipeline, event by event:
// micro-batches through a chain of stages, each stage and each link serving one micro-batch at a time in order.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <vector>

#include "explore/pipeline.hpp"
#include "tests/unit/test_util.hpp"

namespace einsim {
namespace {

// A pass (fill_drain) or `steps` decode steps (steady) simulated: stage s starts micro-batch j when its activations
// have arrived and it has finished the one before; link s (from stage s to the next; in steady the last links back
// to the first) sends when the stage is done and the link is free. Returns when the last micro-batch is done (the
// last step's, for steady: its token back at the first stage).
int64_t simulate(PipelineSchedule schedule, int64_t stages, int64_t m, int64_t t, int64_t h, int64_t steps) {
  std::vector<int64_t> stage_free(stages, 0), link_free(stages, 0), ready(m, 0);  // ready: at the first stage
  int64_t end = 0;
  const int64_t passes = schedule == PipelineSchedule::fill_drain ? 1 : steps;
  for (int64_t step = 0; step < passes; ++step)
    for (int64_t j = 0; j < m; ++j) {
      int64_t at = ready[j];
      for (int64_t s = 0; s < stages; ++s) {
        const int64_t done = std::max(at, stage_free[s]) + t;
        stage_free[s] = done;
        const bool last = s + 1 == stages;
        if (last && (schedule == PipelineSchedule::fill_drain || stages == 1)) {
          at = done;
          break;
        }
        const int64_t sent = std::max(done, link_free[s]) + h;  // to the next stage, or back to the first
        link_free[s] = sent;
        at = sent;
      }
      ready[j] = at;
      end = std::max(end, at);
    }
  return end;
}

TEST(Pipeline, AFillAndDrainPassTakesItsClosedForm) {
  const uint64_t seed = test::seed();
  std::mt19937_64 rng(seed);
  for (int c = 0; c < 500; ++c) {
    const int64_t stages = 1 + static_cast<int64_t>(rng() % 8), m = 1 + static_cast<int64_t>(rng() % 16);
    const int64_t t = 1 + static_cast<int64_t>(rng() % 1000), h = static_cast<int64_t>(rng() % 1500);
    EXPECT_EQ(pipeline_cycles(PipelineSchedule::fill_drain, stages, m, t, h),
              simulate(PipelineSchedule::fill_drain, stages, m, t, h, 1))
        << fmt::format("seed {}: S {} m {} t {} h {}", seed, stages, m, t, h);
  }
}

// In steady decoding each step takes the closed form's period once the pipeline is full: the difference between
// two late steps' ends.
TEST(Pipeline, SteadyDecodeStepsTakeTheirClosedForm) {
  const uint64_t seed = test::seed();
  std::mt19937_64 rng(seed + 1);
  for (int c = 0; c < 500; ++c) {
    const int64_t stages = 1 + static_cast<int64_t>(rng() % 8), m = 1 + static_cast<int64_t>(rng() % 16);
    const int64_t t = 1 + static_cast<int64_t>(rng() % 1000), h = static_cast<int64_t>(rng() % 1500);
    const int64_t period = simulate(PipelineSchedule::steady, stages, m, t, h, 60) -
                           simulate(PipelineSchedule::steady, stages, m, t, h, 59);
    EXPECT_EQ(pipeline_cycles(PipelineSchedule::steady, stages, m, t, h), period)
        << fmt::format("seed {}: S {} m {} t {} h {}", seed, stages, m, t, h);
  }
  EXPECT_EQ(pipeline_sends(PipelineSchedule::steady, 4), 4);
  EXPECT_EQ(pipeline_sends(PipelineSchedule::fill_drain, 4), 3);
  EXPECT_EQ(pipeline_sends(PipelineSchedule::steady, 1), 0);
}

}  // namespace
}  // namespace einsim
