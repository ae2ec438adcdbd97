#include "sim/cycle/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <fstream>
#include <limits>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <utility>

#define SC_INCLUDE_DYNAMIC_PROCESSES  // sc_spawn, for one thread per DMA engine
#include <systemc>

#include "sim/actions.hpp"
#include "sim/analytical.hpp"

namespace einsim {
namespace {

using sc_core::sc_event;
using sc_core::sc_module;
using sc_core::sc_module_name;
using sc_core::SC_NS;
using sc_core::sc_time;

// One cycle is one nanosecond of SystemC time. Converting through SystemC's ticks (its time resolution) rather
// than through doubles keeps the conversions off the profile: they ran once or more per job.
uint64_t ticks_per_cycle = 0;  // set by simulate_cycles before anything runs
// The current cycle. Asked for several times a job, mostly at a time it was asked for already: the last answer
// is kept, which saves a 64-bit division (tens of processor cycles) per call.
uint64_t last_ticks = 0;
int64_t last_cycle = 0;
const sc_core::sc_simcontext* simulation = nullptr;  // set by simulate_cycles: sc_time_stamp() without a call
int64_t now() {
  if (const uint64_t ticks = simulation->time_stamp().value(); ticks != last_ticks) {
    last_ticks = ticks;
    last_cycle = static_cast<int64_t>(ticks / ticks_per_cycle);
  }
  return last_cycle;
}
sc_time duration(int64_t n) { return sc_time::from_value(static_cast<uint64_t>(n) * ticks_per_cycle); }

struct Job;
struct GroupRun;
void recycle(Job* job);  // back to the free list, once nothing refers to it

// A counted reference to a Job. Jobs are made and dropped millions of times a run, so they come from a free list
// and are counted without atomics (the engine runs on one thread; SystemC's processes are coroutines): with
// std::shared_ptr and a new Job (and its sc_event) each time, allocation and counting were a fifth of the
// engine's instructions.
class JobPtr {
 public:
  JobPtr() = default;
  JobPtr(std::nullptr_t) {}  // NOLINT(google-explicit-constructor): the controller's empty job
  explicit JobPtr(Job* job);
  JobPtr(const JobPtr& o) : JobPtr(o.job_) {}
  JobPtr(JobPtr&& o) noexcept : job_(std::exchange(o.job_, nullptr)) {}
  JobPtr& operator=(const JobPtr& o) {
    JobPtr(o).swap(*this);
    return *this;
  }
  JobPtr& operator=(JobPtr&& o) noexcept {
    JobPtr(std::move(o)).swap(*this);
    return *this;
  }
  void swap(JobPtr& o) noexcept { std::swap(job_, o.job_); }
  ~JobPtr();
  Job* operator->() const { return job_; }
  Job& operator*() const { return *job_; }
  explicit operator bool() const { return job_ != nullptr; }

 private:
  Job* job_ = nullptr;
};

// One tile operation in flight: issued by the controller, run by a unit or the DRAM channel.
struct Job {
  const TileOp* op = nullptr;
  const std::string* label = nullptr;  // for traces: the Einsum's name, or "load T" / "store T"
  std::vector<JobPtr> deps;
  int64_t end = -1;  // the cycle its result is ready; -1 until known
  // A store of a tile that bypasses the buffer: done once the tile has left its unit (the transfer's end, the
  // write's latency not waited for), which frees the unit's place for another.
  JobPtr sent;
  sc_event ready;
  // Whether some process waits on `ready` (it started waiting before `end` was known). Only then is `ready`
  // notified: a timed notification per job was a tenth of the engine's time, mostly for no one. (SystemC's
  // processes take turns, so a waiter sets this before the job can finish.)
  mutable bool watched = false;
  void watch() const { watched = true; }
  int64_t refs = 0;           // JobPtrs to it
  GroupRun* group = nullptr;  // the run of a group that waits for it to finish, if one does
  // A transfer's place in its group's program order: the iteration of the group's loops it belongs to (a load
  // issued ahead for a later iteration, that one's), then its place among the transfers issued.
  std::pair<int64_t, int64_t> order{0, 0};
  // A load issued ahead, for a later iteration than the walk is in (a prefetch): it yields the channel to the
  // transfers the units wait for now, stores included, until the walk reaches its iteration.
  bool ahead = false;

  bool done() const { return done_at(now()); }
  bool done_at(int64_t t) const { return end >= 0 && end <= t; }
};

// Jobs no one refers to, kept for reuse (with their dependency lists' storage). Never freed: the pool lives as
// long as the process, and references may outlive the simulation's modules.
std::vector<Job*>& free_jobs = *new std::vector<Job*>;

JobPtr new_job() {
  if (free_jobs.empty()) return JobPtr(new Job);
  Job* job = free_jobs.back();
  free_jobs.pop_back();
  return JobPtr(job);
}

inline JobPtr::JobPtr(Job* job) : job_(job) {
  if (job_) ++job_->refs;
}

inline JobPtr::~JobPtr() {
  if (job_ && --job_->refs == 0) recycle(job_);
}

void recycle(Job* job) {
  Job& j = *job;
  j.deps.clear();
  j.sent = nullptr;
  j.op = nullptr;
  j.label = nullptr;
  j.end = -1;
  j.group = nullptr;
  j.order = {0, 0};
  j.ahead = false;
  if (j.watched) j.ready.cancel();  // a notification no one can be waiting for any more (only watched ones have one)
  j.watched = false;
  free_jobs.push_back(job);
}

struct TraceEvent {
  int track;
  std::string name;
  int64_t start;
  int64_t end;
};

struct Recorder {
  // Stall cycles per component and cause, flat in the order first charged: the controller snapshots the whole
  // machine every iteration of a loop until it settles, and copying a vector is what makes that cheap.
  std::vector<int64_t> stalled;                                  // per slot
  std::vector<std::pair<std::string, std::string>> stall_names;  // per slot: who, cause
  std::map<std::pair<std::string, std::string>, size_t> stall_slots;

  size_t stall_slot(const std::string& who, const std::string& cause) {
    const auto [it, added] = stall_slots.try_emplace({who, cause}, stalled.size());
    if (added) {
      stalled.push_back(0);
      stall_names.emplace_back(who, cause);
    }
    return it->second;
  }
  void stall(const std::string& who, const std::string& cause, int64_t cycles) {
    stalled[stall_slot(who, cause)] += cycles;
  }
  std::vector<std::string> tracks;
  std::vector<TraceEvent> events;
  bool tracing = false;
  std::mt19937_64 rng;
  double stall_probability = 0;
  int64_t stall_cycles = 0;

  int track(const std::string& name) {
    for (size_t i = 0; i < tracks.size(); ++i)
      if (tracks[i] == name) return static_cast<int>(i);
    tracks.push_back(name);
    return static_cast<int>(tracks.size()) - 1;
  }

  // Latency-insensitivity tests inject random waits; results must not change apart from time.
  int64_t random_stall() {
    if (stall_probability <= 0) return 0;
    std::uniform_real_distribution<double> u(0, 1);
    if (u(rng) >= stall_probability) return 0;
    return 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(std::max<int64_t>(stall_cycles, 1)));
  }
};

// One component's stalls of one cause: finds its slot when first charged (the slot exists from then on, as it
// would in a map), and keeps it.
struct Stall {
  const char* cause;
  size_t slot = std::numeric_limits<size_t>::max();
  void charge(Recorder& rec, const std::string& who, int64_t cycles) {
    if (slot == std::numeric_limits<size_t>::max()) slot = rec.stall_slot(who, cause);
    rec.stalled[slot] += cycles;
  }
};

// Waits until every dependency of a DMA job is ready, charging the wait to `who` under `cause`.
void wait_for(const Job& job, const std::string& who, Stall& cause, Recorder& rec) {
  for (const JobPtr& d : job.deps) {
    if (d->done()) continue;
    const int64_t from = now();
    if (d->end >= 0)
      sc_core::wait(duration(d->end - from));
    else
      d->watch(), sc_core::wait(d->ready);
    if (d->end > now()) sc_core::wait(duration(d->end - now()));
    cause.charge(rec, who, now() - from);
  }
}

// The first input `job` still waits for (it has one: it is not ready).
const Job& blocker_of(const Job& job) {
  return **std::find_if(job.deps.begin(), job.deps.end(), [](const JobPtr& d) { return !d->done(); });
}

// Waits until an input of one of the jobs [first, last) that none is ready for may be, or `arrived` fires (unless
// null): until the soonest input whose end is known, or any whose end is not yet (a unit's window, a DMA's queue).
template <class It>
void wait_for_an_input(It first, It last, const sc_core::sc_event* arrived) {
  sc_core::sc_event_or_list inputs;
  if (arrived) inputs |= *arrived;
  int64_t soonest = std::numeric_limits<int64_t>::max();
  for (; first != last; ++first) {
    const Job& b = blocker_of(**first);
    if (b.end >= 0) {
      soonest = std::min(soonest, b.end);
    } else {
      b.watch();
      inputs |= b.ready;
    }
  }
  if (inputs.size() == 0)
    sc_core::wait(duration(soonest - now()));
  else if (soonest < std::numeric_limits<int64_t>::max())
    sc_core::wait(duration(soonest - now()), inputs);
  else
    sc_core::wait(inputs);
}

// A run of one group's tiles, which ends when every job it issued is done: counted rather than kept in a list
// (a reference per job, and a sweep of the list now and then, were a few percent of the engine's time).
struct GroupRun {
  int64_t unfinished = 0;  // jobs issued whose end is not known yet
  int64_t last_end = 0;    // the latest end of those known
  sc_event finished;       // (a delta after) the last unfinished job's end became known, while `waiting`
  bool waiting = false;

  void track(Job& job) {
    job.group = this;
    ++unfinished;
  }
  // Until every job tracked is done.
  void wait_all() {
    while (unfinished > 0) {
      waiting = true;
      sc_core::wait(finished);
    }
    waiting = false;
    if (last_end > now()) sc_core::wait(duration(last_end - now()));
  }
};

void finish(Job& job, int64_t end) {
  job.deps.clear();  // done with its inputs: keeps finished chains (recurrences) from piling up in memory
  job.end = end;
  if (job.watched) job.ready.notify(duration(end - now()));
  if (GroupRun* g = job.group) {
    g->last_end = std::max(g->last_end, end);
    if (--g->unfinished == 0 && g->waiting) g->finished.notify(sc_core::SC_ZERO_TIME);
  }
}

// A unit takes a buffer port for its operands this many cycles at a time (see Unit).
constexpr int64_t kPortChunk = 256;

// The global buffer: `ports` accessors at a time, each moving up to one row in every bank per cycle. A compute
// job first streams its operands and results through a port, kPortChunk cycles at a time (the rest of the job
// overlaps with that); jobs that
// find every port taken wait ("buffer_port" stalls: the buffer's conflicts), and jobs whose operands take longer
// to stream than to compute are fed too slowly ("buffer_bandwidth"). A port is taken for a known number of
// cycles and frees itself then: its holder need not wake to give it back. Requests that find none free are
// granted in the order they came, each as soon as a port frees.
struct Buffer : sc_module {
  std::vector<int64_t> busy_until;  // per port: the cycle it is free from
  double bytes_per_cycle;
  std::deque<sc_event*> waiting;  // requests that found no port free, oldest first

  Buffer(sc_module_name name, int64_t port_count, double bpc)
      : sc_module(name), busy_until(static_cast<size_t>(port_count), 0), bytes_per_cycle(bpc) {}

  int64_t cycles_for(int64_t bytes) const {
    return static_cast<int64_t>(std::ceil(static_cast<double>(bytes) / bytes_per_cycle));
  }

  // Takes a port for `cycles` cycles from now, first waiting for one to free if none is.
  void take(int64_t cycles) {
    if (waiting.empty() && try_take(cycles)) return;
    sc_event turn;
    waiting.push_back(&turn);
    for (;;) {
      if (waiting.front() == &turn) {
        if (try_take(cycles)) {
          waiting.pop_front();
          if (!waiting.empty()) waiting.front()->notify();  // the next request may find another port free
          return;
        }
        sc_core::wait(duration(*std::min_element(busy_until.begin(), busy_until.end()) - now()));
      } else {
        sc_core::wait(turn);
      }
    }
  }

 private:
  bool try_take(int64_t cycles) {
    const int64_t t = now();
    for (int64_t& until : busy_until)
      if (until <= t) {
        until = t + cycles;
        return true;
      }
    return false;
  }
};

// Jobs issued and not yet taken: a unit's, or the DMA engines' of a path (each free engine takes the oldest, or
// with ready_first the oldest that may run now). A writer waits while it is full. A job is visible as soon as
// it is written. `arrived` (a delta later) and `left` (at once) are notified only while some process waits for
// them: a notification per job, mostly for no one, was a good share of the kernel's work.
struct JobQueue {
  std::deque<JobPtr> jobs;
  size_t capacity = 64;
  // Groups running concurrently share the queue: each may fill its share (one group's walk running ahead would
  // otherwise hold the others' back).
  size_t groups = 1;
  bool full(const JobPtr& job) const {
    if (groups == 1 || !job || !job->group) return jobs.size() >= capacity;
    return static_cast<size_t>(std::count_if(jobs.begin(), jobs.end(), [&](const JobPtr& j) {
             return j && j->group == job->group;
           })) >= capacity / groups;
  }
  sc_event arrived, left;
  int awaiting_arrival = 0, awaiting_room = 0;

  // While one lives, its process waits (among other things, perhaps) for a job to arrive.
  struct Awaiting {
    explicit Awaiting(JobQueue& q) : queue(q) { ++queue.awaiting_arrival; }
    ~Awaiting() { --queue.awaiting_arrival; }
    Awaiting(const Awaiting&) = delete;
    Awaiting& operator=(const Awaiting&) = delete;
    JobQueue& queue;
  };

  void write(JobPtr job) {
    wait_for_room(job);
    jobs.push_back(std::move(job));
    if (awaiting_arrival > 0) arrived.notify(sc_core::SC_ZERO_TIME);
  }
  // A transfer takes its place among those waiting by its group's program order (Job::order), so that ready-first
  // engines take the earliest the program needs: a load issued ahead for a later iteration goes after this one's.
  void write_in_order(JobPtr job) {
    wait_for_room(job);
    auto at = jobs.end();
    while (at != jobs.begin() && *std::prev(at) && (*std::prev(at))->order > job->order) --at;
    jobs.insert(at, std::move(job));
    if (awaiting_arrival > 0) arrived.notify(sc_core::SC_ZERO_TIME);
  }
  void wait_for_room(const JobPtr& job) {
    while (full(job)) {
      ++awaiting_room;
      sc_core::wait(left);
      --awaiting_room;
    }
  }
  JobPtr take(std::deque<JobPtr>::iterator it) {
    JobPtr job = std::move(*it);
    if (it == jobs.begin())
      jobs.pop_front();  // the usual case, far cheaper than erase
    else
      jobs.erase(it);
    if (awaiting_room > 0) left.notify();
    return job;
  }
  JobPtr read() {
    while (jobs.empty()) {
      const Awaiting a(*this);
      sc_core::wait(arrived);
    }
    return take(jobs.begin());
  }
};

// A compute unit (PE array or vector array): runs each job for its cycle count. Its scheduler looks at a
// window of the next `window` jobs issued to it and starts the oldest whose inputs are ready, so that a unit
// can work on the next tile while a result it needs for this one is still being computed elsewhere.
struct Unit : sc_module {
  JobQueue queue;
  Recorder& rec;
  Buffer& buffer;
  size_t window;
  int64_t busy = 0;
  Stall waited_dependency{"dependency"}, waited_output{"output"}, waited_data{"data"}, waited_port{"buffer_port"},
      waited_bandwidth{"buffer_bandwidth"};
  sc_core::sc_signal<bool> running{"running"};  // for --vcd: a job is running
  sc_core::sc_signal<int> waiting{"waiting"};   // for --vcd: jobs issued to it and not started
  bool waves = false;

  SC_HAS_PROCESS(Unit);
  // The queue holds what the controller has issued to the unit, well beyond the window, so that one busy unit
  // does not keep the controller from feeding the others. (Buffer slots hold the walk back anyway; a bound far
  // above that, thousands of jobs, keeps the queues from settling into a steady state that extrapolation sees.)
  Unit(sc_module_name name, int depth, Recorder& r, Buffer& b)
      : sc_module(name), rec(r), buffer(b), window(static_cast<size_t>(depth)) {
    SC_THREAD(run);
  }

  static bool ready(const Job& j) { return ready_at(j, now()); }
  static bool ready_at(const Job& j, int64_t t) {
    return std::all_of(j.deps.begin(), j.deps.end(), [t](const JobPtr& d) { return d->done_at(t); });
  }

  // The jobs issued to this unit and not started yet (at most `window`), oldest first. The oldest is nearly always
  // the one that starts: it leaves by moving `first` on, not by moving the others down.
  struct Pending {
    std::vector<JobPtr> jobs;
    size_t first = 0;
    size_t size() const { return jobs.size() - first; }
    bool empty() const { return first == jobs.size(); }
    JobPtr* begin() { return jobs.data() + first; }
    JobPtr* end() { return jobs.data() + jobs.size(); }
    const JobPtr& front() const { return jobs[first]; }
    void push_back(JobPtr job) {
      if (empty()) {
        jobs.clear();
        first = 0;
      } else if (first >= 64) {
        jobs.erase(jobs.begin(), jobs.begin() + static_cast<std::ptrdiff_t>(first));
        first = 0;
      }
      jobs.push_back(std::move(job));
    }
    JobPtr take(JobPtr* it) {
      JobPtr job = std::move(*it);
      if (it == begin())
        ++first;
      else
        jobs.erase(jobs.begin() + (it - jobs.data()));
      return job;
    }
  };
  Pending pending;
  // While groups run concurrently (they share its queue), each has a window of its own: one group's walk may have
  // issued many jobs ahead of the other's (walks wait only for the units' queues), which would otherwise keep the
  // other's jobs out of sight.
  void look_per_group() {
    for (auto it = queue.jobs.begin(); it != queue.jobs.end();) {
      const GroupRun* g = *it ? (*it)->group : nullptr;
      if (g && static_cast<size_t>(std::count_if(pending.begin(), pending.end(),
                                                 [g](const JobPtr& j) { return j->group == g; })) < window) {
        pending.push_back(queue.take(it));
        it = queue.jobs.begin();  // (take may have moved the others)
      } else {
        ++it;
      }
    }
  }

  // Runs until the controller sends an empty job (after all others are done), so the thread ends cleanly.
  void run() {
    const std::string who = basename();
    for (;;) {
      if (pending.empty()) {
        JobPtr next = queue.read();
        if (!next) return;
        pending.push_back(std::move(next));
      }
      JobPtr job;
      for (;;) {
        while (pending.size() < window && !queue.jobs.empty()) pending.push_back(queue.read());
        if (queue.groups > 1) look_per_group();
        const int64_t t = now();
        const auto it = std::find_if(pending.begin(), pending.end(), [t](const JobPtr& j) { return ready_at(*j, t); });
        if (it != pending.end()) {
          job = pending.take(it);
          break;
        }
        // Nothing ready: wait until a job in the window may be (an input of each it waits for is ready), or more
        // work comes, and say what held up the oldest. (Waiting for the oldest's inputs alone left the unit idle
        // while a later tile's inputs arrived: SwiGLU's fused FFN ran 17% slow, its array waiting for the down
        // projection of a tile whose activation was still running while the next tile's gate was ready.)
        const int64_t from = now();
        const Job& blocker = blocker_of(*pending.front());
        // A full window takes no more jobs (unless groups share the queue): then only an input wakes the unit.
        // (Woken by every job the walk issued, it did nothing but wait again: 29% of the engine's instructions on
        // unfused attention, XLM at 64K, B = 64.)
        std::optional<JobQueue::Awaiting> more;
        if (pending.size() < window || queue.groups > 1) more.emplace(queue);
        wait_for_an_input(pending.begin(), pending.end(), more ? &queue.arrived : nullptr);
        // (Waiting for a store: the unit's results that bypass the buffer have not left it yet.)
        const TileOp::Kind kind = blocker.op->kind;
        (kind == TileOp::Kind::compute ? waited_dependency
         : kind == TileOp::Kind::store ? waited_output
                                       : waited_data)
            .charge(rec, who, now() - from);
      }
      if (const int64_t extra = rec.random_stall()) sc_core::wait(duration(extra));
      const int64_t streaming = buffer.cycles_for(job->op->buffer_read_bytes + job->op->buffer_write_bytes);
      const int64_t asked = now();
      int64_t streamed = std::min(streaming, kPortChunk);
      buffer.take(streamed);
      const int64_t start = now();
      if (start > asked) waited_port.charge(rec, who, start - asked);
      if (waves) {
        running.write(true);
        waiting.write(static_cast<int>(pending.size() + queue.jobs.size()));
      }
      // The rest of its operands a chunk at a time, so that a transfer into the buffer waits at most a chunk.
      sc_core::wait(duration(streamed));
      while (streamed < streaming) {
        const int64_t chunk = std::min(streaming - streamed, kPortChunk), from = now();
        buffer.take(chunk);
        if (now() > from) waited_port.charge(rec, who, now() - from);
        sc_core::wait(duration(chunk));
        streamed += chunk;
      }
      if (now() - start < job->op->cycles) sc_core::wait(duration(job->op->cycles - (now() - start)));
      if (streaming > job->op->cycles) waited_bandwidth.charge(rec, who, streaming - job->op->cycles);
      busy += job->op->cycles;
      if (waves) running.write(false);
      finish(*job, now() + job->op->result_latency);
      if (rec.tracing) rec.events.push_back({rec.track(who), *job->label, start, now()});
    }
  }
};

// The DRAM channel and its DMA engines. A load waits for its buffer slot to be free, a store for its tile to be
// computed ("dependency"). dma_order: ready_first (the default) lets a free engine take the oldest request in the
// program's order whose inputs are ready, waiting (charged to the oldest request's cause) only when none is; the
// controller hands it every request as it walks, so a load waiting for its slot holds up neither the walk nor the
// requests after it. in_order: the controller hands a load on only once its slot is free (the walk waits for
// that), and an engine takes the oldest request and waits for it, so with one engine a
// waiting store holds up the requests behind it. An engine then holds the channel for bytes / bandwidth cycles
// ("channel" stalls: another engine has it), and one of the buffer's ports for the first bytes / port width of
// them. Data arrives `latency` cycles after the transfer. Reads come first, as memory controllers drain writes
// around them: a store hands the channel to a waiting load after its current burst of kBurstBytes and resumes
// once no load waits, so a long store does not hold up the loads of another engine; stores of tiles that bypass
// the buffer go after loads but before other stores (their unit waits for them; going before loads too, a few MiB
// of them starved the small loads the unit's next tiles need, 11% over the analytical model on unfused's QK with
// 4,096-query buffer tiles). Within each, the oldest request gets the channel next.
// The channel moves fractions of a cycle's bytes too: a transfer that starts as the one before it ends first
// fills the rest of that one's last cycle.
struct Dram : sc_module {
  JobQueue queue;
  Recorder& rec;
  Buffer& buffer;
  double bytes_per_cycle;
  int64_t latency;
  // The channel: whether an engine holds it, and the engines waiting for it, by priority (each class oldest
  // first): loads, stores of tiles that bypass the buffer (their unit holds only a few and waits for them to
  // leave), other stores, loads issued ahead (Job::ahead). A grant hands it on directly: `granted` wakes the waiter
  // it names.
  enum Priority { kLoad, kUrgentStore, kStore, kAhead, kPriorities };
  struct Waiter {
    sc_core::sc_event granted;
    bool has = false;
  };
  bool held = false;
  std::array<std::deque<Waiter*>, kPriorities> waiting;
  std::array<sc_core::sc_event, kPriorities> asks;  // an engine of that priority asked for the channel
  // Whether an engine of higher priority than `p` waits for the channel.
  bool outranked(int p) const {
    for (int q = 0; q < p; ++q)
      if (!waiting[static_cast<size_t>(q)].empty()) return true;
    return false;
  }
  static constexpr int64_t kBurstBytes = 4096;
  std::vector<std::unique_ptr<sc_core::sc_signal<bool>>> busy;  // per engine, for --vcd
  bool waves = false;
  // A path with a detailed timing model (a DRAM's bank-level model, a bank PIM's all-bank reads): a transfer
  // takes as long as that model says; cycles beyond the bandwidth figure's are stalls on DRAM timing
  // (activations, bank-group spacing, refresh, turnarounds, a lower peak).
  const PathRole* path = nullptr;
  double clock_hz = 0;
  BankTransfers* transfers = nullptr;
  bool ready_first = false;
  std::vector<int64_t> free_at;  // per engine: when it expects to be done with its transfer
  // The channel moves bytes_per_cycle a cycle, so a transfer that ends partway through a cycle leaves the rest
  // of it (`spare` bytes, at cycle `spare_at`) to a transfer that starts then: a stream of small transfers runs
  // at the channel's bandwidth, not at a whole cycle each.
  double spare = 0;
  int64_t spare_at = -1;
  Stall waited_dependency{"dependency"}, waited_channel{"channel"}, waited_port{"buffer_port"},
      waited_timing{"dram_timing"};
  std::vector<int64_t> arriving;  // when the transfers done with the channel arrive (a latency later)

  // What the channel still has to move, as part of the engine's state: the requests and bytes waiting, each
  // engine's cycles left of its transfer, the engines waiting for the channel, and the cycles until each transfer
  // in flight arrives. (With a backlog growing by a little every iteration, the iterations' costs can repeat for a
  // while with the same number of requests waiting: only the backlog tells that state from a steady one. And the
  // units' slack can hide data arriving a little later every iteration: FlashAttention-2's decode on 132 cores
  // repeated its iteration costs exactly while its loads arrived 2 cycles later each time, and extrapolating came out
  // 226 cycles short.)
  void state(std::vector<int64_t>& out) const {
    int64_t bytes = 0;
    for (const JobPtr& j : queue.jobs)
      if (j) bytes += j->op->bytes;
    out.push_back(static_cast<int64_t>(queue.jobs.size()));
    out.push_back(bytes);
    for (const int64_t t : free_at) out.push_back(std::max<int64_t>(0, t - now()));
    for (const auto& w : waiting) out.push_back(static_cast<int64_t>(w.size()));
    for (const int64_t t : arriving)
      if (t > now()) out.push_back(t - now());
  }

  Dram(sc_module_name name, double bpc, int64_t lat, int64_t engines, bool first_ready, Recorder& r, Buffer& b)
      : sc_module(name), rec(r), buffer(b), bytes_per_cycle(bpc), latency(lat), ready_first(first_ready) {
    free_at.assign(static_cast<size_t>(engines), 0);
    // Ready-first engines hold every transfer issued (the walk hands each on at once; the units' queues hold it
    // back), so that one whose inputs are not ready never keeps a ready one out.
    if (ready_first) queue.capacity = std::numeric_limits<size_t>::max();
    for (size_t e = 0; std::cmp_less(e, engines); ++e) {
      busy.push_back(std::make_unique<sc_core::sc_signal<bool>>(fmt::format("dma{}_busy", e).c_str()));
      sc_core::sc_spawn([this, e] { run(e); }, fmt::format("dma{}", e).c_str());
    }
  }

  // ready_first: the oldest waiting request whose inputs are all ready (the controller's empty job, sent once
  // every job is done, counts as ready). With none ready, waits until one of the first inputs each request
  // still waits for is ready, or a request arrives, and charges the wait to the oldest request's cause.
  JobPtr take_ready(const std::string& who) {
    for (;;) {
      std::deque<JobPtr>& jobs = queue.jobs;
      const auto it = std::find_if(jobs.begin(), jobs.end(), [](const JobPtr& j) { return !j || Unit::ready(*j); });
      if (it != jobs.end()) return queue.take(it);
      const JobQueue::Awaiting more(queue);
      if (jobs.empty()) {
        sc_core::wait(queue.arrived);
        continue;
      }
      const int64_t from = now();
      wait_for_an_input(jobs.begin(), jobs.end(), &queue.arrived);
      waited_dependency.charge(rec, who, now() - from);  // a load's slot, a store's tile
    }
  }

  void acquire_channel(const std::string& who, int priority) {
    if (!held) {
      held = true;
      return;
    }
    const int64_t from = now();
    Waiter me;
    waiting[static_cast<size_t>(priority)].push_back(&me);
    asks[static_cast<size_t>(priority)].notify(sc_core::SC_ZERO_TIME);
    while (!me.has) sc_core::wait(me.granted);
    waited_channel.charge(rec, who, now() - from);
  }
  void release_channel() {
    for (std::deque<Waiter*>& next : waiting)
      if (!next.empty()) {
        next.front()->has = true;
        next.front()->granted.notify(sc_core::SC_ZERO_TIME);
        next.pop_front();
        return;
      }
    held = false;
  }

  void run(size_t engine) {
    const std::string who = basename();
    const std::string track = busy.size() > 1 ? fmt::format("{}.dma{}", who, engine) : who;
    for (;;) {
      const JobPtr job = ready_first ? take_ready(who) : queue.read();
      if (!job) return;                       // the controller is done
      wait_for(*job, who, waited_dependency, rec);  // in order: a store's tile (a load's slot is free already)
      if (const int64_t extra = rec.random_stall()) sc_core::wait(duration(extra));
      const bool load = job->op->kind == TileOp::Kind::load;
      auto priority_of = [&] { return load ? (job->ahead ? kAhead : kLoad) : job->op->bypass ? kUrgentStore : kStore; };
      int priority = priority_of();
      acquire_channel(who, priority);
      const bool through_buffer = !job->op->bypass;  // a bypassing tile goes between DRAM and the unit
      // The tile passes the buffer's port at the port's rate and the channel at the DRAM's: the port is free
      // again once its share is through, the channel when the slower of the two is done.
      const int64_t through_port = through_buffer ? buffer.cycles_for(job->op->bytes) : 0;
      const int64_t asked = now();
      if (through_buffer) buffer.take(through_port);
      if (const int64_t waited = now() - asked) waited_port.charge(rec, who, waited);
      const int64_t start = now();
      if (waves) busy[engine]->write(true);
      // Into or out of a core of a many-core chip, at what the core's port carries.
      const double rate = job->op->port_Bps > 0 ? job->op->port_Bps / clock_hz : bytes_per_cycle;
      // Straight after the transfer before it, the channel first fills what that one left of its last cycle.
      const double owed = std::max(
          0.0, static_cast<double>(job->op->bytes) - (spare_at == start && job->op->port_Bps == 0 ? spare : 0));
      int64_t occupancy = static_cast<int64_t>(std::ceil(owed / rate));
      bool streamed = job->op->port_Bps == 0;
      if (const auto timed =
              path->timed_cycles(job->op->bytes, job->op->kind != TileOp::Kind::load, *transfers, clock_hz)) {
        streamed = false;
        if (*timed > occupancy) waited_timing.charge(rec, who, *timed - occupancy), occupancy = *timed;
      }
      sc_core::wait(duration(through_port));
      free_at[engine] = start + occupancy;
      // The rest of the transfer, a burst at a time while an engine of higher priority waits for the channel.
      const int64_t burst = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(kBurstBytes / rate)));
      for (int64_t left = occupancy - through_port; left > 0;) {
        const int64_t from = now();
        if (!outranked(priority)) {
          if (priority == kLoad)
            sc_core::wait(duration(left));
          else if (priority == kUrgentStore)
            sc_core::wait(duration(left), asks[kLoad]);
          else if (priority == kStore)
            sc_core::wait(duration(left), asks[kLoad] | asks[kUrgentStore]);
          else
            sc_core::wait(duration(left), asks[kLoad] | asks[kUrgentStore] | asks[kStore]);
          left -= now() - from;
          continue;
        }
        sc_core::wait(duration(std::min(left, burst)));
        left -= now() - from;
        if (left == 0) break;
        release_channel();
        priority = priority_of();
        acquire_channel(who, priority);
        free_at[engine] = now() + left;
        streamed = false;
      }
      if (waves) busy[engine]->write(false);
      // What is left of the channel's last cycle, for a transfer that starts now.
      streamed &= now() == start + occupancy;
      spare = streamed ? static_cast<double>(occupancy) * rate - owed : 0;
      spare_at = streamed ? now() : -1;
      release_channel();
      if (job->sent) finish(*job->sent, now());
      finish(*job, now() + latency + job->op->port_latency);
      std::erase_if(arriving, [](int64_t t) { return t <= now(); });
      arriving.push_back(now() + latency + job->op->port_latency);
      if (rec.tracing) rec.events.push_back({rec.track(track), *job->label, start, now()});
    }
  }
};

// What a stretch of simulation cost: cycles, and per Controller::counters' slot (each unit's busy cycles, each op's
// tiles issued, then stall cycles per component and cause in the order first charged; slots are only ever added,
// so two snapshots with the same slots have as many counts).
struct Counters {
  int64_t cycles = 0;
  std::vector<int64_t> counts;
  std::vector<int64_t> queues;  // jobs waiting at each unit and at DRAM: part of the state, not of the cost

  Counters operator-(const Counters& o) const {
    Counters d{cycles - o.cycles, counts, queues};
    if (d.counts.size() < o.counts.size()) d.counts.resize(o.counts.size());
    for (size_t i = 0; i < o.counts.size(); ++i) d.counts[i] -= o.counts[i];
    return d;
  }
  Counters operator*(int64_t n) const {
    Counters m{cycles * n, counts, {}};
    for (int64_t& v : m.counts) v *= n;
    return m;
  }
  Counters& operator+=(const Counters& o) {
    cycles += o.cycles;
    if (counts.size() < o.counts.size()) counts.resize(o.counts.size());
    for (size_t i = 0; i < o.counts.size(); ++i) counts[i] += o.counts[i];
    return *this;
  }
  bool operator==(const Counters& o) const { return cycles == o.cycles && counts == o.counts && queues == o.queues; }
  int64_t at(size_t slot) const { return slot < counts.size() ? counts[slot] : 0; }
};

constexpr size_t kSettle = 4;     // repeats of an iteration cost (or period of costs) before a loop counts as settled
// The longest period of iteration costs looked for: FuseMax's m1 loop over four glb tiles of p repeats every 5
// iterations (ctest cycle.long_period_settles); checking a period costs kSettle comparisons per iteration.
constexpr size_t kMaxPeriod = 8;
// Costs that repeat only to within a cycle (a DRAM that moves a fraction of a cycle's bytes more or less each
// iteration: 18,377, 18,377, 18,378, ... for a channel at 18,377.35 cycles a tile) never repeat exactly. A loop
// whose last kSettleNear periods agree phase by phase to within one cycle (every count and every piece of state)
// is settled too, and skipped at those periods' average: the skipped iterations are off by at most the share of
// a cycle a period drifts, which the window bounds to 1 / kSettleNear a period.
constexpr size_t kSettleNear = 16;

// Whether the costs of the last `periods` periods of `period` iterations (each the difference of two consecutive
// snapshots in `starts`, the state at its end as it is) agree phase by phase to within one cycle: in each phase,
// every count's largest and smallest values differ by at most 1, and no iteration took no time.
bool repeat_within_a_cycle(const std::vector<Counters>& starts, size_t period, size_t periods) {
  const size_t n = starts.size();
  if (n < periods * period + 1) return false;
  const size_t counts = starts[n - 1].counts.size(), queues = starts[n - 1].queues.size();
  for (size_t phase = 0; phase < period; ++phase) {
    const size_t last = n - 1 - phase;  // the phase's latest cost, then every period before it
    auto within = [&](auto value) {
      int64_t lo = value(last), hi = lo;
      for (size_t k = 1; k < periods; ++k) {
        const int64_t v = value(last - k * period);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        if (hi - lo > 1) return false;
      }
      return true;
    };
    for (size_t k = 0; k < periods; ++k) {
      const size_t m = last - k * period;
      if (starts[m].cycles == starts[m - 1].cycles || starts[m].queues.size() != queues) return false;
    }
    if (!within([&](size_t m) { return starts[m].cycles - starts[m - 1].cycles; })) return false;
    for (size_t c = 0; c < counts; ++c)
      if (!within([&](size_t m) { return starts[m].at(c) - starts[m - 1].at(c); })) return false;
    for (size_t q = 0; q < queues; ++q)
      if (!within([&](size_t m) { return starts[m].queues[q]; })) return false;
  }
  return true;
}

// Walks each group's loop nest and issues its tile operations in dependency order.
// A group with ops a where clause or a guard skips: its iterations differ, so none stands for the others and its
// loops are simulated in full. (A ragged loop's ops differ only in its last iteration, which is always simulated;
// see the walk.)
bool masked(const TileGroup& g) {
  return std::any_of(g.ops.begin(), g.ops.end(),
                     [](const TileOp& op) { return (!op.active_when.empty() && !op.ragged) || op.rate != kRateOne; });
}

struct Controller : sc_module {
  const Cascade& c;
  const TileProgram& p;
  const ArchSpec& arch;
  std::map<std::string, Unit*> units;
  std::map<std::string, Dram*> paths;  // the DRAM's interface and each PIM's path from its banks
  Recorder& rec;
  bool exact;
  int64_t end = 0;
  Counters skipped;                          // the cost of the iterations steady-state extrapolation did not simulate
  std::vector<std::vector<int64_t>> issued;  // per group and op: the tiles it issued (simulated ones)
  std::vector<size_t> issued_before{0};      // per group: the ops of the groups before it (and all, last)
  std::vector<int64_t> group_cycles;         // per group: from its start to its end, simulated and skipped
  int64_t link_free = 0;                     // when the interconnect has finished the collectives it was given
  int64_t prefetching = 0;                   // loads issued ahead on threads of their own that wait for their slot
  JobPtr last_issued;                        // the walk's latest job

  // Counters' slots: each unit's busy cycles (in the units' order), then each op's tiles issued (so that
  // extrapolation skips them with the rest), then the stalls by the recorder's slots.
  size_t busy_slot(const std::string& unit) const {
    return static_cast<size_t>(std::distance(units.begin(), units.find(unit)));
  }
  size_t issued_slot(size_t g, size_t o) const { return units.size() + issued_before[g] + o; }
  size_t stall_slot(size_t s) const { return units.size() + issued_before.back() + s; }

  // How many times each op ran: simulated, and in the iterations extrapolation skipped.
  OpExecutions executions() const {
    OpExecutions out = issued;
    for (size_t g = 0; g < out.size(); ++g)
      for (size_t o = 0; o < out[g].size(); ++o) out[g][o] += skipped.at(issued_slot(g, o));
    return out;
  }

  // Totals so far, simulated and extrapolated.
  Counters counters() const {
    Counters k{now(), {}, {}};
    k.counts.reserve(stall_slot(rec.stalled.size()));
    for (const auto& [name, unit] : units) {
      k.counts.push_back(unit->busy);
      k.queues.push_back(static_cast<int64_t>(unit->pending.size() + unit->queue.jobs.size()));
    }
    for (const auto& [name, path] : paths) {
      path->state(k.queues);
    }
    k.queues.push_back(prefetching);
    for (const std::vector<int64_t>& ops : issued) k.counts.insert(k.counts.end(), ops.begin(), ops.end());
    k.counts.insert(k.counts.end(), rec.stalled.begin(), rec.stalled.end());
    k += skipped;
    return k;
  }

  SC_HAS_PROCESS(Controller);
  Controller(sc_module_name name, const Cascade& cascade, const TileProgram& program, const ArchSpec& a,
             std::map<std::string, Unit*> u, std::map<std::string, Dram*> d, Recorder& r, bool exact_run)
      : sc_module(name),
        c(cascade),
        p(program),
        arch(a),
        units(std::move(u)),
        paths(std::move(d)),
        rec(r),
        exact(exact_run) {
    for (const TileGroup& g : p.groups) {
      issued.emplace_back(g.ops.size(), 0);
      issued_before.push_back(issued_before.back() + g.ops.size());
    }
    group_cycles.assign(p.groups.size(), 0);
    SC_THREAD(run);
  }

  void run() {
    for (size_t first = 0; first < p.groups.size();) {
      size_t last = first + 1;
      while (last < p.groups.size() && p.groups[last].concurrent) ++last;
      if (last == first + 1) {
        run_group(first, exact);
      } else {
        // Groups that run together each get a thread. Their loops are simulated in full: steady-state skipping
        // reads whole-system counters, which the other groups move too.
        std::vector<sc_core::sc_process_handle> running;
        for (auto& [name, unit] : units) unit->queue.groups = last - first;
        for (size_t g = first; g < last; ++g)
          running.push_back(sc_core::sc_spawn([this, g] { run_group(g, true); }, fmt::format("group{}", g).c_str()));
        for (sc_core::sc_process_handle& h : running)
          if (!h.terminated()) sc_core::wait(h.terminated_event());
        for (auto& [name, unit] : units) unit->queue.groups = 1;
      }
      first = last;
    }
    end = now();
    for (auto& [name, unit] : units) unit->queue.write(nullptr);  // every job is done: let the threads end
    for (auto& [name, path] : paths)
      for (size_t e = 0; e < path->busy.size(); ++e) path->queue.write(nullptr);
  }

  Dram& path_of(const TileOp& op) const { return *paths.at(arch.path(op.from, op.to).name); }

  void run_group(size_t group, bool exact_loops) {
    const TileGroup& g = p.groups[group];
    if (g.collective) {  // its closed form's time, once the interconnect is done with those given it before
      const int64_t asked = now();
      const int64_t start = std::max(asked, link_free);
      link_free = start + g.collective->cycles;
      if (start > asked) rec.stall(g.collective->link, "link", start - asked);
      sc_core::wait(duration(link_free - asked));
      group_cycles[group] = link_free - asked;
      return;
    }
    const int64_t started = now() + skipped.cycles;
    exact_loops |= masked(g);
    std::vector<std::vector<std::pair<int, bool>>> rules;
    for (const TileOp& op : g.ops) rules.push_back(g.fire_rule(op, c));
    // Per op, looked up once: its label for traces, the unit or path it goes to, and the tensors it touches.
    struct OpInfo {
      std::string label;
      Unit* unit = nullptr;
      Dram* path = nullptr;
      TensorId tensor;              // a load's or store's tensor, a computation's result
      std::vector<TensorId> reads;  // a computation's operands
    };
    std::vector<OpInfo> info(g.ops.size());
    for (size_t o = 0; o < g.ops.size(); ++o) {
      const TileOp& op = g.ops[o];
      OpInfo& i = info[o];
      if (op.kind == TileOp::Kind::compute) {
        const Einsum& e = c.einsums[op.einsum];
        i.label = e.name;
        i.unit = units.at(op.unit);
        i.tensor = e.out.tensor;
        for (const Access& a : e.reads) i.reads.push_back(a.tensor);
        i.reads.insert(i.reads.end(), op.reads_through.begin(), op.reads_through.end());
        if (op.accumulates) i.reads.push_back(e.out.tensor);
      } else {
        i.label = (op.kind == TileOp::Kind::load ? "load " : "store ") + op.tensor;
        i.path = &path_of(op);
        i.tensor = c.tensor_id(op.tensor);
      }
    }
    IdVector<TensorId, JobPtr> writer(c.tensors.size());  // tensor -> the job whose result holds it now
    IdVector<TensorId, std::deque<std::vector<JobPtr>>> readers(c.tensors.size());  // of its latest loads
    IdVector<TensorId, JobPtr> stored(c.tensors.size());                            // tensor -> its latest store
    // Per tensor whose partial sums a load brings back (TileOp::partial_sum_loops): the loops that load skips over,
    // and the latest store of each of its tiles, by the counters of the store's other loops.
    std::map<TensorId, std::vector<int>> partial_sums;
    std::map<TensorId, std::map<std::vector<int64_t>, JobPtr>> tile_stores;
    for (const TileOp& op : g.ops)
      if (!op.partial_sum_loops.empty()) {
        std::vector<int>& carried = partial_sums[c.tensor_id(op.tensor)];
        carried.clear();
        for (int j : op.partial_sum_loops) carried.push_back(op.repeats[static_cast<size_t>(j)]);
      }
    // Per tensor whose tiles bypass the buffer on their way out: its latest stores, as many as its unit holds.
    std::map<TensorId, std::pair<std::deque<JobPtr>, int>> bypass_stores;
    for (size_t o = 0; o < g.ops.size(); ++o)
      if (g.ops[o].kind == TileOp::Kind::store && g.ops[o].bypass)
        bypass_stores[info[o].tensor] = {{}, g.ops[o].stages};
    GroupRun run;                             // every job issued here
    std::vector<JobPtr> computing;            // the last tile's computations (groups without pipelining)
    std::vector<JobPtr> step, step_computes;  // this tile's jobs and computations (kept to reuse their storage)
    std::vector<int64_t> index(g.loops.size(), 0);
    // A tile of partial sums: the counters of `op`'s loops but those the partial sums are carried across.
    auto tile_of = [&](const TileOp& op, const std::vector<int>& carried) {
      std::vector<int64_t> key;
      for (int l : op.repeats)
        if (std::find(carried.begin(), carried.end(), l) == carried.end()) key.push_back(index[static_cast<size_t>(l)]);
      return key;
    };
    const int passes = std::max<int>(1, static_cast<int>(g.pass_loops.size()));

    // The buffer holds `stages` tiles of a tensor (two when double-buffered): a new load waits until the readers
    // of the tile it replaces are done. Those readers, or none while the buffer has a free slot, for the load
    // issued now (the history holds at most `stages` tiles, so the one replaced is its front).
    auto freed_slot = [&](size_t o) {
      auto& history = readers[info[o].tensor];
      const auto slots = static_cast<size_t>(g.ops[o].stages);
      if (history.size() < slots) return std::vector<JobPtr>{};
      return std::move(history[history.size() - slots]);
    };
    // The same for a prefetch, m + 1 tiles ahead of the one just loaded: the readers of the tile whose slot it
    // takes (m + 1 from the oldest kept), or none while that slot has never been used.
    auto freed_slot_ahead = [&](size_t o, size_t m) {
      const auto& history = readers[info[o].tensor];
      const auto at = static_cast<int64_t>(history.size()) - g.ops[o].stages + static_cast<int64_t>(m);
      return at < 0 ? std::vector<JobPtr>{} : history[static_cast<size_t>(at)];
    };
    // The iteration of the group's loops the walk is in, and the transfers handed on so far: their place in the
    // group's program order (concurrent groups' transfers interleave by how far each group has come).
    int64_t iteration = 0, transfers = 0;
    // Load o, for a tile whose slot frees once `slot` is done.
    auto load_job = [&](size_t o, std::vector<JobPtr> slot) {
      JobPtr job = new_job();
      run.track(*job);
      job->op = &g.ops[o];
      job->label = &info[o].label;
      job->deps = std::move(slot);
      // What an earlier pass spilled comes back once it is in memory: after the tensor's last store. Partial sums
      // come back after the last store of their own tile (an iteration of the loops they are carried across ago).
      if (const auto ps = partial_sums.find(info[o].tensor); ps != partial_sums.end()) {
        const auto& stores = tile_stores[info[o].tensor];
        if (const auto s = stores.find(tile_of(g.ops[o], ps->second)); s != stores.end())
          job->deps.push_back(s->second);
      } else if (stored[info[o].tensor]) {
        job->deps.push_back(stored[info[o].tensor]);
      }
      return job;
    };
    // Issues load o, for a tile whose slot frees once `slot` is done. Ready-first engines take it once the slot is
    // free, the walk going on meanwhile (a prefetcher); in-order ones are handed it only then, the walk waiting, so
    // that it does not sit in their queue ahead of requests that could run.
    auto load_tile = [&](size_t o, std::vector<JobPtr> slot) {
      JobPtr job = load_job(o, std::move(slot));
      if (info[o].path->ready_first) {
        post(*info[o].path, job, {iteration, ++transfers});
        return job;
      }
      for (const JobPtr& d : job->deps) wait_done(*d);
      info[o].path->queue.write(job);
      return job;
    };
    // A load's tile enters the buffer's history of the tensor, and the computations issued after it read it.
    auto count_load = [&](size_t o, const JobPtr& job) {
      auto& history = readers[info[o].tensor];
      history.emplace_back();
      while (history.size() > static_cast<size_t>(g.ops[o].stages)) history.pop_front();
      writer[info[o].tensor] = job;
      ++issued[group][o];
    };
    // A load at the group's own loops (a block of rows its passes share) is issued ahead, for as many iterations
    // of the innermost loop it repeats over as its slots allow (stages - 1: one with double buffering), each once
    // its slot is free: in a group with several passes, and with ready-first DMA engines in a group of one (the
    // mapped unfused AV's blocks of keys were 12% slow without).
    // Issued in program order it would wait behind every computation of the block before it, and the units'
    // queues hold only a few dozen: the unfused softmax over blocks of rows, whose next block's scores were
    // requested once the last few computations of the block before it were queued, came out 15-20% slow from
    // 64K tokens. (A compiler hoists such loads the same way.) Only a tensor's only load, and with at least two
    // buffer stages (one stage has no slot free for the next block while this one runs).
    std::vector<char> hoisted(g.ops.size(), 0);  // (not vector<bool>: read for every op of every tile)
    bool any_hoisted = false;
    for (size_t o = 0; o < g.ops.size(); ++o) {
      const TileOp& op = g.ops[o];
      if (op.kind != TileOp::Kind::load || op.depth > g.outer_loops || op.stages < 2) continue;
      if (passes == 1 && !info[o].path->ready_first) continue;
      hoisted[o] = std::none_of(g.ops.begin(), g.ops.end(), [&](const TileOp& other) {
        return &other != &op && other.kind != TileOp::Kind::compute && other.tensor == op.tensor;
      });
      any_hoisted |= hoisted[o];
    }
    std::vector<std::deque<JobPtr>> prefetched(g.ops.size());  // per hoisted load: issued for later iterations
    // Whether the loads issued ahead at the loops outside `loop` have arrived: while one is on its way, the
    // iterations of `loop` share the channel with it and cost more than the rest of the loop's will.
    auto prefetches_arrived = [&](int loop) {
      for (size_t o = 0; o < g.ops.size(); ++o)
        if (hoisted[o] && g.ops[o].depth <= loop)
          for (const JobPtr& j : prefetched[o])
            if (!j->done_at(now())) return false;
      return true;
    };
    auto fires_at = [&](size_t o, const std::vector<int64_t>& at) {
      for (auto [l, last] : rules[o])
        if (at[static_cast<size_t>(l)] != (last ? g.loops[static_cast<size_t>(l)].trips - 1 : 0)) return false;
      const TileOp& op = g.ops[o];
      return (op.active_when.empty() && op.rate == kRateOne) || op.active(at);
    };
    // At the start of an iteration of the group's loops: its hoisted loads (prefetched, or issued now), then the
    // next iteration's.
    auto start_iteration = [&] {
      std::vector<int64_t> at = index;
      std::fill(at.begin() + g.outer_loops, at.end(), 0);  // each pass starts at its first tile
      for (size_t o = 0; o < g.ops.size(); ++o) {
        if (!hoisted[o] || !fires_at(o, at)) continue;
        JobPtr job;
        if (prefetched[o].empty()) {
          job = load_tile(o, freed_slot(o));
        } else {
          job = std::move(prefetched[o].front());
          prefetched[o].pop_front();
          job->ahead = false;
        }
        count_load(o, job);
      }
      // The next tiles of each hoisted load, as far ahead as its slots reach; its next tile comes with the next
      // iteration of the innermost loop it repeats over.
      for (size_t o = 0; o < g.ops.size(); ++o) {
        if (!hoisted[o]) continue;
        const int level = std::min(g.ops[o].depth, g.outer_loops) - 1;
        if (level < 0) continue;
        std::vector<int64_t> next = at;
        size_t m = 0;
        for (int64_t ahead = 1; ahead < g.ops[o].stages; ++ahead) {
          std::fill(next.begin() + level + 1, next.begin() + g.outer_loops, 0);
          int l = level;
          for (; l >= 0; --l) {
            if (++next[static_cast<size_t>(l)] < g.loops[static_cast<size_t>(l)].trips) break;
            next[static_cast<size_t>(l)] = 0;
          }
          if (l < 0) break;
          if (!fires_at(o, next)) continue;
          if (m++ < prefetched[o].size()) continue;
          JobPtr job = load_job(o, freed_slot_ahead(o, m - 1));
          job->ahead = true;
          if (info[o].path->ready_first) {
            int64_t later = 0;
            for (int k = 0; k < g.outer_loops; ++k)
              later = later * g.loops[static_cast<size_t>(k)].trips + next[static_cast<size_t>(k)] -
                      at[static_cast<size_t>(k)];
            post(*info[o].path, job, {iteration + later, 0});
          } else {
            ++prefetching;
            sc_core::sc_spawn([this, job, path = info[o].path] {
              for (const JobPtr& d : job->deps) wait_done(*d);
              path->queue.write(job);
              --prefetching;
            });
          }
          prefetched[o].push_back(job);
        }
      }
    };

    // A run of the group's own loops that every op repeats over all or none of walks as one loop: its iterations
    // are alike, so steady state is found once for the run, not once for each loop of it and again for every
    // iteration of the loops around (FLAT's spilled blocks at 1M tokens, over batch, heads and blocks of rows: a
    // few blocks walked instead of a few hundred). run_end[l]: one past the last loop of the run that starts at l.
    // A loop over a ragged index walks on its own: only its last iteration differs from the others (its partial
    // tile), and it is always simulated. Inside that tile a loop over the same index has partial and empty
    // iterations too, so it is walked in full (`inner_ragged`).
    std::vector<int> run_end(static_cast<size_t>(g.outer_loops));
    std::vector<char> inner_ragged(g.loops.size(), 0);
    for (size_t l = 0; l < g.loops.size(); ++l)
      for (size_t j = 0; j < l && g.loops[l].ragged; ++j) inner_ragged[l] |= g.loops[j].index == g.loops[l].index;
    for (int l = 0; l < g.outer_loops; ++l) {
      int r = l + 1;
      auto repeats = [](const TileOp& op, int loop) {
        return std::find(op.repeats.begin(), op.repeats.end(), loop) != op.repeats.end();
      };
      while (
          r < g.outer_loops && !g.loops[static_cast<size_t>(l)].ragged && !g.loops[static_cast<size_t>(r)].ragged &&
          std::all_of(g.ops.begin(), g.ops.end(), [&](const TileOp& op) { return repeats(op, r) == repeats(op, l); }))
        ++r;
      run_end[static_cast<size_t>(l)] = r;
    }
    // Walks loops [l, end_loop) and runs `body` in every iteration. Unless exact, once kSettle consecutive
    // iterations of a loop cost the same (time, and every unit's busy and stall cycles), the loop is in steady
    // state: the iterations before its last are skipped and their cost added, since every iteration of a
    // TileProgram loop issues the same tiles.
    std::function<void(int, int, const std::function<void()>&)> walk = [&](int l, int end_loop,
                                                                           const std::function<void()>& body) {
      if (l == end_loop) {
        body();
        return;
      }
      // Loops [l, last) walk as one loop of their iterations, flattened.
      const int last = l < g.outer_loops ? run_end[static_cast<size_t>(l)] : l + 1;
      int64_t trips = 1;
      for (int j = l; j < last; ++j) trips *= g.loops[static_cast<size_t>(j)].trips;
      std::vector<Counters> starts;
      // Where each iteration began, and the last job issued before the loop: the walk may run ahead of the units
      // (transfers are handed on when ready), so iterations are compared only once what came before the loop is
      // done; until then the units' work in an iteration's time is the last loop's tail, not this loop's.
      std::vector<int64_t> began;
      const JobPtr before = last_issued;
      // A pass's own loops are walked in full. The next pass starts from the state the last one left (tiles in
      // flight, buffer slots, the DMA's and DRAM's timing), which skipped iterations do not reproduce: the unfused
      // softmax-row mapping (tests/data) at BERT-4K, B = 8, came out 18% slow with two buffer stages and 9% fast
      // with three, and never settled at B = 64. The group's own loops, which hold whole passes, still skip; the
      // FuseMax study's results are unchanged; FLAT's 1M-token points take 4.4-5.9 s instead of 0.2 s.
      const bool skippable = !exact_loops && l < g.outer_loops && !inner_ragged[static_cast<size_t>(l)];
      for (int64_t i = 0; i < trips; ++i) {
        if (skippable && i >= 1 && i < trips - 1) {
          starts.push_back(counters());
          began.push_back(now());
          const size_t n = starts.size();
          auto cost = [&](size_t m) { return starts[m] - starts[m - 1]; };  // of the iteration starts[m - 1] began
          // The last kSettle periods of iteration costs repeat (period 1: kSettle equal costs in a row); a few can
          // agree by coincidence while a pipeline is still filling. Contention for the buffer's ports can
          // alternate between iterations (FuseMax's arrays take turns), hence periods above 1.
          bool settled = false;
          for (size_t period = 1; period <= kMaxPeriod && !settled; ++period) {
            settled = n >= kSettle * period + 1 && (!before || before->done_at(began[n - 1 - kSettle * period])) &&
                      prefetches_arrived(l);
            // An iteration that took no time is the walk running ahead of the units (only their queues hold it
            // back), not a steady state.
            for (size_t m = n - 1; settled && m + (kSettle - 1) * period > n - 1; --m)
              settled = cost(m) == cost(m - period) && cost(m).cycles > 0;
            if (!settled) continue;
            // Skip whole periods only, so that the iterations still simulated keep their phase.
            const auto periods = (trips - 1 - i) / static_cast<int64_t>(period);
            skipped += (starts[n - 1] - starts[n - 1 - period]) * periods;
            i += periods * static_cast<int64_t>(period);
          }
          // Else costs that repeat to within a cycle, skipped in whole windows of kSettleNear periods.
          for (size_t period = 1; period <= kMaxPeriod && !settled; ++period) {
            const size_t window = kSettleNear * period;
            settled = n >= window + 1 && (!before || before->done_at(began[n - 1 - window])) && prefetches_arrived(l) &&
                      repeat_within_a_cycle(starts, period, kSettleNear);
            if (!settled) continue;
            const auto windows = (trips - 1 - i) / static_cast<int64_t>(window);
            skipped += (starts[n - 1] - starts[n - 1 - window]) * windows;
            i += windows * static_cast<int64_t>(window);
          }
        }
        for (int64_t j = last - 1, rest = i; j >= l; --j) {
          const int64_t t = g.loops[static_cast<size_t>(j)].trips;
          index[static_cast<size_t>(j)] = rest % t;
          rest /= t;
        }
        walk(last, end_loop, body);
      }
    };
    walk(0, g.outer_loops, [&] {
      ++iteration;
      if (any_hoisted) start_iteration();
      for (int k = 0; k < passes; ++k) {
        const auto range = g.pass_loops.empty() ? std::pair<int, int>{g.outer_loops, g.outer_loops}
                                                : g.pass_loops[static_cast<size_t>(k)];
        walk(range.first, range.second, [&] {
          step.clear();
          step_computes.clear();
          for (size_t o = 0; o < g.ops.size(); ++o) {
            const TileOp& op = g.ops[o];
            if (op.pass != k || hoisted[o] || !fires_at(o, index)) continue;
            JobPtr job;
            if (op.kind == TileOp::Kind::load) {
              job = load_tile(o, freed_slot(o));
              count_load(o, job);
            } else {
              ++issued[group][o];
              job = new_job();
              run.track(*job);
              job->op = &op;
              job->label = &info[o].label;
            }
            if (op.kind == TileOp::Kind::compute) {
              // Without pipelining the units take turns: this tile computes once the last one has. The walk
              // itself runs ahead, held back only by the units' queues (and, with in-order DMA engines, a load's
              // buffer slot: load_tile), not by the computations before it being done.
              if (!g.pipeline) job->deps = computing;
              // (What it reads through a split it waits for, without holding the slot: docs/model.md, Measured gaps.)
              for (const TensorId t : op.reads_through_splits)
                if (writer[t]) job->deps.push_back(writer[t]);
              for (const TensorId t : info[o].reads) {
                if (writer[t]) job->deps.push_back(writer[t]);
                if (readers[t].empty()) continue;
                std::vector<JobPtr>& list = readers[t].back();
                list.push_back(job);
                // A tile read by millions of computations (a weight loaded once) would keep them all alive: drop
                // the readers already done whenever the list reaches a power of two (amortized constant time).
                if (list.size() >= 64 && (list.size() & (list.size() - 1)) == 0) {
                  const int64_t now_cycle = now();
                  std::erase_if(list, [now_cycle](const JobPtr& r) { return r->done_at(now_cycle); });
                }
              }
              // A result that bypasses the buffer waits in its unit until the path takes it: the unit holds
              // `stages` such tiles, so this one computes once the store of the tile that many before is done.
              if (auto held = bypass_stores.find(info[o].tensor); held != bypass_stores.end())
                if (held->second.first.size() >= static_cast<size_t>(held->second.second))
                  job->deps.push_back(held->second.first.front()->sent);
              writer[info[o].tensor] = job;
              info[o].unit->queue.write(job);
              if (!g.pipeline) step_computes.push_back(job);
            } else if (op.kind == TileOp::Kind::store) {
              if (writer[info[o].tensor]) job->deps.push_back(writer[info[o].tensor]);
              stored[info[o].tensor] = job;
              if (const auto ps = partial_sums.find(info[o].tensor); ps != partial_sums.end())
                tile_stores[info[o].tensor][tile_of(op, ps->second)] = job;
              if (op.bypass) {
                job->sent = new_job();
                job->sent->op = &op;
                job->sent->label = job->label;
                auto& [held, stages] = bypass_stores.at(info[o].tensor);
                held.push_back(job);
                while (held.size() > static_cast<size_t>(stages)) held.pop_front();
              }
              if (info[o].path->ready_first)
                post(*info[o].path, job, {iteration, ++transfers});
              else
                info[o].path->queue.write(job);
            }
            if (!g.pipeline && !g.double_buffer) step.push_back(job);
            last_issued = job;
          }
          // Single-buffered, a tile's loads wait for the last tile's readers anyway; wait for its stores too.
          if (!g.pipeline && !g.double_buffer)
            for (const JobPtr& j : step) wait_done(*j);
          if (!step_computes.empty()) std::swap(computing, step_computes);
        });
      }
    });
    run.wait_all();  // groups run one after another
    // On a many-core chip the other cores' transfers share the backing memory and the network: the group lasts
    // at least as long as all of them take there.
    for (const TileGroup::Floor& f : g.floors)
      if (const int64_t short_by = f.cycles - (now() + skipped.cycles - started); short_by > 0) {
        rec.stall(paths.contains(f.component) ? paths.at(f.component)->basename() : f.component, f.cause, short_by);
        sc_core::wait(duration(short_by));
      }
    group_cycles[group] = now() + skipped.cycles - started;
  }

  // Hands a transfer to its path's DMA engines, which take the first in the program's order whose inputs are ready
  // (a load's buffer slot free, a store's tile computed): the walk goes on issuing what comes after it.
  static void post(Dram& path, const JobPtr& job, std::pair<int64_t, int64_t> order) {
    job->order = order;
    path.queue.write_in_order(job);
  }

  static void wait_done(const Job& j) {
    while (!j.done()) {
      if (j.end >= 0)
        sc_core::wait(duration(j.end - now()));
      else
        j.watch(), sc_core::wait(j.ready);
    }
  }
};

void write_trace(const std::string& file, const Recorder& rec) {
  std::ofstream out(file);
  if (!out) throw UserError(SourceLoc{file}, "--trace", "cannot write the trace file");
  out << "{\"traceEvents\": [\n";
  for (size_t t = 0; t < rec.tracks.size(); ++t)
    out << fmt::format(
        "{{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": 1, \"tid\": {}, \"args\": {{\"name\": \"{}\"}}}},\n", t,
        rec.tracks[t]);
  for (size_t i = 0; i < rec.events.size(); ++i) {
    const TraceEvent& e = rec.events[i];
    // One cycle is shown as one microsecond so that Perfetto's time axis reads in cycles.
    out << fmt::format("{{\"ph\": \"X\", \"name\": \"{}\", \"pid\": 1, \"tid\": {}, \"ts\": {}, \"dur\": {}}}{}\n",
                       e.name, e.track, e.start, e.end - e.start, i + 1 < rec.events.size() ? "," : "");
  }
  out << "]}\n";
  out.flush();
  if (!out) throw UserError(SourceLoc{file}, "--trace", "cannot write the trace file (disk full?)");
}

// SystemC stamps the wall-clock date into the VCD header; drop it so equal runs give byte-identical files.
void strip_vcd_date(const std::string& file) {
  std::string text;
  {
    std::ifstream in(file, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  const size_t from = text.find("$date");
  const size_t to = text.find("$end", from);
  // SystemC does not check its writes: a file without its header was not written.
  if (from == std::string::npos || to == std::string::npos)
    throw UserError(SourceLoc{file}, "--vcd", "cannot write the VCD file (disk full?)");
  text.replace(from, to - from, "$date\n     (omitted: reproducible output)\n");
  std::ofstream out(file, std::ios::binary);
  out << text;
  out.flush();
  if (!out) throw UserError(SourceLoc{file}, "--vcd", "cannot write the VCD file (disk full?)");
}

}  // namespace

Stats simulate_cycles(const Cascade& cascade, const ArchSpec& arch, const TileProgram& whole,
                      const CycleOptions& options) {
  static bool simulated = false;  // SystemC elaborates once per process
  if (simulated) throw InternalError("simulate_cycles runs once per process (SystemC elaborates once)");
  simulated = true;
  BankTransfers transfers;  // the bank model's runs of the transfers, shared with the analytical pass
  const Stats analytical = evaluate_analytical(cascade, arch, whole, &transfers);
  // On a many-core chip it simulates the busiest core; the other cores run the rest of each group's iterations.
  const TileProgram program = busiest(whole);
  if (!analytical.status.ok) {
    Stats s = analytical;
    s.fidelity = Fidelity::cycle;
    return s;
  }
  // Groups that run together are simulated in full (steady-state skipping reads whole-system counters, which
  // the other groups move too). Refuse up front what would take hours and hundreds of GB, rather than grow.
  double in_full = 0;  // tile operations of concurrent groups, or of every group with `exact`
  for (size_t g = 0; g < program.groups.size(); ++g) {
    const bool together =
        program.groups[g].concurrent || (g + 1 < program.groups.size() && program.groups[g + 1].concurrent);
    if (together || options.exact || masked(program.groups[g]))
      for (const TileOp& op : program.groups[g].ops) in_full += static_cast<double>(program.groups[g].executions(op));
  }
  if (in_full > options.max_full_jobs) {
    Stats s = analytical;
    s.fidelity = Fidelity::cycle;
    s.status = EvalStatus{
        false, fmt::format("simulating {:.3g} tile operations one by one ({}) is beyond the cycle "
                           "engine's limit of {:.3g} (about three million a second): evaluate it "
                           "with `einsim model`, or with fewer, larger tiles",
                           in_full, options.exact ? "--exact" : "groups that run together", options.max_full_jobs)};
    return s;
  }

  ticks_per_cycle = sc_time(1, SC_NS).value();
  // SystemC's time is a 64-bit count of its resolution's ticks: a run it cannot count to is refused (a
  // collective over links of absurd latency, say), with room for the engine's waits beyond the model's cycles.
  if (const double range = static_cast<double>(sc_core::sc_max_time().value() / ticks_per_cycle) / 4;
      static_cast<double>(analytical.cycles) > range) {
    Stats s = analytical;
    s.fidelity = Fidelity::cycle;
    s.status = EvalStatus{false, fmt::format("the run's {:.3g} cycles are beyond the cycle engine's range of {:.3g}: "
                                             "evaluate it with `einsim model`",
                                             static_cast<double>(analytical.cycles), range)};
    return s;
  }
  simulation = sc_core::sc_get_curr_simcontext();
  Recorder rec;
  rec.tracing = !options.trace_file.empty();
  rec.rng.seed(options.seed);
  rec.stall_probability = options.stall_probability;
  rec.stall_cycles = options.stall_cycles;
  const MemoryRole& buffer_role = *arch.find(program.buffer)->memory();
  Buffer buffer(program.buffer.c_str(), buffer_role.ports(), buffer_role.bytes_per_port_cycle());
  const PathRole& backing = *arch.find(program.backing)->path();
  Dram dram(backing.engine_name(program.backing).c_str(), backing.bandwidth_Bps() / arch.clock_hz,
            backing.latency_cycles(arch.clock_hz), backing.dma_engines(arch), backing.dma_ready_first(arch), rec,
            buffer);
  dram.transfers = &transfers;
  dram.path = &backing;
  dram.clock_hz = arch.clock_hz;
  std::map<std::string, Dram*> paths{{program.backing, &dram}};
  // A place a group can run on (a PIM) stages its tiles in its own memory, fed over its own path.
  std::vector<std::unique_ptr<Buffer>> place_buffers;
  std::vector<std::unique_ptr<Dram>> place_paths;
  std::map<std::string, Buffer*> buffer_of;
  for (const ComponentSpec& c : arch.components)
    if (c.compute() && c.memory() && c.path()) {
      place_buffers.push_back(std::make_unique<Buffer>((c.name + "_buffer").c_str(), c.memory()->ports(),
                                                       c.memory()->bytes_per_port_cycle()));
      const PathRole& role = *c.path();
      place_paths.push_back(std::make_unique<Dram>(
          role.engine_name(c.name).c_str(), role.bandwidth_Bps() / arch.clock_hz, role.latency_cycles(arch.clock_hz),
          role.dma_engines(arch), role.dma_ready_first(arch), rec, *place_buffers.back()));
      place_paths.back()->transfers = &transfers;
      place_paths.back()->path = &role;
      place_paths.back()->clock_hz = arch.clock_hz;
      paths[c.name] = place_paths.back().get();
      buffer_of[c.name] = place_buffers.back().get();
    }
  std::map<std::string, Unit*> units;
  std::vector<std::unique_ptr<Unit>> owned;
  for (const ComponentSpec& c : arch.components)
    if (c.compute()) {
      owned.push_back(std::make_unique<Unit>(c.name.c_str(), options.unit_queue_depth, rec,
                                             buffer_of.count(c.name) ? *buffer_of[c.name] : buffer));
      units[c.name] = owned.back().get();
    }
  Controller controller("controller", cascade, program, arch, units, paths, rec, options.exact);
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);  // "simulation stopped" and such
  sc_core::sc_trace_file* waves = nullptr;
  if (!options.vcd_file.empty()) {
    std::string base = options.vcd_file;  // SystemC appends ".vcd"
    if (base.size() > 4 && base.ends_with(".vcd")) base.resize(base.size() - 4);
    if (!std::ofstream(base + ".vcd"))
      throw UserError(SourceLoc{options.vcd_file}, "--vcd", "cannot write the VCD file");
    waves = sc_core::sc_create_vcd_trace_file(base.c_str());
    waves->set_time_unit(1, SC_NS);  // one cycle
    for (auto& [name, unit] : units) {
      unit->waves = true;
      sc_core::sc_trace(waves, unit->running, name + ".running");
      sc_core::sc_trace(waves, unit->waiting, name + ".waiting");
    }
    dram.waves = true;
    for (size_t e = 0; e < dram.busy.size(); ++e)
      sc_core::sc_trace(waves, *dram.busy[e], fmt::format("{}.dma{}.busy", program.backing, e));
  }
  sc_core::sc_start();
  if (waves) {
    sc_core::sc_close_vcd_trace_file(waves);
    strip_vcd_date(options.vcd_file.ends_with(".vcd") ? options.vcd_file : options.vcd_file + ".vcd");
  }

  // What it simulated: its own cycles and busy and stall cycles, the ops and transfers it ran (so their energy),
  // refresh over its own run.
  Stats s = initial_stats(arch, program, Fidelity::cycle);
  s.cycles = controller.end + controller.skipped.cycles;
  OpExecutions executions = controller.executions();
  const OpExecutions all = program_executions(whole), on_busiest = program_executions(program);
  for (size_t g = 0; g < executions.size(); ++g)
    for (size_t o = 0; o < executions[g].size(); ++o) executions[g][o] += all[g][o] - on_busiest[g][o];
  const RunWork run = count_actions(cascade, arch, whole, executions, transfers, s);
  for (size_t g = 0; g < program.groups.size(); ++g)
    s.groups[program.groups[g].name] = GroupStats{controller.group_cycles[g], whole.groups[g].cores,
                                                  whole.groups[g].devices, whole.groups[g].buffer_stages};
  for (const auto& [name, unit] : units) {
    s.busy_cycles[name] = unit->busy + controller.skipped.at(controller.busy_slot(name));
    for (const char* cause : {"data", "dependency", "buffer_port", "buffer_bandwidth"})
      s.stall_cycles[name][cause] += 0;
  }
  for (size_t slot = 0; slot < rec.stalled.size(); ++slot) {
    const auto& [who, cause] = rec.stall_names[slot];
    s.stall_cycles[who][cause] += rec.stalled[slot] + controller.skipped.at(controller.stall_slot(slot));
  }
  finish_run(arch, run, s);
  s.buffer_conflict_cycles = 0;
  for (const auto& [unit, causes] : s.stall_cycles)
    if (const auto it = causes.find("buffer_port"); it != causes.end()) *s.buffer_conflict_cycles += it->second;
  s.gap_vs_analytical = analytical.cycles
                            ? static_cast<double>(s.cycles - analytical.cycles) / static_cast<double>(analytical.cycles)
                            : 0.0;
  if (rec.tracing) write_trace(options.trace_file, rec);
  return s;
}

}  // namespace einsim
